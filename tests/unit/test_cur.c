/* test_cur.c: the bounds-checked cursor never reads past its end. */
#include "common/cur.h"
#include "unit.h"

int main(void)
{
	static const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x02, 0xaa, 0xbb, 0x00, 0x05, 0x01 };
	struct cur c = cur_make(b, sizeof(b)), sub;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;

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
	UNIT_DONE();
}
