/* curses_compat.h: the one place that knows which curses header exists.
 * pkg-config ncursesw gives the include path; Debian installs <curses.h>
 * (wide) with libncurses-dev, some systems only <ncursesw/curses.h>. */
#ifndef PI_CURSES_COMPAT_H
#define PI_CURSES_COMPAT_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif

#if defined(__has_include)
#if __has_include(<ncursesw/curses.h>)
#include <ncursesw/curses.h>
#else
#include <curses.h>
#endif
#else
#include <curses.h>
#endif

#endif
