/* cmd_live.c: `pinspect live` and the replay behind `analyze --tui`.
 *
 * One engine thread owns the engine (pipeline.h): it reads packets (libpcap
 * or a capture file), feeds them to the engine, writes them to -w and to
 * the in-memory ring that `w` saves, and a few times a second publishes a
 * snapshot for the view (ui/model.h) and serves the view's requests. The
 * view (ui/tui.c) runs on the main thread and only reads snapshots, so a
 * slow terminal never stalls the capture. Without a terminal (or with
 * --no-tui) there is no view and no second thread: the verdicts are
 * printed as they are decided (ui/lines.c) and the ranked summary at the
 * end.
 *
 * Signals: SIGINT and SIGTERM only set a flag and write a byte to a
 * self-pipe (the capture loop polls it next to the pcap descriptor); the
 * loops end, the engine settles the open connections, -w is flushed and
 * closed, and the summary is written, as on a normal end.
 *
 * Privileges: the interface is opened first, then root is dropped for
 * good (-Z USER, default nobody) before any file is written or any packet
 * is parsed, as tcpdump does. The -w file is therefore created as that
 * user.
 */
#include "cmd_live.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analysis/evidence.h"
#include "capture/capture.h"
#include "capture/live.h"
#include "capture/pcapng_writer.h"
#include "common/util.h"
#include "ranking/kb.h"
#include "ui/lines.h"
#include "ui/model.h"
#include "ui/tui.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

enum { LIVE_OK = 0, LIVE_USAGE = 2, LIVE_CANNOT_OPEN = 3, LIVE_PARTIAL = 4, LIVE_INTERNAL = 5 };


#define PUBLISH_INTERVAL 0.25   /* s between snapshots */
#define FLUSH_INTERVAL 1.0      /* s between flushes of -w */
#define POLL_MS 100
#define REPLAY_MAX_GAP_NS (5ull * 1000000000ull)
#define RING_CHUNK (1u << 20)
#define DEFAULT_RING_MB 32

static const char live_usage[] =
	"usage: pinspect live [-i IFACE] [-f FILTER] [-s SNAPLEN] [-w FILE.pcapng [-C MB] [-W N]]\n"
	"                     [-Z USER] [--no-tui] [--json] [--duration SECONDS] [-c COUNT] [FILTER...]\n"
	"\n"
	"Captures an interface and shows each TLS connection's verdict and the ranked\n"
	"bypass candidates as they happen: an interactive view on a terminal, otherwise\n"
	"one line per verdict and the summary when the capture ends (Ctrl-C ends it).\n"
	"\n"
	"options:\n"
	"  -i, --interface IFACE   interface name, or 'any' (default: the first one up)\n"
	"  -D, --list-interfaces   list the interfaces and exit\n"
	"  -f, --filter EXPR       BPF capture filter (pcap-filter(7)), e.g. 'tcp port 443 or port 53';\n"
	"                          words after the options are taken as the filter too\n"
	"  -s, --snaplen N         bytes captured per packet (default 262144)\n"
	"  -p, --no-promiscuous    do not put the interface in promiscuous mode\n"
	"  -B, --buffer MB         kernel capture buffer (default 16)\n"
	"      --immediate         libpcap immediate mode: every packet at once instead of within\n"
	"                          50 ms (fewer packets per second before the kernel drops)\n"
	"  -w, --write FILE        save every captured packet as pcapng (evidence for the ticket)\n"
	"  -C, --rotate MB         with -w: start FILE.1.pcapng, FILE.2.pcapng... past MB megabytes\n"
	"  -W, --files N           with -C: keep at most N files, reusing the names in turn\n"
	"  -Z, --user USER         drop root to USER once the interface is open (default nobody;\n"
	"                          'root' keeps root); -w files are created as USER\n"
	"      --no-tui            no interactive view: print verdict lines and the summary\n"
	"      --json              JSON lines instead (implies --no-tui)\n"
	"      --duration SECONDS  stop capturing after this long\n"
	"  -c, --count N           stop capturing after N packets\n"
	"      --ring MB           packets kept in memory for the view's 'w' key (default 32, 0 none)\n"
	"      --color WHEN        auto (default), always, never; NO_COLOR is honoured\n"
	"      --kb FILE           knowledge base instead of the bundled data/kb.conf\n"
	"      --no-ndpi           do not classify applications with nDPI\n"
	"  -q, --quiet             no warnings on standard error\n"
	"  -h, --help              this text\n"
	"\n"
	"exit status: 0 ok, 2 usage error, 3 cannot open the interface or the -w file,\n"
	"5 internal error (capture or write failure).\n";

/* ---- signals ----------------------------------------------------------- */

static volatile sig_atomic_t g_stop;
static int g_quiet; /* -q */
static int g_sigpipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	(void)sig;
	g_stop = 1;
	if (g_sigpipe[1] >= 0) {
		ssize_t n = write(g_sigpipe[1], "x", 1);
		(void)n;
	}
	errno = saved;
}

static void signals_install(void)
{
	struct sigaction sa;
	g_stop = 0;
	if (g_sigpipe[0] < 0 && pipe(g_sigpipe) == 0) {
		for (int i = 0; i < 2; i++) {
			fcntl(g_sigpipe[i], F_SETFL, fcntl(g_sigpipe[i], F_GETFL) | O_NONBLOCK);
			fcntl(g_sigpipe[i], F_SETFD, FD_CLOEXEC);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void signals_restore(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void drain_sigpipe(void)
{
	char buf[64];
	if (g_sigpipe[0] >= 0)
		while (read(g_sigpipe[0], buf, sizeof(buf)) > 0) {
		}
}

/* ---- the packet ring behind the view's `w` ------------------------------
 * Fixed 1 MiB chunks filled in turn; when the ring is full the oldest
 * chunk is reused whole. Records: header, then the bytes padded to 8. */

struct ring_rec {
	uint64_t ts_ns;
	uint64_t frame;
	uint32_t caplen, wirelen;
	int32_t linktype;
	uint32_t pad;
};

struct ring_chunk {
	uint8_t *data;
	size_t used;
	uint64_t packets;
};

struct pkt_ring {
	struct ring_chunk *c;
	size_t n, cur;
	uint64_t evicted;   /* packets no longer held */
	uint64_t skipped;   /* packets not kept (too large, out of memory) */
};

static int ring_init(struct pkt_ring *r, unsigned mb)
{
	memset(r, 0, sizeof(*r));
	if (!mb)
		return 0;
	r->c = calloc(mb, sizeof(*r->c));
	if (!r->c)
		return -1;
	r->n = mb;
	return 0;
}

static void ring_free(struct pkt_ring *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->c[i].data);
	free(r->c);
	memset(r, 0, sizeof(*r));
}

static void ring_add(struct pkt_ring *r, const struct packet *p)
{
	size_t need = sizeof(struct ring_rec) + (((size_t)p->caplen + 7u) & ~(size_t)7u);
	struct ring_chunk *ch;
	struct ring_rec h;
	if (!r->n)
		return;
	if (need > RING_CHUNK) {
		r->skipped++;
		return;
	}
	ch = &r->c[r->cur];
	if (!ch->data || ch->used + need > RING_CHUNK) {
		if (ch->data) {
			r->cur = (r->cur + 1) % r->n;
			ch = &r->c[r->cur];
		}
		if (!ch->data && !(ch->data = malloc(RING_CHUNK))) {
			r->skipped++;
			return;
		}
		r->evicted += ch->packets;
		ch->used = 0;
		ch->packets = 0;
	}
	memset(&h, 0, sizeof(h));
	h.ts_ns = p->ts_ns;
	h.frame = p->frame;
	h.caplen = p->caplen;
	h.wirelen = p->wirelen;
	h.linktype = p->linktype;
	memcpy(ch->data + ch->used, &h, sizeof(h));
	memcpy(ch->data + ch->used + sizeof(h), p->data, p->caplen);
	ch->used += need;
	ch->packets++;
}

/* Write the ring, oldest first. Returns packets written, -1 on error. */
static long long ring_save(const struct pkt_ring *r, const char *path, char *err, size_t errlen)
{
	struct pcapng_wopts wo = { 0 };
	struct pcapng_writer *w;
	long long n = 0;
	wo.app = "pinspect " PACKAGE_VERSION;
	wo.nanoseconds = 1;
	w = pcapng_open(path, &wo, err, errlen);
	if (!w)
		return -1;
	for (size_t k = 1; k <= r->n; k++) {
		const struct ring_chunk *ch = &r->c[(r->cur + k) % r->n];
		size_t at = 0;
		while (ch->data && at + sizeof(struct ring_rec) <= ch->used) {
			struct ring_rec h;
			struct packet p;
			memcpy(&h, ch->data + at, sizeof(h));
			p.frame = h.frame;
			p.ts_ns = h.ts_ns;
			p.linktype = h.linktype;
			p.caplen = h.caplen;
			p.wirelen = h.wirelen;
			p.data = ch->data + at + sizeof(h);
			if (pcapng_write(w, &p, NULL) < 0) {
				pcapng_close(w, err, errlen);
				return -1;
			}
			n++;
			at += sizeof(h) + (((size_t)h.caplen + 7u) & ~(size_t)7u);
		}
	}
	if (pcapng_close(w, err, errlen) < 0)
		return -1;
	return n;
}

/* ---- the engine thread ------------------------------------------------- */

struct runner {
	struct engine *e;
	const struct rank_opts *ro;
	char source[300];
	int is_live;
	struct live_src *live;
	struct cap_reader *rd;
	int realtime;
	uint64_t max_packets;      /* -c, 0 = no bound */
	double duration;           /* --duration, 0 = no bound */
	struct pcapng_writer *w;   /* -w */
	char werr[512];
	struct pkt_ring ring;
	struct ui_model *model;    /* the view, or NULL */
	struct lines_opts lo;      /* without a view */
	int out_broken;            /* standard output failed */

	/* progress */
	uint64_t packets;
	uint64_t last_ts;          /* newest packet's time */
	double t0, last_periodic, last_flush, last_rate;
	double interval;           /* between snapshots: grows if ranking is slow */
	uint64_t rate_pkts, rate_bytes;
	double pps, bps;
	int source_done;
	int finished;              /* engine_end_input done */
	double t_end;              /* when the capture or the replay ended */
	enum ui_state state;
	char note[256];
	int failed;                /* the capture or the replay failed */
	int damaged;               /* the replayed file is cut or damaged */
	int note_is_default;       /* note only says the input ended normally */
	struct live_stats ls;

	/* replay pacing */
	struct packet pend;
	int have_pend;
	uint64_t vclock;           /* capture time the wall clock stands for */
	double vclock_wall;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_s(double s)
{
	struct timespec ts;
	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static void on_verdict(void *ctx, const struct conn_out *o)
{
	struct runner *r = ctx;
	if (r->model) {
		ui_model_add_conn(r->model, o);
		return;
	}
	if (r->out_broken)
		return;
	lines_verdict(&r->lo, o);
	if (ferror(r->lo.f)) {
		r->out_broken = 1; /* a closed pipe: stop, nobody is reading */
		g_stop = 1;
	}
}

static void feed(void *ctx, const struct packet *p)
{
	struct runner *r = ctx;
	r->packets++;
	if (p->ts_ns > r->last_ts)
		r->last_ts = p->ts_ns;
	engine_packet(r->e, p);
	if (r->w && !r->werr[0] && pcapng_write(r->w, p, NULL) < 0) {
		pi_strlcpy(r->werr, pcapng_error(r->w), sizeof(r->werr));
		snprintf(r->note, sizeof(r->note), "stopped saving: %.200s", r->werr);
		if (!r->model)
			pi_warn("%s (the capture goes on without saving)", r->werr);
	}
	ring_add(&r->ring, p);
}

static int stopping(const struct runner *r)
{
	return g_stop || (r->model && ui_model_quit(r->model));
}

static void fill_status(struct runner *r, struct ui_status *st)
{
	const struct engine_stats *es = engine_stats(r->e);
	const struct pi_caps *caps = engine_caps(r->e);
	memset(st, 0, sizeof(*st));
	ui_safe(st->source, sizeof(st->source), r->source);
	st->live = r->is_live;
	st->state = r->state;
	if (r->state == UI_RUNNING && r->model && ui_model_paused(r->model) && !r->is_live)
		st->state = UI_PAUSED;
	ui_safe(st->note, sizeof(st->note), r->note);
	st->packets = es->packets;
	st->bytes = es->bytes;
	st->pps = r->pps;
	st->bps = r->bps;
	st->elapsed_s = (r->finished ? r->t_end : now_s()) - r->t0;
	st->tls_conns = es->tls_conns;
	memcpy(st->verdicts, es->verdicts, sizeof(st->verdicts));
	st->flows = !r->finished ? (int64_t)engine_open_flows(r->e) : 0;
	st->undecoded = caps->packets_undecoded;
	st->have_pstats = r->ls.valid;
	st->received = r->ls.received;
	st->kernel_drops = r->ls.kernel_drops;
	st->if_drops = r->ls.if_drops;
	if (r->w) {
		ui_safe(st->saving, sizeof(st->saving), pcapng_path(r->w));
		st->saved_bytes = pcapng_bytes(r->w);
		st->saved_files = pcapng_files(r->w);
	}
}

static void serve_request(struct runner *r)
{
	static struct ui_request rq; /* large; one engine thread */
	char msg[700];
	if (!r->model || !ui_model_take_request(r->model, &rq))
		return;
	if (rq.kind == UI_REQ_EXPORT) {
		int rc = ui_export_candidates(r->e, r->ro, &rq, msg, sizeof(msg));
		ui_model_reply(r->model, rc == 0, "%s", msg);
	} else if (rq.kind == UI_REQ_SAVE) {
		char err[512];
		long long n;
		if (!r->ring.n) {
			ui_model_reply(r->model, 0, "save: no packets are kept in memory (--ring 0)");
			return;
		}
		n = ring_save(&r->ring, rq.path, err, sizeof(err));
		if (n < 0)
			ui_model_reply(r->model, 0, "save: %s", err);
		else if (r->ring.evicted)
			ui_model_reply(r->model, 1, "saved %lld packets to %s (the %llu oldest were no longer in memory)", n,
			               rq.path, (unsigned long long)r->ring.evicted);
		else
			ui_model_reply(r->model, 1, "saved %lld packets to %s", n, rq.path);
	}
}

/* Counters, -w flushes, idle flows, the snapshot; at most every
 * PUBLISH_INTERVAL unless forced. */
static void periodic(struct runner *r, int force)
{
	double t = now_s();
	if (r->interval < PUBLISH_INTERVAL)
		r->interval = PUBLISH_INTERVAL;
	if (!force && t - r->last_periodic < r->interval && !(r->model && ui_model_want_publish(r->model)))
		return;
	r->last_periodic = t;
	if (r->live)
		live_get_stats(r->live, &r->ls);
	if (r->finished) {
		r->pps = r->bps = 0;
	} else if (t - r->last_rate >= 1.0 || r->last_rate == 0) {
		const struct engine_stats *es = engine_stats(r->e);
		double dt = t - r->last_rate;
		if (r->last_rate > 0 && dt > 0) {
			r->pps = (double)(es->packets - r->rate_pkts) / dt;
			r->bps = (double)(es->bytes - r->rate_bytes) / dt;
		}
		r->rate_pkts = es->packets;
		r->rate_bytes = es->bytes;
		r->last_rate = t;
	}
	if (r->w && !r->werr[0] && t - r->last_flush >= FLUSH_INTERVAL) {
		r->last_flush = t;
		if (pcapng_flush(r->w) < 0) {
			pi_strlcpy(r->werr, pcapng_error(r->w), sizeof(r->werr));
			snprintf(r->note, sizeof(r->note), "stopped saving: %.200s", r->werr);
			if (!r->model)
				pi_warn("%s (the capture goes on without saving)", r->werr);
		}
	}
	if (!r->finished)
		engine_tick(r->e, r->is_live ? wall_ns() : r->last_ts);
	if (r->model) {
		struct ui_status st;
		double cost;
		fill_status(r, &st);
		ui_model_publish(r->model, r->e, r->ro, &st);
		/* ranking many names takes time from the packet path: keep it
		 * under a fifth of this thread's time */
		cost = now_s() - t;
		r->interval = cost * 5 > PUBLISH_INTERVAL ? (cost * 5 < 2.0 ? cost * 5 : 2.0) : PUBLISH_INTERVAL;
		serve_request(r);
	}
}

static void step_live(struct runner *r)
{
	struct pollfd pfd[2];
	int nfd = 0, timeout = POLL_MS, max = 0, n;
	char err[512];
	if (r->duration > 0) {
		double left = r->duration - (now_s() - r->t0);
		if (left <= 0) {
			r->source_done = 1;
			snprintf(r->note, sizeof(r->note), "capture stopped after %.0f s (--duration)", r->duration);
			return;
		}
		if (left * 1000 < timeout)
			timeout = (int)(left * 1000) + 1;
	}
	if (live_fd(r->live) >= 0) {
		pfd[nfd].fd = live_fd(r->live);
		pfd[nfd++].events = POLLIN;
	} else {
		timeout = 10; /* no selectable descriptor: poll libpcap often */
	}
	if (g_sigpipe[0] >= 0 && !r->model) {
		pfd[nfd].fd = g_sigpipe[0];
		pfd[nfd++].events = POLLIN;
	}
	if (poll(pfd, (nfds_t)nfd, timeout) < 0 && errno != EINTR) {
		snprintf(r->note, sizeof(r->note), "poll: %s", strerror(errno));
		r->failed = 1;
		r->source_done = 1;
		return;
	}
	if (g_stop)
		return;
	if (r->max_packets) {
		uint64_t left = r->max_packets - r->packets;
		max = left > 100000 ? 100000 : (int)left;
	}
	n = live_dispatch(r->live, max, feed, r, err, sizeof(err));
	if (n < 0) {
		ui_safe(r->note, sizeof(r->note), err);
		r->failed = 1;
		r->source_done = 1;
		if (!r->model)
			pi_warn("%s", err);
		return;
	}
	if (r->max_packets && r->packets >= r->max_packets) {
		r->source_done = 1;
		snprintf(r->note, sizeof(r->note), "capture stopped after %llu packets (-c)",
		         (unsigned long long)r->packets);
	}
}

static void step_file(struct runner *r)
{
	double start = now_s();
	unsigned budget = 0;
	if (r->model && ui_model_paused(r->model)) {
		sleep_s(0.05);
		r->vclock_wall = now_s();
		return;
	}
	for (;;) {
		if (!r->have_pend) {
			int rc = cap_next(r->rd, &r->pend);
			if (rc != CAP_PACKET) {
				if (rc == CAP_ERROR) {
					ui_safe(r->note, sizeof(r->note), cap_error(r->rd));
					r->damaged = 1;
					if (!r->model)
						pi_warn("%s (analysed the packets before it)", cap_error(r->rd));
				}
				r->source_done = 1;
				return;
			}
			r->have_pend = 1;
		}
		if (r->realtime) {
			double t = now_s();
			if (!r->vclock) {
				r->vclock = r->pend.ts_ns;
				r->vclock_wall = t;
			}
			r->vclock += (uint64_t)((t - r->vclock_wall) * 1e9);
			r->vclock_wall = t;
			if (r->pend.ts_ns > r->vclock + REPLAY_MAX_GAP_NS)
				r->vclock = r->pend.ts_ns - REPLAY_MAX_GAP_NS; /* shorten long gaps */
			if (r->pend.ts_ns > r->vclock) {
				double wait = (double)(r->pend.ts_ns - r->vclock) / 1e9;
				sleep_s(wait > 0.05 ? 0.05 : wait);
				return;
			}
		}
		r->have_pend = 0;
		feed(r, &r->pend);
		if (r->max_packets && r->packets >= r->max_packets) {
			r->source_done = 1;
			return;
		}
		if (++budget % 256 == 0 && (now_s() - start > 0.05 || stopping(r)))
			return;
	}
}

static void finish(struct runner *r)
{
	if (r->finished)
		return;
	engine_end_input(r->e);
	engine_finish(r->e);
	r->finished = 1;
	r->t_end = now_s();
	if (r->live)
		live_get_stats(r->live, &r->ls);
	if (r->w) {
		if (!r->werr[0] && pcapng_flush(r->w) < 0) {
			pi_strlcpy(r->werr, pcapng_error(r->w), sizeof(r->werr));
			snprintf(r->note, sizeof(r->note), "stopped saving: %.200s", r->werr);
		}
	}
	r->state = r->failed ? UI_FAILED : UI_DONE;
	if (!r->note[0]) {
		r->note_is_default = 1;
		if (r->is_live)
			snprintf(r->note, sizeof(r->note), "capture stopped");
		else
			snprintf(r->note, sizeof(r->note), "end of %.180s: %llu packets replayed", r->source,
			         (unsigned long long)r->packets);
	}
}

static void runner_run(struct runner *r)
{
	r->state = UI_RUNNING;
	periodic(r, 1);
	while (!stopping(r) && !r->source_done) {
		if (r->live)
			step_live(r);
		else
			step_file(r);
		periodic(r, 0);
	}
	finish(r);
	periodic(r, 1);
	/* the view stays up after the capture or the file ended: keep
	 * answering it until the user quits */
	while (r->model && !stopping(r)) {
		sleep_s(0.05);
		if (ui_model_want_publish(r->model))
			periodic(r, 1);
		serve_request(r);
	}
}

static void *engine_thread(void *arg)
{
	runner_run(arg);
	return NULL;
}

/* Run with the view on this thread and the engine on another. Returns 0,
 * or -1 when the terminal could not be used (the run still ends cleanly). */
static int run_with_view(struct runner *r, int color, int replay, char *err, size_t errlen)
{
	struct tui_opts to = { 0 };
	pthread_t th;
	sigset_t all, old;
	int rc, hush;
	uint64_t warned;

	r->model = ui_model_new();
	if (!r->model) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* curses needs the terminal's character set; setlocale is not
	 * thread-safe, so before the engine thread starts (LC_CTYPE only:
	 * numbers stay in the C locale) */
	setlocale(LC_CTYPE, "");
	/* warnings on the terminal would tear the view: hold them (counted)
	 * from before the engine thread starts */
	hush = isatty(STDERR_FILENO);
	warned = pi_warn_count();
	if (hush)
		pi_set_quiet(1);
	/* signals go to the view's thread only */
	sigemptyset(&all);
	sigaddset(&all, SIGINT);
	sigaddset(&all, SIGTERM);
	sigaddset(&all, SIGHUP);
	sigaddset(&all, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&th, NULL, engine_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the engine thread: %s", strerror(rc));
		pi_set_quiet(g_quiet);
		ui_model_free(r->model);
		r->model = NULL;
		return -1;
	}
	to.color = color;
	to.replay = replay;
	rc = tui_run(r->model, &to, &g_stop, err, errlen);
	ui_model_set_quit(r->model);
	pthread_join(th, NULL);
	if (hush) {
		pi_set_quiet(g_quiet);
		if (pi_warn_count() > warned && !g_quiet)
			fprintf(stderr, "pinspect: %llu warning%s not shown while the view was up\n",
			        (unsigned long long)(pi_warn_count() - warned), pi_warn_count() - warned == 1 ? "" : "s");
	}
	ui_model_free(r->model);
	r->model = NULL;
	return rc;
}

/* NO_COLOR (no-color.org): set and not empty. */
static int no_color_env(void)
{
	const char *v = getenv("NO_COLOR");
	return v && *v;
}

static int want_color(const char *when, FILE *f)
{
	if (strcmp(when, "always") == 0)
		return 1;
	if (strcmp(when, "never") == 0)
		return 0;
	return isatty(fileno(f)) && !no_color_env();
}

static void write_summary(struct runner *r, const struct lines_opts *lo)
{
	struct lines_summary s = { 0 };
	s.source = r->source;
	s.live = r->is_live;
	s.elapsed_s = (r->finished ? r->t_end : now_s()) - r->t0;
	s.ls = r->is_live ? &r->ls : NULL;
	if (r->w) {
		s.saved_path = pcapng_path(r->w);
		s.saved_files = pcapng_files(r->w);
		s.saved_bytes = pcapng_bytes(r->w);
	}
	s.note = (r->note[0] && !r->note_is_default) ? r->note : NULL;
	lines_summary(lo, r->e, r->ro, &s);
}

/* ---- pinspect live ----------------------------------------------------- */

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;
	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Memory ran out during the run (data lost): warn, and 1 (exit 4). */
static int ran_out(struct runner *r)
{
	uint64_t nf;
	if (!r->e)
		return 0;
	nf = engine_caps(r->e)->alloc_failures + evidence_alloc_failures(engine_evidence(r->e));
	if (nf)
		pi_warn("out of memory: %llu allocations failed, the result is partial (see limits)",
		        (unsigned long long)nf);
	return nf != 0;
}

int cmd_live(int argc, char **argv)
{
	return cmd_live_ex(argc, argv, NULL, NULL);
}

int cmd_live_ex(int argc, char **argv, const struct engine_opts *base_eo, const struct rank_opts *ro)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "list-interfaces", no_argument, NULL, 'D' },
		{ "filter", required_argument, NULL, 'f' },
		{ "snaplen", required_argument, NULL, 's' },
		{ "no-promiscuous", no_argument, NULL, 'p' },
		{ "buffer", required_argument, NULL, 'B' },
		{ "immediate", no_argument, NULL, 'I' },
		{ "write", required_argument, NULL, 'w' },
		{ "rotate", required_argument, NULL, 'C' },
		{ "files", required_argument, NULL, 'W' },
		{ "user", required_argument, NULL, 'Z' },
		{ "no-tui", no_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'J' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "ring", required_argument, NULL, 'R' },
		{ "color", required_argument, NULL, 'k' },
		{ "colour", required_argument, NULL, 'k' },
		{ "no-ndpi", no_argument, NULL, 'N' },
		{ "kb", required_argument, NULL, 'K' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct live_opts lopt = { 0 };
	struct rank_opts own_ro = { 0 };
	struct kb *kb = NULL;
	const char *kbpath = NULL;
	struct engine_opts eo = { 0 };
	struct pcapng_wopts wo = { 0 };
	struct runner *r = NULL;
	const char *wpath = NULL, *user = NULL, *color = "auto", *who = "";
	char *filter_words = NULL, err[1024], label[320];
	unsigned long long v, rotate_mb = 0, max_files = 0, ring_mb = DEFAULT_RING_MB;
	int ch, no_tui = 0, json = 0, rc = LIVE_OK, list = 0;
	double duration = 0;
	uint64_t count = 0;

	if (base_eo)
		eo = *base_eo;
	lopt.promisc = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "i:Df:s:pB:w:C:W:Z:c:qh", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			lopt.iface = optarg;
			break;
		case 'D':
			list = 1;
			break;
		case 'f':
			lopt.filter = optarg;
			break;
		case 's':
			if (parse_uint(optarg, 262144, &v) < 0 || v == 0) {
				fprintf(stderr, "pinspect: -s takes a snap length from 1 to 262144\n");
				return LIVE_USAGE;
			}
			lopt.snaplen = (int)v;
			break;
		case 'p':
			lopt.promisc = 0;
			break;
		case 'I':
			lopt.immediate = 1;
			break;
		case 'B':
			if (parse_uint(optarg, 4096, &v) < 0 || v == 0) {
				fprintf(stderr, "pinspect: -B takes megabytes from 1 to 4096\n");
				return LIVE_USAGE;
			}
			lopt.buffer_mb = (int)v;
			break;
		case 'w':
			wpath = optarg;
			break;
		case 'C':
			if (parse_uint(optarg, 1000000, &rotate_mb) < 0 || rotate_mb == 0) {
				fprintf(stderr, "pinspect: -C takes a size in megabytes (1 to 1000000)\n");
				return LIVE_USAGE;
			}
			break;
		case 'W':
			if (parse_uint(optarg, 100000, &max_files) < 0 || max_files == 0) {
				fprintf(stderr, "pinspect: -W takes a number of files (1 to 100000)\n");
				return LIVE_USAGE;
			}
			break;
		case 'Z':
			user = optarg;
			break;
		case 'T':
			no_tui = 1;
			break;
		case 'J':
			json = 1;
			no_tui = 1;
			break;
		case 'd': {
			char *end;
			errno = 0;
			duration = strtod(optarg, &end);
			if (errno || *end || !(duration > 0) || duration > 1e7) {
				fprintf(stderr, "pinspect: --duration takes seconds (> 0)\n");
				return LIVE_USAGE;
			}
			break;
		}
		case 'c':
			if (parse_uint(optarg, UINT64_MAX / 2, &v) < 0 || v == 0) {
				fprintf(stderr, "pinspect: -c takes a packet count (> 0)\n");
				return LIVE_USAGE;
			}
			count = v;
			break;
		case 'R':
			if (parse_uint(optarg, 65536, &ring_mb) < 0) {
				fprintf(stderr, "pinspect: --ring takes megabytes (0 to 65536)\n");
				return LIVE_USAGE;
			}
			break;
		case 'k':
			color = optarg;
			if (strcmp(color, "auto") && strcmp(color, "always") && strcmp(color, "never")) {
				fprintf(stderr, "pinspect: --color takes auto, always or never\n");
				return LIVE_USAGE;
			}
			break;
		case 'N':
			eo.no_ndpi = 1;
			break;
		case 'K':
			kbpath = optarg;
			break;
		case 'q':
			g_quiet = 1;
			pi_set_quiet(1);
			break;
		case 'h':
			fputs(live_usage, stdout);
			return LIVE_OK;
		default:
			fputs(live_usage, stderr);
			return LIVE_USAGE;
		}
	}
	if (list) {
		if (live_list_interfaces(err, sizeof(err)) < 0) {
			fprintf(stderr, "pinspect: %s\n", err);
			return LIVE_CANNOT_OPEN;
		}
		return LIVE_OK;
	}
	if ((rotate_mb || max_files) && !wpath) {
		fprintf(stderr, "pinspect: -C and -W need -w FILE\n");
		return LIVE_USAGE;
	}
	if (max_files && !rotate_mb) {
		fprintf(stderr, "pinspect: -W needs -C MB\n");
		return LIVE_USAGE;
	}
	if (optind < argc) {
		size_t len = 1;
		if (lopt.filter) {
			fprintf(stderr, "pinspect: give the filter with -f or after the options, not both\n");
			return LIVE_USAGE;
		}
		for (int i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		filter_words = calloc(1, len);
		if (!filter_words) {
			fprintf(stderr, "pinspect: out of memory\n");
			return LIVE_INTERNAL;
		}
		for (int i = optind; i < argc; i++) {
			if (i > optind)
				strcat(filter_words, " ");
			strcat(filter_words, argv[i]);
		}
		lopt.filter = filter_words;
	}
	if (!no_tui && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
		no_tui = 1;
	if (!ro || kbpath) {
		/* the knowledge base, as analyze loads it (read before root is dropped) */
		const char *path = kbpath ? kbpath : kb_default_path();
		if (ro)
			own_ro = *ro;
		kb = kb_load(path, err, sizeof(err));
		if (!kb) {
			if (kbpath) {
				fprintf(stderr, "pinspect: %s\n", err);
				free(filter_words);
				return LIVE_USAGE;
			}
			pi_warn("%s (ranking without the knowledge base)", err);
		}
		own_ro.kb = kb;
		ro = &own_ro;
	}

	r = calloc(1, sizeof(*r));
	if (!r) {
		free(filter_words);
		kb_free(kb);
		fprintf(stderr, "pinspect: out of memory\n");
		return LIVE_INTERNAL;
	}
	r->ro = ro;
	r->is_live = 1;
	r->duration = duration;
	r->max_packets = count;
	r->lo.f = stdout;
	r->lo.json = json;
	r->lo.color = !json && want_color(color, stdout);

	/* 1. the interface, as root */
	r->live = live_open(&lopt, err, sizeof(err));
	if (!r->live) {
		fprintf(stderr, "pinspect: %s\n", err);
		rc = LIVE_CANNOT_OPEN;
		goto out;
	}
	/* 2. root no more */
	switch (live_drop_privileges(user, &who, err, sizeof(err))) {
	case -1:
		fprintf(stderr, "pinspect: %s\n", err);
		rc = strstr(err, "no user") ? LIVE_USAGE : LIVE_INTERNAL;
		goto out;
	default:
		break;
	}
	/* 3. files, as that user */
	if (wpath) {
		wo.app = "pinspect " PACKAGE_VERSION;
		wo.if_name = live_iface(r->live);
		wo.snaplen = (uint32_t)live_snaplen(r->live);
		wo.nanoseconds = 1;
		wo.rotate_bytes = rotate_mb * 1000000ull;
		wo.max_files = (unsigned)max_files;
		r->w = pcapng_open(wpath, &wo, err, sizeof(err));
		if (!r->w) {
			fprintf(stderr, "pinspect: %s%s%s%s\n", err, *who ? " (as user " : "", who,
			        *who ? "; choose a directory it can write, or -Z USER)" : "");
			rc = LIVE_CANNOT_OPEN;
			goto out;
		}
	}
	if (ring_init(&r->ring, no_tui ? 0 : (unsigned)ring_mb) < 0) {
		fprintf(stderr, "pinspect: out of memory\n");
		rc = LIVE_INTERNAL;
		goto out;
	}
	r->e = engine_new(&eo, &(struct conn_sink){ on_verdict, NULL, r });
	if (!r->e) {
		fprintf(stderr, "pinspect: out of memory\n");
		rc = LIVE_INTERNAL;
		goto out;
	}
	snprintf(r->source, sizeof(r->source), "%s", live_iface(r->live));
	snprintf(label, sizeof(label), "live:%s", live_iface(r->live));
	engine_begin_input(r->e, label, "live");
	fprintf(stderr, "pinspect: listening on %s, link-type %s, snapshot length %d bytes%s%s\n",
	        live_iface(r->live), live_dlt_name(r->live), live_snaplen(r->live), *who ? ", running as " : "", who);
	if (wpath)
		fprintf(stderr, "pinspect: saving to %s\n", wpath);
	fflush(stderr);

	signals_install();
	r->t0 = now_s();
	if (!no_tui) {
		if (run_with_view(r, want_color(color, stdout), 0, err, sizeof(err)) < 0) {
			fprintf(stderr, "pinspect: %s (use --no-tui)\n", err);
			rc = LIVE_INTERNAL;
		}
		if (!r->finished) {
			finish(r); /* the view failed before the thread ran */
		}
	} else {
		runner_run(r);
	}
	signals_restore();
	drain_sigpipe();
	if (!r->out_broken)
		write_summary(r, &r->lo);
	if (r->failed)
		rc = LIVE_INTERNAL;
	if (ran_out(r) && rc == LIVE_OK)
		rc = LIVE_PARTIAL;
out:
	if (r->w) {
		if (pcapng_close(r->w, err, sizeof(err)) < 0 && !r->werr[0])
			pi_strlcpy(r->werr, err, sizeof(r->werr));
		r->w = NULL;
	}
	if (r->werr[0]) {
		fprintf(stderr, "pinspect: %s\n", r->werr);
		if (rc == LIVE_OK)
			rc = LIVE_INTERNAL;
	}
	if (r->e)
		engine_free(r->e);
	live_close(r->live);
	ring_free(&r->ring);
	free(r);
	free(filter_words);
	kb_free(kb);
	if (rc == LIVE_OK && (ferror(stdout) || fflush(stdout) != 0))
		rc = LIVE_INTERNAL;
	return rc;
}

/* ---- analyze --tui: replay a file into the view ------------------------ */

int tui_replay_file(const char *path, int realtime, const struct engine_opts *eo, const struct rank_opts *ro,
                    int color)
{
	struct runner *r = calloc(1, sizeof(*r));
	char err[1024];
	int rc = LIVE_OK, view;
	const char *fmt;

	if (!r) {
		fprintf(stderr, "pinspect: out of memory\n");
		return LIVE_INTERNAL;
	}
	r->rd = cap_open(path, err, sizeof(err));
	if (!r->rd) {
		fprintf(stderr, "pinspect: %s\n", err);
		free(r);
		return LIVE_CANNOT_OPEN;
	}
	view = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	r->ro = ro;
	r->realtime = realtime;
	r->lo.f = stdout;
	r->lo.color = color < 0 ? want_color("auto", stdout) : color;
	if (ring_init(&r->ring, view ? DEFAULT_RING_MB : 0) < 0 ||
	    !(r->e = engine_new(eo, &(struct conn_sink){ on_verdict, NULL, r }))) {
		fprintf(stderr, "pinspect: out of memory\n");
		rc = LIVE_INTERNAL;
		goto out;
	}
	pi_strlcpy(r->source, path, sizeof(r->source));
	fmt = cap_format(r->rd) == CAP_PCAPNG ? "pcapng" : "pcap";
	engine_begin_input(r->e, path, fmt);
	signals_install();
	r->t0 = now_s();
	if (view) {
		if (color < 0)
			color = !no_color_env();
		if (run_with_view(r, color, 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "pinspect: %s\n", err);
			rc = LIVE_INTERNAL;
		}
		if (!r->finished)
			finish(r);
	} else {
		runner_run(r);
		if (!r->out_broken)
			write_summary(r, &r->lo);
	}
	signals_restore();
	drain_sigpipe();
	if (rc == LIVE_OK && r->damaged)
		rc = LIVE_PARTIAL;
	if (ran_out(r) && rc == LIVE_OK)
		rc = LIVE_PARTIAL;
out:
	if (r->e)
		engine_free(r->e);
	cap_close(r->rd);
	ring_free(&r->ring);
	free(r);
	return rc;
}
