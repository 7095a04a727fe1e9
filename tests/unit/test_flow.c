/* test_flow.c: stream numbers as Wireshark gives them, and reassembly. */
#include <stdlib.h>
#include <string.h>

#include "flows/flow.h"
#include "unit.h"

struct seen {
	uint64_t last;   /* stream of the latest packet */
	char data[2][256];
	size_t len[2];
	uint32_t gaps;
	int closes;
};

static struct seen S;

static void on_new(void *ctx, struct flow *f, const struct decoded *d)
{
	(void)ctx;
	(void)d;
	f->app = &S;
}

static void on_packet(void *ctx, struct flow *f, int dir, const struct decoded *d, const struct packet *p)
{
	(void)ctx;
	(void)dir;
	(void)d;
	(void)p;
	S.last = f->stream;
}

static void on_data(void *ctx, struct flow *f, int dir, const uint8_t *data, size_t len, uint64_t frame,
                    uint64_t ts)
{
	(void)ctx;
	(void)frame;
	(void)ts;
	int side = dir == f->client ? 0 : 1;
	if (S.len[side] + len < sizeof(S.data[0])) {
		memcpy(S.data[side] + S.len[side], data, len);
		S.len[side] += len;
	}
}

static void on_gap(void *ctx, struct flow *f, int dir, uint32_t n)
{
	(void)ctx;
	(void)f;
	(void)dir;
	S.gaps += n;
}

static void on_close(void *ctx, struct flow *f)
{
	(void)ctx;
	(void)f;
	S.closes++;
}

static uint64_t frame;

static uint16_t cport = 40000;

static void pkt(struct flow_table *t, int from_client, uint8_t flags, uint32_t seq, const char *payload,
                uint64_t ts_s)
{
	struct decoded d;
	struct packet p;
	memset(&d, 0, sizeof(d));
	memset(&p, 0, sizeof(p));
	d.ipver = 4;
	d.proto = 6;
	uint8_t c[4] = { 10, 0, 0, 1 }, s[4] = { 10, 0, 0, 2 };
	memcpy(d.src, from_client ? c : s, 4);
	memcpy(d.dst, from_client ? s : c, 4);
	d.sport = from_client ? cport : 443;
	d.dport = from_client ? 443 : cport;
	d.tcp_flags = flags;
	d.seq = seq;
	d.ack = 1;
	d.payload = (const uint8_t *)payload;
	d.paylen = d.wire_paylen = payload ? (uint32_t)strlen(payload) : 0;
	p.frame = ++frame;
	p.ts_ns = ts_s * 1000000000ull;
	flow_input_tcp(t, &d, &p);
}

int main(void)
{
	struct flow_hooks h = { on_new, on_packet, on_data, on_gap, on_close, NULL };
	struct pi_caps caps;
	memset(&caps, 0, sizeof(caps));
	struct flow_table *t = flow_table_new(&h, NULL, &caps);
	CHECK(t != NULL);

	/* stream 0: handshake, data out of order and retransmitted, then RST */
	pkt(t, 1, TH_SYN, 1000, NULL, 1);
	pkt(t, 0, TH_SYN | TH_ACK, 5000, NULL, 1);
	pkt(t, 1, TH_ACK, 1006, "!", 1);     /* out of order: held */
	CHECK_EQ_INT(S.len[0], 0);
	pkt(t, 1, TH_ACK, 1001, "world", 1); /* fills the hole: both delivered */
	CHECK_EQ_STR(S.data[0], "world!");
	pkt(t, 1, TH_ACK, 996, "hello", 1);  /* old bytes only: dropped */
	pkt(t, 1, TH_ACK, 1001, "world", 1); /* retransmission: dropped */
	CHECK_EQ_INT(S.len[0], 6);
	pkt(t, 0, TH_ACK, 5001, "abc", 1);
	pkt(t, 0, TH_ACK, 5010, "xyz", 1);   /* a 6-byte hole */
	pkt(t, 1, TH_ACK | TH_RST, 1007, NULL, 1);
	CHECK_EQ_INT(flow_streams(t), 1);

	/* 44 s later, another connection's traffic lets stream 0 expire */
	cport = 40001;
	for (int i = 0; i < 1100; i++) /* expiry runs every 1024 packets */
		pkt(t, 1, i ? TH_ACK : TH_SYN, 50 + (i ? 1 : 0), NULL, 45);
	CHECK(S.closes >= 1);
	CHECK_EQ_INT(flow_streams(t), 2);
	/* a late packet of stream 0: Wireshark keeps it in stream 0 */
	cport = 40000;
	pkt(t, 1, TH_ACK, 1007, NULL, 45);
	CHECK_EQ_INT(S.last, 0);
	CHECK_EQ_INT(flow_streams(t), 2);

	/* a new SYN with another ISN on the same ports: a new stream */
	pkt(t, 1, TH_SYN, 777777, NULL, 46);
	CHECK_EQ_INT(S.last, 2);
	CHECK_EQ_INT(flow_streams(t), 3);
	/* a retransmitted SYN (same ISN) stays in it */
	pkt(t, 1, TH_SYN, 777777, NULL, 47);
	CHECK_EQ_INT(S.last, 2);

	flow_table_free(t);
	/* the hole in the server's data was skipped at the end */
	CHECK_EQ_STR(S.data[1], "abcxyz");
	CHECK(S.gaps >= 6);

	/* The flow of the packet before is asked first (flow.c): when the
	 * expiry that runs before a packet is looked up finalises that very
	 * flow, the packet must find it gone and start it again, not feed
	 * the finalised one. 1023 packets, then the 1024th (expiry) long
	 * after, of the same flow. */
	t = flow_table_new(&h, NULL, &caps);
	CHECK(t != NULL);
	S.closes = 0;
	cport = 40100;
	for (int i = 0; i < 1023; i++)
		pkt(t, 1, i ? TH_ACK : TH_SYN, 9000 + (i ? 1 : 0), NULL, 100);
	CHECK_EQ_INT(flow_count(t), 1);
	pkt(t, 1, TH_ACK, 9001, NULL, 100000);
	CHECK_EQ_INT(S.closes, 1);
	CHECK_EQ_INT(flow_count(t), 1); /* fed to a new one, not the one gone */
	flow_table_free(t);
	UNIT_DONE();
}
