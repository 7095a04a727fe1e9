/* fuzz_decode.c: fuzz target for the whole engine below the command line:
 * link/IP/TCP/UDP decoding with fragment reassembly (src/capture/decode.h),
 * the flow table with TCP reassembly and expiry (src/flows/flow.h), the TLS
 * and DNS dissectors, verdicts, evidence, ranking and the outputs, fed
 * packet by packet through engine_begin_input() + engine_packet().
 *
 * Input:
 *   byte 0   default link type (index into linktypes[] below, mod its size)
 *   byte 1   options: bits 1-2 output (JSON, report, CSV, JSON); bits 0 and
 *            7 both set: nDPI on (a quarter of the inputs: setting nDPI up
 *            and down costs ~15 ms, which would make every run slow)
 *   then records, as many as fit:
 *     u16  caplen (big-endian; cut to what is left)
 *     u8   time step: 0..254 milliseconds; 255 = 301 s (past the idle timeout)
 *     u8   flags: bits 0-3 link type (0: the default, else linktypes[n-1]),
 *               bit 4 snaplen cut (wirelen = caplen + 100),
 *               bit 5 a new input starts before this packet
 *     caplen bytes of packet, starting at the link-layer header
 * tests/fuzz/mkseeds.py writes small real captures in this form.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "common/util.h"
#include "fuzz.h"
#include "outputs/output.h"
#include "pipeline.h"

static const int linktypes[] = {
	LT_ETHERNET, LT_RAW, LT_NULL, LT_LOOP, LT_LINUX_SLL, LT_LINUX_SLL2,
	LT_IPV4, LT_IPV6, LT_RAW_ALT, LT_RAW_ALT2, 147 /* a link type not handled */,
};
#define NLT (sizeof(linktypes) / sizeof(linktypes[0]))

static FILE *devnull;

/* Warnings about damaged input are what the target provokes: not shown. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pi_set_quiet(1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = { data, size };
	struct engine_opts eo;
	struct rank_opts ro;
	struct out_ctx out;
	struct engine *e;
	uint8_t lt0, opts;
	uint64_t ts = 1700000000ull * 1000000000ull, frame = 0;
	int inputs = 1;

	if (size < 2)
		return 0;
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	lt0 = fz_u8(&z);
	opts = fz_u8(&z);
	memset(&eo, 0, sizeof(eo));
	memset(&ro, 0, sizeof(ro));
	memset(&out, 0, sizeof(out));
	eo.no_ndpi = (opts & 0x81) != 0x81;
	eo.dns_query_log = 1;
	static const enum out_format fmts[4] = { OUT_JSON, OUT_REPORT, OUT_CSV, OUT_JSON };
	out.f = devnull;
	out.format = fmts[(opts >> 1) & 3];
	out.version = "fuzz";
	out.ropts = &ro;
	struct conn_sink sink = { NULL, out_conn, &out };
	e = engine_new(&eo, &sink);
	if (!e)
		return 0;
	out_begin(&out);
	engine_begin_input(e, "fuzz-0", "pcap");
	while (z.n >= 4) {
		struct packet pkt;
		size_t len;
		uint16_t caplen = fz_u16(&z);
		uint8_t step = fz_u8(&z), fl = fz_u8(&z);
		const uint8_t *p = fz_bytes(&z, caplen, &len);
		if (fl & 0x20) {
			char label[32];
			engine_end_input(e);
			snprintf(label, sizeof(label), "fuzz-%d", inputs++);
			engine_begin_input(e, label, "pcapng");
			frame = 0;
		}
		ts += step == 255 ? 301ull * 1000000000ull : step * 1000000ull;
		memset(&pkt, 0, sizeof(pkt));
		pkt.frame = ++frame;
		pkt.ts_ns = ts;
		pkt.linktype = (fl & 15) ? linktypes[((fl & 15) - 1) % NLT] : linktypes[lt0 % NLT];
		pkt.caplen = (uint32_t)len;
		pkt.wirelen = (uint32_t)len + (fl & 0x10 ? 100 : 0);
		/* an exact-size copy: a read past the packet shows under ASan */
		uint8_t *copy = malloc(len ? len : 1);
		if (!copy)
			break;
		memcpy(copy, p, len);
		pkt.data = copy;
		engine_packet(e, &pkt);
		free(copy);
	}
	engine_end_input(e);
	engine_finish(e);
	out_end(&out, e);
	engine_free(e);
	return 0;
}
