/* live.h: live capture from a network interface through libpcap, and
 * dropping root once the interface is open (as tcpdump -Z does).
 *
 * The source is non-blocking: wait on live_fd() with poll() (together with
 * a self-pipe for signals, or a timeout), then call live_dispatch(), which
 * hands every packet waiting in the kernel ring to the callback as a
 * struct packet (LINKTYPE_ value, nanosecond timestamp, frame numbers
 * counted from 1). libpcap's buffer is handed out as is: the packet is
 * valid during the callback only.
 */
#ifndef PI_LIVE_H
#define PI_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

#define LIVE_DEFAULT_SNAPLEN 262144
#define LIVE_DEFAULT_BUFFER_MB 16
#define LIVE_TIMEOUT_MS 50        /* packets are handed over within this, unless immediate */

struct live_opts {
	const char *iface;     /* name, "any"; NULL: the first interface that is up */
	const char *filter;    /* BPF expression (pcap-filter(7)), NULL or "" for none */
	int snaplen;           /* 0: LIVE_DEFAULT_SNAPLEN */
	int promisc;           /* put the interface in promiscuous mode */
	int buffer_mb;         /* kernel buffer, 0: LIVE_DEFAULT_BUFFER_MB */
	int immediate;         /* libpcap immediate mode: each packet at once (costs
	                          throughput on Linux); else within LIVE_TIMEOUT_MS */
};

struct live_stats {
	uint64_t received;     /* ps_recv: packets the filter accepted */
	uint64_t kernel_drops; /* ps_drop: dropped for lack of buffer space */
	uint64_t if_drops;     /* ps_ifdrop: dropped by the interface or driver */
	int valid;             /* 0 if pcap_stats is not supported here */
};

struct live_src;

/* Open and activate the interface, set the filter. Returns NULL with a
 * one-line message in err. Warnings (promiscuous mode not supported...)
 * go through pi_warn. */
struct live_src *live_open(const struct live_opts *o, char *err, size_t errlen);

const char *live_iface(const struct live_src *s);
int live_linktype(const struct live_src *s);    /* LINKTYPE_ value (capture.h) */
const char *live_dlt_name(const struct live_src *s); /* "EN10MB" */
int live_snaplen(const struct live_src *s);
int live_fd(const struct live_src *s);          /* pollable, -1 if none */

/* Hand the packets waiting now (at most max; <= 0: all) to cb. Returns the
 * number handed, 0 if none were waiting, or -1 on an error (err filled). */
int live_dispatch(struct live_src *s, int max, void (*cb)(void *ctx, const struct packet *p), void *ctx,
                  char *err, size_t errlen);

/* pcap_stats. Returns 0, or -1 (st->valid = 0). */
int live_get_stats(struct live_src *s, struct live_stats *st);

void live_close(struct live_src *s);

/* The LINKTYPE_ value of a DLT_ value (they differ for a few, e.g. DLT_RAW). */
int live_dlt_to_linktype(int dlt);

/* Print the interfaces libpcap can open, one a line ("eth0 (up, running)"). */
int live_list_interfaces(char *err, size_t errlen);

/* Drop root for good: supplementary groups, gid, uid of user (NULL: "nobody"
 * when it exists). Not root: gives up any capabilities instead (a binary
 * with cap_net_raw,cap_net_admin file capabilities). Does nothing for user
 * "root". Verifies the result (getuid/geteuid/getgid, setuid(0) fails).
 * Returns 1 dropped, 0 nothing to do, -1 failed (err says why: the caller
 * must stop). *who gets the user name used ("" when nothing was done). */
int live_drop_privileges(const char *user, const char **who, char *err, size_t errlen);

#endif
