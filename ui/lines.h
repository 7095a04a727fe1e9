/* lines.h: pinspect live without a terminal (or with --no-tui): one line
 * per connection verdict as it is decided, then the ranked summary when
 * the capture ends. Text for people, or JSON lines (--json) for tools:
 *
 *   {"type":"verdict","time":"...Z","client":"10.0.0.2:51000",...}   per verdict
 *   {"type":"candidate","rule":"pinned.example",...}                 ranked, best first
 *   {"type":"dns","name":"...","qtype":"A",...}                      DNS problems
 *   {"type":"summary","packets":...,"kernel_drops":...}              last line
 */
#ifndef PI_UI_LINES_H
#define PI_UI_LINES_H

#include <stdio.h>

#include "capture/live.h"
#include "pipeline.h"
#include "ranking/rank.h"

struct lines_opts {
	FILE *f;
	int json;
	int color;            /* ANSI colours (a TTY and NO_COLOR unset) */
};

struct lines_summary {
	const char *source;   /* interface or file */
	int live;
	double elapsed_s;
	const struct live_stats *ls; /* NULL when not live */
	const char *saved_path;      /* -w: the last file written, or NULL */
	unsigned saved_files;
	uint64_t saved_bytes;
	const char *note;            /* why the capture stopped early, or NULL */
};

/* One verdict line (the engine's on_verdict). */
void lines_verdict(const struct lines_opts *o, const struct conn_out *c);
/* The ranked summary and the counters. */
void lines_summary(const struct lines_opts *o, struct engine *e, const struct rank_opts *ro,
                   const struct lines_summary *s);

#endif
