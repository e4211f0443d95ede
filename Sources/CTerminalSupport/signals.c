// Signal handlers may only call async-signal-safe functions: these write one byte to a pipe
// that the key-reader thread polls, so resize and termination arrive as ordinary input.
#include "CTerminalSupport.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t write_end = -1;
static int read_end = -1;
static const int handled[] = {SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGQUIT};
#define HANDLED_COUNT (sizeof(handled) / sizeof(handled[0]))
static struct sigaction previous[HANDLED_COUNT];

static void on_signal(int signal_number) {
    int saved = errno;
    int fd = write_end;
    if (fd >= 0) {
        uint8_t byte = (uint8_t)signal_number;
        (void)write(fd, &byte, 1);
    }
    errno = saved;
}

int chatterbox_signal_pipe_open(void) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    read_end = fds[0];
    write_end = fds[1];
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (unsigned i = 0; i < HANDLED_COUNT; i++) {
        sigaction(handled[i], &action, &previous[i]);
    }
    return read_end;
}

void chatterbox_signal_unblock_here(void) {
    sigset_t set;
    sigemptyset(&set);
    for (unsigned i = 0; i < HANDLED_COUNT; i++) sigaddset(&set, handled[i]);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void chatterbox_signal_pipe_poke(uint8_t byte) {
    int fd = write_end;
    if (fd >= 0) (void)write(fd, &byte, 1);
}

void chatterbox_signal_pipe_close(void) {
    if (read_end < 0) return;
    for (unsigned i = 0; i < HANDLED_COUNT; i++) {
        sigaction(handled[i], &previous[i], NULL);
    }
    int fd = write_end;
    write_end = -1;
    close(fd);
    close(read_end);
    read_end = -1;
}
