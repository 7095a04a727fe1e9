/* util.h: small shared helpers: bounded string copy, warnings, hashing. */
#ifndef PI_UTIL_H
#define PI_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Copy at most dstlen-1 bytes and NUL-terminate; returns strlen(src). */
size_t pi_strlcpy(char *dst, const char *src, size_t dstlen);

/* Copy wire bytes into a printable C string: bytes outside 0x21..0x7e (and
 * backslash) become \xHH; truncated to fit. */
void pi_printable(char *dst, size_t dstlen, const uint8_t *src, size_t n);
/* pi_printable, lower-casing A-Z when lower; returns the length written
 * (dst[len] is the terminator; 0 and nothing written when dstlen is 0). */
size_t pi_printable_copy(char *dst, size_t dstlen, const uint8_t *src, size_t n, int lower);
/* A large table of zeros, on huge pages where the kernel gives them (a
 * table read at random, a page-table walk for most reads otherwise); NULL
 * when out of memory. Free it with pi_big_free and the same size. */
void *pi_big_alloc(size_t size);
void pi_big_free(void *p, size_t size);

/* Text from the wire made safe for a terminal: valid UTF-8 kept, control
 * characters (C0, C1, DEL), bidi overrides, backslash and invalid bytes
 * become \xHH; truncated to fit. */
void pi_term_safe(char *dst, size_t dstlen, const char *src);

/* Lower-case ASCII in place. */
void pi_lower(char *s);

/* Warnings go to stderr as "pinspect: warning: ...", counted. */
void pi_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t pi_warn_count(void);
void pi_set_quiet(int quiet);

/* The 64-bit finaliser of MurmurHash3 (every input bit reaches every
 * output bit): the last step of pi_hash, and a hash of one word. */
static inline uint64_t pi_fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

/* 64-bit hash of bytes (8 bytes a step, multiply-rotate, then mixed). */
uint64_t pi_hash(const void *data, size_t len, uint64_t seed);
/* pi_hash of the first len bytes of s with ASCII A-Z as a-z, without
 * making the lowercase copy: the same value. */
uint64_t pi_hash_lower(const char *s, size_t len, uint64_t seed);

#endif
