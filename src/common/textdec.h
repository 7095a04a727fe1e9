/* textdec.h: input text decoding for the log and export readers: BOM / UTF-16 detection, UTF-16 to UTF-8.
 *
 * Used by the ZSATunnel log reader (analysis/zsatunnel.c) and the Web
 * Insights CSV reader (analysis/webinsights.c); each keeps its own line or
 * record logic and gets plain UTF-8 text through a callback.
 *
 * Per input, the first bytes (up to 4) tell the encoding:
 *   EF BB BF                 UTF-8, the BOM dropped
 *   FF FE / FE FF            UTF-16LE / UTF-16BE, the BOM dropped
 *   "x\0" ("x\0..\0")        UTF-16LE without a BOM (an ASCII first unit)
 *   "\0x" ("\0x\0.")         UTF-16BE without a BOM
 *   anything else            UTF-8 (taken as it is, not checked)
 * UTF-16 is turned into UTF-8: surrogate pairs are joined, a lone surrogate
 * becomes U+FFFD. A chunk may end anywhere, even inside a code unit or
 * between the halves of a pair: the odd byte and the pending high surrogate
 * are carried to the next chunk.
 *
 * Bounded and allocation-free: the state is a fixed struct, UTF-16 is
 * decoded through a stack buffer of TEXTDEC_CHUNK bytes (plus one code
 * point's slack) and handed on whenever it fills.
 */
#ifndef PI_TEXTDEC_H
#define PI_TEXTDEC_H

#include <stddef.h>
#include <stdint.h>

#define TEXTDEC_CHUNK 4096u /* decoded UTF-16 text is handed on once this much is ready */

enum textdec_enc { TEXTDEC_UTF8 = 0, TEXTDEC_UTF16LE = 1, TEXTDEC_UTF16BE = 2 };

/* Receives decoded UTF-8 text of the current input, in order. UTF-8 input
 * is passed through in the caller's chunks (any size, not copied); decoded
 * UTF-16 comes in pieces of at most TEXTDEC_CHUNK + 5 bytes, each ending on
 * a code point boundary. n may be 0 once per input: a UTF-8 input whose
 * first bytes were only its BOM (the input has started, with no text yet). */
typedef void (*textdec_emit_fn)(void *ctx, const char *s, size_t n);

/* All zero (e.g. from calloc, or textdec_init()) is a decoder waiting for
 * the first bytes of an input. Fields are read-only for callers. */
struct textdec {
	/* counters, over all inputs */
	uint64_t bytes;          /* bytes fed */
	uint64_t utf16_inputs;   /* inputs told to be UTF-16 */

	/* per input */
	int started;             /* the encoding is decided */
	enum textdec_enc enc;
	uint8_t head[4];         /* first bytes, until the encoding is decided */
	size_t nhead;
	int have_odd;            /* UTF-16: first byte of a code unit carried over */
	uint8_t odd;
	uint16_t hi_sur;         /* UTF-16: high surrogate waiting for its pair; 0 none */
};

/* Clears td: counters to zero, ready for a new input. */
void textdec_init(struct textdec *td);

/* Decode len bytes of the current input and hand the text to emit(ctx, ...)
 * (zero or more calls, before this returns). The encoding is decided once
 * 4 bytes of the input have been seen; until then the bytes are held. */
void textdec_feed(struct textdec *td, const char *data, size_t len, textdec_emit_fn emit, void *ctx);

/* End the current input: an input shorter than 4 bytes is decided and
 * emitted now. Returns 1 when the input ended inside a UTF-16 code unit or
 * after a high surrogate without its pair (nothing was emitted for it: the
 * caller decides whether that is a U+FFFD), else 0. The next feed starts a
 * new input whose encoding is told afresh; the counters carry on. */
int textdec_end(struct textdec *td, textdec_emit_fn emit, void *ctx);

#endif
