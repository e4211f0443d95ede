/* loadgen: an open-loop fan-out load generator for chat servers, in C (epoll + OpenSSL 3).
 *
 * N clients log in to one server over TLS (Chatterbox's length-prefixed JSON frames, or IRC
 * in one channel); S of them send broadcasts at a total rate R on a fixed schedule. Every
 * broadcast's content starts with "B<sender>-<sequence>-<intended send time, ns>-" (the
 * marker the Swift bench uses), so a receiver measures latency from the *intended* send time
 * (no coordinated omission) and counts each sender's messages to find losses.
 *
 * Each worker thread owns an epoll set and its clients; buffers are allocated per connection
 * at start, nothing per frame. Progress and the phase markers the bench samples the server at
 * ("loadgen: window start", "loadgen: drained") go to stderr, the JSON summary to stdout.
 *
 * Build: make -C Benchmarks/loadgen        Usage: loadgen --help */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"

/* ---------------------------------------------------------------- options */

enum protocol { PROTO_CHATTERBOX, PROTO_IRC };

static struct options {
    const char *host;
    const char *port;
    enum protocol protocol;
    int clients;
    int senders;
    double rate;            /* messages per second, all senders together */
    double seconds;         /* measured */
    double warmup;          /* before the measured window */
    int content_length;
    const char *ca_file;
    bool insecure;
    bool plaintext;
    const char *ciphersuites;
    int min_tls;            /* 12 or 13 */
    int threads;
    int parallel;           /* connection attempts in flight per thread */
    const char *name_prefix;
    double drain_quiet;     /* stop draining after this long without a delivery */
    double login_timeout;
    bool nice_set;
    int nice;
    bool quiet;
    bool stagger;
    const char *late_log;   /* --late-log FILE: late deliveries per 10 ms of the window */
} opt = {
    .host = "127.0.0.1", .port = NULL, .protocol = PROTO_CHATTERBOX, .clients = 100, .senders = 10,
    .rate = 1000, .seconds = 10, .warmup = 1, .content_length = 100,
    .ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
    .min_tls = 13, .threads = 1, .parallel = 128, .name_prefix = NULL, .drain_quiet = 2,
    .login_timeout = 120,
};

static void usage(FILE *to) {
    fprintf(to,
        "usage: loadgen --port PORT [options]\n"
        "  --host HOST            server address (default 127.0.0.1)\n"
        "  --port PORT[,PORT...]  server port (required); several: client i connects to the\n"
        "                         (i mod count)th, to spread clients over a cluster's nodes\n"
        "  --protocol P           chatterbox (length-prefixed JSON) or irc (default chatterbox)\n"
        "  --clients N            clients logged in (default 100)\n"
        "  --senders S            clients that send; the first S (default 10)\n"
        "  --rate R               broadcasts per second, all senders together (default 1000)\n"
        "  --seconds T            measured seconds (default 10)\n"
        "  --warmup W             seconds sent before the measured window (default 1)\n"
        "  --content-length B     bytes of message content (default 100)\n"
        "  --ca FILE              trust only the CA certificates in FILE (PEM)\n"
        "  --insecure             do not verify the server certificate\n"
        "  --plaintext            plain TCP, no TLS\n"
        "  --ciphersuites LIST    TLS 1.3 suites, OpenSSL names, preferred first\n"
        "  --tls12                allow TLS 1.2 as well (default: TLS 1.3 only)\n"
        "  --threads N            worker threads, each with its own epoll and clients (default 1)\n"
        "  --parallel N           connection attempts in flight per thread (default 128)\n"
        "  --name-prefix P        client names P0, P1, ... (default g<pid>n)\n"
        "  --drain-quiet S        after the run, stop waiting when nothing arrives for S s (default 2)\n"
        "  --login-timeout S      give up on clients not logged in after S s (default 120)\n"
        "  --nice N               nice value (a session leader sets its session's too: setsid loadgen ...)\n"
        "  --stagger              spread the senders evenly over one interval (default: they send together)\n"
        "  --late-log FILE        per 10 ms of the window (by intended send time): deliveries, those\n"
        "                         later than 5 ms, the latest (us) -- to see whether stalls recur\n"
        "  --quiet                no progress on stderr (markers still)\n"
        "Prints a JSON summary on stdout. Exit status: 0 ran, 1 usage, 2 could not run.\n");
}

static void parse_options(int argc, char **argv) {
    enum { O_HOST = 256, O_PORT, O_PROTOCOL, O_CLIENTS, O_SENDERS, O_RATE, O_SECONDS, O_WARMUP,
           O_CONTENT, O_CA, O_INSECURE, O_PLAIN, O_CIPHERS, O_TLS12, O_THREADS, O_PARALLEL,
           O_PREFIX, O_DRAIN, O_LOGIN_TIMEOUT, O_NICE, O_QUIET, O_STAGGER, O_LATE_LOG, O_HELP };
    static const struct option longs[] = {
        {"host", 1, 0, O_HOST}, {"port", 1, 0, O_PORT}, {"protocol", 1, 0, O_PROTOCOL},
        {"clients", 1, 0, O_CLIENTS}, {"senders", 1, 0, O_SENDERS}, {"rate", 1, 0, O_RATE},
        {"seconds", 1, 0, O_SECONDS}, {"duration", 1, 0, O_SECONDS}, {"warmup", 1, 0, O_WARMUP},
        {"content-length", 1, 0, O_CONTENT}, {"ca", 1, 0, O_CA}, {"insecure", 0, 0, O_INSECURE},
        {"plaintext", 0, 0, O_PLAIN}, {"ciphersuites", 1, 0, O_CIPHERS}, {"tls12", 0, 0, O_TLS12},
        {"threads", 1, 0, O_THREADS}, {"parallel", 1, 0, O_PARALLEL}, {"name-prefix", 1, 0, O_PREFIX},
        {"drain-quiet", 1, 0, O_DRAIN}, {"login-timeout", 1, 0, O_LOGIN_TIMEOUT}, {"nice", 1, 0, O_NICE}, {"quiet", 0, 0, O_QUIET}, {"stagger", 0, 0, O_STAGGER}, {"late-log", 1, 0, O_LATE_LOG},
        {"help", 0, 0, O_HELP}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case O_HOST: opt.host = optarg; break;
        case O_PORT: opt.port = optarg; break;
        case O_PROTOCOL:
            if (strcmp(optarg, "chatterbox") == 0) opt.protocol = PROTO_CHATTERBOX;
            else if (strcmp(optarg, "irc") == 0) opt.protocol = PROTO_IRC;
            else { fprintf(stderr, "loadgen: unknown protocol %s\n", optarg); exit(1); }
            break;
        case O_CLIENTS: opt.clients = atoi(optarg); break;
        case O_SENDERS: opt.senders = atoi(optarg); break;
        case O_RATE: opt.rate = atof(optarg); break;
        case O_SECONDS: opt.seconds = atof(optarg); break;
        case O_WARMUP: opt.warmup = atof(optarg); break;
        case O_CONTENT: opt.content_length = atoi(optarg); break;
        case O_CA: opt.ca_file = optarg; break;
        case O_INSECURE: opt.insecure = true; break;
        case O_PLAIN: opt.plaintext = true; break;
        case O_CIPHERS: opt.ciphersuites = optarg; break;
        case O_TLS12: opt.min_tls = 12; break;
        case O_THREADS: opt.threads = atoi(optarg); break;
        case O_PARALLEL: opt.parallel = atoi(optarg); break;
        case O_PREFIX: opt.name_prefix = optarg; break;
        case O_DRAIN: opt.drain_quiet = atof(optarg); break;
        case O_LOGIN_TIMEOUT: opt.login_timeout = atof(optarg); break;
        case O_NICE: opt.nice_set = true; opt.nice = atoi(optarg); break;
        case O_QUIET: opt.quiet = true; break;
        case O_STAGGER: opt.stagger = true; break;
        case O_LATE_LOG: opt.late_log = optarg; break;
        case 'h': case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    const char *problem = NULL;
    if (!opt.port) problem = "--port is required";
    else if (opt.clients < 1) problem = "--clients must be at least 1";
    else if (opt.senders < 1 || opt.senders > opt.clients) problem = "--senders must be 1...clients";
    else if (opt.protocol == PROTO_IRC && opt.clients < 2) problem = "IRC needs 2 clients at least (no echo)";
    else if (!(opt.rate > 0) || !(opt.seconds > 0) || opt.warmup < 0) problem = "--rate and --seconds must be positive";
    else if (opt.content_length < 40 || opt.content_length > 60000) problem = "--content-length must be 40...60000";
    else if (!opt.plaintext && !opt.ca_file && !opt.insecure) problem = "give --ca FILE, --insecure or --plaintext";
    else if (opt.threads < 1 || opt.threads > 64 || opt.threads > opt.clients) problem = "--threads must be 1...min(64, clients)";
    else if (opt.parallel < 1) problem = "--parallel must be positive";
    if (problem) { fprintf(stderr, "loadgen: %s\n", problem); usage(stderr); exit(1); }
}

/* Allocation at start only; running out of memory there ends the run. */
static void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count, size);
    if (!p) { fprintf(stderr, "loadgen: out of memory\n"); exit(2); }
    return p;
}

/* ---------------------------------------------------------------- time */

static inline uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double cpu_seconds_self(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
         + (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/* ---------------------------------------------------------------- shared run state */

enum phase { PHASE_CONNECT, PHASE_RUN, PHASE_STOP };

static struct run {
    _Atomic int phase;
    /* Set by the main thread before PHASE_RUN; read-only afterwards. */
    uint64_t start_ns, window_ns, end_ns;
    double interval_ns;                 /* between one sender's messages */
    uint64_t per_sender_total;          /* messages each sender sends */
    _Atomic uint64_t *sent;             /* [senders], written by the sender's worker */
    _Atomic int logged_in, failed_connect, failed_login;
    _Atomic int workers_past_end;
    _Atomic int workers_running;        /* workers that have seen PHASE_RUN */
} run;

/* ---------------------------------------------------------------- connections */

enum conn_state { ST_IDLE, ST_CONNECTING, ST_HANDSHAKE, ST_LOGIN, ST_READY, ST_DEAD };

#define READ_BUFFER (64 * 1024)
#define WRITE_BUFFER (256 * 1024)   /* a sender's; the others only log in and answer PINGs */
#define SMALL_WRITE_BUFFER (8 * 1024)
#define SENDER_HIGH_WATER (64 * 1024)   /* a sender with this much unsent stops making more */
#define MAX_FRAME (16u << 20)
#define MAX_IRC_LINE 65536

struct worker;

struct conn {
    int fd;
    SSL *ssl;
    enum conn_state state;
    int index;                  /* global client number */
    int sender;                 /* sender number, or -1 */
    bool took_part;             /* logged in before the run began: counted as a recipient */
    struct worker *worker;
    char name[48];
    unsigned epoll_events;
    bool read_wants_write;      /* TLS needs to write before it can read (key update) */
    uint8_t *rbuf;
    size_t rcap, rlen;
    uint8_t *wbuf;
    size_t wcap, whead, wtail;
    uint64_t next_seq;          /* sender: next message to make */
    uint64_t phase_offset_ns;   /* sender: its schedule's offset (--stagger) */
    uint32_t *received;         /* [senders]: this run's messages received from each */
    int64_t *last_seq;          /* [senders]: to count reordering and duplicates */
};

struct worker {
    int id;
    pthread_t thread;
    int epfd;
    struct conn **conns;
    int nconns;
    int next_to_connect;
    int in_flight;
    struct histogram latency;   /* microseconds, messages intended inside the window */
    uint64_t deliveries;        /* this run's messages received (any time) */
    uint64_t since_window;      /* received at or after the window's start */
    uint64_t out_of_order, duplicates;
    _Atomic uint64_t published_deliveries;
    /* --late-log: per 10 ms slot of the window, deliveries, late ones (> 5 ms), latest (us). */
    uint32_t *slot_all, *slot_late, *slot_latest;
};

#define LATE_SLOT_NS 10000000u
#define LATE_THRESHOLD_US 5000u
static size_t late_slots;

static SSL_CTX *ssl_ctx;
/* One per --port; client i connects to server_addresses[i % server_count]. */
#define MAX_SERVERS 16
static struct addrinfo *server_addresses[MAX_SERVERS];
static int server_count;
static bool host_is_ip;

static void conn_fail(struct conn *c, const char *why);

static void set_events(struct conn *c, unsigned events) {
    if (c->epoll_events == events || c->fd < 0) return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(c->worker->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->epoll_events = events;
}

/* I/O through TLS or plain TCP. >0 bytes; 0 would block (wants_write says which way); -1 gone. */
static ssize_t conn_io_read(struct conn *c, void *buf, size_t len, bool *wants_write) {
    *wants_write = false;
    if (!c->ssl) {
        ssize_t n = read(c->fd, buf, len);
        if (n > 0) return n;
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        return -1;
    }
    int n = SSL_read(c->ssl, buf, (int)len);
    if (n > 0) return n;
    int err = SSL_get_error(c->ssl, n);
    if (err == SSL_ERROR_WANT_READ) return 0;
    if (err == SSL_ERROR_WANT_WRITE) { *wants_write = true; return 0; }
    return -1;
}

static ssize_t conn_io_write(struct conn *c, const void *buf, size_t len) {
    if (!c->ssl) {
        ssize_t n = write(c->fd, buf, len);
        if (n >= 0) return n;
        if (errno == EAGAIN || errno == EINTR) return 0;
        return -1;
    }
    int n = SSL_write(c->ssl, buf, (int)len);
    if (n > 0) return n;
    int err = SSL_get_error(c->ssl, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return 0;
    return -1;
}

/* Writes what is queued; waits for EPOLLOUT if the socket is full. false if the connection died. */
static bool conn_flush(struct conn *c) {
    while (c->whead < c->wtail) {
        ssize_t n = conn_io_write(c, c->wbuf + c->whead, c->wtail - c->whead);
        if (n < 0) { conn_fail(c, "write failed"); return false; }
        if (n == 0) { set_events(c, EPOLLIN | EPOLLOUT); return true; }
        c->whead += (size_t)n;
    }
    c->whead = c->wtail = 0;
    if (!c->read_wants_write) set_events(c, EPOLLIN);
    return true;
}

/* Room for `need` more bytes at the end of the write buffer (moving unsent bytes to the front). */
static uint8_t *conn_reserve(struct conn *c, size_t need) {
    if (c->wcap - c->wtail < need && c->whead > 0) {
        memmove(c->wbuf, c->wbuf + c->whead, c->wtail - c->whead);
        c->wtail -= c->whead;
        c->whead = 0;
    }
    return c->wcap - c->wtail >= need ? c->wbuf + c->wtail : NULL;
}

static void conn_queue(struct conn *c, const void *bytes, size_t len) {
    uint8_t *at = conn_reserve(c, len);
    if (!at) { conn_fail(c, "write buffer full"); return; }
    memcpy(at, bytes, len);
    c->wtail += len;
}

/* ---------------------------------------------------------------- wire formats */

static void queue_login(struct conn *c) {
    char text[160];
    int n;
    if (opt.protocol == PROTO_CHATTERBOX) {
        n = snprintf(text + 4, sizeof text - 4, "{\"USERNAME\":\"%s\"}", c->name);
        uint32_t len = htonl((uint32_t)n);
        memcpy(text, &len, 4);
        n += 4;
    } else {
        n = snprintf(text, sizeof text, "NICK %s\r\nUSER %s 0 * :bench\r\n", c->name, c->name);
    }
    conn_queue(c, text, (size_t)n);
}

/* Appends one broadcast: content "B<sender>-<seq>-<intended ns>-" padded with 'x'. */
static bool queue_broadcast(struct conn *c, uint64_t seq, uint64_t intended) {
    size_t need = (size_t)opt.content_length + 128;
    uint8_t *at = conn_reserve(c, need);
    if (!at) return false;
    char *p = (char *)at;
    char *frame_start = p;
    if (opt.protocol == PROTO_CHATTERBOX) {
        p += 4;
        p += sprintf(p, "{\"MESSAGES\":[[\"%s\",\"ALL\",%ld,\"", c->name, (long)time(NULL));
    } else {
        p += sprintf(p, "PRIVMSG #bench :");
    }
    char *content = p;
    p += sprintf(p, "B%d-%llu-%llu-", c->sender, (unsigned long long)seq, (unsigned long long)intended);
    int pad = opt.content_length - (int)(p - content);
    if (pad > 0) { memset(p, 'x', (size_t)pad); p += pad; }
    if (opt.protocol == PROTO_CHATTERBOX) {
        memcpy(p, "\"]]}", 4);
        p += 4;
        uint32_t len = htonl((uint32_t)(p - frame_start - 4));
        memcpy(frame_start, &len, 4);
    } else {
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    c->wtail += (size_t)(p - frame_start);
    return true;
}

/* Parses "B<sender>-<seq>-<ns>-" at p (p[0] == 'B'). */
static bool parse_marker(const uint8_t *p, const uint8_t *end, uint64_t fields[3]) {
    p++;
    for (int f = 0; f < 3; f++) {
        const uint8_t *digits = p;
        uint64_t value = 0;
        while (p < end && *p >= '0' && *p <= '9') { value = value * 10 + (uint64_t)(*p - '0'); p++; }
        if (p == digits || p >= end || *p != '-') return false;
        fields[f] = value;
        p++;
    }
    return true;
}

static void record_delivery(struct conn *c, const uint64_t fields[3], uint64_t now) {
    uint64_t sender = fields[0], seq = fields[1], intended = fields[2];
    if (sender >= (uint64_t)opt.senders || intended < run.start_ns || intended > run.end_ns + (uint64_t)run.interval_ns) return;
    struct worker *w = c->worker;
    w->deliveries++;
    c->received[sender]++;
    if ((int64_t)seq <= c->last_seq[sender]) {
        if ((int64_t)seq == c->last_seq[sender]) w->duplicates++; else w->out_of_order++;
    } else {
        c->last_seq[sender] = (int64_t)seq;
    }
    if (now >= run.window_ns) w->since_window++;
    if (intended >= run.window_ns && intended < run.end_ns) {
        uint64_t latency = now > intended ? (now - intended) / 1000 : 0;
        hist_record(&w->latency, latency);
        size_t slot = (size_t)((intended - run.window_ns) / LATE_SLOT_NS);
        if (w->slot_all && slot < late_slots) {
            w->slot_all[slot]++;
            if (latency > LATE_THRESHOLD_US) w->slot_late[slot]++;
            if (latency > w->slot_latest[slot]) w->slot_latest[slot] = (uint32_t)(latency > UINT32_MAX ? UINT32_MAX : latency);
        }
    }
}

/* Every broadcast in one Chatterbox frame: a content string opens with `"B<digit>`. */
static void scan_chatterbox_deliveries(struct conn *c, const uint8_t *p, size_t len, uint64_t now) {
    const uint8_t *end = p + len;
    while (p < end) {
        const uint8_t *quote = memchr(p, '"', (size_t)(end - p));
        if (!quote || end - quote < 3) return;
        if (quote[1] == 'B' && quote[2] >= '0' && quote[2] <= '9') {
            uint64_t fields[3];
            if (parse_marker(quote + 1, end, fields)) {
                record_delivery(c, fields, now);
                /* Skip the content: it ends at the next quote (it holds no escapes). */
                const uint8_t *close = memchr(quote + 1, '"', (size_t)(end - quote - 1));
                if (!close) return;
                p = close + 1;
                continue;
            }
        }
        p = quote + 1;
    }
}

static void login_succeeded(struct conn *c) {
    /* The recipients are fixed when the run begins: a later login would skew the counts. */
    if (atomic_load(&run.phase) != PHASE_CONNECT) { conn_fail(c, "logged in too late"); return; }
    c->state = ST_READY;
    c->took_part = true;
    c->worker->in_flight--;
    atomic_fetch_add(&run.logged_in, 1);
}

static void handle_chatterbox_frame(struct conn *c, const uint8_t *p, size_t len, uint64_t now) {
    if (c->state == ST_READY) { scan_chatterbox_deliveries(c, p, len, now); return; }
    static const char key[] = "\"USERNAME_ACCEPTED\"";
    const uint8_t *at = memmem(p, len, key, sizeof key - 1);
    if (!at) return;
    const uint8_t *end = p + len;
    at += sizeof key - 1;
    while (at < end && (*at == ' ' || *at == ':' || *at == '\t' || *at == '\n' || *at == '\r')) at++;
    if (at < end && *at == 't') login_succeeded(c);
    else conn_fail(c, "login refused");
}

static void handle_irc_line(struct conn *c, const uint8_t *line, size_t len, uint64_t now) {
    if (len >= 4 && memcmp(line, "PING", 4) == 0) {
        char reply[600];
        size_t rest = len - 4 < 512 ? len - 4 : 512;
        memcpy(reply, "PONG", 4);
        memcpy(reply + 4, line + 4, rest);
        memcpy(reply + 4 + rest, "\r\n", 2);
        conn_queue(c, reply, rest + 6);
        return;
    }
    if (c->state == ST_READY) {
        /* ":prefix PRIVMSG #bench :B..." — the trailing parameter follows the first " :". */
        if (len == 0 || line[0] != ':') return;
        const uint8_t *end = line + len;
        const uint8_t *trailing = memmem(line + 1, len - 1, " :", 2);
        if (!trailing || end - trailing < 4 || trailing[2] != 'B') return;
        uint64_t fields[3];
        if (parse_marker(trailing + 2, end, fields)) record_delivery(c, fields, now);
        return;
    }
    if (len >= 5 && memcmp(line, "ERROR", 5) == 0) { conn_fail(c, "server said ERROR"); return; }
    if (len == 0 || line[0] != ':') return;
    /* ":server NUMERIC target ...": the numeric is the second word. */
    const uint8_t *space = memchr(line, ' ', len);
    if (!space || line + len - space < 5 || space[4] != ' ') return;
    if (memcmp(space + 1, "001", 3) == 0) conn_queue(c, "JOIN #bench\r\n", 13);
    else if (memcmp(space + 1, "366", 3) == 0) login_succeeded(c);
    else if (memcmp(space + 1, "433", 3) == 0) conn_fail(c, "nickname in use");
}

/* Consumes complete frames or lines from the read buffer. false if the connection died. */
static bool process_input(struct conn *c, uint64_t now) {
    size_t pos = 0;
    if (opt.protocol == PROTO_CHATTERBOX) {
        while (c->rlen - pos >= 4) {
            uint32_t len;
            memcpy(&len, c->rbuf + pos, 4);
            len = ntohl(len);
            if (len > MAX_FRAME) { conn_fail(c, "frame too large"); return false; }
            if (c->rlen - pos - 4 < len) {
                if ((size_t)len + 4 > c->rcap) {   /* a big login reply: grow once */
                    size_t cap = c->rcap;
                    while (cap < (size_t)len + 4) cap *= 2;
                    uint8_t *bigger = realloc(c->rbuf, cap);
                    if (!bigger) { conn_fail(c, "out of memory"); return false; }
                    c->rbuf = bigger;
                    c->rcap = cap;
                }
                break;
            }
            handle_chatterbox_frame(c, c->rbuf + pos + 4, len, now);
            if (c->state == ST_DEAD) return false;
            pos += 4 + (size_t)len;
        }
    } else {
        while (pos < c->rlen) {
            uint8_t *nl = memchr(c->rbuf + pos, '\n', c->rlen - pos);
            if (!nl) {
                if (c->rlen - pos > MAX_IRC_LINE) { conn_fail(c, "IRC line too long"); return false; }
                break;
            }
            size_t len = (size_t)(nl - (c->rbuf + pos));
            if (len > 0 && c->rbuf[pos + len - 1] == '\r') len--;
            handle_irc_line(c, c->rbuf + pos, len, now);
            if (c->state == ST_DEAD) return false;
            pos = (size_t)(nl - c->rbuf) + 1;
        }
    }
    if (pos > 0) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
    return true;
}

static void conn_read(struct conn *c) {
    for (;;) {
        if (c->rlen == c->rcap) { conn_fail(c, "read buffer full"); return; }
        bool wants_write;
        size_t space = c->rcap - c->rlen;
        ssize_t n = conn_io_read(c, c->rbuf + c->rlen, space, &wants_write);
        if (n < 0) { conn_fail(c, c->state == ST_READY ? "connection closed" : "closed before login"); return; }
        if (n == 0) {
            c->read_wants_write = wants_write;
            if (wants_write) set_events(c, EPOLLIN | EPOLLOUT);
            break;
        }
        c->rlen += (size_t)n;
        if (!process_input(c, now_ns())) return;
        /* Nothing buffered: epoll (level-triggered) says when more comes, which saves the
         * read(2) that would only return EAGAIN. */
        if (c->ssl ? !SSL_has_pending(c->ssl) : (size_t)n < space) break;
    }
    if (c->wtail > c->whead) conn_flush(c);
}

/* ---------------------------------------------------------------- connecting */

static void conn_fail(struct conn *c, const char *why) {
    if (c->state == ST_DEAD) return;
    bool before_login = c->state != ST_READY;
    if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE) atomic_fetch_add(&run.failed_connect, 1);
    else if (c->state == ST_LOGIN) atomic_fetch_add(&run.failed_login, 1);
    if (before_login && c->state != ST_IDLE) c->worker->in_flight--;
    static _Atomic int reported;
    int nth = atomic_fetch_add(&reported, 1);
    if (nth == 10) fprintf(stderr, "loadgen: (further connection failures not shown)\n");
    if (nth < 10) {
        unsigned long err = ERR_peek_last_error();
        char detail[200] = "";
        if (err) ERR_error_string_n(err, detail, sizeof detail);
        fprintf(stderr, "loadgen: %s: %s%s%s\n", c->name, why, err ? ": " : "", detail);
        ERR_clear_error();
    }
    c->state = ST_DEAD;
    if (c->fd >= 0) {
        epoll_ctl(c->worker->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->ssl) { SSL_free(c->ssl); c->ssl = NULL; }
}

static void start_connect(struct conn *c) {
    const struct addrinfo *server_address = server_addresses[c->index % server_count];
    c->fd = socket(server_address->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->state = ST_CONNECTING;
    c->worker->in_flight++;
    if (c->fd < 0) { conn_fail(c, "socket"); return; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(c->fd, server_address->ai_addr, server_address->ai_addrlen);
    if (rc < 0 && errno != EINPROGRESS) { conn_fail(c, strerror(errno)); return; }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(c->worker->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    c->epoll_events = EPOLLOUT;
}

static void start_login(struct conn *c) {
    c->state = ST_LOGIN;
    queue_login(c);
    conn_flush(c);
}

static void continue_handshake(struct conn *c) {
    int rc = SSL_connect(c->ssl);
    if (rc == 1) {
        set_events(c, EPOLLIN);
        start_login(c);
        return;
    }
    int err = SSL_get_error(c->ssl, rc);
    if (err == SSL_ERROR_WANT_READ) set_events(c, EPOLLIN);
    else if (err == SSL_ERROR_WANT_WRITE) set_events(c, EPOLLIN | EPOLLOUT);
    else conn_fail(c, "TLS handshake failed");
}

static void connected(struct conn *c) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error) { conn_fail(c, strerror(error)); return; }
    if (opt.plaintext) {
        set_events(c, EPOLLIN);
        start_login(c);
        return;
    }
    c->ssl = SSL_new(ssl_ctx);
    SSL_set_fd(c->ssl, c->fd);
    if (!host_is_ip) SSL_set_tlsext_host_name(c->ssl, opt.host);
    if (!opt.insecure) {
        X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
        if (host_is_ip) X509_VERIFY_PARAM_set1_ip_asc(param, opt.host);
        else X509_VERIFY_PARAM_set1_host(param, opt.host, 0);
    }
    c->state = ST_HANDSHAKE;
    continue_handshake(c);
}

static void on_event(struct conn *c, unsigned events) {
    switch (c->state) {
    case ST_CONNECTING: connected(c); return;
    case ST_HANDSHAKE: continue_handshake(c); return;
    case ST_LOGIN: case ST_READY:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn_read(c);
        else if (c->read_wants_write) conn_read(c);
        if (c->state != ST_DEAD && (events & EPOLLOUT)) conn_flush(c);
        return;
    default: return;
    }
}

/* ---------------------------------------------------------------- the worker loop */

/* Queues every message of sender `c` that is due by `now`; returns when the next one is. */
static uint64_t send_due(struct conn *c, uint64_t now) {
    _Atomic uint64_t *sent = &run.sent[c->sender];
    uint64_t base = run.start_ns + c->phase_offset_ns;
    if (c->next_seq >= run.per_sender_total) return UINT64_MAX;
    if (now >= base) {
        uint64_t due = (uint64_t)((double)(now - base) / run.interval_ns) + 1;
        if (due > run.per_sender_total) due = run.per_sender_total;
        uint64_t made = 0;
        /* The server pushes back: messages wait (their latency grows from their intended time). */
        while (c->next_seq < due && c->wtail - c->whead < SENDER_HIGH_WATER) {
            uint64_t intended = base + (uint64_t)((double)c->next_seq * run.interval_ns);
            if (!queue_broadcast(c, c->next_seq, intended)) break;
            c->next_seq++;
            made++;
        }
        if (made) {
            atomic_store_explicit(sent, c->next_seq, memory_order_relaxed);
            conn_flush(c);
        }
        if (c->next_seq < due) return now + 100000;   /* backlog: look again in 0.1 ms */
        if (c->next_seq >= run.per_sender_total) return UINT64_MAX;
    }
    return base + (uint64_t)((double)c->next_seq * run.interval_ns);
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct epoll_event events[256];
    bool past_end = false, running = false;
    for (;;) {
        int phase = atomic_load(&run.phase);
        if (phase == PHASE_STOP) break;
        if (phase == PHASE_RUN && !running) { running = true; atomic_fetch_add(&run.workers_running, 1); }
        uint64_t now = now_ns();
        /* Connect the next clients, at most `parallel` in flight. */
        while (w->next_to_connect < w->nconns && w->in_flight < opt.parallel)
            start_connect(w->conns[w->next_to_connect++]);
        uint64_t wake = now + 10000000;   /* 10 ms */
        if (phase == PHASE_RUN) {
            for (int i = 0; i < w->nconns; i++) {
                struct conn *c = w->conns[i];
                if (c->sender < 0 || c->state != ST_READY) continue;
                uint64_t next = send_due(c, now);
                if (next < wake) wake = next;
            }
            if (!past_end && now >= run.end_ns) { past_end = true; atomic_fetch_add(&run.workers_past_end, 1); }
            if (!past_end && run.end_ns < wake) wake = run.end_ns;
        }
        struct timespec timeout = {0, 0};
        if (wake > now) { timeout.tv_sec = (time_t)((wake - now) / 1000000000u); timeout.tv_nsec = (long)((wake - now) % 1000000000u); }
        int n = epoll_pwait2(w->epfd, events, 256, &timeout, NULL);
        for (int i = 0; i < n; i++) on_event(events[i].data.ptr, events[i].events);
        atomic_store_explicit(&w->published_deliveries, w->deliveries, memory_order_relaxed);
    }
    return NULL;
}

/* ---------------------------------------------------------------- setup and report */

static void setup_tls(void) {
    if (opt.plaintext) return;
    ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!ssl_ctx) { ERR_print_errors_fp(stderr); exit(2); }
    SSL_CTX_set_min_proto_version(ssl_ctx, opt.min_tls == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    if (SSL_CTX_set_ciphersuites(ssl_ctx, opt.ciphersuites) != 1) {
        fprintf(stderr, "loadgen: bad --ciphersuites %s\n", opt.ciphersuites);
        exit(1);
    }
    SSL_CTX_set_cipher_list(ssl_ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1");
    /* Partial writes from a buffer that moves (we compact it); read ahead: one read(2) for many records. */
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ssl_ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ssl_ctx, 64 * 1024);
    SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
    if (opt.insecure) {
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
    } else {
        if (SSL_CTX_load_verify_locations(ssl_ctx, opt.ca_file, NULL) != 1) {
            fprintf(stderr, "loadgen: cannot load CA file %s\n", opt.ca_file);
            ERR_print_errors_fp(stderr);
            exit(2);
        }
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
    }
}

static void resolve(void) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char ports[256];
    snprintf(ports, sizeof ports, "%s", opt.port);
    for (char *saved = NULL, *port = strtok_r(ports, ",", &saved); port; port = strtok_r(NULL, ",", &saved)) {
        if (server_count == MAX_SERVERS) { fprintf(stderr, "loadgen: at most %d ports\n", MAX_SERVERS); exit(1); }
        int rc = getaddrinfo(opt.host, port, &hints, &server_addresses[server_count]);
        if (rc != 0) { fprintf(stderr, "loadgen: %s port %s: %s\n", opt.host, port, gai_strerror(rc)); exit(2); }
        server_count++;
    }
    if (server_count == 0) { fprintf(stderr, "loadgen: no port\n"); exit(1); }
    struct in6_addr scratch;
    host_is_ip = inet_pton(AF_INET, opt.host, &scratch) == 1 || inet_pton(AF_INET6, opt.host, &scratch) == 1;
}

/* --late-log: one line per 10 ms slot of the window that had a late delivery. */
static void write_late_log(struct worker *workers) {
    FILE *f = fopen(opt.late_log, "w");
    if (!f) { fprintf(stderr, "loadgen: cannot write %s\n", opt.late_log); return; }
    fprintf(f, "# slot start ms (by intended send time), deliveries, later than %u ms, latest us\n", LATE_THRESHOLD_US / 1000);
    for (size_t slot = 0; slot < late_slots; slot++) {
        uint64_t all = 0, late = 0, latest = 0;
        for (int t = 0; t < opt.threads; t++) {
            all += workers[t].slot_all[slot];
            late += workers[t].slot_late[slot];
            if (workers[t].slot_latest[slot] > latest) latest = workers[t].slot_latest[slot];
        }
        if (late) fprintf(f, "%zu %llu %llu %llu\n", slot * (LATE_SLOT_NS / 1000000u), (unsigned long long)all, (unsigned long long)late, (unsigned long long)latest);
    }
    fclose(f);
}

static struct worker *make_workers(struct conn **all) {
    struct worker *workers = xcalloc((size_t)opt.threads, sizeof *workers);
    const char *prefix = opt.name_prefix;
    char generated[32];
    if (!prefix) { snprintf(generated, sizeof generated, "g%dn", (int)(getpid() % 100000)); prefix = generated; }
    for (int t = 0; t < opt.threads; t++) {
        workers[t].id = t;
        workers[t].epfd = epoll_create1(EPOLL_CLOEXEC);
        workers[t].conns = xcalloc((size_t)opt.clients / (size_t)opt.threads + 1, sizeof(struct conn *));
        if (opt.late_log) {
            late_slots = (size_t)(opt.seconds * 1e9 / LATE_SLOT_NS) + 1;
            workers[t].slot_all = xcalloc(late_slots, sizeof(uint32_t));
            workers[t].slot_late = xcalloc(late_slots, sizeof(uint32_t));
            workers[t].slot_latest = xcalloc(late_slots, sizeof(uint32_t));
        }
    }
    for (int i = 0; i < opt.clients; i++) {
        struct conn *c = xcalloc(1, sizeof *c);
        struct worker *w = &workers[i % opt.threads];   /* senders spread over the workers too */
        c->fd = -1;
        c->index = i;
        c->sender = i < opt.senders ? i : -1;
        c->worker = w;
        snprintf(c->name, sizeof c->name, "%s%d", prefix, i);
        c->rcap = READ_BUFFER;
        c->rbuf = malloc(READ_BUFFER);
        c->wcap = c->sender >= 0 ? WRITE_BUFFER : SMALL_WRITE_BUFFER;
        c->wbuf = malloc(c->wcap);
        c->received = calloc((size_t)opt.senders, sizeof *c->received);
        c->last_seq = malloc((size_t)opt.senders * sizeof *c->last_seq);
        for (int s = 0; s < opt.senders; s++) c->last_seq[s] = -1;
        if (!c->rbuf || !c->wbuf || !c->received || !c->last_seq) { fprintf(stderr, "loadgen: out of memory\n"); exit(2); }
        w->conns[w->nconns++] = c;
        all[i] = c;
    }
    return workers;
}

static uint64_t total_deliveries(struct worker *workers) {
    uint64_t total = 0;
    for (int t = 0; t < opt.threads; t++) total += atomic_load_explicit(&workers[t].published_deliveries, memory_order_relaxed);
    return total;
}

static void sleep_until(uint64_t deadline) {
    struct timespec t = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {}
}

/* A nice value alone does not order processes of different sessions: with autogroups
 * (sched_autogroup_enabled, the default of most distributions) each session shares one CPU
 * weight, whatever its processes' nice values. A session leader (`setsid loadgen ...`) sets
 * its session's nice value too; under `chatterbox bench --high-priority` the bench has raised
 * its session already. */
static void set_priority(int nice) {
    if (setpriority(PRIO_PROCESS, 0, nice) != 0) {
        fprintf(stderr, "loadgen: --nice %d: %s\n", nice, strerror(errno));
        exit(2);
    }
    if (getsid(0) != getpid() || access("/proc/self/autogroup", F_OK) != 0) return;
    FILE *autogroup = fopen("/proc/self/autogroup", "w");
    bool written = autogroup && fprintf(autogroup, "%d", nice) > 0;
    if (autogroup && fclose(autogroup) != 0) written = false;
    if (!written) fprintf(stderr, "loadgen: --nice: cannot set the session's nice value (%s)\n", strerror(errno));
}

int main(int argc, char **argv) {
    parse_options(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    if (opt.nice_set) set_priority(opt.nice);
    resolve();
    setup_tls();
    run.sent = xcalloc((size_t)opt.senders, sizeof *run.sent);
    struct conn **all = xcalloc((size_t)opt.clients, sizeof *all);
    struct worker *workers = make_workers(all);

    /* Connect and log in everyone. */
    uint64_t connect_began = now_ns();
    atomic_store(&run.phase, PHASE_CONNECT);
    for (int t = 0; t < opt.threads; t++) pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]);
    uint64_t login_deadline = connect_began + (uint64_t)(opt.login_timeout * 1e9);
    for (;;) {
        int done = atomic_load(&run.logged_in) + atomic_load(&run.failed_connect) + atomic_load(&run.failed_login);
        if (done >= opt.clients || now_ns() > login_deadline) break;
        usleep(2000);
    }
    bool can_run = atomic_load(&run.logged_in) >= 2;

    /* The schedule: every sender's message i is intended at start + i * interval, as in the
     * Swift generator (the senders' messages arrive together); --stagger spreads the senders
     * evenly over one interval instead (each message fanned out alone: more writes and
     * wake-ups for the server and the generator at the same rate). */
    double per_sender_rate = opt.rate / opt.senders;
    run.interval_ns = 1e9 / per_sender_rate;
    run.start_ns = now_ns() + 50000000;
    run.window_ns = run.start_ns + (uint64_t)(opt.warmup * 1e9);
    run.end_ns = run.window_ns + (uint64_t)(opt.seconds * 1e9);
    run.per_sender_total = can_run ? (uint64_t)((double)(run.end_ns - run.start_ns) / run.interval_ns) : 0;
    if (opt.stagger)
        for (int s = 0; s < opt.senders; s++) all[s]->phase_offset_ns = (uint64_t)(run.interval_ns * s / opt.senders);
    atomic_store(&run.phase, PHASE_RUN);
    /* Once every worker has seen the run begin, no login can complete any more: the count is final. */
    while (atomic_load(&run.workers_running) < opt.threads) usleep(500);
    int logged_in = atomic_load(&run.logged_in);
    double login_seconds = (double)(now_ns() - connect_began) / 1e9;
    if (!opt.quiet) fprintf(stderr, "loadgen: %d of %d clients logged in in %.2f s\n", logged_in, opt.clients, login_seconds);

    double cpu_at_window = 0, cpu_at_end = 0;
    uint64_t drained_at = now_ns();
    if (can_run) {
        sleep_until(run.window_ns);
        cpu_at_window = cpu_seconds_self();
        fprintf(stderr, "loadgen: window start\n");
        uint64_t last = run.window_ns, last_deliveries = total_deliveries(workers);
        while (now_ns() < run.end_ns) {
            uint64_t next = last + 1000000000u;
            if (next > run.end_ns) next = run.end_ns;
            sleep_until(next);
            uint64_t now = now_ns(), deliveries = total_deliveries(workers);
            uint64_t sent = 0;
            for (int s = 0; s < opt.senders; s++) sent += atomic_load_explicit(&run.sent[s], memory_order_relaxed);
            if (!opt.quiet && next < run.end_ns)
                fprintf(stderr, "  t=%4.1fs sent=%llu deliveries=%llu (%.0f/s) loadgen CPU %.0f%%\n",
                        (double)(now - run.window_ns) / 1e9, (unsigned long long)sent, (unsigned long long)deliveries,
                        (double)(deliveries - last_deliveries) / ((double)(now - last) / 1e9),
                        100 * (cpu_seconds_self() - cpu_at_window) / ((double)(now - run.window_ns) / 1e9));
            last = now;
            last_deliveries = deliveries;
        }
        cpu_at_end = cpu_seconds_self();
        fprintf(stderr, "loadgen: window end\n");

        /* Drain: everything expected arrives, or nothing more for --drain-quiet seconds.
         * Every recipient gets every message (IRC: but its own). */
        while (atomic_load(&run.workers_past_end) < opt.threads) usleep(1000);
        uint64_t sent_total = 0;
        for (int s = 0; s < opt.senders; s++) sent_total += atomic_load(&run.sent[s]);
        uint64_t expected = (uint64_t)logged_in * sent_total - (opt.protocol == PROTO_IRC ? sent_total : 0);
        uint64_t previous = total_deliveries(workers), changed = now_ns();
        while (previous < expected && now_ns() - changed < (uint64_t)(opt.drain_quiet * 1e9)) {
            usleep(5000);
            uint64_t d = total_deliveries(workers);
            if (d != previous) { previous = d; changed = now_ns(); }
        }
        drained_at = now_ns();
        fprintf(stderr, "loadgen: drained\n");
    }
    atomic_store(&run.phase, PHASE_STOP);
    for (int t = 0; t < opt.threads; t++) pthread_join(workers[t].thread, NULL);

    /* Merge and report. */
    struct histogram *latency = xcalloc(1, sizeof *latency);
    uint64_t deliveries = 0, since_window = 0, out_of_order = 0, duplicates = 0;
    for (int t = 0; t < opt.threads; t++) {
        hist_add(latency, &workers[t].latency);
        deliveries += workers[t].deliveries;
        since_window += workers[t].since_window;
        out_of_order += workers[t].out_of_order;
        duplicates += workers[t].duplicates;
    }
    if (opt.late_log) write_late_log(workers);
    /* Lost: per recipient and sender, messages sent that never arrived (a client the server
     * dropped during the run loses everything it did not get). */
    uint64_t sent_total = 0, expected = 0, received = 0;
    int dropped = 0;
    for (int s = 0; s < opt.senders; s++) sent_total += run.sent[s];
    for (int i = 0; i < opt.clients; i++) {
        struct conn *c = all[i];
        if (!c->took_part) continue;
        if (c->state == ST_DEAD) dropped++;
        for (int s = 0; s < opt.senders; s++) {
            if (opt.protocol == PROTO_IRC && s == c->sender) continue;
            expected += run.sent[s];
            received += c->received[s] < run.sent[s] ? c->received[s] : run.sent[s];
        }
    }

    const char *cipher = "none", *version = "none";
    for (int i = 0; i < opt.clients; i++) {
        if (all[i]->ssl && all[i]->state == ST_READY) {
            cipher = SSL_get_cipher_name(all[i]->ssl);
            version = SSL_get_version(all[i]->ssl);
            break;
        }
    }
    double ms = 1000.0;
    printf("{\n");
    printf("  \"protocol\": \"%s\",\n", opt.protocol == PROTO_IRC ? "irc" : "chatterbox");
    printf("  \"clients\": %d,\n  \"senders\": %d,\n  \"threads\": %d,\n", opt.clients, opt.senders, opt.threads);
    printf("  \"clients_logged_in\": %d,\n  \"connect_failures\": %d,\n  \"login_failures\": %d,\n  \"clients_dropped\": %d,\n",
           logged_in, atomic_load(&run.failed_connect), opt.clients - logged_in - atomic_load(&run.failed_connect), dropped);
    printf("  \"login_seconds\": %.3f,\n", login_seconds);
    printf("  \"offered_messages_per_second\": %.1f,\n  \"seconds\": %.3f,\n  \"warmup_seconds\": %.3f,\n", opt.rate, opt.seconds, opt.warmup);
    printf("  \"content_length\": %d,\n", opt.content_length);
    printf("  \"messages_sent\": %llu,\n", (unsigned long long)sent_total);
    printf("  \"expected_deliveries\": %llu,\n", (unsigned long long)expected);
    printf("  \"deliveries\": %llu,\n", (unsigned long long)deliveries);
    printf("  \"measured_deliveries\": %llu,\n", (unsigned long long)latency->total);
    printf("  \"deliveries_per_second\": %.0f,\n", (double)latency->total / opt.seconds);
    printf("  \"deliveries_since_window_start\": %llu,\n", (unsigned long long)since_window);
    printf("  \"lost\": %lld,\n", (long long)(expected - received));
    printf("  \"out_of_order\": %llu,\n  \"duplicates\": %llu,\n", (unsigned long long)out_of_order, (unsigned long long)duplicates);
    printf("  \"latency_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f},\n",
           hist_percentile(latency, 50) / ms, hist_percentile(latency, 99) / ms,
           hist_percentile(latency, 99.9) / ms, latency->max / ms);
    printf("  \"drain_seconds\": %.3f,\n", can_run ? (double)(drained_at - run.end_ns) / 1e9 : 0.0);
    printf("  \"generator_cpu_seconds_in_window\": %.3f,\n", cpu_at_end - cpu_at_window);
    printf("  \"tls\": \"%s\",\n  \"cipher\": \"%s\"\n", opt.plaintext ? "none" : version, opt.plaintext ? "none" : cipher);
    printf("}\n");
    fflush(stdout);

    for (int i = 0; i < opt.clients; i++) {
        if (all[i]->fd >= 0) close(all[i]->fd);
    }
    return can_run ? 0 : 2;
}
