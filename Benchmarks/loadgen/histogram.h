/* A log-linear latency histogram in the manner of HdrHistogram: values below 2048 are
 * counted exactly, larger ones in 1024 sub-buckets per power of two (0.1% resolution).
 * Fixed size, no allocation while recording. Values are microseconds here. */
#ifndef LOADGEN_HISTOGRAM_H
#define LOADGEN_HISTOGRAM_H

#include <stdint.h>
#include <string.h>

#define HIST_SUB_BITS 10
#define HIST_SUB (1u << HIST_SUB_BITS)            /* 1024 */
#define HIST_EXACT (2u * HIST_SUB)                 /* values below this are exact */
#define HIST_MAGNITUDES 44                         /* up to 2^54 */
#define HIST_BUCKETS (HIST_EXACT + HIST_MAGNITUDES * HIST_SUB)

struct histogram {
    uint64_t total;
    uint64_t max;
    uint64_t counts[HIST_BUCKETS];
};

static inline unsigned hist_index(uint64_t value) {
    if (value < HIST_EXACT) return (unsigned)value;
    unsigned shift = (unsigned)(63 - __builtin_clzll(value)) - HIST_SUB_BITS; /* >= 1 */
    if (shift > HIST_MAGNITUDES) return HIST_BUCKETS - 1;
    return HIST_EXACT + (shift - 1) * HIST_SUB + (unsigned)((value >> shift) - HIST_SUB);
}

/* The largest value that lands in bucket `index` (what HdrHistogram reports). */
static inline uint64_t hist_highest_in(unsigned index) {
    if (index < HIST_EXACT) return index;
    unsigned shift = (index - HIST_EXACT) / HIST_SUB + 1;
    uint64_t mantissa = HIST_SUB + (index - HIST_EXACT) % HIST_SUB;
    return ((mantissa + 1) << shift) - 1;
}

static inline void hist_record(struct histogram *h, uint64_t value) {
    h->counts[hist_index(value)]++;
    h->total++;
    if (value > h->max) h->max = value;
}

static inline void hist_reset(struct histogram *h) { memset(h, 0, sizeof *h); }

static inline void hist_add(struct histogram *into, const struct histogram *from) {
    for (unsigned i = 0; i < HIST_BUCKETS; i++) into->counts[i] += from->counts[i];
    into->total += from->total;
    if (from->max > into->max) into->max = from->max;
}

/* The smallest value v such that at least `percentile`% of the values are <= v. */
static inline uint64_t hist_percentile(const struct histogram *h, double percentile) {
    if (h->total == 0) return 0;
    uint64_t wanted = (uint64_t)(percentile / 100.0 * (double)h->total + 0.5);
    if (wanted < 1) wanted = 1;
    if (wanted > h->total) wanted = h->total;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= wanted) {
            uint64_t value = hist_highest_in(i);
            return value < h->max ? value : h->max;
        }
    }
    return h->max;
}

#endif
