/* How late a thread wakes from a 1 ms sleep on this machine: the floor under every server's
 * tail latency (docs/PERFORMANCE.md, "Tail latency on this machine"). Run it pinned to an idle
 * CPU:  make -C Benchmarks/loadgen wakeup-jitter && taskset -c 0 Benchmarks/loadgen/wakeup-jitter 10000
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int ascending(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 10000;
    if (count < 1) { fprintf(stderr, "usage: wakeup-jitter [SLEEPS]\n"); return 1; }
    uint64_t *late = malloc(sizeof *late * (size_t)count);
    if (!late) return 1;
    for (int i = 0; i < count; i++) {
        uint64_t before = now_ns();
        struct timespec sleep = {0, 1000000};
        nanosleep(&sleep, NULL);
        uint64_t slept = now_ns() - before;
        late[i] = slept > 1000000u ? slept - 1000000u : 0;
    }
    qsort(late, (size_t)count, sizeof *late, ascending);
    printf("%d sleeps of 1 ms, woken late by (us): p50 %.0f, p99 %.0f, p99.9 %.0f, max %.0f\n", count,
           late[count / 2] / 1e3, late[(size_t)count * 99 / 100] / 1e3, late[(size_t)count * 999 / 1000] / 1e3, late[count - 1] / 1e3);
    free(late);
    return 0;
}
