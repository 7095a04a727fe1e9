/* tui.h: the interactive ncurses view of pinspect live / analyze --tui.
 *
 * A read-only view of the snapshots in ui/model.h: a status bar
 * (interface or file, packets, bytes, rates, flows, drops, elapsed time),
 * the ranked candidates, the recent TLS connections or the DNS problems,
 * a detail view per name, a message line and a help line. It runs on the
 * calling thread and never touches the engine; the engine thread keeps
 * capturing whatever the terminal does.
 *
 * Keys: arrows or j/k move, PgUp/PgDn/Home/End, Tab switches pane, Enter
 * opens the selected name, / filters, s sorts, space pauses, m marks a
 * name for the bypass list, e exports (marked, else the bypass
 * candidates) in a chosen format, w saves the captured packets, d shows
 * DNS problems instead of connections, ? help, q quits (or goes back).
 */
#ifndef PI_UI_TUI_H
#define PI_UI_TUI_H

#include <signal.h>
#include <stddef.h>

#include "ui/model.h"

struct tui_opts {
	int color;          /* colours allowed (a TTY, NO_COLOR unset, not --color never) */
	int replay;         /* replaying a file (space pauses the replay itself) */
	const char *export_format; /* default export format ("zscaler" if NULL) */
};

/* Run the view until the user quits or *stop becomes non-zero (a signal).
 * Set LC_CTYPE first (setlocale(LC_CTYPE, ""), before any other thread
 * starts) so that curses knows the terminal's character set; LC_NUMERIC
 * stays "C".
 * Sets ui_model_set_quit(m) on the way out. Returns 0, or -1 when the
 * terminal cannot be set up (err says why; nothing was drawn). */
int tui_run(struct ui_model *m, const struct tui_opts *o, volatile sig_atomic_t *stop, char *err,
            size_t errlen);

#endif
