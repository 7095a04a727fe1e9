/* colors.h: semantic colour roles of the live view, mapped to curses
 * attributes once (ui_colors_init). Without colour (NO_COLOR, a terminal
 * without colours, or --color never) every role still has a distinct
 * monochrome attribute (bold, reverse, underline), so nothing relies on
 * colour alone. */
#ifndef PI_UI_COLORS_H
#define PI_UI_COLORS_H

#include "analysis/verdict.h"
#include "ranking/rank.h"
#include "ui/curses_compat.h"

enum ui_role {
	R_NORMAL = 0,
	R_STATUS,          /* status bar */
	R_STATUS_ALERT,    /* status bar: drops, failure */
	R_HEADER,          /* pane header, pane without focus */
	R_HEADER_FOCUS,    /* pane header, pane with focus */
	R_SELECTED,        /* the selected row */
	R_MARK,            /* the mark of a name on the bypass list */
	R_DIM,             /* secondary text */
	R_KEY,             /* a key in the help line */
	R_MSG_OK,
	R_MSG_ERR,
	R_PROMPT,
	R_TITLE,           /* headings in the detail view */
	R_V_HEALTHY,       /* verdicts */
	R_V_REJECT,        /* the client-rejection signatures */
	R_V_SERVER,        /* server-abort, other-alert */
	R_V_INCOMPLETE,
	R_C_BYPASS,        /* categories */
	R_C_TRUST,
	R_C_CERT,
	R_C_DNS,
	R_C_INCONCLUSIVE,
	R_C_HEALTHY,
	R_COUNT
};

/* use_color: 1 to use colours when the terminal has them. Call after initscr. */
void ui_colors_init(int use_color);
int ui_colors_on(void);
attr_t ui_attr(enum ui_role r);
enum ui_role ui_role_verdict(enum verdict v);
enum ui_role ui_role_category(enum category c);

#endif
