/* colors.c: the role -> attribute table (see colors.h; htop's CRT.c habit). */
#include "ui/colors.h"

static attr_t roles[R_COUNT];
static int color_on;

struct role_def {
	short fg, bg;   /* -1: the terminal default */
	attr_t extra;   /* added to the colour pair */
	attr_t mono;    /* used without colour */
};

static const struct role_def defs[R_COUNT] = {
	[R_NORMAL] = { -1, -1, A_NORMAL, A_NORMAL },
	[R_STATUS] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
	[R_STATUS_ALERT] = { COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD },
	[R_HEADER] = { COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_UNDERLINE },
	[R_HEADER_FOCUS] = { COLOR_BLACK, COLOR_GREEN, A_BOLD, A_REVERSE | A_BOLD },
	[R_SELECTED] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
	[R_MARK] = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
	[R_DIM] = { -1, -1, A_DIM, A_DIM },
	[R_KEY] = { COLOR_CYAN, -1, A_BOLD, A_BOLD },
	[R_MSG_OK] = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
	[R_MSG_ERR] = { COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[R_PROMPT] = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
	[R_TITLE] = { COLOR_CYAN, -1, A_BOLD, A_BOLD },
	[R_V_HEALTHY] = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
	[R_V_REJECT] = { COLOR_RED, -1, A_BOLD, A_BOLD },
	[R_V_SERVER] = { COLOR_YELLOW, -1, A_NORMAL, A_UNDERLINE },
	[R_V_INCOMPLETE] = { -1, -1, A_DIM, A_DIM },
	[R_C_BYPASS] = { COLOR_RED, -1, A_BOLD, A_BOLD },
	[R_C_TRUST] = { COLOR_MAGENTA, -1, A_BOLD, A_BOLD },
	[R_C_CERT] = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
	[R_C_DNS] = { COLOR_BLUE, -1, A_BOLD, A_UNDERLINE },
	[R_C_INCONCLUSIVE] = { COLOR_YELLOW, -1, A_NORMAL, A_NORMAL },
	[R_C_HEALTHY] = { COLOR_GREEN, -1, A_NORMAL, A_DIM },
};

void ui_colors_init(int use_color)
{
	color_on = use_color && has_colors() && start_color() == OK;
	if (color_on)
		use_default_colors();
	for (int r = 0; r < R_COUNT; r++) {
		if (!color_on) {
			roles[r] = defs[r].mono;
			continue;
		}
		if (defs[r].fg == -1 && defs[r].bg == -1) {
			roles[r] = defs[r].extra;
			continue;
		}
		if (init_pair((short)(r + 1), defs[r].fg, defs[r].bg) == OK)
			roles[r] = COLOR_PAIR(r + 1) | defs[r].extra;
		else
			roles[r] = defs[r].mono;
	}
}

int ui_colors_on(void)
{
	return color_on;
}

attr_t ui_attr(enum ui_role r)
{
	return (r >= 0 && r < R_COUNT) ? roles[r] : A_NORMAL;
}

enum ui_role ui_role_verdict(enum verdict v)
{
	if (v == V_HEALTHY)
		return R_V_HEALTHY;
	if (verdict_is_rejection(v))
		return R_V_REJECT;
	if (v == V_SERVER_ABORT || v == V_OTHER_ALERT)
		return R_V_SERVER;
	return R_V_INCOMPLETE;
}

enum ui_role ui_role_category(enum category c)
{
	switch (c) {
	case CAT_BYPASS:
		return R_C_BYPASS;
	case CAT_TRUST_STORE:
		return R_C_TRUST;
	case CAT_CERTIFICATE:
		return R_C_CERT;
	case CAT_DNS_BLOCKED:
		return R_C_DNS;
	case CAT_HEALTHY:
		return R_C_HEALTHY;
	default:
		return R_C_INCONCLUSIVE;
	}
}
