/* main.c: the pinspect command line (see pinspect.1 and --help). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/dnsmap.h"
#include "common/util.h"
#include "analysis/certdiag.h"
#include "analysis/webinsights.h"
#include "analysis/zsatunnel.h"
#include "capture/bundle.h"
#include "outputs/annotate.h"
#include "outputs/bypass.h"
#include "outputs/output.h"
#include "cmd_live.h"
#include "proxy/cmd_proxy.h"
#include "pipeline.h"
#include "ranking/kb.h"
#include "ranking/rank.h"

#ifndef PI_DATADIR
#define PI_DATADIR "/usr/local/share/pinspect"
#endif
#ifndef PI_SRCDIR
#define PI_SRCDIR "."
#endif

/* Exit statuses (also in pinspect.1). */
enum {
	EXIT_OK = 0,          /* every input read whole */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_UNREADABLE = 3,  /* an input could not be read at all (the rest was analysed) */
	EXIT_PARTIAL = 4,     /* an input was damaged or cut: analysed up to the damage;
	                       * or memory ran out: data lost (limits.alloc_failures) */
	EXIT_INTERNAL = 5,    /* out of memory, cannot write output */
};

#include "commands.h"

#define DEFAULT_SAMPLE "samples/mixed.pcapng"
#define MAX_DIR_DEPTH 8

static const char usage_text[] =
	"usage: pinspect analyze [options] [FILE|DIR ...]\n"
	"       pinspect live [-i IFACE] [-f FILTER] [-w FILE.pcapng] [-Z USER] [--no-tui] [--json]\n"
	"       pinspect merge [-f FORMAT] [--kb FILE] RESULT.json...\n"
	"       pinspect ca init DIR\n"
	"       pinspect proxy --ca DIR [--listen ADDR:PORT] [--bypass FILE] [--upstream-cafile FILE] [--json]\n"
	"       pinspect verify --ca DIR [--listen ADDR:PORT] [--timeout SECONDS] [--json] NAME...\n"
	"       pinspect lint-cert [--platform LIST] [--json] [--at DATE] [--sni NAME] FILE.pem...\n"
	"       pinspect --help | --version\n"
	"\n"
	"Finds the TLS connections that clients reject behind TLS inspection, and why.\n"
	"FILE is a pcap or pcapng capture, optionally gzip-compressed ('-' reads standard\n"
	"input), or a Zscaler Client Connector export (ZIP, tar.gz) whose captures and\n"
	"ZSATunnel logs are read in place; DIR is read the same way (an unpacked bundle).\n"
	"Without FILE the bundled sample is analysed.\n"
	"\n"
	"options:\n"
	"  -f, --format FMT      report (default), json, csv: everything;\n"
	"                        zscaler, zscaler-api, panos, squid, mitmproxy, markdown:\n"
	"                        the bypass list only, in that product's syntax\n"
	"      --json            the same as --format json\n"
	"      --baseline FILE   a capture of the same actions with inspection off (repeatable):\n"
	"                        names failing in both are not listed as bypass\n"
	"      --kb FILE         knowledge base to use instead of the bundled data/kb.conf\n"
	"      --inspection-ca PEM  the interception CA (repeatable): recognise its\n"
	"                        certificates exactly and lint them per client platform\n"
	"      --include-healthy list healthy names among the candidates too\n"
	"      --web-insights CSV  a ZIA Web Insights export: failed client SSL handshakes\n"
	"                        count as evidence for their host (repeatable)\n"
	"      --tui             explore the (single) capture in the interactive view\n"
	"      --realtime        with --tui: replay at the capture's own pace\n"
	"      --annotate OUT    write a pcapng copy of the (single) input with comments\n"
	"                        on the decisive frames\n"
	"      --pretty          indent JSON\n"
	"  -o, --output FILE     write there instead of standard output\n"
	"      --color WHEN      auto (default: a terminal and no NO_COLOR), always, never\n"
	"      --no-ndpi         do not classify applications with nDPI\n"
	"      --dns-queries FILE  write one row per DNS query (tshark-comparable TSV)\n"
	"  -q, --quiet           no warnings or progress on standard error\n"
	"  -h, --help            this text\n"
	"  -V, --version         the version\n"
	"\n"
	"exit status: 0 all inputs read, 2 usage error, 3 an input unreadable,\n"
	"4 an input damaged or cut (analysed up to the damage), 5 internal error.\n";

struct file_list {
	char **v;
	size_t n, cap;
};

static int list_add(struct file_list *l, const char *path)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char **nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n] = strdup(path);
	if (!l->v[l->n])
		return -1;
	l->n++;
	return 0;
}

static const char *default_sample(void)
{
	static char path[4096];
	snprintf(path, sizeof(path), "%s/%s", PI_DATADIR, DEFAULT_SAMPLE);
	if (access(path, R_OK) == 0)
		return path;
	snprintf(path, sizeof(path), "%s/%s", PI_SRCDIR, DEFAULT_SAMPLE);
	if (access(path, R_OK) == 0)
		return path;
	return DEFAULT_SAMPLE;
}

/* A capture found inside a bundle: through the same engine. */
struct bundle_ctx {
	struct engine *e;
	int worst;
};

static int bundle_capture(void *ctx, const char *label, struct cap_reader *r)
{
	struct bundle_ctx *bc = ctx;
	if (engine_run_reader(bc->e, label, r) == 1)
		bc->worst = 1;
	return 0;
}

/* A text file (a Web Insights export) fed in chunks. 0, or -1 if unreadable. */
static int read_text_file(const char *path, struct webins *w)
{
	char buf[65536];
	size_t n;
	FILE *f = fopen(path, "rb");
	if (!f) {
		pi_warn("%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		webins_feed(w, buf, n);
	webins_end(w);
	fclose(f);
	return 0;
}

/* Log evidence joins the capture evidence of the same name. */
static void logs_to_evidence(const struct log_inputs *l, struct evidence *ev)
{
	for (size_t i = 0; i < zsat_host_count(l->zsat); i++) {
		const struct zsat_host *h = zsat_host(l->zsat, i);
		if (h && h->host[0])
			evidence_add_logs(ev, h->host, h->tunnels, h->signatures, 0, 0);
	}
	for (size_t i = 0; i < webins_host_count(l->webins); i++) {
		const struct webins_host *h = webins_host(l->webins, i);
		if (h && h->host[0] && h->failed)
			evidence_add_logs(ev, h->host, 0, 0, h->failed, h->nusers);
	}
}

/* The analyzer's sink: the output, and the annotations if asked for. */
struct analyze_sink {
	struct out_ctx *out;
	struct annot *annot;
};

static void analyze_conn(void *ctx, const struct conn_out *o)
{
	struct analyze_sink *s = ctx;
	out_conn(s->out, o);
	if (s->annot)
		annot_conn(s->annot, o);
}

static int cmd_analyze(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "color", required_argument, NULL, 'c' },
		{ "colour", required_argument, NULL, 'c' },
		{ "no-ndpi", no_argument, NULL, 'N' },
		{ "dns-queries", required_argument, NULL, 'D' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "baseline", required_argument, NULL, 'B' },
		{ "kb", required_argument, NULL, 'K' },
		{ "include-healthy", no_argument, NULL, 'H' },
		{ "annotate", required_argument, NULL, 'A' },
		{ "web-insights", required_argument, NULL, 'W' },
		{ "inspection-ca", required_argument, NULL, 'I' },
		{ "tui", no_argument, NULL, 'U' },
		{ "realtime", no_argument, NULL, 'Y' },
		{ 0, 0, 0, 0 },
	};
	struct file_list baseline = { 0 };
	const char *kbpath = NULL;
	struct rank_opts ropts = { 0 };
	struct kb *kb = NULL;
	struct engine *base = NULL;
	const char *annotate = NULL;
	struct analyze_sink as = { 0 };
	struct file_list webins_files = { 0 };
	struct log_inputs logs = { 0 };
	struct inspect_cas cas;
	struct ja3_db *ja3db = NULL;
	struct certdiag *cd = NULL;
	memset(&cas, 0, sizeof(cas));
	struct out_ctx out = { 0 };
	struct engine_opts eo = { 0 };
	struct file_list files = { 0 };
	const char *outpath = NULL, *color = "auto", *dnsq = NULL;
	int ch, worst = EXIT_OK, quiet = 0, tui = 0, realtime = 0;

	out.format = OUT_REPORT;
	out.version = PACKAGE_VERSION;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:o:qh", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "report") == 0)
				out.format = OUT_REPORT;
			else if (strcmp(optarg, "json") == 0)
				out.format = OUT_JSON;
			else if (strcmp(optarg, "csv") == 0)
				out.format = OUT_CSV;
			else if (out_candidates_format_known(optarg)) {
				out.format = OUT_LIST;
				out.list_format = optarg;
			} else {
				fprintf(stderr, "pinspect: unknown format '%s' (report, json, csv, zscaler, zscaler-api, "
				                "panos, squid, mitmproxy, markdown)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			out.format = OUT_JSON;
			break;
		case 'p':
			out.pretty = 1;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'c':
			color = optarg;
			if (strcmp(color, "auto") && strcmp(color, "always") && strcmp(color, "never")) {
				fprintf(stderr, "pinspect: --color takes auto, always or never\n");
				return EXIT_USAGE;
			}
			break;
		case 'N':
			eo.no_ndpi = 1;
			break;
		case 'D':
			dnsq = optarg;
			eo.dns_query_log = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'B':
			list_add(&baseline, optarg);
			break;
		case 'K':
			kbpath = optarg;
			break;
		case 'H':
			ropts.include_healthy = 1;
			break;
		case 'A':
			annotate = optarg;
			break;
		case 'W':
			list_add(&webins_files, optarg);
			break;
		case 'U':
			tui = 1;
			break;
		case 'Y':
			realtime = 1;
			break;
		case 'I': {
			char err[512];
			if (inspect_cas_load(&cas, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "pinspect: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	pi_set_quiet(quiet);
	eo.progress = !quiet;

	for (int i = optind; i < argc; i++)
		list_add(&files, argv[i]);
	if (optind >= argc)
		list_add(&files, default_sample());

	out.f = stdout;
	if (outpath && !(out.f = fopen(outpath, "w"))) {
		fprintf(stderr, "pinspect: %s: cannot write: %s\n", outpath, strerror(errno));
		return EXIT_INTERNAL;
	}
	if (strcmp(color, "always") == 0)
		out.color = 1;
	else if (strcmp(color, "auto") == 0)
		out.color = isatty(fileno(out.f)) && !getenv("NO_COLOR");

	{
		char err[512];
		const char *path = kbpath ? kbpath : kb_default_path();
		kb = kb_load(path, err, sizeof(err));
		if (!kb) {
			fprintf(stderr, "pinspect: %s\n", err);
			if (kbpath)
				return EXIT_USAGE;
		}
		ropts.kb = kb;
		ja3db = ja3_db_load(ja3_db_default_path(), err, sizeof(err));
		if (!ja3db)
			pi_warn("%s (client libraries will not be recognised)", err);
		cd = certdiag_new(cas.n ? &cas : NULL, kb, ja3db);
		eo.certdiag = cd;
		ropts.certdiag = cd;
	}
	if (tui) {
		/* analyze --tui FILE [--realtime]: the same engine, into the live view */
		if (files.n != 1) {
			fprintf(stderr, "pinspect: --tui takes exactly one capture file\n");
			worst = EXIT_USAGE;
		} else {
			worst = tui_replay_file(files.v[0], realtime, &eo, &ropts,
			                        strcmp(color, "always") == 0 ? 1 : strcmp(color, "never") == 0 ? 0 : -1);
		}
		certdiag_free(cd);
		ja3_db_free(ja3db);
		inspect_cas_free(&cas);
		kb_free(kb);
		for (size_t i = 0; i < files.n; i++)
			free(files.v[i]);
		free(files.v);
		return worst;
	}
	if (baseline.n) {
		struct engine_opts bo = eo;
		bo.dns_query_log = 0;
		bo.certdiag = NULL; /* the baseline is evidence of names, not of certificates */
		base = engine_new(&bo, NULL);
		if (!base) {
			fprintf(stderr, "pinspect: out of memory\n");
			return EXIT_INTERNAL;
		}
		for (size_t i = 0; i < baseline.n; i++) {
			int rc = engine_run_file(base, baseline.v[i]);
			if (rc == 2) {
				const struct input_info *in;
				size_t nin = engine_inputs(base, &in);
				fprintf(stderr, "pinspect: baseline %s\n", in[nin - 1].error);
				worst = EXIT_UNREADABLE;
			} else if (rc == 1) {
				worst = EXIT_PARTIAL;
			}
		}
		engine_finish(base);
		ropts.baseline = engine_evidence(base);
		{
			uint64_t nf = engine_caps(base)->alloc_failures + evidence_alloc_failures(engine_evidence(base));
			if (nf) {
				pi_warn("baseline: out of memory: %llu allocations failed, the baseline is partial",
				        (unsigned long long)nf);
				if (worst != EXIT_INTERNAL)
					worst = EXIT_PARTIAL;
			}
		}
	}
	out.ropts = &ropts;
	if (annotate) {
		if (files.n != 1 || bundle_probe(files.v[0]) != BUNDLE_NONE) {
			fprintf(stderr, "pinspect: --annotate takes exactly one capture file\n");
			return EXIT_USAGE;
		}
		as.annot = annot_new();
	}
	as.out = &out;

	logs.zsat = zsat_new();
	logs.webins = webins_new();
	if (!logs.zsat || !logs.webins) {
		fprintf(stderr, "pinspect: out of memory\n");
		return EXIT_INTERNAL;
	}

	struct conn_sink sink = { NULL, analyze_conn, &as };
	eo.async_sink = 1; /* the output and the evidence on a second core */
	struct engine *e = engine_new(&eo, &sink);
	if (!e) {
		fprintf(stderr, "pinspect: out of memory\n");
		return EXIT_INTERNAL;
	}
	out_begin(&out);
	for (size_t i = 0; i < files.n; i++) {
		int kind = strcmp(files.v[i], "-") == 0 ? BUNDLE_NONE : bundle_probe(files.v[i]);
		if (kind != BUNDLE_NONE) {
			/* a ZCC export (ZIP, tar.gz) or a folder: its captures and logs */
			struct bundle_cb cb = { bundle_capture, logs.zsat, logs.webins, NULL };
			struct bundle_report *rep = calloc(1, sizeof(*rep));
			struct bundle_ctx bc = { e, 0 };
			char err[512];
			if (!rep || logs.nbundles >= MAX_BUNDLES) {
				free(rep);
				fprintf(stderr, "pinspect: %s: too many bundles\n", files.v[i]);
				worst = EXIT_INTERNAL;
				continue;
			}
			if (bundle_walk(files.v[i], &cb, &bc, rep, err, sizeof(err)) < 0) {
				pi_warn("%s", err);
				free(rep);
				if (worst == EXIT_OK)
					worst = EXIT_UNREADABLE;
				continue;
			}
			pi_strlcpy(logs.bundle_paths[logs.nbundles], files.v[i], sizeof(logs.bundle_paths[0]));
			logs.bundles[logs.nbundles++] = rep;
			if (bc.worst == 1 || rep->corrupt || rep->stopped)
				worst = EXIT_PARTIAL;
			continue;
		}
		int rc = engine_run_file(e, files.v[i]);
		const struct input_info *in;
		size_t nin = engine_inputs(e, &in);
		if (rc == 2) {
			pi_warn("%s", in[nin - 1].error);
			if (worst == EXIT_OK)
				worst = EXIT_UNREADABLE;
		} else if (rc == 1) {
			worst = EXIT_PARTIAL;
		}
	}
	for (size_t i = 0; i < webins_files.n; i++) {
		if (read_text_file(webins_files.v[i], logs.webins) < 0 && worst == EXIT_OK)
			worst = EXIT_UNREADABLE;
	}
	zsat_finish(logs.zsat);
	logs_to_evidence(&logs, engine_evidence(e));
	out.logs = &logs;
	engine_finish(e);
	out_end(&out, e);
	{
		uint64_t nf = out_alloc_failures(&out, e);
		if (nf) {
			/* data was lost: never a silently partial result */
			pi_warn("out of memory: %llu allocations failed, the result is partial (see limits)",
			        (unsigned long long)nf);
			if (worst != EXIT_INTERNAL)
				worst = EXIT_PARTIAL;
		}
	}
	if (as.annot) {
		char err[512];
		if (annot_write(as.annot, files.v[0], annotate, err, sizeof(err)) < 0) {
			fprintf(stderr, "pinspect: %s\n", err);
			worst = EXIT_INTERNAL;
		}
		annot_free(as.annot);
	}
	if (dnsq) {
		FILE *q = fopen(dnsq, "w");
		if (!q) {
			fprintf(stderr, "pinspect: %s: cannot write: %s\n", dnsq, strerror(errno));
			worst = EXIT_INTERNAL;
		} else {
			dns_write_queries_tsv(engine_dns(e), q);
			fclose(q);
		}
	}
	if (ferror(out.f) || (out.f != stdout && fclose(out.f) != 0)) {
		fprintf(stderr, "pinspect: %s: write error\n", outpath ? outpath : "standard output");
		worst = EXIT_INTERNAL;
	}
	engine_free(e);
	engine_free(base);
	kb_free(kb);
	for (size_t i = 0; i < files.n; i++)
		free(files.v[i]);
	free(files.v);
	for (size_t i = 0; i < baseline.n; i++)
		free(baseline.v[i]);
	free(baseline.v);
	for (size_t i = 0; i < webins_files.n; i++)
		free(webins_files.v[i]);
	free(webins_files.v);
	for (size_t i = 0; i < logs.nbundles; i++)
		free(logs.bundles[i]);
	zsat_free(logs.zsat);
	webins_free(logs.webins);
	certdiag_free(cd);
	ja3_db_free(ja3db);
	inspect_cas_free(&cas);
	return worst;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("pinspect %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "analyze") == 0 || strcmp(argv[1], "analyse") == 0)
		return cmd_analyze(argc - 1, argv + 1);
	if (strcmp(argv[1], "merge") == 0)
		return cmd_merge(argc - 1, argv + 1);
	if (strcmp(argv[1], "live") == 0)
		return cmd_live(argc - 1, argv + 1);
	if (strcmp(argv[1], "ca") == 0)
		return cmd_ca(argc - 1, argv + 1);
	if (strcmp(argv[1], "proxy") == 0)
		return cmd_proxy(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "lint-cert") == 0)
		return cmd_lint_cert(argc - 1, argv + 1);
	fprintf(stderr, "pinspect: unknown command '%s'\n", argv[1]);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}
