/* cur.h: a bounds-checked cursor for every read of wire bytes.
 *
 * Every getter checks the remaining length first and advances only on
 * success. Return contract, shared by all getters:
 *   PI_OK        the value was read, the cursor advanced;
 *   PI_NEED_MORE not enough bytes (truncated: may complete after reassembly);
 * Parsers turn NEED_MORE into INVALID where the enclosing length says the
 * bytes must be there (a sub-cursor over a length-prefixed vector).
 * Nothing here allocates, nothing trusts a length from the wire.
 */
#ifndef PI_CUR_H
#define PI_CUR_H

#include <stddef.h>
#include <stdint.h>

enum pi_rc { PI_OK = 0, PI_NEED_MORE = 1, PI_INVALID = -1 };

struct cur {
	const uint8_t *p;
	const uint8_t *end;
};

static inline struct cur cur_make(const uint8_t *p, size_t len)
{
	struct cur c = { p, p + len };
	return c;
}

static inline size_t cur_left(const struct cur *c)
{
	return (size_t)(c->end - c->p);
}

static inline int cur_skip(struct cur *c, size_t n)
{
	if (cur_left(c) < n)
		return PI_NEED_MORE;
	c->p += n;
	return PI_OK;
}

static inline int cur_u8(struct cur *c, uint8_t *v)
{
	if (cur_left(c) < 1)
		return PI_NEED_MORE;
	*v = c->p[0];
	c->p += 1;
	return PI_OK;
}

static inline int cur_u16(struct cur *c, uint16_t *v)
{
	if (cur_left(c) < 2)
		return PI_NEED_MORE;
	*v = (uint16_t)((c->p[0] << 8) | c->p[1]);
	c->p += 2;
	return PI_OK;
}

static inline int cur_u24(struct cur *c, uint32_t *v)
{
	if (cur_left(c) < 3)
		return PI_NEED_MORE;
	*v = ((uint32_t)c->p[0] << 16) | ((uint32_t)c->p[1] << 8) | c->p[2];
	c->p += 3;
	return PI_OK;
}

static inline int cur_u32(struct cur *c, uint32_t *v)
{
	if (cur_left(c) < 4)
		return PI_NEED_MORE;
	*v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) |
	     ((uint32_t)c->p[2] << 8) | c->p[3];
	c->p += 4;
	return PI_OK;
}

/* Little-endian readers, for capture file headers written on LE hosts. */
static inline int cur_u16le(struct cur *c, uint16_t *v)
{
	if (cur_left(c) < 2)
		return PI_NEED_MORE;
	*v = (uint16_t)(c->p[0] | (c->p[1] << 8));
	c->p += 2;
	return PI_OK;
}

static inline int cur_u32le(struct cur *c, uint32_t *v)
{
	if (cur_left(c) < 4)
		return PI_NEED_MORE;
	*v = (uint32_t)c->p[0] | ((uint32_t)c->p[1] << 8) |
	     ((uint32_t)c->p[2] << 16) | ((uint32_t)c->p[3] << 24);
	c->p += 4;
	return PI_OK;
}

/* Point *out at the next n bytes and advance past them. */
static inline int cur_bytes(struct cur *c, size_t n, const uint8_t **out)
{
	if (cur_left(c) < n)
		return PI_NEED_MORE;
	*out = c->p;
	c->p += n;
	return PI_OK;
}

/* Confine a parser to the next n bytes: *sub covers them, c moves past. */
static inline int cur_sub(struct cur *c, size_t n, struct cur *sub)
{
	if (cur_left(c) < n)
		return PI_NEED_MORE;
	sub->p = c->p;
	sub->end = c->p + n;
	c->p += n;
	return PI_OK;
}

/* TLS-style vectors <0..2^8-1>, <0..2^16-1>, <0..2^24-1>: length prefix,
 * then a sub-cursor over exactly that many bytes. */
static inline int cur_vec8(struct cur *c, struct cur *sub)
{
	struct cur save = *c;
	uint8_t n;
	if (cur_u8(c, &n) != PI_OK || cur_sub(c, n, sub) != PI_OK) {
		*c = save;
		return PI_NEED_MORE;
	}
	return PI_OK;
}

static inline int cur_vec16(struct cur *c, struct cur *sub)
{
	struct cur save = *c;
	uint16_t n;
	if (cur_u16(c, &n) != PI_OK || cur_sub(c, n, sub) != PI_OK) {
		*c = save;
		return PI_NEED_MORE;
	}
	return PI_OK;
}

static inline int cur_vec24(struct cur *c, struct cur *sub)
{
	struct cur save = *c;
	uint32_t n;
	if (cur_u24(c, &n) != PI_OK || cur_sub(c, n, sub) != PI_OK) {
		*c = save;
		return PI_NEED_MORE;
	}
	return PI_OK;
}

#endif
