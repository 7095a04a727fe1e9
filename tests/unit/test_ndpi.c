/* test_ndpi.c: the per-SNI sharing of nDPI's work (ndpi_glue.c): one flow
 * classifies a name for the others, and a name whose flows keep ending
 * unclassified is retried with exponential back-off, not on every flow. */
#include <stdint.h>
#include <string.h>

#include "flows/ndpi_glue.h"
#include "unit.h"

/* A flow of sni that ends before nDPI has an answer (no packets fed):
 * returns what ndpi_claim said (1: it was to be classified). */
static int unanswered_flow(struct ndpi_ctx *n, const char *sni)
{
	struct ndpi_flow_state s;
	int claimed;
	memset(&s, 0, sizeof(s));
	claimed = ndpi_claim(n, &s, sni);
	ndpi_flow_done(n, &s, sni);
	return claimed;
}

int main(void)
{
	struct ndpi_ctx *n = ndpi_ctx_new();
	struct ndpi_flow_state a, b;
	struct ndpi_result r;
	int tries = 0;
	CHECK(n != NULL);
	if (!n)
		UNIT_DONE();

	/* while a flow classifies the name, the next one waits for its answer */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CHECK_EQ_INT(ndpi_claim(n, &a, "api.example"), 1);
	CHECK_EQ_INT(ndpi_claim(n, &b, "api.example"), 0);
	CHECK(b.deferred && b.done);
	strcpy(a.res.app, "TLS");
	strcpy(a.res.category, "Web");
	a.done = 1;
	ndpi_flow_done(n, &a, "api.example");
	ndpi_flow_done(n, &b, "api.example");
	CHECK_EQ_STR(b.res.app, "TLS");
	CHECK_EQ_INT(ndpi_cached(n, "api.example", &r), 1);
	CHECK_EQ_STR(r.app, "TLS");

	/* a name never answered: after the m-th miss the next 2^m - 1 flows
	 * go without nDPI: flows 1, 3, 7, 15, 31, 63 of 100 are classified */
	int expect[] = { 1, 0, 1, 0, 0, 0, 1, 0 };
	for (int i = 0; i < 8; i++)
		CHECK_EQ_INT(unanswered_flow(n, "cut.example"), expect[i]);
	for (int i = 8; i < 100; i++)
		tries += unanswered_flow(n, "cut.example");
	CHECK_EQ_INT(tries, 3); /* flows 15, 31 and 63 */

	/* an answer found by a retry ends the back-off: the name is cached */
	for (;;) {
		memset(&a, 0, sizeof(a));
		if (ndpi_claim(n, &a, "cut.example"))
			break;
		ndpi_flow_done(n, &a, "cut.example");
	}
	strcpy(a.res.app, "TLS");
	a.done = 1;
	ndpi_flow_done(n, &a, "cut.example");
	CHECK_EQ_INT(ndpi_cached(n, "cut.example", &r), 1);
	/* ... and a later miss starts over at one retry */
	memset(&a, 0, sizeof(a));
	CHECK_EQ_INT(ndpi_claim(n, &a, "other.example"), 1);
	ndpi_flow_done(n, &a, "other.example");
	CHECK_EQ_INT(unanswered_flow(n, "other.example"), 0);
	CHECK_EQ_INT(unanswered_flow(n, "other.example"), 1);

	/* Modules are built in arenas of their own (ndpi_glue.c): two alive at
	 * once, flows of each fed after the build (their state is malloc's),
	 * the first freed while the second goes on, a third built after. A
	 * block given to the wrong allocator crashes here, or shows in the
	 * valgrind run as an invalid free or a leak. */
	{
		static const uint8_t syn[40] = {
			0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, /* IPv4 */
			0x9c, 0x40, 0x01, 0xbb, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x02, 0x72, 0x10, 0, 0, 0, 0 /* SYN */
		};
		struct ndpi_ctx *n2 = ndpi_ctx_new(), *n3;
		struct ndpi_flow_state f1, f2;
		CHECK(n2 != NULL);
		memset(&f1, 0, sizeof(f1));
		memset(&f2, 0, sizeof(f2));
		CHECK_EQ_INT(ndpi_feed(n, &f1, syn, sizeof syn, 1000000000ull), 0);
		if (n2)
			CHECK_EQ_INT(ndpi_feed(n2, &f2, syn, sizeof syn, 1000000000ull), 0);
		ndpi_flow_done(n, &f1, NULL);
		ndpi_ctx_free(n);
		n = NULL;
		if (n2) {
			CHECK_EQ_INT(ndpi_feed(n2, &f2, syn, sizeof syn, 1000000001ull), 0);
			CHECK(f2.packets == 2);
			ndpi_flow_done(n2, &f2, NULL);
			CHECK(f2.done && f2.flow == NULL);
		}
		n3 = ndpi_ctx_new();
		CHECK(n3 != NULL);
		memset(&f1, 0, sizeof(f1));
		CHECK_EQ_INT(ndpi_claim(n3, &f1, "third.example"), 1);
		ndpi_ctx_free(n2);
		ndpi_ctx_free(n3);
	}
	ndpi_ctx_free(n);
	UNIT_DONE();
}
