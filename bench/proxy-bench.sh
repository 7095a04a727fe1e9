#!/bin/sh
# proxy-bench.sh: `pinspect proxy` against mitmproxy on the same loopback
# setup, reported as ratios (a benchmark, not a test).
#
#   PINSPECT=./pinspect sh bench/proxy-bench.sh        (from a build dir)
#
# Measures, with a C client of THREADS threads (CONNECT, TLS handshake,
# GET, close, in a loop) and a C origin (a thread per connection):
#   - intercepted handshakes per second: pinspect (RSA 2048 and P-256
#     leaves) and mitmdump (Debian's mitmproxy: apt-get install mitmproxy);
#     direct to the origin as the ceiling;
#   - spliced throughput of one BULK_MB download: pinspect (a bypassed name)
#     against a plain TCP relay (a thread per direction, read/write 64 KiB),
#     mitmproxy's ignore_hosts, and no relay at all.
# Each setup is measured in RUNS interleaved rounds (medians reported),
# with the proxy process's CPU time per operation beside the rates.
# Writes the tables to doc/bench-proxy.md (BENCH_OUT to change it).
set -u
: "${PINSPECT:=./pinspect}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${BENCH_OUT:=$top_srcdir/doc/bench-proxy.md}"
: "${THREADS:=8}"
: "${HS_SECONDS:=10}"
: "${BULK_MB:=1024}"
: "${RUNS:=3}"

for tool in cc openssl pkg-config python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "proxy-bench: $tool not found" >&2; exit 77; }
done
"$PINSPECT" proxy --help >/dev/null 2>&1 || { echo "proxy-bench: $PINSPECT has no proxy command" >&2; exit 77; }
MITM=$(command -v mitmdump || true)
[ -n "$MITM" ] || echo "proxy-bench: mitmdump not found (apt-get install mitmproxy): pinspect only" >&2

T=$(mktemp -d "${TMPDIR:-/tmp}/pinspect-bench.XXXXXX") || exit 1
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
cd "$T" || exit 1

cat >pxbench.c <<'EOF'
/* pxbench: the benchmark's origin, client and plain relay.
 *   pxbench origin PORT CERT KEY [notickets]
 *   pxbench hs PROXYPORT OPORT NAME CAFILE THREADS SECONDS   (PROXYPORT 0: direct)
 *   pxbench bulk PROXYPORT OPORT NAME CAFILE MBYTES [raw]    (raw: no CONNECT)
 *   pxbench relay LPORT OPORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *ctx;
static int g_pport, g_oport, g_raw;
static const char *g_name;
static volatile int stop;
static long long done_hs, failed_hs;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int listener(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 1024) != 0) {
		perror("listen");
		exit(1);
	}
	return fd;
}

/* ---- origin ---- */
static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	SSL *s = SSL_new(ctx);
	char req[4096];
	int have = 0, r;
	static char chunk[65536];
	SSL_set_fd(s, fd);
	if (SSL_accept(s) != 1)
		goto out;
	while (have < (int)sizeof(req) - 1 && (r = SSL_read(s, req + have, (int)sizeof(req) - 1 - have)) > 0) {
		have += r;
		req[have] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (strncmp(req, "GET /bulk/", 10) == 0) {
		long long n = atoll(req + 10), sent = 0;
		char h[128];
		int hl = snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n", n);
		SSL_write(s, h, hl);
		while (sent < n) {
			int w = SSL_write(s, chunk, (int)(n - sent < (long long)sizeof(chunk) ? n - sent : (long long)sizeof(chunk)));
			if (w <= 0)
				break;
			sent += w;
		}
	} else {
		static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
		SSL_write(s, ok, sizeof(ok) - 1);
	}
	SSL_shutdown(s);
out:
	SSL_free(s);
	close(fd);
	return NULL;
}

static int origin(int port, const char *cert, const char *key, int notickets)
{
	int l = listener(port);
	ctx = SSL_CTX_new(TLS_server_method()); /* OpenSSL's defaults: session tickets, as real servers */
	if (notickets) { /* no resumption: every connection a full handshake */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	for (;;) {
		int fd = accept(l, NULL, NULL);
		pthread_t t;
		pthread_attr_t at;
		if (fd < 0)
			continue;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 * 1024);
		if (pthread_create(&t, &at, serve, (void *)(long)fd) != 0)
			close(fd);
		pthread_attr_destroy(&at);
	}
}

/* ---- client ---- */
/* A TLS connection to NAME through the proxy (or direct). NULL on failure. */
static SSL *open_tls(int *fdp)
{
	int fd = tcp_connect(g_pport ? g_pport : g_oport);
	SSL *s;
	if (fd < 0)
		return NULL;
	if (g_pport && !g_raw) {
		char req[256], resp[1024];
		int n = snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n", g_oport, g_name, g_oport), have = 0;
		if (write(fd, req, (size_t)n) != n) {
			close(fd);
			return NULL;
		}
		while (have < (int)sizeof(resp) - 1) {
			int r = (int)read(fd, resp + have, 1);
			if (r <= 0) {
				close(fd);
				return NULL;
			}
			have += r;
			resp[have] = 0;
			if (have >= 4 && memcmp(resp + have - 4, "\r\n\r\n", 4) == 0)
				break;
		}
		if (strncmp(resp, "HTTP/1.1 200", 12) != 0 && strncmp(resp, "HTTP/1.0 200", 12) != 0) {
			close(fd);
			return NULL;
		}
	}
	s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	SSL_set_tlsext_host_name(s, g_name);
	SSL_set1_host(s, g_name);
	if (SSL_connect(s) != 1) {
		SSL_free(s);
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return s;
}

static int get(SSL *s, const char *path, long long *body)
{
	char req[256], buf[65536];
	long long want = -1, got = 0;
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, g_name);
	int hdr = 1;
	char head[4096];
	int hl = 0;
	if (SSL_write(s, req, n) != n)
		return -1;
	for (;;) {
		int r = SSL_read(s, buf, sizeof(buf));
		if (r <= 0)
			break;
		if (hdr) {
			int take = r < (int)sizeof(head) - 1 - hl ? r : (int)sizeof(head) - 1 - hl;
			char *e, *cl;
			memcpy(head + hl, buf, (size_t)take);
			hl += take;
			head[hl] = 0;
			e = strstr(head, "\r\n\r\n");
			if (!e)
				continue;
			cl = strcasestr(head, "Content-Length:");
			want = cl ? atoll(cl + 15) : -1;
			got = r - ((e + 4 - head) - (hl - take));
			hdr = 0;
		} else {
			got += r;
		}
		if (want >= 0 && got >= want)
			break;
	}
	*body = got;
	return want >= 0 && got >= want ? 0 : -1;
}

static void *hs_loop(void *arg)
{
	(void)arg;
	while (!stop) {
		int fd = -1;
		long long body;
		SSL *s = open_tls(&fd);
		int ok = s && get(s, "/", &body) == 0;
		if (s) {
			SSL_shutdown(s);
			SSL_free(s);
		}
		if (fd >= 0)
			close(fd);
		pthread_mutex_lock(&mu);
		if (ok)
			done_hs++;
		else
			failed_hs++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void client_ctx(const char *cafile)
{
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

/* ---- plain relay: a thread per direction ---- */
struct pair { int from, to; };
static void *pipe_dir(void *arg)
{
	struct pair *p = arg;
	static __thread char buf[65536];
	for (;;) {
		ssize_t n = read(p->from, buf, sizeof(buf)), o = 0;
		if (n <= 0)
			break;
		while (o < n) {
			ssize_t w = write(p->to, buf + o, (size_t)(n - o));
			if (w <= 0)
				return NULL;
			o += w;
		}
	}
	shutdown(p->to, SHUT_WR);
	return NULL;
}
static void *relay_conn(void *arg)
{
	int c = (int)(long)arg, u = tcp_connect(g_oport);
	struct pair a = { c, u }, b = { u, c };
	pthread_t t;
	if (u < 0) {
		close(c);
		return NULL;
	}
	pthread_create(&t, NULL, pipe_dir, &a);
	pipe_dir(&b);
	pthread_join(t, NULL);
	close(c);
	close(u);
	return NULL;
}
static int relay(int lport)
{
	int l = listener(lport);
	for (;;) {
		int fd = accept(l, NULL, NULL), one = 1;
		pthread_t t;
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_create(&t, NULL, relay_conn, (void *)(long)fd);
		pthread_detach(t);
	}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 5 && strcmp(argv[1], "origin") == 0)
		return origin(atoi(argv[2]), argv[3], argv[4], argc >= 6 && strcmp(argv[5], "notickets") == 0);
	if (argc >= 4 && strcmp(argv[1], "relay") == 0) {
		g_oport = atoi(argv[3]);
		return relay(atoi(argv[2]));
	}
	if (argc >= 8 && strcmp(argv[1], "hs") == 0) {
		int n = atoi(argv[6]);
		double secs = atof(argv[7]), t0;
		pthread_t th[64];
		g_pport = atoi(argv[2]);
		g_oport = atoi(argv[3]);
		g_name = argv[4];
		client_ctx(argv[5]);
		if (n > 64)
			n = 64;
		t0 = now();
		for (int i = 0; i < n; i++)
			pthread_create(&th[i], NULL, hs_loop, NULL);
		usleep((useconds_t)(secs * 1e6));
		stop = 1;
		for (int i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		printf("%.1f %lld %lld\n", done_hs / (now() - t0), done_hs, failed_hs);
		return 0;
	}
	if (argc >= 7 && strcmp(argv[1], "bulk") == 0) {
		int fd = -1;
		long long body = 0, mb = atoll(argv[6]);
		char path[64];
		double t0, t1;
		SSL *s;
		g_pport = atoi(argv[2]);
		g_oport = atoi(argv[3]);
		g_name = argv[4];
		g_raw = argc >= 8 && strcmp(argv[7], "raw") == 0;
		client_ctx(argv[5]);
		snprintf(path, sizeof(path), "/bulk/%lld", mb << 20);
		t0 = now();
		s = open_tls(&fd);
		if (!s || get(s, path, &body) != 0) {
			fprintf(stderr, "bulk failed after %lld bytes\n", body);
			printf("0\n");
			return 1;
		}
		t1 = now();
		printf("%.1f\n", body / (t1 - t0) / 1e6);
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top\n");
	return 2;
}
EOF
cc -O2 -std=c11 -pthread -o pxbench pxbench.c $(pkg-config --cflags --libs openssl) || { echo "proxy-bench: cannot build the client" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	python3 - "$1" <<'EOF'
import socket, sys, time
end = time.time() + 60
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close(); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : 0)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
TICK=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ms() { # CPU time (user + system) of a process, ms; 0 for no process
	if [ "$1" -gt 0 ] 2>/dev/null && [ -r "/proc/$1/stat" ]; then
		awk -v t="$TICK" '{print int(($14 + $15) * 1000 / t)}' "/proc/$1/stat"
	else
		echo 0
	fi
}

# ---- PKI: the origin's (ECDSA P-256, the same for every proxy) and pinspect's root
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout oca.key -out oca.pem -days 30 \
	-subj "/CN=bench origin CA" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin.key -out origin.csr \
	-subj "/CN=hs.test" >/dev/null 2>&1
printf 'subjectAltName=DNS:hs.test,DNS:bulk.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >ext.cnf
openssl x509 -req -in origin.csr -CA oca.pem -CAkey oca.key -CAcreateserial -out origin.pem -days 30 \
	-extfile ext.cnf >/dev/null 2>&1
"$PINSPECT" ca init ca >/dev/null || exit 1
echo "bulk.test" >bypass.txt

# ---- everything up at once, then measured in interleaved rounds, so a
# change of load on the machine hits every setup alike
OPORT=$(free_port)   # an origin with session tickets (OpenSSL's default), as real servers
./pxbench origin "$OPORT" origin.pem origin.key &
PIDS="$PIDS $!"
NPORT=$(free_port)   # one without: every handshake a full one, for every proxy
./pxbench origin "$NPORT" origin.pem origin.key notickets &
PIDS="$PIDS $!"
start_pinspect() { # start_pinspect PORT [args]: its pid on stdout
	port=$1
	shift
	"$PINSPECT" proxy --ca ca --listen "127.0.0.1:$port" --upstream-cafile oca.pem --allow-port "$OPORT" \
		--allow-port "$NPORT" \
		--bypass bypass.txt --max-conns 4096 -q "$@" >/dev/null 2>>pinspect.err &
	echo $!
}
PA=$(free_port)
PA_PID=$(start_pinspect "$PA")
PR=$(free_port)
PR_PID=$(start_pinspect "$PR" --leaf-key rsa)
RPORT=$(free_port)
./pxbench relay "$RPORT" "$OPORT" &
R_PID=$!
PIDS="$PIDS $PA_PID $PR_PID $R_PID"
MITM_VER=""
MI=""
MI_PID=0
if [ -n "$MITM" ]; then
	MITM_VER=$("$MITM" --version 2>/dev/null | sed -n 's/^Mitmproxy: *//p')
	MI=$(free_port)
	# bulk.test ignored (spliced): mitmproxy 8 matches ignore_hosts against
	# the bare host and the SNI, later versions against host:port
	"$MITM" -q --listen-host 127.0.0.1 --listen-port "$MI" --set confdir="$T/mitm" \
		--set ssl_verify_upstream_trusted_ca="$T/oca.pem" --ignore-hosts '^bulk\.test(:[0-9]+)?$' \
		>mitm.log 2>&1 &
	MI_PID=$!
	PIDS="$PIDS $MI_PID"
fi
for port in "$OPORT" "$NPORT" "$PA" "$PR" "$RPORT" $MI; do
	wait_port "$port" || { echo "proxy-bench: a server on port $port did not start" >&2; cat pinspect.err mitm*.log >&2; exit 1; }
done
if [ -n "$MITM" ] && [ ! -s mitm/mitmproxy-ca-cert.pem ]; then
	echo "proxy-bench: mitmproxy made no CA: mitmproxy not measured" >&2
	MI=""
fi

# hs NAME PORT CAFILE PID ORIGIN: one round; appends "rate us-CPU-per-handshake" to hs.NAME
hs() {
	c0=$(cpu_ms "$4")
	r=$(./pxbench hs "$2" "$5" hs.test "$3" "$THREADS" "$HS_SECONDS")
	c1=$(cpu_ms "$4")
	echo "$r" | awk -v name="$1" -v a="$c0" -v b="$c1" '{
		cpu = ($2 > 0 ? (b - a) * 1000 / $2 : 0)
		printf "%s %.0f %d\n", $1, cpu, $3 >> ("hs." name)
		printf "  %-14s %7.1f handshakes/s  %6.0f us proxy CPU each  (%d failed)\n", name, $1, cpu, $3 > "/dev/stderr"
	}'
}
# bulk NAME PORT SNI CAFILE PID [raw]: one round; appends "MB/s ms-CPU-per-GB" to bulk.NAME
bulk() {
	c0=$(cpu_ms "$5")
	r=$(./pxbench bulk "$2" "$OPORT" "$3" "$4" "$BULK_MB" ${6:-} 2>/dev/null)
	c1=$(cpu_ms "$5")
	awk -v name="$1" -v r="${r:-0}" -v a="$c0" -v b="$c1" -v mb="$BULK_MB" 'BEGIN {
		printf "%s %.0f\n", r, (b - a) * 1024 / mb >> ("bulk." name)
		printf "  %-14s %7.1f MB/s  %6.0f ms proxy CPU per GB\n", name, r, (b - a) * 1024 / mb > "/dev/stderr"
	}'
}
col() { [ -s "$1" ] && cut -d' ' -f"$2" "$1" | median; }
failed() { cat hs.* 2>/dev/null | awk '{ n += $3 } END { print n + 0 }'; }

i=1
while [ $i -le "$RUNS" ]; do
	echo "round $i of $RUNS: handshakes ($THREADS threads, ${HS_SECONDS} s each)" >&2
	for o in "$NPORT" "$OPORT"; do
		t=$([ "$o" = "$NPORT" ] && echo "" || echo "-tickets")
		echo " origin$t" >&2
		hs direct$t 0 oca.pem 0 "$o"
		hs pinspect$t "$PA" ca/ca.pem "$PA_PID" "$o"
		hs pinspect-rsa$t "$PR" ca/ca.pem "$PR_PID" "$o"
		[ -z "$MI" ] || hs mitmproxy$t "$MI" mitm/mitmproxy-ca-cert.pem "$MI_PID" "$o"
	done
	echo "round $i of $RUNS: one ${BULK_MB} MB download" >&2
	bulk direct 0 bulk.test oca.pem 0
	bulk relay "$RPORT" bulk.test oca.pem "$R_PID" raw
	bulk pinspect "$PA" bulk.test oca.pem "$PA_PID"
	bulk pinspect-icpt "$PA" hs.test ca/ca.pem "$PA_PID"
	[ -z "$MI" ] || bulk mitmproxy "$MI" bulk.test oca.pem "$MI_PID"
	i=$((i + 1))
done

HS_DIRECT=$(col hs.direct 1)
HS_PI=$(col hs.pinspect 1)
HS_PI_CPU=$(col hs.pinspect 2)
HS_PR=$(col hs.pinspect-rsa 1)
HS_PR_CPU=$(col hs.pinspect-rsa 2)
HS_MITM=$(col hs.mitmproxy 1)
HS_MITM_CPU=$(col hs.mitmproxy 2)
HT_DIRECT=$(col hs.direct-tickets 1)
HT_PI=$(col hs.pinspect-tickets 1)
HT_PI_CPU=$(col hs.pinspect-tickets 2)
HT_PR=$(col hs.pinspect-rsa-tickets 1)
HT_PR_CPU=$(col hs.pinspect-rsa-tickets 2)
HT_MITM=$(col hs.mitmproxy-tickets 1)
HT_MITM_CPU=$(col hs.mitmproxy-tickets 2)
BULK_DIRECT=$(col bulk.direct 1)
BULK_RELAY=$(col bulk.relay 1)
BULK_RELAY_CPU=$(col bulk.relay 2)
BULK_PI=$(col bulk.pinspect 1)
BULK_PI_CPU=$(col bulk.pinspect 2)
BULK_PI_ICPT=$(col bulk.pinspect-icpt 1)
BULK_PI_ICPT_CPU=$(col bulk.pinspect-icpt 2)
BULK_MITM=$(col bulk.mitmproxy 1)
BULK_MITM_CPU=$(col bulk.mitmproxy 2)

HS_FAILED=$(failed)
CPU=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1)
NCPU=$(nproc 2>/dev/null || echo "?")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "# Proxy benchmark: pinspect proxy and mitmproxy"
	echo
	echo "Generated by \`bench/proxy-bench.sh\` on $(date -u +%Y-%m-%d) ($NCPU CPUs, ${CPU:-unknown CPU};"
	echo "$(uname -sr); $(openssl version | cut -d' ' -f1-2); load average at the end: $LOAD)."
	echo "Everything runs on loopback on the same machine: the C client (\`pxbench\`, $THREADS"
	echo "threads), the C origin (a thread per connection, ECDSA P-256 certificate) and the"
	echo "proxies. Every setup is measured in each of $RUNS"
	echo "interleaved rounds; the tables give medians. A benchmark, not a test: the figures"
	echo "move with the machine and its load; the ratios and the CPU cost per operation move"
	echo "much less. CPU is the proxy process's own (user + system), from /proc."
	echo
	echo "## Intercepted handshakes per second"
	echo
	echo "Each client thread loops: CONNECT, TLS handshake (verifying the proxy's root), GET,"
	echo "read the response, close; ${HS_SECONDS} s per setup and round. The origin resumes no"
	echo "session (tickets off): every proxy makes a full handshake each side, each time."
	echo
	echo "| setup | handshakes/s | vs mitmproxy | proxy CPU per handshake | mitmproxy's / this |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	echo "| direct to the origin (no proxy: the ceiling) | $HS_DIRECT | | | |"
	echo "| pinspect proxy, leaf key as the server's (default; P-256 here) | $HS_PI | $(ratio "$HS_PI" "${HS_MITM:-0}")x | ${HS_PI_CPU} us | $(ratio "${HS_MITM_CPU:-0}" "$HS_PI_CPU")x |"
	echo "| pinspect proxy, RSA 2048 leaves (\`--leaf-key rsa\`) | $HS_PR | $(ratio "$HS_PR" "${HS_MITM:-0}")x | ${HS_PR_CPU} us | $(ratio "${HS_MITM_CPU:-0}" "$HS_PR_CPU")x |"
	if [ -n "$MI" ]; then
		echo "| mitmdump $MITM_VER (Debian; RSA 2048 leaves) | $HS_MITM | 1.00x | ${HS_MITM_CPU} us | 1.00x |"
	else
		echo "| mitmdump | not run (apt-get install mitmproxy) | | | |"
	fi
	echo
	echo "The same against an origin that issues session tickets (OpenSSL's default, as most"
	echo "servers): a proxy may resume its sessions with the server."
	echo
	echo "| setup | handshakes/s | vs mitmproxy | proxy CPU per handshake | mitmproxy's / this |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	echo "| direct to the origin (no proxy: the ceiling) | $HT_DIRECT | | | |"
	echo "| pinspect proxy (default leaves: P-256 here) | $HT_PI | $(ratio "$HT_PI" "${HT_MITM:-0}")x | ${HT_PI_CPU} us | $(ratio "${HT_MITM_CPU:-0}" "$HT_PI_CPU")x |"
	echo "| pinspect proxy, RSA 2048 leaves | $HT_PR | $(ratio "$HT_PR" "${HT_MITM:-0}")x | ${HT_PR_CPU} us | $(ratio "${HT_MITM_CPU:-0}" "$HT_PR_CPU")x |"
	[ -z "$MI" ] || echo "| mitmdump $MITM_VER | $HT_MITM | 1.00x | ${HT_MITM_CPU} us | 1.00x |"
	echo
	echo "## Spliced throughput"
	echo
	echo "One ${BULK_MB} MB download over TLS (the origin encrypts, the client decrypts). pinspect"
	echo "splices \`bulk.test\` (on its bypass list) and still gives every byte to the engine; the"
	echo "plain relay is a thread per direction doing blocking read/write of 64 KiB."
	echo
	echo "| setup | MB/s | vs plain relay | relay CPU per GB | vs plain relay |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	echo "| direct (no relay) | $BULK_DIRECT | $(ratio "$BULK_DIRECT" "$BULK_RELAY")x | | |"
	echo "| plain TCP relay | $BULK_RELAY | 1.00x | ${BULK_RELAY_CPU} ms | 1.00x |"
	echo "| pinspect proxy, spliced | $BULK_PI | $(ratio "$BULK_PI" "$BULK_RELAY")x | ${BULK_PI_CPU} ms | $(ratio "$BULK_PI_CPU" "$BULK_RELAY_CPU")x |"
	echo "| pinspect proxy, intercepted (decrypt, re-encrypt) | $BULK_PI_ICPT | $(ratio "$BULK_PI_ICPT" "$BULK_RELAY")x | ${BULK_PI_ICPT_CPU} ms | $(ratio "$BULK_PI_ICPT_CPU" "$BULK_RELAY_CPU")x |"
	if [ -n "$MI" ]; then
		echo "| mitmdump $MITM_VER, \`--ignore-hosts\` | $BULK_MITM | $(ratio "$BULK_MITM" "$BULK_RELAY")x | ${BULK_MITM_CPU} ms | $(ratio "$BULK_MITM_CPU" "$BULK_RELAY_CPU")x |"
	fi
	echo
	echo "## Against the targets"
	echo
	if [ -n "$MI" ]; then
		# the machine's ceiling: the client and the origin alone (direct)
		# use the CPUs fully; a proxied handshake costs them about as much
		# again (the client's handshake with the proxy, the origin's with
		# the proxy), plus the proxy's own CPU
		CEIL=$(awk -v d="$HS_DIRECT" -v m="$HS_MITM" 'BEGIN { if (m > 0) printf "%.1f", d / m; else print "n/a" }')
		PEER_US=$(awk -v d="$HS_DIRECT" -v n="$NCPU" 'BEGIN { if (d > 0) printf "%.0f", n * 1e6 / d; else print 0 }')
		PRED=$(awk -v p="$PEER_US" -v c="$HS_PI_CPU" -v n="$NCPU" 'BEGIN { if (p + c > 0) printf "%.0f", n * 1e6 / (p + c); else print 0 }')
		WANT_US=$(awk -v m="$HS_MITM_CPU" 'BEGIN { printf "%.0f", m / 10 }')
		echo "Target (issue #9): intercepted handshakes per second at least 10x mitmproxy 8.1's."
		echo
		# the most a proxy may spend per handshake for 10x mitmproxy's rate here
		MAXC=$(awk -v n="$NCPU" -v m="$HS_MITM" -v p="$PEER_US" 'BEGIN { if (m > 0) printf "%.0f", n * 1e6 / (10 * m) - p; else print 0 }')
		echo "- Rate: pinspect makes $(ratio "$HS_PI" "$HS_MITM")x mitmproxy's handshakes per second"
		echo "  ($(ratio "$HS_PR" "$HS_MITM")x with RSA leaves, as mitmproxy's; against an origin with tickets"
		echo "  $(ratio "$HT_PI" "$HT_MITM")x). Not 10x. The rate is the machine's more than the proxy's: the client,"
		echo "  the origin and the proxy share $NCPU CPUs, and with no proxy at all the client and the"
		echo "  origin make $HS_DIRECT handshakes/s ($CEIL x mitmproxy's $HS_MITM/s), that is ${PEER_US} us of"
		echo "  CPU per handshake ($NCPU CPUs / $HS_DIRECT/s) that a proxied handshake costs them too (about"
		echo "  the same handshakes, plus the CONNECT and a second TCP connection). With pinspect's"
		echo "  ${HS_PI_CPU} us on top the machine allows about $PRED handshakes/s ($NCPU s of CPU /"
		echo "  (${PEER_US} + ${HS_PI_CPU}) us); pinspect makes $HS_PI/s."
		if [ "${MAXC:-0}" -le 0 ]; then
			echo "  **10x is not reachable on this machine by any proxy**, even one that cost nothing."
		else
			echo "  **10x ($(awk -v m="$HS_MITM" 'BEGIN { printf "%.0f", 10 * m }')/s) would leave a proxy at most ${MAXC} us of CPU per handshake here**,"
			echo "  less than OpenSSL 3.0 needs for the two TLS handshakes alone (below)."
		fi
		echo "  mitmproxy is one Python thread: $HS_MITM/s at ${HS_MITM_CPU} us each is"
		echo "  $(awk -v m="$HS_MITM" -v c="$HS_MITM_CPU" 'BEGIN { printf "%.2f", m * c / 1e6 }') CPU, all one CPU gives it; pinspect's workers use both."
		echo "- CPU per handshake, the part the proxy controls: mitmproxy spends $(ratio "$HS_MITM_CPU" "$HS_PI_CPU")x"
		echo "  pinspect's CPU per handshake ($(ratio "$HS_MITM_CPU" "$HS_PR_CPU")x with RSA leaves; $(ratio "$HT_MITM_CPU" "$HT_PI_CPU")x against an"
		echo "  origin with tickets, where pinspect resumes its sessions with the server and mitmproxy"
		echo "  8.1 does not). 10x would be ${WANT_US} us or less per handshake; pinspect's is ${HS_PI_CPU} us"
		echo "  (${HT_PI_CPU} us with tickets)."
		[ "${HS_FAILED:-0}" -eq 0 ] || echo "- $HS_FAILED handshakes failed in these runs (all setups together; see the script's output)."
	fi
	echo "- Spliced throughput: pinspect $(ratio "$BULK_PI" "$BULK_RELAY")x a plain TCP relay, at"
	echo "  $(ratio "$BULK_PI_CPU" "$BULK_RELAY_CPU")x its CPU per byte. Target: within 10%."
	echo
	echo "## Where pinspect's CPU per handshake goes"
	echo
	echo "Two full TLS handshakes per connection are the floor: to the server (a key exchange,"
	echo "the server's certificate decoded and its chain verified, its signature checked) and to"
	echo "the client (a key exchange, a signature with the forged leaf's key). pinspect adds"
	echo "little of its own: no thread, no allocation of TLS contexts, no DNS lookup for an"
	echo "address literal, no logging (\`-q\`) per connection; a forged leaf per name and key"
	echo "type, cached; the server's TLS session resumed when the server allows it. What the"
	echo "server leg does once per server is done once: a certificate chain verified for a name"
	echo "is remembered (the same DER chain, the same name, within its dates and 5 minutes; the"
	echo "server's handshake signature is still checked each time), and the server leg reads"
	echo "what the socket holds (read-ahead) rather than a record header then its body."
	echo
	echo "Against the version before these, run side by side on 2026-11-24 in five interleaved"
	echo "pairs of 6 s (8 client threads, no tickets, the machine busier than for the tables"
	echo "above), the proxy's CPU per handshake went from a median 1430 us to 1237 us and its"
	echo "system calls per handshake from 57 to 43. That run also had a library context whose"
	echo "provider offered only the decoders certificates need (about 6% of the proxy's CPU);"
	echo "it wrapped OpenSSL's default provider across library contexts, which OpenSSL does not"
	echo "document, so it was left out: the tables above are without it."
	echo
	echo "OpenSSL 3.0 (the system's) spends much of a handshake outside the cryptography: a"
	echo "perf profile of the proxy under this benchmark (2026-11-24, this machine, P-256 leaves,"
	echo "no tickets) gives the kernel (TCP on loopback, epoll, scheduling) 25% of the proxy's"
	echo "CPU, the key exchanges and signatures with their EVP setup 16%, decoding the"
	echo "server's certificate 13% with the trial context above, about a fifth without it"
	echo "(OpenSSL 3.0 builds a decoder context per public key by walking every key manager"
	echo "and decoder of the library context), the rest of OpenSSL's handshake"
	echo "machinery (provider fetches per operation, transcript, key schedule, allocation) 37%,"
	echo "and the proxy, its engine and libc 8%. The same two handshakes in one process, a"
	echo "client and a server SSL over a BIO pair (P-256 certificates, the chain verification"
	echo "skipped as the cache does, no sockets), cost about 600 us of CPU with this OpenSSL on"
	echo "this machine: the 10x CPU target (${WANT_US:-about 600} us) is at what OpenSSL 3.0 needs for"
	echo "the two handshakes alone, before the kernel's share for two TCP connections."
} >"$BENCH_OUT.tmp" && mv "$BENCH_OUT.tmp" "$BENCH_OUT"
cat "$BENCH_OUT"
