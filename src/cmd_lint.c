/* cmd_lint.c: pinspect lint-cert: the certificate rules of each client
 * platform (src/analysis/certdiag.h) run on certificate files, e.g. on the
 * CA an admin is about to upload to the inspecting proxy, or on a forged
 * leaf saved from a capture.
 *
 *   pinspect lint-cert [--platform LIST] [--json] [--at DATE] [--sni NAME] FILE...
 *
 * Each FILE is PEM (any number of certificates) or DER. Every certificate is
 * linted as a CA or as a leaf according to its basicConstraints; a file of
 * several certificates is also checked as a chain (order). Exit status: 0 no
 * finding of severity error, 1 error findings, 2 usage, 3 a file unreadable
 * (the others are still linted).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "analysis/certdiag.h"
#include "common/util.h"
#include "outputs/jw.h"

enum { LINT_EXIT_OK = 0, LINT_EXIT_FINDINGS = 1, LINT_EXIT_USAGE = 2, LINT_EXIT_UNREADABLE = 3 };

#define LINT_MAX_FINDINGS 128

static const char lint_usage[] =
	"usage: pinspect lint-cert [options] FILE...\n"
	"\n"
	"Checks certificates against the rules TLS clients enforce, per platform, each\n"
	"rule with its source: run it on the inspection CA before uploading it, or on a\n"
	"forged leaf. FILE is PEM (one or more certificates, e.g. a chain) or DER; each\n"
	"certificate is linted as a CA or a leaf according to its basicConstraints.\n"
	"\n"
	"options:\n"
	"  --platform LIST   apple, python313, go, generic or all (default), comma-separated:\n"
	"                    apple      iOS 13 / macOS 10.15 (support.apple.com/103769)\n"
	"                    python313  Python 3.13+ strict verification (VERIFY_X509_STRICT)\n"
	"                    go         Go crypto/x509 (no CommonName, no SHA-1)\n"
	"                    generic    what every mainstream stack checks\n"
	"  --at DATE         check validity at DATE (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or\n"
	"                    @EPOCH) instead of now\n"
	"  --sni NAME        check that leaves name NAME (the host the client asks for)\n"
	"  --json            one JSON document (schema pinspect-lint/1)\n"
	"  --pretty          indent the JSON\n"
	"  -q, --quiet       only the summary line (text output)\n"
	"  -h, --help        this text\n"
	"\n"
	"exit status: 0 no error finding, 1 error findings, 2 usage error,\n"
	"3 a file could not be read (the others are still linted).\n";

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t civil_days(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int parse_when(const char *s, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
	char tail = 0;
	if (s[0] == '@') {
		char *end;
		long long v = strtoll(s + 1, &end, 10);
		if (end == s + 1 || *end || v < 0)
			return -1;
		*out = v;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	if (s[n] == 'T' || s[n] == ' ') {
		int m2 = 0;
		if (sscanf(s + n + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &m2) != 3)
			return -1;
		n += 1 + m2;
		tail = s[n];
		if (tail == 'Z')
			n++;
	}
	if (s[n] || y < 1950 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	*out = civil_days(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + se;
	return 0;
}

struct totals {
	unsigned certs, errors, warnings, infos;
};

static void count(struct totals *t, const struct lint_finding *f, int n)
{
	for (int i = 0; i < n; i++) {
		if (f[i].severity == LINT_ERROR)
			t->errors++;
		else if (f[i].severity == LINT_WARNING)
			t->warnings++;
		else
			t->infos++;
	}
}

static void print_findings_text(const struct lint_finding *f, int n)
{
	char v[512];
	for (int i = 0; i < n; i++) {
		pi_term_safe(v, sizeof(v), f[i].value);
		printf("  %-7s %s  %s: %s\n", lint_severity_name(f[i].severity), f[i].rule, f[i].field, v);
		printf("          rule: %s\n", f[i].message);
		printf("          fix: %s\n", f[i].remedy);
		printf("          source: %s\n", f[i].source);
	}
}

static void json_findings(struct jw *w, const struct lint_finding *f, int n)
{
	jw_arr_open(w);
	for (int i = 0; i < n; i++) {
		jw_obj_open(w);
		jw_kstr(w, "rule", f[i].rule);
		jw_kstr(w, "platform", lint_platform_name(f[i].platform));
		jw_kstr(w, "severity", lint_severity_name(f[i].severity));
		jw_kstr(w, "field", f[i].field);
		jw_kstr(w, "value", f[i].value);
		jw_kstr(w, "message", f[i].message);
		jw_kstr(w, "remedy", f[i].remedy);
		jw_kstr(w, "source", f[i].source);
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

/* Lint every certificate of one file. Returns 0, or -1 if unreadable. */
static int lint_file(const char *path, unsigned mask, int64_t at, const char *sni, struct jw *w, int quiet,
                     struct totals *t)
{
	X509 *xs[CERTDIAG_MAX_FILE_CERTS];
	struct cert_info *ci = NULL;
	struct lint_finding *f = NULL;
	char err[1200], safe[1300];
	int n = certdiag_read_certs(path, xs, CERTDIAG_MAX_FILE_CERTS, err, sizeof(err));
	int rc = 0;

	if (n < 0) {
		pi_term_safe(safe, sizeof(safe), err);
		if (w) {
			jw_obj_open(w);
			jw_kstr(w, "path", path);
			jw_kstr(w, "error", err);
			jw_key(w, "certificates");
			jw_arr_open(w);
			jw_arr_close(w);
			jw_obj_close(w);
		} else {
			fprintf(stderr, "pinspect: lint-cert: %s\n", safe);
		}
		return -1;
	}
	ci = calloc((size_t)n, sizeof(*ci));
	f = calloc(LINT_MAX_FINDINGS, sizeof(*f));
	if (!ci || !f) {
		fprintf(stderr, "pinspect: lint-cert: out of memory\n");
		rc = -1;
		goto out;
	}
	if (w) {
		jw_obj_open(w);
		jw_kstr(w, "path", path);
		jw_kstr(w, "error", NULL);
		jw_key(w, "certificates");
		jw_arr_open(w);
	} else if (!quiet) {
		pi_term_safe(safe, sizeof(safe), path);
		printf("%s: %d certificate%s\n", safe, n, n == 1 ? "" : "s");
	}
	for (int i = 0; i < n; i++) {
		int k = 0, is_ca;
		if (certdiag_cert_info(xs[i], &ci[i]) != 0) {
			snprintf(ci[i].subject, sizeof(ci[i].subject), "(unparsable)");
			continue;
		}
		is_ca = ci[i].is_ca;
		for (int p = 0; p < LINT_PLATFORMS; p++) {
			size_t room = (size_t)k < LINT_MAX_FINDINGS ? LINT_MAX_FINDINGS - (size_t)k : 0;
			int got;
			if (!(mask & LINT_MASK(p)))
				continue;
			got = cert_lint(&ci[i], is_ca, at, is_ca ? NULL : sni, (enum lint_platform)p, room ? f + k : NULL,
			                room);
			k += got < (int)room ? got : (int)room;
		}
		t->certs++;
		count(t, f, k);
		if (w) {
			jw_obj_open(w);
			jw_kint(w, "index", i);
			jw_kstr(w, "role", is_ca ? "ca" : "leaf");
			jw_kstr(w, "subject", ci[i].subject);
			jw_kstr(w, "issuer", ci[i].issuer);
			jw_kstr(w, "sha256", ci[i].sha256);
			jw_kstr(w, "key", ci[i].key_type);
			jw_kint(w, "key_bits", ci[i].key_bits);
			jw_kstr(w, "signature", ci[i].sig_alg);
			jw_kint(w, "not_before", ci[i].not_before);
			jw_kint(w, "not_after", ci[i].not_after);
			jw_key(w, "findings");
			json_findings(w, f, k);
			jw_obj_close(w);
		} else if (!quiet) {
			pi_term_safe(safe, sizeof(safe), ci[i].subject);
			printf("certificate %d (%s): %s\n", i, is_ca ? "CA" : "leaf", safe);
			if (!k)
				printf("  ok: no finding\n");
			print_findings_text(f, k);
		}
	}
	if (w)
		jw_arr_close(w); /* certificates */
	/* several certificates: the chain order too (generic) */
	if (n > 1 && (mask & LINT_MASK(LINT_GENERIC))) {
		struct lint_finding *cf = calloc(LINT_MAX_FINDINGS, sizeof(*cf));
		int k, m = 0;
		if (cf) {
			k = cert_lint_chain(ci, (size_t)n, 0, NULL, LINT_MASK(LINT_GENERIC), NULL, cf, LINT_MAX_FINDINGS);
			if (k > LINT_MAX_FINDINGS)
				k = LINT_MAX_FINDINGS;
			for (int i = 0; i < k; i++)
				if (strcmp(cf[i].rule, "generic.chain_order") == 0)
					cf[m++] = cf[i];
			count(t, cf, m);
			if (w) {
				jw_key(w, "chain_findings");
				json_findings(w, cf, m);
			} else if (!quiet && m) {
				printf("chain:\n");
				print_findings_text(cf, m);
			}
			free(cf);
		}
	}
	if (w)
		jw_obj_close(w);
out:
	for (int i = 0; i < n; i++)
		X509_free(xs[i]);
	free(ci);
	free(f);
	return rc;
}

int cmd_lint_cert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "platform", required_argument, NULL, 'P' },
		{ "at", required_argument, NULL, 'A' },
		{ "sni", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	unsigned mask = LINT_ALL;
	int64_t at = (int64_t)time(NULL);
	const char *sni = NULL;
	int json = 0, pretty = 0, quiet = 0, ch, unreadable = 0;
	struct totals t = { 0 };
	struct jw w;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (ch) {
		case 'P':
			if (lint_platform_parse(optarg, &mask) < 0) {
				fprintf(stderr, "pinspect: lint-cert: unknown platform '%s' (apple, python313, go, generic, all)\n",
				        optarg);
				return LINT_EXIT_USAGE;
			}
			break;
		case 'A':
			if (parse_when(optarg, &at) < 0) {
				fprintf(stderr, "pinspect: lint-cert: bad date '%s' (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, @EPOCH)\n",
				        optarg);
				return LINT_EXIT_USAGE;
			}
			break;
		case 'S':
			sni = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'p':
			pretty = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			fputs(lint_usage, stdout);
			return LINT_EXIT_OK;
		default:
			fputs(lint_usage, stderr);
			return LINT_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "pinspect: lint-cert: no certificate file given\n");
		fputs(lint_usage, stderr);
		return LINT_EXIT_USAGE;
	}
	if (json) {
		jw_init(&w, stdout, pretty);
		jw_obj_open(&w);
		jw_kstr(&w, "schema", "pinspect-lint/1");
		jw_kint(&w, "at", at);
		jw_kstr(&w, "sni", sni);
		jw_key(&w, "platforms");
		jw_arr_open(&w);
		for (int p = 0; p < LINT_PLATFORMS; p++)
			if (mask & LINT_MASK(p))
				jw_str(&w, lint_platform_name((enum lint_platform)p));
		jw_arr_close(&w);
		jw_key(&w, "files");
		jw_arr_open(&w);
	}
	for (int i = optind; i < argc; i++)
		if (lint_file(argv[i], mask, at, sni, json ? &w : NULL, quiet, &t) < 0)
			unreadable = 1;
	if (json) {
		jw_arr_close(&w);
		jw_key(&w, "summary");
		jw_obj_open(&w);
		jw_kuint(&w, "certificates", t.certs);
		jw_kuint(&w, "errors", t.errors);
		jw_kuint(&w, "warnings", t.warnings);
		jw_kuint(&w, "info", t.infos);
		jw_obj_close(&w);
		jw_obj_close(&w);
		fputc('\n', stdout);
	} else {
		printf("%u certificate%s: %u error%s, %u warning%s, %u info\n", t.certs, t.certs == 1 ? "" : "s", t.errors,
		       t.errors == 1 ? "" : "s", t.warnings, t.warnings == 1 ? "" : "s", t.infos);
	}
	if (fflush(stdout) != 0)
		return LINT_EXIT_UNREADABLE;
	if (unreadable)
		return LINT_EXIT_UNREADABLE;
	return t.errors ? LINT_EXIT_FINDINGS : LINT_EXIT_OK;
}
