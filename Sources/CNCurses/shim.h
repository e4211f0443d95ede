// The wide-character curses API (cchar_t, setcchar, wadd_wch) is only declared when these are
// set before the header is included.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif

#if __has_include(<ncursesw/curses.h>)
#include <ncursesw/curses.h>
#else
#include <ncurses.h>
#endif

// Function-like macros and mutable globals do not import into Swift (or are not
// concurrency-safe there); these wrappers expose what the client needs.
static inline attr_t chatterbox_attr_normal(void) { return A_NORMAL; }
static inline attr_t chatterbox_attr_bold(void) { return A_BOLD; }
static inline attr_t chatterbox_attr_dim(void) { return A_DIM; }
static inline attr_t chatterbox_attr_reverse(void) { return A_REVERSE; }
static inline attr_t chatterbox_attr_underline(void) { return A_UNDERLINE; }
static inline WINDOW *chatterbox_stdscr(void) { return stdscr; }
static inline int chatterbox_colors(void) { return COLORS; }
static inline int chatterbox_color_pairs(void) { return COLOR_PAIRS; }
