#ifndef CHATTERBOX_TERMINAL_SUPPORT_H
#define CHATTERBOX_TERMINAL_SUPPORT_H

#include <stdint.h>

/// Columns a Unicode scalar occupies on a UTF-8 terminal (glibc's wcwidth in the C.UTF-8
/// locale, whatever the process locale): 0, 1 or 2; -1 when it is not printable.
int chatterbox_wcwidth(uint32_t scalar);

/// Creates a non-blocking pipe and installs handlers for SIGWINCH, SIGTERM, SIGHUP, SIGINT and
/// SIGQUIT that write the signal number to it as one byte. Returns the read end, or -1.
int chatterbox_signal_pipe_open(void);

/// Unblocks the handled signals for the calling thread, so that they are delivered even when
/// the process started with them blocked (threads inherit their creator's mask).
void chatterbox_signal_unblock_here(void);

/// Writes `byte` to the signal pipe (wakes the reader, e.g. to make it stop).
void chatterbox_signal_pipe_poke(uint8_t byte);

/// Restores the previous handlers and closes the pipe.
void chatterbox_signal_pipe_close(void);

/// The size of the terminal on `fd`. Returns 0 on success.
int chatterbox_terminal_size(int fd, int *rows, int *columns);

#endif
