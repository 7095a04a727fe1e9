/* fuzz.h: the libFuzzer entry points every target defines (and onefile.c calls).
 *
 * A target is one LLVMFuzzerTestOneInput(); the same file links either with
 * libFuzzer (clang -fsanitize=fuzzer: tests/fuzz/run-fuzz.sh) or with
 * onefile.c (any compiler: `make check` replays the committed corpus).
 * A target must be deterministic (no clock, no randomness, no state kept
 * from one input to the next), free everything it allocates, and return 0.
 */
#ifndef PI_FUZZ_H
#define PI_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, once before the first input (weak in onefile.c). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A tiny deterministic byte reader over the fuzz input, for targets that
 * take their parameters from it (chunk sizes, flags). Reads past the end
 * give zeros; fz_rest() is what is left. */
struct fz {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz *z)
{
	uint8_t v = 0;
	if (z->n) {
		v = *z->p++;
		z->n--;
	}
	return v;
}

static inline uint16_t fz_u16(struct fz *z)
{
	uint16_t hi = fz_u8(z);
	return (uint16_t)(hi << 8 | fz_u8(z));
}

/* Up to want bytes (fewer at the end): *len says how many. */
static inline const uint8_t *fz_bytes(struct fz *z, size_t want, size_t *len)
{
	const uint8_t *p = z->p;
	if (want > z->n)
		want = z->n;
	z->p += want;
	z->n -= want;
	*len = want;
	return p;
}

#endif
