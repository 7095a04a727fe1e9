/* cmd_proxy.c: `pinspect ca init`, `pinspect proxy`, `pinspect verify`.
 *
 * The command line and the output; the proxy itself is src/proxy/proxy.c,
 * the verdicts are the engine's (src/pipeline.h), the report and JSON are
 * the analyser's (src/outputs/).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "dissectors/tls.h"
#include "outputs/jw.h"
#include "outputs/output.h"
#include "pipeline.h"
#include "proxy/ca.h"
#include "proxy/cmd_proxy.h"
#include "proxy/proxy.h"
#include "proxy/rules.h"
#include "proxy/verify.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

enum { X_OK = 0, X_INCONCLUSIVE = 1, X_USAGE = 2, X_INTERNAL = 5 };

#define VERIFY_DEFAULT_TIMEOUT 120u

static const char ca_usage[] =
	"usage: pinspect ca init [--ec] [--days N] [--force] DIR\n"
	"\n"
	"Creates the root the proxy forges leaves with: DIR/ca.pem (give it to the clients\n"
	"that should trust the proxy) and DIR/ca.key (mode 0600, never leaves DIR).\n"
	"  --ec        ECDSA P-256 instead of RSA 2048\n"
	"  --days N    validity of the root (default 730)\n"
	"  --force     replace an existing CA in DIR\n";

static const char proxy_usage[] =
	"usage: pinspect proxy --ca DIR [--listen ADDR:PORT] [--bypass FILE] [--upstream-cafile FILE]\n"
	"                      [--json] [options]\n"
	"\n"
	"An inline TLS-inspection proxy on your own machine: every connection is\n"
	"intercepted with a leaf forged by DIR's CA, except names on the bypass list,\n"
	"which are spliced (relayed untouched). Each connection gets the analyser's\n"
	"verdict live; at exit the report (or the pinspect/1 JSON) ranks the names.\n"
	"\n"
	"  --ca DIR               the CA made by `pinspect ca init DIR`\n"
	"  --listen ADDR:PORT     default 127.0.0.1:8080 (an explicit HTTP CONNECT proxy)\n"
	"  --allow-remote         allow a listen address that is not loopback\n"
	"  --bypass FILE          names to splice: one per line, lower case, '.example.com'\n"
	"                         for the domain and its subdomains, '#' comments;\n"
	"                         re-read on SIGHUP\n"
	"  --upstream-cafile FILE trust these CAs for the servers (default: the system store)\n"
	"  --insecure-upstream    do not verify the servers' certificates (not recommended)\n"
	"  --allow-port N         CONNECT to port N too (443 always; repeatable)\n"
	"  --transparent          take redirected connections (SO_ORIGINAL_DST) instead of\n"
	"                         CONNECT; redirect with e.g.\n"
	"                           iptables -t nat -A OUTPUT -p tcp --dport 443 \\\n"
	"                             -m owner ! --uid-owner USER -j REDIRECT --to-ports 8080\n"
	"                           nft add rule ip nat output tcp dport 443 \\\n"
	"                             meta skuid != USER redirect to :8080\n"
	"                         (run the proxy as USER so its own connections pass)\n"
	"  --mark N               set firewall mark N on connections to servers: exclude\n"
	"                         them from the redirect with 'meta mark != N' (nft) or\n"
	"                         '-m mark ! --mark N' (iptables) instead of a user\n"
	"  --leaf-key auto|rsa|ec forged leaves' key: the type of the server's key (auto,\n"
	"                         the default), RSA 2048, or ECDSA P-256\n"
	"  --resolve NAME:ADDR    connect to ADDR for NAME (a '.parent' rule works too)\n"
	"  --max-conns N          open connections at most (default 512)\n"
	"  --workers N            threads (default: one per CPU, at most 8)\n"
	"  --idle-timeout S       close a relayed connection idle this long (default 300)\n"
	"  --json                 the pinspect/1 JSON document on standard output; live\n"
	"                         lines go to standard error\n"
	"  --pretty               indent the JSON\n"
	"  -q, --quiet            no live lines or proxy log\n"
	"\n"
	"No decrypted payload is ever stored. Clients use it as an HTTPS proxy, e.g.\n"
	"  curl --proxy http://127.0.0.1:8080 --cacert DIR/ca.pem https://example.com/\n";

static const char verify_usage[] =
	"usage: pinspect verify --ca DIR [--listen ADDR:PORT] [--upstream-cafile FILE]\n"
	"                       [--timeout SECONDS] [--rounds N] [--json] NAME...\n"
	"\n"
	"Confirms bypass candidates live. Point the application at the proxy and retry\n"
	"it until this exits: each NAME is intercepted until it fails N times, then\n"
	"spliced (bypassed); other names are spliced. One line per NAME:\n"
	"  confirmed     fails intercepted (a client rejection), works bypassed\n"
	"  refuted       works intercepted: not a bypass candidate\n"
	"  inconclusive  no traffic, or fails both ways (not an inspection problem)\n"
	"NAME is an exact name or '.example.com' (the domain and its subdomains).\n"
	"\n"
	"  --timeout SECONDS   stop waiting after this long (default 120)\n"
	"  --rounds N          failures each way before moving on (default 2)\n"
	"  --json              results as JSON on standard output\n"
	"  --ca, --listen, --allow-remote, --upstream-cafile, --insecure-upstream,\n"
	"  --allow-port, --transparent, --mark, --leaf-key, --resolve, --max-conns, --workers, -q:\n"
	"  as for `pinspect proxy`\n"
	"\n"
	"exit status: 0 every name confirmed or refuted, 1 some inconclusive,\n"
	"2 usage or setup error, 5 internal error.\n";

/* ---- `pinspect ca init` ------------------------------------------------ */

int cmd_ca(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ec", no_argument, NULL, 'e' },
		{ "days", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	enum forge_key kt = FORGE_KEY_RSA;
	int days = CA_DEFAULT_DAYS, force = 0, ch;
	char err[512], fp[128], path[4096];
	X509 *x;
	EVP_PKEY *k;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(ca_usage, stdout);
		return X_OK;
	}
	if (argc < 2 || strcmp(argv[1], "init") != 0) {
		fputs(ca_usage, stderr);
		return X_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			kt = FORGE_KEY_EC;
			break;
		case 'd': {
			char *end;
			long v;
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > 3650) {
				fprintf(stderr, "pinspect: --days takes 1 to 3650\n");
				return X_USAGE;
			}
			days = (int)v;
			break;
		}
		case 'f':
			force = 1;
			break;
		case 'h':
			fputs(ca_usage, stdout);
			return X_OK;
		default:
			fputs(ca_usage, stderr);
			return X_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(ca_usage, stderr);
		return X_USAGE;
	}
	if (ca_init(argv[optind], kt, days, force, err, sizeof(err)) < 0) {
		fprintf(stderr, "pinspect: ca init: %s\n", err);
		return X_USAGE;
	}
	if (ca_load(argv[optind], &x, &k, err, sizeof(err)) < 0) {
		fprintf(stderr, "pinspect: ca init: %s\n", err);
		return X_INTERNAL;
	}
	ca_fingerprint(x, fp, sizeof(fp));
	snprintf(path, sizeof(path), "%s/ca.pem", argv[optind]);
	printf("%s  the root certificate: give it to the clients that should trust the proxy\n", path);
	snprintf(path, sizeof(path), "%s/ca.key", argv[optind]);
	printf("%s  its private key (mode 0600): keep it there\n", path);
	printf("SHA-256 fingerprint %s\n", fp);
	printf("%s, valid %d days\n", kt == FORGE_KEY_EC ? "ECDSA P-256" : "RSA 2048", days);
	printf("trust it for one tool: curl --cacert %s/ca.pem; SSL_CERT_FILE or REQUESTS_CA_BUNDLE for\n"
	       "Python; NODE_EXTRA_CA_CERTS for Node.js\n",
	       argv[optind]);
	X509_free(x);
	EVP_PKEY_free(k);
	return X_OK;
}

/* ---- shared option parsing --------------------------------------------- */

enum {
	O_CA = 256, O_LISTEN, O_ALLOW_REMOTE, O_BYPASS, O_UPCA, O_INSECURE, O_ALLOW_PORT, O_TRANSPARENT,
	O_LEAF_KEY, O_RESOLVE, O_MAX_CONNS, O_IDLE, O_JSON, O_PRETTY, O_TIMEOUT, O_ROUNDS, O_HELP, O_WORKERS,
	O_MARK,
};

static const struct option px_options[] = {
	{ "ca", required_argument, NULL, O_CA },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "allow-remote", no_argument, NULL, O_ALLOW_REMOTE },
	{ "bypass", required_argument, NULL, O_BYPASS },
	{ "upstream-cafile", required_argument, NULL, O_UPCA },
	{ "insecure-upstream", no_argument, NULL, O_INSECURE },
	{ "allow-port", required_argument, NULL, O_ALLOW_PORT },
	{ "transparent", no_argument, NULL, O_TRANSPARENT },
	{ "mark", required_argument, NULL, O_MARK },
	{ "leaf-key", required_argument, NULL, O_LEAF_KEY },
	{ "resolve", required_argument, NULL, O_RESOLVE },
	{ "max-conns", required_argument, NULL, O_MAX_CONNS },
	{ "workers", required_argument, NULL, O_WORKERS },
	{ "idle-timeout", required_argument, NULL, O_IDLE },
	{ "json", no_argument, NULL, O_JSON },
	{ "pretty", no_argument, NULL, O_PRETTY },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "rounds", required_argument, NULL, O_ROUNDS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, O_HELP },
	{ 0, 0, 0, 0 },
};

struct cli {
	struct px_opts px;
	const char *bypass;
	int json, pretty, quiet, help;
	unsigned timeout, rounds;
	int verify;
};

static int num_arg(const char *opt, const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi || s[0] == '-') {
		fprintf(stderr, "pinspect: --%s takes a number from %lu to %lu\n", opt, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* Parse the options of proxy / verify. Returns -1 on a usage error. */
static int parse_cli(int argc, char **argv, struct cli *c)
{
	int ch;
	unsigned long v;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "q", px_options, NULL)) != -1) {
		switch (ch) {
		case O_CA:
			c->px.cadir = optarg;
			break;
		case O_LISTEN:
			c->px.listen = optarg;
			break;
		case O_ALLOW_REMOTE:
			c->px.allow_remote = 1;
			break;
		case O_BYPASS:
			if (c->verify) {
				fprintf(stderr, "pinspect: verify decides what to bypass itself (no --bypass)\n");
				return -1;
			}
			c->bypass = optarg;
			break;
		case O_UPCA:
			c->px.upstream_cafile = optarg;
			break;
		case O_INSECURE:
			c->px.insecure_upstream = 1;
			break;
		case O_ALLOW_PORT:
			if (num_arg("allow-port", optarg, 1, 65535, &v) < 0)
				return -1;
			if (c->px.nallow_ports >= PX_MAX_ALLOW_PORTS) {
				fprintf(stderr, "pinspect: at most %d --allow-port\n", PX_MAX_ALLOW_PORTS);
				return -1;
			}
			c->px.allow_ports[c->px.nallow_ports++] = (uint16_t)v;
			break;
		case O_TRANSPARENT:
			c->px.transparent = 1;
			break;
		case O_MARK: {
			char *end;
			unsigned long m;
			errno = 0;
			m = strtoul(optarg, &end, 0);
			if (errno || *end || end == optarg || m == 0 || m > 0xffffffffUL || optarg[0] == '-') {
				fprintf(stderr, "pinspect: --mark takes a firewall mark, 1 to 0xffffffff\n");
				return -1;
			}
			c->px.mark = (uint32_t)m;
			break;
		}
		case O_LEAF_KEY:
			if (strcmp(optarg, "rsa") == 0)
				c->px.leaf_key = FORGE_KEY_RSA;
			else if (strcmp(optarg, "ec") == 0)
				c->px.leaf_key = FORGE_KEY_EC;
			else if (strcmp(optarg, "auto") == 0)
				c->px.leaf_key = FORGE_KEY_AUTO;
			else {
				fprintf(stderr, "pinspect: --leaf-key takes auto, rsa or ec\n");
				return -1;
			}
			break;
		case O_RESOLVE: {
			const char *colon = strchr(optarg, ':');
			int i = c->px.nresolve;
			if (!colon || colon == optarg || !colon[1] || (size_t)(colon - optarg) >= sizeof(c->px.resolve[0].host) ||
			    strlen(colon + 1) >= sizeof(c->px.resolve[0].addr)) {
				fprintf(stderr, "pinspect: --resolve takes NAME:ADDR\n");
				return -1;
			}
			if (i >= PX_MAX_RESOLVE) {
				fprintf(stderr, "pinspect: at most %d --resolve\n", PX_MAX_RESOLVE);
				return -1;
			}
			memcpy(c->px.resolve[i].host, optarg, (size_t)(colon - optarg));
			c->px.resolve[i].host[colon - optarg] = '\0';
			pi_strlcpy(c->px.resolve[i].addr, colon + 1, sizeof(c->px.resolve[i].addr));
			c->px.nresolve++;
			break;
		}
		case O_MAX_CONNS:
			if (num_arg("max-conns", optarg, 1, 100000, &v) < 0)
				return -1;
			c->px.max_conns = (unsigned)v;
			break;
		case O_WORKERS:
			if (num_arg("workers", optarg, 1, PX_MAX_WORKERS, &v) < 0)
				return -1;
			c->px.workers = (unsigned)v;
			break;
		case O_IDLE:
			if (num_arg("idle-timeout", optarg, 1, 86400, &v) < 0)
				return -1;
			c->px.idle_timeout = (unsigned)v;
			break;
		case O_JSON:
			c->json = 1;
			break;
		case O_PRETTY:
			c->pretty = 1;
			break;
		case O_TIMEOUT:
			if (!c->verify) {
				fprintf(stderr, "pinspect: --timeout is for verify\n");
				return -1;
			}
			if (num_arg("timeout", optarg, 1, 86400, &v) < 0)
				return -1;
			c->timeout = (unsigned)v;
			break;
		case O_ROUNDS:
			if (!c->verify) {
				fprintf(stderr, "pinspect: --rounds is for verify\n");
				return -1;
			}
			if (num_arg("rounds", optarg, 1, 100, &v) < 0)
				return -1;
			c->rounds = (unsigned)v;
			break;
		case 'q':
			c->quiet = 1;
			break;
		case O_HELP:
			c->help = 1;
			return 0;
		default:
			return -1;
		}
	}
	if (!c->px.cadir) {
		fprintf(stderr, "pinspect: --ca DIR is required (create one with: pinspect ca init DIR)\n");
		return -1;
	}
	c->px.quiet = c->quiet;
	return 0;
}

/* ---- live output --------------------------------------------------------- */

struct session {
	struct cli *cli;
	struct out_ctx out;   /* the analyser's report / JSON, for `proxy` */
	FILE *live;           /* live lines: NULL when quiet */
	struct rules *bypass;
	struct verify *v;
	uint64_t deadline;    /* verify: monotonic seconds */
	int expired;
};

static uint64_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static void clock_text(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

/* One line per connection, when its verdict is known. */
static void live_line(struct session *s, const struct conn_out *o, const struct px_conn_info *ci)
{
	const struct conn *c = o->c;
	char t[16], name[300];
	if (!s->live)
		return;
	clock_text(t, sizeof(t));
	pi_printable(name, sizeof(name), (const uint8_t *)ci->name, strlen(ci->name));
	fprintf(s->live, "%s #%llu %-9s %s %s", t, (unsigned long long)ci->id, px_mode_name(ci->mode), name,
	        verdict_name(c->verdict));
	if (c->has_alert)
		fprintf(s->live, " %s%s", tls_alert_name(c->alert_desc), c->alert_from_server ? " (from the proxy)" : "");
	if (c->reason)
		fprintf(s->live, ": %s", c->reason);
	fprintf(s->live, " [%s -> %s, stream %llu]", o->client, o->server, (unsigned long long)c->stream);
	if (ci->note && ci->note[0])
		fprintf(s->live, "; proxy: %s", ci->note);
	if (ci->mode == PX_INTERCEPT && verdict_is_rejection(c->verdict))
		fprintf(s->live, "; the client does not trust the proxy's certificate for %s", name);
	fputc('\n', s->live);
	fflush(s->live);
}

static enum px_mode proxy_decide(void *ctx, const struct px_conn_info *ci)
{
	struct session *s = ctx;
	return s->bypass && rules_match(s->bypass, ci->name) >= 0 ? PX_SPLICE : PX_INTERCEPT;
}

static void proxy_on_verdict(void *ctx, const struct conn_out *o, const struct px_conn_info *ci)
{
	live_line(ctx, o, ci);
}

static void proxy_on_conn(void *ctx, const struct conn_out *o, const struct px_conn_info *ci)
{
	struct session *s = ctx;
	(void)ci;
	out_conn(&s->out, o);
}

static void proxy_reload(void *ctx)
{
	struct session *s = ctx;
	char err[512];
	struct rules *r;
	if (!s->cli->bypass) {
		fprintf(stderr, "pinspect proxy: SIGHUP: no --bypass file to re-read\n");
		return;
	}
	r = rules_load(s->cli->bypass, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "pinspect proxy: SIGHUP: %s: keeping the %zu entries loaded before\n", err,
		        rules_count(s->bypass));
		return;
	}
	rules_free(s->bypass);
	s->bypass = r;
	fprintf(stderr, "pinspect proxy: %s re-read: %zu entries\n", s->cli->bypass, rules_count(r));
}

static void print_stats(const struct proxy *p)
{
	const struct px_stats *st = proxy_stats(p);
	fprintf(stderr,
	        "pinspect proxy: %llu connections (%llu intercepted, %llu spliced, %llu server sessions resumed, "
	        "%llu server chains known verified); %llu server failures, "
	        "%llu client TLS failures; refused: %llu over the limit, %llu bad requests, %llu ports; "
	        "timeouts: %llu hello, %llu setup, %llu idle; peak %u open; %u workers\n",
	        (unsigned long long)st->accepted, (unsigned long long)st->intercepted,
	        (unsigned long long)st->spliced, (unsigned long long)st->upstream_resumed,
	        (unsigned long long)st->upstream_verify_cached, (unsigned long long)st->upstream_failed,
	        (unsigned long long)st->client_tls_failed, (unsigned long long)st->refused_limit,
	        (unsigned long long)st->bad_request, (unsigned long long)st->forbidden_port,
	        (unsigned long long)st->hello_timeout, (unsigned long long)st->setup_timeout,
	        (unsigned long long)st->idle_timeout, st->peak, st->workers);
}

/* ---- `pinspect proxy` -------------------------------------------------- */

int cmd_proxy(int argc, char **argv)
{
	struct cli cli;
	struct session s;
	struct engine_opts eo;
	struct px_hooks h;
	struct proxy *p;
	char err[1024];
	int rc;

	memset(&cli, 0, sizeof(cli));
	memset(&s, 0, sizeof(s));
	memset(&eo, 0, sizeof(eo));
	memset(&h, 0, sizeof(h));
	px_opts_init(&cli.px);
	if (parse_cli(argc, argv, &cli) < 0) {
		if (cli.help)
			return X_OK;
		fputs(proxy_usage, stderr);
		return X_USAGE;
	}
	if (cli.help) {
		fputs(proxy_usage, stdout);
		return X_OK;
	}
	if (optind < argc) {
		fprintf(stderr, "pinspect: proxy takes no names (did you mean pinspect verify?)\n");
		return X_USAGE;
	}
	s.cli = &cli;
	pi_set_quiet(cli.quiet);
	if (cli.bypass) {
		s.bypass = rules_load(cli.bypass, err, sizeof(err));
		if (!s.bypass) {
			fprintf(stderr, "pinspect: --bypass %s\n", err);
			return X_USAGE;
		}
	}
	s.live = cli.quiet ? NULL : cli.json ? stderr : stdout;
	s.out.f = stdout;
	s.out.format = cli.json ? OUT_JSON : OUT_REPORT;
	s.out.pretty = cli.pretty;
	s.out.version = PACKAGE_VERSION;
	eo.no_ndpi = 1; /* nDPI reads packets; the proxy's connections have none */
	h.decide = proxy_decide;
	h.on_verdict = proxy_on_verdict;
	h.on_conn = proxy_on_conn;
	h.reload = proxy_reload;
	h.ctx = &s;
	if (cli.px.insecure_upstream)
		fprintf(stderr, "pinspect proxy: warning: --insecure-upstream: servers are not verified\n");
	p = proxy_new(&cli.px, &eo, &h, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "pinspect proxy: %s\n", err);
		rules_free(s.bypass);
		return X_USAGE;
	}
	if (!cli.quiet)
		fprintf(stderr,
		        "pinspect proxy: listening on %s (%s); %zu names bypassed; %s leaves; Ctrl-C for the report\n",
		        proxy_listen_addr(p), cli.px.transparent ? "transparent" : "HTTP CONNECT",
		        rules_count(s.bypass),
		        cli.px.leaf_key == FORGE_KEY_EC    ? "ECDSA P-256"
		        : cli.px.leaf_key == FORGE_KEY_RSA ? "RSA 2048"
		                                           : "RSA 2048 or P-256 (as the server's)");
	out_begin(&s.out);
	rc = proxy_run(p);
	engine_finish(proxy_engine(p));
	out_end(&s.out, proxy_engine(p));
	if (!cli.quiet)
		print_stats(p);
	proxy_free(p);
	rules_free(s.bypass);
	if (ferror(stdout))
		return X_INTERNAL;
	return rc < 0 ? X_INTERNAL : X_OK;
}

/* ---- `pinspect verify` ------------------------------------------------- */

static enum px_mode verify_decide_hook(void *ctx, const struct px_conn_info *ci)
{
	struct session *s = ctx;
	return verify_decide(s->v, ci->name);
}

static void verify_on_verdict(void *ctx, const struct conn_out *o, const struct px_conn_info *ci)
{
	struct session *s = ctx;
	int changed;
	const struct vname *x = verify_record(s->v, ci, o, &changed);
	if (!x)
		return;
	live_line(s, o, ci);
	if (!changed || !s->live)
		return;
	if (x->phase == VP_SPLICE)
		fprintf(s->live, "verify: %s failed %llu times intercepted: now bypassed; retry the application\n",
		        x->rule, (unsigned long long)x->i_fail);
	else if (x->phase == VP_DONE)
		fprintf(s->live, "verify: %s %s\n", x->rule, verify_result_name(x->result));
	fflush(s->live);
}

static int verify_tick(void *ctx)
{
	struct session *s = ctx;
	if (verify_all_done(s->v))
		return 1;
	if (mono_s() >= s->deadline) {
		s->expired = 1;
		return 1;
	}
	return 0;
}

static void verify_json(struct session *s, FILE *f)
{
	struct jw w;
	jw_init(&w, f, s->cli->pretty);
	jw_obj_open(&w);
	jw_kstr(&w, "schema", "pinspect/1");
	jw_kstr(&w, "generator", PACKAGE_VERSION);
	jw_key(&w, "verify");
	jw_arr_open(&w);
	for (size_t i = 0; i < verify_count(s->v); i++) {
		const struct vname *x = verify_get(s->v, i);
		jw_obj_open(&w);
		jw_kstr(&w, "rule", x->rule);
		jw_kstr(&w, "result", verify_result_name(x->result));
		jw_kstr(&w, "evidence", x->evidence);
		for (int side = 0; side < 2; side++) {
			const uint64_t *vc = side ? x->verdicts_s : x->verdicts_i;
			jw_key(&w, side ? "bypassed" : "intercepted");
			jw_obj_open(&w);
			jw_kuint(&w, "connections", side ? x->s_total : x->i_total);
			jw_kuint(&w, "failures", side ? x->s_fail : x->i_fail);
			jw_kuint(&w, "successes", side ? x->s_ok : x->i_ok);
			jw_key(&w, "verdicts");
			jw_obj_open(&w);
			for (int k = 1; k < V_COUNT; k++)
				if (vc[k])
					jw_kuint(&w, verdict_name((enum verdict)k), vc[k]);
			jw_obj_close(&w);
			jw_obj_close(&w);
		}
		jw_key(&w, "connections");
		jw_arr_open(&w);
		for (int k = 0; k < x->nex; k++) {
			const struct vexample *e = &x->ex[k];
			jw_obj_open(&w);
			jw_kuint(&w, "id", e->id);
			jw_kuint(&w, "tcp_stream", e->stream);
			jw_kstr(&w, "mode", px_mode_name(e->mode));
			jw_kstr(&w, "sni", e->sni);
			jw_kstr(&w, "client", e->client);
			jw_kstr(&w, "server", e->server);
			jw_kstr(&w, "verdict", verdict_name(e->verdict));
			jw_key(&w, "alert");
			jw_str(&w, e->alert[0] ? e->alert : NULL);
			jw_kstr(&w, "reason", e->reason);
			jw_key(&w, "proxy_note");
			jw_str(&w, e->note[0] ? e->note : NULL);
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	fputc('\n', f);
}

int cmd_verify(int argc, char **argv)
{
	struct cli cli;
	struct session s;
	struct engine_opts eo;
	struct px_hooks h;
	struct proxy *p;
	char err[1024];
	int rc, worst = X_OK;

	memset(&cli, 0, sizeof(cli));
	memset(&s, 0, sizeof(s));
	memset(&eo, 0, sizeof(eo));
	memset(&h, 0, sizeof(h));
	px_opts_init(&cli.px);
	cli.verify = 1;
	cli.timeout = VERIFY_DEFAULT_TIMEOUT;
	cli.rounds = VERIFY_DEFAULT_ROUNDS;
	if (parse_cli(argc, argv, &cli) < 0) {
		fputs(verify_usage, stderr);
		return X_USAGE;
	}
	if (cli.help) {
		fputs(verify_usage, stdout);
		return X_OK;
	}
	if (optind >= argc) {
		fprintf(stderr, "pinspect: verify needs at least one NAME\n");
		fputs(verify_usage, stderr);
		return X_USAGE;
	}
	s.cli = &cli;
	pi_set_quiet(cli.quiet);
	s.v = verify_new(argv + optind, argc - optind, cli.rounds, err, sizeof(err));
	if (!s.v) {
		fprintf(stderr, "pinspect: verify: %s\n", err);
		return X_USAGE;
	}
	s.live = cli.quiet ? NULL : stderr;
	eo.no_ndpi = 1;
	h.decide = verify_decide_hook;
	h.on_verdict = verify_on_verdict;
	h.tick = verify_tick;
	h.ctx = &s;
	p = proxy_new(&cli.px, &eo, &h, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "pinspect verify: %s\n", err);
		verify_free(s.v);
		return X_USAGE;
	}
	if (!cli.quiet)
		fprintf(stderr,
		        "pinspect verify: proxy on %s; retry the application now (up to %u s); each name is "
		        "intercepted until it fails %u times, then bypassed\n",
		        proxy_listen_addr(p), cli.timeout, cli.rounds);
	s.deadline = mono_s() + cli.timeout;
	rc = proxy_run(p);
	if (!verify_all_done(s.v))
		verify_expire(s.v);
	if (cli.json) {
		verify_json(&s, stdout);
	} else {
		for (size_t i = 0; i < verify_count(s.v); i++) {
			const struct vname *x = verify_get(s.v, i);
			printf("%s %s  %s\n", x->rule, verify_result_name(x->result), x->evidence);
		}
	}
	for (size_t i = 0; i < verify_count(s.v); i++)
		if (verify_get(s.v, i)->result == VR_INCONCLUSIVE)
			worst = X_INCONCLUSIVE;
	fflush(stdout);
	proxy_free(p);
	verify_free(s.v);
	if (rc < 0 || ferror(stdout))
		return X_INTERNAL;
	return worst;
}
