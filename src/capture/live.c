/* live.c: libpcap live capture (pcap_create / pcap_activate, pcap(3PCAP))
 * and the privilege drop after it (tcpdump's -Z). */
#include "capture/live.h"

#include <errno.h>
#include <grp.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "common/util.h"

struct live_src {
	pcap_t *p;
	char iface[256];
	int linktype;
	int dlt;
	int snaplen;
	int nano;                       /* timestamps come in nanoseconds */
	uint64_t frame;
	/* pcap_stats counters are 32-bit and wrap: accumulate the deltas */
	unsigned int last_recv, last_drop, last_ifdrop;
	uint64_t recv, drop, ifdrop;
	/* the callback of the dispatch in progress */
	void (*cb)(void *ctx, const struct packet *p);
	void *ctx;
};

int live_dlt_to_linktype(int dlt)
{
	switch (dlt) {
#ifdef DLT_RAW
	case DLT_RAW:
		return LT_RAW; /* 12 or 14 as a DLT, 101 as a LINKTYPE */
#endif
#if defined(DLT_LOOP) && DLT_LOOP != 108
	case DLT_LOOP:
		return LT_LOOP;
#endif
#if defined(DLT_ATM_RFC1483) && DLT_ATM_RFC1483 != 100
	case DLT_ATM_RFC1483:
		return 100;
#endif
#if defined(DLT_PPP_SERIAL) && DLT_PPP_SERIAL != 50
	case DLT_PPP_SERIAL:
		return 50;
#endif
#if defined(DLT_PPP_ETHER) && DLT_PPP_ETHER != 51
	case DLT_PPP_ETHER:
		return 51;
#endif
#if defined(DLT_C_HDLC) && DLT_C_HDLC != 104
	case DLT_C_HDLC:
		return 104;
#endif
	default:
		return dlt; /* the others have the same value */
	}
}

/* The first interface that is up and running and not a loopback, else "any". */
static void default_iface(char *out, size_t len)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_if_t *all = NULL;
	pi_strlcpy(out, "any", len);
	if (pcap_findalldevs(&all, eb) != 0 || !all)
		return;
	for (pcap_if_t *d = all; d; d = d->next) {
		if ((d->flags & PCAP_IF_LOOPBACK) || !(d->flags & PCAP_IF_UP) || strcmp(d->name, "any") == 0)
			continue;
#ifdef PCAP_IF_RUNNING
		if (!(d->flags & PCAP_IF_RUNNING))
			continue;
#endif
		pi_strlcpy(out, d->name, len);
		break;
	}
	pcap_freealldevs(all);
}

static const char *activate_hint(int rc)
{
	switch (rc) {
	case PCAP_ERROR_PERM_DENIED:
		return " (capturing needs root or CAP_NET_RAW and CAP_NET_ADMIN)";
	case PCAP_ERROR_NO_SUCH_DEVICE:
		return " (see pinspect live -D for the interfaces)";
	case PCAP_ERROR_IFACE_NOT_UP:
		return " (the interface is down)";
	default:
		return "";
	}
}

struct live_src *live_open(const struct live_opts *o, char *err, size_t errlen)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct live_src *s = calloc(1, sizeof(*s));
	int rc;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (o->iface && *o->iface)
		pi_strlcpy(s->iface, o->iface, sizeof(s->iface));
	else
		default_iface(s->iface, sizeof(s->iface));
	eb[0] = '\0';
	s->p = pcap_create(s->iface, eb);
	if (!s->p) {
		snprintf(err, errlen, "%s: cannot open: %s", s->iface, eb);
		goto fail;
	}
	s->snaplen = o->snaplen > 0 ? o->snaplen : LIVE_DEFAULT_SNAPLEN;
	pcap_set_snaplen(s->p, s->snaplen);
	pcap_set_promisc(s->p, o->promisc ? 1 : 0);
	/* Immediate mode hands each packet over at once, but on Linux it means
	 * TPACKET_V2 and a wake-up per packet: measured on a veth at 100k
	 * packets/s it dropped a quarter of them where the default (TPACKET_V3
	 * blocks, retired after LIVE_TIMEOUT_MS) dropped none. A person
	 * watching cannot see 50 ms, so immediate mode is asked for only. */
	pcap_set_immediate_mode(s->p, o->immediate ? 1 : 0);
	pcap_set_timeout(s->p, LIVE_TIMEOUT_MS);
	pcap_set_buffer_size(s->p, (o->buffer_mb > 0 ? o->buffer_mb : LIVE_DEFAULT_BUFFER_MB) * 1024 * 1024);
	s->nano = pcap_set_tstamp_precision(s->p, PCAP_TSTAMP_PRECISION_NANO) == 0;
	rc = pcap_activate(s->p);
	if (rc < 0) {
		const char *why = pcap_geterr(s->p);
		snprintf(err, errlen, "%s: cannot capture: %s%s", s->iface,
		         (why && *why) ? why : pcap_statustostr(rc), activate_hint(rc));
		goto fail;
	} else if (rc > 0) {
		const char *why = pcap_geterr(s->p);
		pi_warn("%s: %s", s->iface, (rc == PCAP_WARNING && why && *why) ? why : pcap_statustostr(rc));
	}
	s->nano = pcap_get_tstamp_precision(s->p) == PCAP_TSTAMP_PRECISION_NANO;
	s->snaplen = pcap_snapshot(s->p);
	s->dlt = pcap_datalink(s->p);
	s->linktype = live_dlt_to_linktype(s->dlt);
	if (o->filter && *o->filter) {
		struct bpf_program prog;
		if (pcap_compile(s->p, &prog, o->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
			snprintf(err, errlen, "filter '%s': %s", o->filter, pcap_geterr(s->p));
			goto fail;
		}
		rc = pcap_setfilter(s->p, &prog);
		pcap_freecode(&prog);
		if (rc != 0) {
			snprintf(err, errlen, "%s: cannot set the filter: %s", s->iface, pcap_geterr(s->p));
			goto fail;
		}
	}
	if (pcap_setnonblock(s->p, 1, eb) != 0) {
		snprintf(err, errlen, "%s: cannot set non-blocking mode: %s", s->iface, eb);
		goto fail;
	}
	return s;
fail:
	live_close(s);
	return NULL;
}

const char *live_iface(const struct live_src *s)
{
	return s->iface;
}

int live_linktype(const struct live_src *s)
{
	return s->linktype;
}

const char *live_dlt_name(const struct live_src *s)
{
	const char *n = pcap_datalink_val_to_name(s->dlt);
	return n ? n : "unknown";
}

int live_snaplen(const struct live_src *s)
{
	return s->snaplen;
}

int live_fd(const struct live_src *s)
{
	return pcap_get_selectable_fd(s->p);
}

static void on_pcap(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct live_src *s = (struct live_src *)user;
	struct packet pkt;
	pkt.frame = ++s->frame;
	pkt.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec * (s->nano ? 1u : 1000u);
	pkt.linktype = s->linktype;
	pkt.caplen = h->caplen;
	pkt.wirelen = h->len < h->caplen ? h->caplen : h->len;
	pkt.data = bytes;
	s->cb(s->ctx, &pkt);
}

int live_dispatch(struct live_src *s, int max, void (*cb)(void *ctx, const struct packet *p), void *ctx,
                  char *err, size_t errlen)
{
	int n;
	s->cb = cb;
	s->ctx = ctx;
	n = pcap_dispatch(s->p, max > 0 ? max : -1, on_pcap, (u_char *)s);
	if (n == PCAP_ERROR) {
		snprintf(err, errlen, "%s: capture failed: %s", s->iface, pcap_geterr(s->p));
		return -1;
	}
	return n < 0 ? 0 : n; /* PCAP_ERROR_BREAK: nothing more now */
}

int live_get_stats(struct live_src *s, struct live_stats *st)
{
	struct pcap_stat ps;
	memset(st, 0, sizeof(*st));
	if (pcap_stats(s->p, &ps) != 0)
		return -1;
	/* unsigned arithmetic absorbs the 32-bit wrap */
	s->recv += (unsigned int)(ps.ps_recv - s->last_recv);
	s->drop += (unsigned int)(ps.ps_drop - s->last_drop);
	s->ifdrop += (unsigned int)(ps.ps_ifdrop - s->last_ifdrop);
	s->last_recv = ps.ps_recv;
	s->last_drop = ps.ps_drop;
	s->last_ifdrop = ps.ps_ifdrop;
	st->received = s->recv;
	st->kernel_drops = s->drop;
	st->if_drops = s->ifdrop;
	st->valid = 1;
	return 0;
}

void live_close(struct live_src *s)
{
	if (!s)
		return;
	if (s->p)
		pcap_close(s->p);
	free(s);
}

/* Printable ASCII only (spaces kept): interface names come from the system. */
static void safe_text(char *dst, size_t len, const char *src)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p && o + 1 < len; p++)
		dst[o++] = (*p >= 0x20 && *p < 0x7f) ? (char)*p : '?';
	dst[o] = '\0';
}

int live_list_interfaces(char *err, size_t errlen)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_if_t *all = NULL;
	int i = 0;
	if (pcap_findalldevs(&all, eb) != 0) {
		snprintf(err, errlen, "cannot list interfaces: %s", eb);
		return -1;
	}
	for (pcap_if_t *d = all; d; d = d->next) {
		char name[128], desc[256];
		safe_text(name, sizeof(name), d->name);
		safe_text(desc, sizeof(desc), d->description);
		printf("%d.%s%s%s%s [%s%s%s]\n", ++i, name, *desc ? " (" : "", desc, *desc ? ")" : "",
		       (d->flags & PCAP_IF_UP) ? "Up" : "Down",
#ifdef PCAP_IF_RUNNING
		       (d->flags & PCAP_IF_RUNNING) ? ", Running" : "",
#else
		       "",
#endif
		       (d->flags & PCAP_IF_LOOPBACK) ? ", Loopback" : "");
	}
	pcap_freealldevs(all);
	return 0;
}

/* Not root but maybe with file capabilities (setcap cap_net_raw,
 * cap_net_admin=eip): the interface is open, give them all up. Returns 0,
 * or -1 if capabilities remain. */
static int drop_capabilities(char *err, size_t errlen)
{
#if defined(__linux__) && defined(SYS_capset) && defined(_LINUX_CAPABILITY_VERSION_3)
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return 0; /* no capability support: nothing held */
	if (!data[0].effective && !data[0].permitted && !data[1].effective && !data[1].permitted)
		return 0;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) != 0 || syscall(SYS_capget, &hdr, data) != 0 || data[0].effective ||
	    data[0].permitted || data[1].effective || data[1].permitted) {
		snprintf(err, errlen, "cannot give up the capture capabilities: %s", strerror(errno));
		return -1;
	}
#else
	(void)err;
	(void)errlen;
#endif
	return 0;
}

int live_drop_privileges(const char *user, const char **who, char *err, size_t errlen)
{
	static char name[64];
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	*who = "";
	if (geteuid() != 0 && getuid() != 0)
		return drop_capabilities(err, errlen);
	if (!user || !*user) {
		if (!getpwnam("nobody"))
			return 0; /* no such user here: keep going, as tcpdump does without -Z */
		user = "nobody";
	}
	if (strcmp(user, "root") == 0)
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "cannot drop privileges: no user '%s'%s%s", user, errno ? ": " : "",
		         errno ? strerror(errno) : "");
		return -1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	pi_strlcpy(name, pw->pw_name, sizeof(name));
	if (initgroups(name, gid) != 0 && setgroups(1, &gid) != 0) {
		snprintf(err, errlen, "cannot drop privileges: setgroups: %s", strerror(errno));
		return -1;
	}
	if (setgid(gid) != 0) {
		snprintf(err, errlen, "cannot drop privileges: setgid(%u): %s", (unsigned)gid, strerror(errno));
		return -1;
	}
	if (setuid(uid) != 0) {
		snprintf(err, errlen, "cannot drop privileges: setuid(%u): %s", (unsigned)uid, strerror(errno));
		return -1;
	}
	/* verify: no way back */
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
	    (uid != 0 && setuid(0) == 0)) {
		snprintf(err, errlen, "cannot drop privileges: still privileged after setuid(%u)", (unsigned)uid);
		return -1;
	}
#if defined(__linux__) && defined(PR_SET_NO_NEW_PRIVS)
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
#endif
	*who = name;
	return 1;
}
