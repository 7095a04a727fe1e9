/* test_engine.c: the engine torn down with connections still open.
 *
 * With the sinks on their own thread, engine_free() used to close the open
 * flows after the queue was freed, and their records went into freed
 * memory. Nothing checks the memory here: the ASan+UBSan run of the suite
 * (tests/sanitizers.sh) catches a use after free. What is checked here is
 * that the case really arises: flows are open at the free, with and
 * without the sinks' thread, a few packets into a capture and further. */
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "pipeline.h"
#include "unit.h"

#ifndef PI_SRCDIR
#define PI_SRCDIR "."
#endif

static int conns;

static void on_conn(void *ctx, const struct conn_out *o)
{
	(void)ctx;
	(void)o;
	conns++;
}

static void cut_short(int async, int packets)
{
	struct engine_opts o;
	struct conn_sink sink;
	struct engine *e;
	struct cap_reader *r;
	struct packet pkt;
	char err[256];
	int n = 0;
	memset(&o, 0, sizeof o);
	memset(&sink, 0, sizeof sink);
	o.async_sink = async;
	sink.on_conn = on_conn;
	e = engine_new(&o, &sink);
	r = cap_open(PI_SRCDIR "/samples/mixed.pcapng", err, sizeof err);
	CHECK(e != NULL && r != NULL);
	if (!e || !r) {
		cap_close(r);
		engine_free(e);
		return;
	}
	engine_begin_input(e, "mixed.pcapng", "pcapng");
	while (n < packets && cap_next(r, &pkt) == CAP_PACKET) {
		engine_packet(e, &pkt);
		n++;
	}
	CHECK(engine_open_flows(e) > 0);
	cap_close(r);
	engine_free(e); /* open flows: closed without a word */
}

int main(void)
{
	for (int async = 0; async < 2; async++)
		for (int packets = 10; packets <= 200; packets += 95)
			cut_short(async, packets);
	UNIT_DONE();
}
