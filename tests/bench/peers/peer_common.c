/* SPDX-License-Identifier: Apache-2.0 */
/* Shared pieces of the peer benchmarks; see peer_common.h for the design. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peer_common.h"

/* ---- options ---- */

static const size_t default_sizes[] = {64, 1024, 65536, 1u << 20, 8u << 20};

static void usage(const char *prog, const char *const *variants, int rc)
{
    FILE *f = rc ? stderr : stdout;
    fprintf(f,
            "usage: %s [options]\n"
            "  --quick            short runs (about 0.3 s each)\n"
            "  --tests LIST       thr,lat,fanout (default: all)\n"
            "  --sizes LIST       throughput sizes, k/m suffixes (default 64,1k,64k,1m,8m)\n"
            "  --variants LIST    only these variants (default: all; --list shows them)\n"
            "  --secs S           sending time per throughput run (default 1, quick 0.3)\n"
            "  --count N          at most N messages per throughput run\n"
            "  --max-mb M         at most M MiB of payload per run (default 4096, quick 1024)\n"
            "  --lat-samples N    ping-pong samples (default 20000, quick 5000)\n"
            "  --lat-secs S       time cap of the ping-pong sampling (default 2, quick 0.5)\n"
            "  --lat-size N       ping-pong payload size (default 64)\n"
            "  --fanout-size N    fan-out payload size (default 1k)\n"
            "  --subs N           fan-out subscribers (default 8)\n"
            "  --cap S            hard wall-clock cap per run (default 30, quick 10)\n"
            "  --list             list the variants and exit\n"
            "Prints one RESULT line per measurement on stdout.\n",
            prog);
    if (variants) {
        fprintf(f, "variants:\n");
        for (int i = 0; variants[i]; i++)
            fprintf(f, "  %s\n", variants[i]);
    }
    exit(rc);
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    if (*end == 'k' || *end == 'K') {
        v <<= 10;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        v <<= 20;
        end++;
    }
    if (*end != '\0' && *end != ',')
        return false;
    if (v < PB_HDR || v > PB_MAX_SIZE)
        return false;
    *out = (size_t)v;
    return true;
}

static double parse_double(const char *prog, const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0)) {
        fprintf(stderr, "%s: bad number '%s'\n", prog, s);
        exit(2);
    }
    return v;
}

static uint64_t parse_u64(const char *prog, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) {
        fprintf(stderr, "%s: bad count '%s'\n", prog, s);
        exit(2);
    }
    return (uint64_t)v;
}

static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

void pb_parse(struct pb_opts *o, int argc, char **argv, const char *prog,
              const char *const *variants)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0)
            o->quick = true;
    o->tests = PB_TEST_THR | PB_TEST_LAT | PB_TEST_FANOUT;
    o->nsizes = (int)(sizeof default_sizes / sizeof default_sizes[0]);
    memcpy(o->sizes, default_sizes, sizeof default_sizes);
    o->lat_size = 64;
    o->fanout_size = 1024;
    o->subs = 8;
    o->secs = o->quick ? 0.3 : 1.0;
    o->lat_secs = o->quick ? 0.5 : 2.0;
    o->cap = o->quick ? 10.0 : 30.0;
    o->max_bytes = (uint64_t)(o->quick ? 1024 : 4096) << 20;
    o->lat_samples = o->quick ? 5000 : 20000;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "--quick") == 0) {
            takes = false;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(prog, variants, 0);
        } else if (strcmp(a, "--list") == 0) {
            for (int k = 0; variants && variants[k]; k++)
                printf("%s\n", variants[k]);
            exit(0);
        } else if (!v) {
            fprintf(stderr, "%s: %s needs a value (or is unknown)\n", prog, a);
            usage(prog, variants, 2);
        } else if (strcmp(a, "--tests") == 0) {
            o->tests = 0;
            if (in_list(v, "thr"))
                o->tests |= PB_TEST_THR;
            if (in_list(v, "lat"))
                o->tests |= PB_TEST_LAT;
            if (in_list(v, "fanout"))
                o->tests |= PB_TEST_FANOUT;
            if (!o->tests) {
                fprintf(stderr, "%s: --tests takes thr,lat,fanout\n", prog);
                exit(2);
            }
        } else if (strcmp(a, "--sizes") == 0) {
            o->nsizes = 0;
            for (const char *p = v; *p;) {
                if (o->nsizes == PB_MAX_SIZES || !parse_size(p, &o->sizes[o->nsizes])) {
                    fprintf(stderr, "%s: bad --sizes '%s' (each %d..%zu, at most %d)\n", prog, v,
                            PB_HDR, PB_MAX_SIZE, PB_MAX_SIZES);
                    exit(2);
                }
                o->nsizes++;
                const char *comma = strchr(p, ',');
                if (!comma)
                    break;
                p = comma + 1;
            }
        } else if (strcmp(a, "--variants") == 0) {
            o->variants = v;
        } else if (strcmp(a, "--secs") == 0) {
            o->secs = parse_double(prog, v);
        } else if (strcmp(a, "--lat-secs") == 0) {
            o->lat_secs = parse_double(prog, v);
        } else if (strcmp(a, "--cap") == 0) {
            o->cap = parse_double(prog, v);
        } else if (strcmp(a, "--count") == 0) {
            o->count = parse_u64(prog, v);
        } else if (strcmp(a, "--max-mb") == 0) {
            o->max_bytes = parse_u64(prog, v) << 20;
        } else if (strcmp(a, "--lat-samples") == 0) {
            o->lat_samples = parse_u64(prog, v);
        } else if (strcmp(a, "--lat-size") == 0) {
            if (!parse_size(v, &o->lat_size)) {
                fprintf(stderr, "%s: bad --lat-size '%s'\n", prog, v);
                exit(2);
            }
        } else if (strcmp(a, "--fanout-size") == 0) {
            if (!parse_size(v, &o->fanout_size)) {
                fprintf(stderr, "%s: bad --fanout-size '%s'\n", prog, v);
                exit(2);
            }
        } else if (strcmp(a, "--subs") == 0) {
            uint64_t s = parse_u64(prog, v);
            if (s < 1 || s > PB_MAX_SUBS) {
                fprintf(stderr, "%s: --subs must be 1..%d\n", prog, PB_MAX_SUBS);
                exit(2);
            }
            o->subs = (int)s;
        } else {
            fprintf(stderr, "%s: unknown option %s\n", prog, a);
            usage(prog, variants, 2);
        }
        if (takes)
            i++;
    }
    if (o->lat_samples == 0)
        o->lat_samples = 1;
    if (o->cap < o->secs + 5)
        o->cap = o->secs + 5;
    if (o->cap < o->lat_secs + 5)
        o->cap = o->lat_secs + 5;
}

bool pb_want(const struct pb_opts *o, const char *name)
{
    return !o->variants || in_list(o->variants, name);
}

/* ---- header and sequence check ---- */

void pb_hdr_put(void *payload, uint64_t seq, uint64_t aux)
{
    memcpy(payload, &seq, 8);
    memcpy((char *)payload + 8, &aux, 8);
}

uint64_t pb_hdr_seq(const void *payload)
{
    uint64_t v;
    memcpy(&v, payload, 8);
    return v;
}

uint64_t pb_hdr_aux(const void *payload)
{
    uint64_t v;
    memcpy(&v, (const char *)payload + 8, 8);
    return v;
}

void pb_rx_init(struct pb_rx *rx, size_t size)
{
    memset(rx, 0, sizeof *rx);
    rx->size = size;
}

enum pb_kind pb_rx_see(struct pb_rx *rx, const void *hdr, size_t len)
{
    if (len < PB_HDR) {
        rx->bad++;
        return PB_DATA;
    }
    uint64_t seq = pb_hdr_seq(hdr);
    if (seq == PB_SEQ_WARMUP)
        return PB_WARMUP;
    if (seq == PB_SEQ_END) {
        rx->sent = pb_hdr_aux(hdr);
        rx->got_end = 1;
        return PB_END;
    }
    if (len != rx->size)
        rx->bad++;
    rx->delivered++;
    rx->bytes += len;
    if (seq == rx->next) {
        rx->next++;
    } else if (seq > rx->next) {
        rx->gaps += seq - rx->next;
        rx->next = seq + 1;
    } else {
        rx->ooo++;
    }
    return PB_DATA;
}

/* ---- control channel ---- */

int pb_ctl_send(int fd, uint32_t type, uint32_t port, const struct pb_rx *rx)
{
    struct pb_ctl m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.port = port;
    if (rx)
        m.rx = *rx;
    for (;;) {
        ssize_t n = send(fd, &m, sizeof m, MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof m)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return -1;
    }
}

static int ms_until(int64_t deadline)
{
    int64_t left = deadline - pb_now();
    if (left <= 0)
        return 0;
    int64_t ms = (left + AX_NS_PER_MS - 1) / AX_NS_PER_MS;
    return ms > 1000 ? 1000 : (int)ms;
}

int pb_ctl_recv(int fd, struct pb_ctl *m, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, ms_until(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            if (pb_now() >= deadline)
                return 0;
            continue;
        }
        ssize_t n = recv(fd, m, sizeof *m, 0);
        if (n < 0 && errno == EINTR)
            continue;
        return n == (ssize_t)sizeof *m ? 1 : -1;
    }
}

/* ---- children ---- */

static void die_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
}

int pb_spawn(struct pb_child *c, int idx, pb_child_fn fn, const struct pb_opts *o, void *arg)
{
    int sv[2];
    memset(c, 0, sizeof *c);
    c->ctl = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("socketpair");
        return -1;
    }
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        die_with_parent(parent);
        int rc = fn(sv[1], idx, o, arg);
        fflush(NULL);
        _exit(rc);
    }
    close(sv[1]);
    c->pid = pid;
    c->ctl = sv[0];
    return 0;
}

int pb_send_port(struct pb_child *c, int n, int port)
{
    for (int i = 0; i < n; i++)
        if (pb_ctl_send(c[i].ctl, PB_CTL_PORT, (uint32_t)port, NULL) != 0)
            return -1;
    return 0;
}

int pb_poll_ctl(struct pb_child *c, int n, struct pb_rx *rx, int timeout_ms)
{
    struct pollfd p[PB_MAX_SUBS];
    int idx[PB_MAX_SUBS], np = 0, reported = 0;
    for (int i = 0; i < n; i++) {
        if (c[i].reported) {
            reported++;
            continue;
        }
        p[np].fd = c[i].ctl;
        p[np].events = POLLIN;
        idx[np++] = i;
    }
    if (np == 0)
        return reported;
    int r = poll(p, (nfds_t)np, timeout_ms);
    if (r < 0)
        return errno == EINTR ? reported : -1;
    for (int k = 0; k < np; k++) {
        if (!p[k].revents)
            continue;
        struct pb_child *ch = &c[idx[k]];
        struct pb_ctl m;
        ssize_t got = recv(ch->ctl, &m, sizeof m, MSG_DONTWAIT);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got != (ssize_t)sizeof m)
            return -1; /* EOF: the child died without reporting */
        if (m.type == PB_CTL_READY) {
            ch->ready = true;
        } else if (m.type == PB_CTL_RESULT) {
            ch->ready = true;
            ch->reported = true;
            if (rx)
                rx[idx[k]] = m.rx;
            reported++;
        }
    }
    return reported;
}

bool pb_all(const struct pb_child *c, int n, bool reported)
{
    for (int i = 0; i < n; i++)
        if (reported ? !c[i].reported : !c[i].ready)
            return false;
    return true;
}

int pb_collect(struct pb_child *c, int n, struct pb_rx *rx, int64_t deadline)
{
    while (!pb_all(c, n, true)) {
        if (pb_now() >= deadline)
            return -1;
        if (pb_poll_ctl(c, n, rx, ms_until(deadline) > 100 ? 100 : ms_until(deadline)) < 0)
            return -1;
    }
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int pb_reap(struct pb_child *c, int n, int64_t deadline)
{
    int failed = 0, left = n;
    bool killed = false;
    while (left > 0) {
        left = 0;
        for (int i = 0; i < n; i++) {
            if (c[i].pid <= 0)
                continue;
            int st;
            pid_t r = waitpid(c[i].pid, &st, killed ? 0 : WNOHANG);
            if (r == c[i].pid || (r < 0 && errno == ECHILD)) {
                if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                    failed++;
                c[i].pid = 0;
            } else {
                left++;
            }
        }
        if (left == 0)
            break;
        if (!killed && pb_now() >= deadline) {
            for (int i = 0; i < n; i++)
                if (c[i].pid > 0) {
                    fprintf(stderr, "killing straggling receiver %d (pid %d)\n", i, (int)c[i].pid);
                    kill(c[i].pid, SIGKILL);
                }
            killed = true;
        } else if (!killed) {
            sleep_ms(2);
        }
    }
    for (int i = 0; i < n; i++)
        if (c[i].ctl >= 0) {
            close(c[i].ctl);
            c[i].ctl = -1;
        }
    return failed ? -1 : 0;
}

int pb_child_port(int ctl, const struct pb_opts *o)
{
    struct pb_ctl m;
    if (pb_ctl_recv(ctl, &m, pb_deadline(o->cap)) != 1 || m.type != PB_CTL_PORT)
        return -1;
    return (int)m.port;
}

int pb_child_ready(int ctl)
{
    return pb_ctl_send(ctl, PB_CTL_READY, 0, NULL);
}

int pb_child_report(int ctl, struct pb_rx *rx)
{
    return pb_ctl_send(ctl, PB_CTL_RESULT, 0, rx);
}

/* ---- run isolation ---- */

int pb_run(const struct pb_opts *o, const char *impl, const char *test, size_t size, pb_run_fn fn,
           const void *arg)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        pb_fail(impl, test, size, "fork");
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        die_with_parent(parent);
        int rc = fn(o, size, arg);
        fflush(NULL);
        _exit(rc);
    }
    setpgid(pid, pid); /* also done by the child: whichever runs first */

    /* Wait without reaping, so the group id stays reserved while we kill
     * the group's stragglers. */
    int64_t deadline = pb_deadline(o->cap + 10); /* the measurer gives up at cap + ~4 s */
    bool timed_out = false;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            break;
        if (pb_now() >= deadline) {
            timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            break;
        }
        sleep_ms(5);
    }
    kill(-pid, SIGKILL); /* receivers left behind by a failed measurer */
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        pb_fail(impl, test, size, "timeout");
        return -1;
    }
    if (WIFSIGNALED(st)) {
        char why[32];
        snprintf(why, sizeof why, "signal_%d", WTERMSIG(st));
        pb_fail(impl, test, size, why);
        return -1;
    }
    if (WEXITSTATUS(st) != 0) {
        char why[32];
        snprintf(why, sizeof why, "exit_%d", WEXITSTATUS(st));
        pb_fail(impl, test, size, why);
        return -1;
    }
    return 0;
}

/* ---- sender's budget ---- */

void pb_budget_init(struct pb_budget *b, const struct pb_opts *o, size_t size, int64_t t0)
{
    b->max_msgs = o->count ? o->count : UINT64_MAX;
    uint64_t by_bytes = o->max_bytes / size;
    if (by_bytes < 1)
        by_bytes = 1;
    if (by_bytes < b->max_msgs)
        b->max_msgs = by_bytes;
    b->t_stop = t0 + (int64_t)(o->secs * 1e9);
    b->t_hard = t0 + (int64_t)(o->cap * 1e9);
    b->check_every = size >= 65536;
}

/* ---- results ---- */

void pb_print_thr(const char *impl, const char *test, size_t size, uint64_t sent,
                  const struct pb_rx *rx, int n, bool all_reported, int64_t t_start,
                  int64_t cpu_tx_ns, bool lossless)
{
    pb_print_thr_note(impl, test, size, sent, rx, n, all_reported, t_start, cpu_tx_ns, lossless,
                      NULL);
}

void pb_print_thr_note(const char *impl, const char *test, size_t size, uint64_t sent,
                       const struct pb_rx *rx, int n, bool all_reported, int64_t t_start,
                       int64_t cpu_tx_ns, bool lossless, const char *extra)
{
    uint64_t delivered = 0, bytes = 0, gaps = 0, ooo = 0, bad = 0;
    uint64_t sub_min = UINT64_MAX, sub_max = 0;
    int64_t t_last = t_start, cpu_rx = 0;
    bool exact = all_reported, sane = all_reported, timed_out = false;
    for (int i = 0; i < n; i++) {
        const struct pb_rx *r = &rx[i];
        delivered += r->delivered;
        bytes += r->bytes;
        gaps += r->gaps;
        ooo += r->ooo;
        bad += r->bad;
        cpu_rx += r->cpu_ns;
        if (r->t_last > t_last)
            t_last = r->t_last;
        if (r->delivered < sub_min)
            sub_min = r->delivered;
        if (r->delivered > sub_max)
            sub_max = r->delivered;
        if (r->timed_out)
            timed_out = true;
        if (!r->got_end || r->sent != sent || r->delivered != sent || r->gaps || r->ooo || r->bad)
            exact = false;
        if (r->ooo || r->bad || r->delivered > sent)
            sane = false;
    }
    uint64_t expected = sent * (uint64_t)n;
    uint64_t lost = delivered < expected ? expected - delivered : 0;
    double secs = delivered ? (double)(t_last - t_start) / 1e9 : 0;
    double rate = secs > 0 ? (double)delivered / secs : 0;
    double mbs = secs > 0 ? (double)bytes / secs / 1e6 : 0;
    double per = delivered ? 1e-3 / (double)delivered : 0;
    const char *check = (lossless ? exact : sane) ? "ok" : "FAIL";
    printf("RESULT impl=%s test=%s size=%zu subs=%d mode=%s sent=%" PRIu64 " delivered=%" PRIu64
           " lost=%" PRIu64 " lost_pct=%.1f ooo=%" PRIu64 " bad=%" PRIu64 " secs=%.3f"
           " msgs_per_s=%.0f mb_per_s=%.1f cpu_us_per_msg=%.3f cpu_tx_us_per_msg=%.3f"
           " cpu_rx_us_per_msg=%.3f",
           impl, test, size, n, lossless ? "lossless" : "lossy", sent, delivered, lost,
           expected ? 100.0 * (double)lost / (double)expected : 0.0, ooo, bad, secs, rate, mbs,
           (double)(cpu_tx_ns + cpu_rx) * per, (double)cpu_tx_ns * per, (double)cpu_rx * per);
    if (n > 1)
        printf(" sub_min=%" PRIu64 " sub_max=%" PRIu64, sub_min, sub_max);
    if (extra && *extra)
        printf(" %s", extra);
    printf(" check=%s%s%s\n", check, all_reported ? "" : " error=receiver_missing",
           timed_out ? " note=receiver_deadline" : "");
    fflush(stdout);
    if (lossless && !exact)
        fprintf(stderr,
                "%s %s size=%zu: lossless run not exact: sent=%" PRIu64 " x %d, delivered=%" PRIu64
                " gaps=%" PRIu64 " ooo=%" PRIu64 " bad=%" PRIu64 "\n",
                impl, test, size, sent, n, delivered, gaps, ooo, bad);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_us(const int64_t *ns, size_t n, double q)
{
    size_t k = (size_t)ceil(q * (double)n);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)ns[k - 1] / 1e3;
}

void pb_print_lat(const char *impl, size_t size, int64_t *ns, size_t n, bool ok)
{
    pb_print_lat_cpu(impl, "lat", size, ns, n, -1, ok, NULL);
}

void pb_print_lat_cpu(const char *impl, const char *test, size_t size, int64_t *ns, size_t n,
                      int64_t cpu_ns, bool ok, const char *extra)
{
    if (n == 0) {
        pb_fail(impl, test, size, "no_samples");
        return;
    }
    qsort(ns, n, sizeof *ns, cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)ns[i];
    printf("RESULT impl=%s test=%s size=%zu samples=%zu p50_us=%.1f p99_us=%.1f p999_us=%.1f"
           " max_us=%.1f min_us=%.1f mean_us=%.1f",
           impl, test, size, n, pct_us(ns, n, 0.50), pct_us(ns, n, 0.99), pct_us(ns, n, 0.999),
           (double)ns[n - 1] / 1e3, (double)ns[0] / 1e3, sum / (double)n / 1e3);
    if (cpu_ns >= 0)
        printf(" cpu_us_per_rt=%.2f", (double)cpu_ns / 1e3 / (double)n);
    if (extra && *extra)
        printf(" %s", extra);
    printf(" check=%s\n", ok ? "ok" : "FAIL");
    fflush(stdout);
}

void pb_fail(const char *impl, const char *test, size_t size, const char *why)
{
    printf("RESULT impl=%s test=%s size=%zu check=FAIL error=%s\n", impl, test, size, why);
    fflush(stdout);
}
