/* test_cur.c: the bounds-checked cursor never reads past its end. */
#include <stdint.h>

#include "common/cur.h"
#include "common/pool.h"
#include "common/util.h"
#include "unit.h"

/* pi_lower and pi_hash_lower work eight bytes at a time: check them against
 * the byte-wise definition, over every byte value and every length to past
 * the four-lane block size of pi_hash. */
static void check_lower(void)
{
	char s[300], ref[300];
	uint32_t x = 12345;
	int bad_lower = 0, bad_hash = 0;
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)round % 260;
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			/* mostly letters around the A-Z / a-z edges, and any byte */
			static const char edge[] = "@AZ[`az{Mm";
			s[i] = (x >> 16) % 3 ? edge[(x >> 8) % 10] : (char)(((x >> 8) % 255) + 1);
		}
		s[n] = '\0';
		for (size_t i = 0; i <= n; i++)
			ref[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
		if (pi_hash_lower(s, n, 99) != pi_hash(ref, n, 99))
			bad_hash++;
		pi_lower(s);
		if (memcmp(s, ref, n + 1) != 0)
			bad_lower++;
	}
	CHECK_EQ_INT(bad_lower, 0);
	CHECK_EQ_INT(bad_hash, 0);
	for (int c = 1; c < 256; c++) {
		char one[2] = { (char)c, 0 };
		char want = c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
		pi_lower(one);
		if (one[0] != want)
			bad_lower++;
	}
	CHECK_EQ_INT(bad_lower, 0);
}

/* pi_printable_copy works eight bytes at a time: against the byte-wise
 * rule (0x21..0x7e but '\\' kept, others \xHH, lower-cased on request,
 * stopping at the first that does not fit), for random bytes, mostly
 * plain runs, at every output size. */
static void check_printable(void)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t src[80];
	char got[128], want[128];
	uint32_t x = 777;
	int bad = 0;
	for (int round = 0; round < 3000; round++) {
		size_t n = (size_t)round % 80, dl = 1 + (size_t)(round * 7) % 127;
		int lower = round & 1;
		size_t o = 0, k;
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			src[i] = (x >> 16) % 5 ? (uint8_t)("aZ.-09Q\\"[(x >> 8) % 8]) : (uint8_t)(x >> 8);
		}
		for (size_t i = 0; i < n; i++) {
			uint8_t c = src[i];
			if (c > 0x20 && c < 0x7f && c != '\\') {
				if (o + 1 >= dl)
					break;
				want[o++] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
			} else {
				if (o + 4 >= dl)
					break;
				want[o++] = '\\';
				want[o++] = 'x';
				want[o++] = hex[c >> 4];
				want[o++] = hex[c & 15];
			}
		}
		want[o] = '\0';
		memset(got, 'X', sizeof got);
		k = pi_printable_copy(got, dl, src, n, lower);
		if (k != o || strcmp(got, want) != 0)
			bad++;
		for (size_t j = dl; j < sizeof got; j++)
			if (got[j] != 'X')
				bad++; /* written past the room given */
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(pi_printable_copy(got, 0, src, 10, 0), 0);
}

/* pi_buf_get/put: a buffer comes back for its exact size only, the oldest
 * go when 64 are kept or 1 MB, and none over PI_BUF_KEEP_MAX is kept. Every
 * buffer handed out is writable over its whole size (ASan: nothing kept). */
static void check_bufs(void)
{
	void *a = pi_buf_get(3000), *b, *c, *big;
	void *many[70];
	CHECK(a != NULL);
	memset(a, 1, 3000);
	pi_buf_put(a, 3000);
	b = pi_buf_get(2999); /* another size: not that one */
	CHECK(b != NULL && b != a);
	memset(b, 2, 2999);
	c = pi_buf_get(3000);
	CHECK(c != NULL);
	memset(c, 3, 3000);
	if (PI_POOL_KEEP)
		CHECK(c == a);
	pi_buf_put(b, 2999);
	pi_buf_put(c, 3000);
	big = pi_buf_get(PI_BUF_KEEP_MAX + 1);
	CHECK(big != NULL);
	pi_buf_put(big, PI_BUF_KEEP_MAX + 1); /* freed at once */
	/* 70 of one size: the first 6 put are the oldest, gone */
	for (int i = 0; i < 70; i++) {
		many[i] = pi_buf_get(1000 + (size_t)i);
		CHECK(many[i] != NULL);
	}
	for (int i = 0; i < 70; i++)
		pi_buf_put(many[i], 1000 + (size_t)i);
	for (int i = 0; i < 70; i++) {
		void *x = pi_buf_get(1000 + (size_t)i);
		CHECK(x != NULL);
		memset(x, 4, 1000 + (size_t)i);
		if (PI_POOL_KEEP && i >= 6) /* (the first 6 were freed: malloc may give them again) */
			CHECK(x == many[i]);
		many[i] = x;
	}
	for (int i = 0; i < 70; i++)
		pi_buf_put(many[i], 1000 + (size_t)i);
	/* 1 MB together: of 20 of 60 KB, 17 are kept (the last) */
	for (int i = 0; i < 20; i++) {
		many[i] = pi_buf_get(60000);
		CHECK(many[i] != NULL);
	}
	for (int i = 0; i < 20; i++)
		pi_buf_put(many[i], 60000);
	for (int i = 0; i < 20; i++) {
		void *x = pi_buf_get(60000);
		CHECK(x != NULL);
		many[i] = x;
	}
	for (int i = 0; i < 20; i++)
		pi_buf_put(many[i], 60000);
	pi_buf_drain();
	pi_buf_put(NULL, 10);
}

/* pi_big_alloc: zeros, on a 2 MB boundary (huge pages where the kernel
 * gives them), all of it writable; sizes not a multiple of the page too. */
static void test_big_alloc(void)
{
	static const size_t sizes[] = { 8u << 20, 4096, 3u << 20 | 100 };
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		uint8_t *p = pi_big_alloc(sizes[k]);
		size_t nonzero = 0;
		CHECK(p != NULL);
		if (!p)
			continue;
		CHECK_EQ_INT((uintptr_t)p & ((2u << 20) - 1), 0);
		for (size_t i = 0; i < sizes[k]; i += 512)
			nonzero += p[i] != 0;
		CHECK_EQ_INT(nonzero, 0);
		p[0] = 1;
		p[sizes[k] - 1] = 2;
		CHECK_EQ_INT(p[0] + p[sizes[k] - 1], 3);
		pi_big_free(p, sizes[k]);
	}
	pi_big_free(NULL, 4096);
}

int main(void)
{
	static const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x02, 0xaa, 0xbb, 0x00, 0x05, 0x01 };
	struct cur c = cur_make(b, sizeof(b)), sub;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;

	test_big_alloc();

	CHECK_EQ_INT(cur_u8(&c, &u8), PI_OK);
	CHECK_EQ_INT(u8, 1);
	CHECK_EQ_INT(cur_u16(&c, &u16), PI_OK);
	CHECK_EQ_INT(u16, 0x0203);
	CHECK_EQ_INT(cur_u16(&c, &u16), PI_OK);
	CHECK_EQ_INT(u16, 0x0405);
	/* an 8-bit vector of 2 bytes */
	CHECK_EQ_INT(cur_vec8(&c, &sub), PI_OK);
	CHECK_EQ_INT(cur_left(&sub), 2);
	CHECK_EQ_INT(cur_u16(&sub, &u16), PI_OK);
	CHECK_EQ_INT(u16, 0xaabb);
	CHECK_EQ_INT(cur_u8(&sub, &u8), PI_NEED_MORE);
	/* a 16-bit vector claiming 5 bytes with 1 left: refused, cursor unmoved */
	const uint8_t *before = c.p;
	CHECK_EQ_INT(cur_vec16(&c, &sub), PI_NEED_MORE);
	CHECK(c.p == before);
	CHECK_EQ_INT(cur_u32(&c, &u32), PI_NEED_MORE);
	CHECK_EQ_INT(cur_skip(&c, 4), PI_NEED_MORE);
	CHECK_EQ_INT(cur_skip(&c, 3), PI_OK);
	CHECK_EQ_INT(cur_left(&c), 0);
	CHECK_EQ_INT(cur_u8(&c, &u8), PI_NEED_MORE);

	/* 24-bit and little-endian readers */
	static const uint8_t v[] = { 0x00, 0x01, 0x02, 0x78, 0x56, 0x34, 0x12 };
	c = cur_make(v, sizeof(v));
	CHECK_EQ_INT(cur_u24(&c, &u32), PI_OK);
	CHECK_EQ_INT(u32, 0x102);
	CHECK_EQ_INT(cur_u32le(&c, &u32), PI_OK);
	CHECK_EQ_INT(u32, 0x12345678);
	/* an empty cursor */
	c = cur_make(v, 0);
	CHECK_EQ_INT(cur_vec24(&c, &sub), PI_NEED_MORE);
	check_lower();
	check_printable();
	check_bufs();
	UNIT_DONE();
}
