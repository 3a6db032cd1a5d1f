/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon topic hz | bw | delay TOPIC: rate, bandwidth and end-to-end delay.
 *
 * hz and bw by default subscribe to nothing: each publisher's counters
 * (messages and bytes published, with the publisher's CLOCK_MONOTONIC
 * stamp) reach the discovery table every 500 ms, in each node's answer to
 * the CLI node's request (discovery.counters, set in cli_node_open), so the
 * rate is Δmessages / Δstamp between successive snapshots. The mean over
 * the window is Δ over the whole window (exact up to one message at each
 * end); min, max and std dev are over the per-snapshot intervals, and the
 * output says how many there were and how long the window really is.
 * Snapshots closer than 0.25 s to the previous one kept (an answer to the
 * CLI's first request right after one to its periodic ones) are skipped, so
 * a 5 ms interval cannot make a wild minimum or maximum.
 *
 * --subscribe measures at a real subscriber instead (ax_sub_new_hash with
 * the publisher's type from the table): inter-arrival periods over the
 * window. delay always subscribes: received_ns - source_ns, both real-time
 * clocks (same host: one clock; across hosts: as good as their sync).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/ax__array.h"
#include "cli.h"

enum what { HZ, BW, DELAY };

#define MIN_INTERVAL_NS (250 * AX_NS_PER_MS)
#define SERIES_MAX      4096

/* ---- from the table ---- */

struct sample {
    int64_t stamp;
    uint64_t messages, bytes;
};

struct series {
    uint64_t node_id;
    uint32_t ep_id;
    char node[AX_NODE_NAME_MAX];
    struct sample s[SERIES_MAX];
    size_t n;
    int64_t last_seen; /* our clock, when its stamp last advanced */
    bool gone;
};

struct stats {
    double mean, min, max, std;
    size_t intervals;
    double window_s;
    uint64_t messages, bytes;
};

static void series_add(struct series *se, const struct ax_endpoint_counters *c, int64_t window)
{
    if (c->stamp_ns == 0)
        return;
    if (se->n) {
        struct sample *last = &se->s[se->n - 1];
        if (c->stamp_ns == last->stamp)
            return;
        if (c->stamp_ns < last->stamp || c->messages < last->messages) {
            se->n = 0; /* the publisher restarted: a new series */
        } else if (c->stamp_ns - last->stamp < MIN_INTERVAL_NS) {
            return;
        }
    }
    if (se->n == SERIES_MAX) {
        memmove(se->s, se->s + 1, (SERIES_MAX - 1) * sizeof se->s[0]);
        se->n--;
    }
    se->s[se->n++] = (struct sample){c->stamp_ns, c->messages, c->bytes};
    se->last_seen = ax_clock_mono_ns();
    /* Keep the window (the newest stamp minus it); one sample at or before
     * its start stays, so the window is covered. */
    size_t drop = 0;
    while (drop + 1 < se->n && se->s[drop + 1].stamp <= c->stamp_ns - window)
        drop++;
    if (drop) {
        memmove(se->s, se->s + drop, (se->n - drop) * sizeof se->s[0]);
        se->n -= drop;
    }
}

static bool series_stats(const struct series *se, bool bytes, struct stats *st)
{
    memset(st, 0, sizeof *st);
    if (se->n < 2)
        return false;
    const struct sample *a = &se->s[0], *b = &se->s[se->n - 1];
    double dt = (double)(b->stamp - a->stamp) / 1e9;
    st->messages = b->messages - a->messages;
    st->bytes = b->bytes - a->bytes;
    st->mean = (double)(bytes ? st->bytes : st->messages) / dt;
    st->window_s = dt;
    st->min = INFINITY;
    st->max = -INFINITY;
    double sum = 0, sum2 = 0;
    for (size_t i = 1; i < se->n; i++) {
        double d = (double)(se->s[i].stamp - se->s[i - 1].stamp) / 1e9;
        double v = (double)(bytes ? se->s[i].bytes - se->s[i - 1].bytes
                                  : se->s[i].messages - se->s[i - 1].messages) /
                   d;
        st->min = fmin(st->min, v);
        st->max = fmax(st->max, v);
        sum += v;
        sum2 += v * v;
    }
    st->intervals = se->n - 1;
    double m = sum / (double)st->intervals;
    st->std = sqrt(fmax(0, sum2 / (double)st->intervals - m * m));
    return true;
}

/* ---- at a subscriber ---- */

/* Arrivals kept: 26 s at 10 kHz. Beyond it the window shrinks to what fits
 * (the output gives the window it really covers). */
#define RING_MAX (1u << 18)

struct arrival {
    int64_t t;     /* CLOCK_MONOTONIC at the callback */
    int64_t value; /* bytes (hz, bw) or delay in ns */
};

struct meter {
    pthread_mutex_t mu;
    struct arrival *ring;
    size_t head, n; /* ring[head - n .. head) */
    uint64_t total, missing, overflow;
    enum what what;
};

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    struct meter *mt = user;
    (void)sub;
    int64_t now = ax_clock_mono_ns();
    int64_t v = mt->what == DELAY ? m->received_ns - m->source_ns : (int64_t)m->len;
    pthread_mutex_lock(&mt->mu);
    mt->ring[mt->head] = (struct arrival){now, v};
    mt->head = (mt->head + 1) % RING_MAX;
    if (mt->n < RING_MAX)
        mt->n++;
    else
        mt->overflow++;
    mt->total++;
    pthread_mutex_unlock(&mt->mu);
}

static void on_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    struct meter *mt = user;
    (void)self;
    if (ev->kind == AX_PS_GAP) {
        pthread_mutex_lock(&mt->mu);
        mt->missing += ev->missing;
        pthread_mutex_unlock(&mt->mu);
    }
}

struct sub_stats {
    size_t n;
    double window_s;
    double rate;                    /* messages per second */
    double pmin, pmax, pmean, pstd; /* periods (hz), sizes (bw) or delays (delay), seconds/bytes */
    double bps;
    uint64_t missing;
};

static bool meter_stats(struct meter *mt, int64_t window, struct sub_stats *st)
{
    memset(st, 0, sizeof *st);
    int64_t now = ax_clock_mono_ns();
    pthread_mutex_lock(&mt->mu);
    /* Trim what fell out of the window. */
    while (mt->n && mt->ring[(mt->head + RING_MAX - mt->n) % RING_MAX].t < now - window)
        mt->n--;
    size_t n = mt->n;
    st->missing = mt->missing;
    if (n < (mt->what == DELAY ? 1u : 2u)) {
        pthread_mutex_unlock(&mt->mu);
        return false;
    }
    size_t first = (mt->head + RING_MAX - n) % RING_MAX;
    int64_t t0 = mt->ring[first].t, t1 = mt->ring[(mt->head + RING_MAX - 1) % RING_MAX].t;
    double sum = 0, sum2 = 0, mn = INFINITY, mx = -INFINITY, bytes = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct arrival *ar = &mt->ring[(first + i) % RING_MAX];
        double v;
        if (mt->what == HZ) {
            if (i == 0)
                continue;
            v = (double)(ar->t - mt->ring[(first + i - 1) % RING_MAX].t) / 1e9;
        } else {
            v = mt->what == DELAY ? (double)ar->value / 1e9 : (double)ar->value;
            if (i > 0)
                bytes += (double)ar->value;
        }
        mn = fmin(mn, v);
        mx = fmax(mx, v);
        sum += v;
        sum2 += v * v;
        k++;
    }
    pthread_mutex_unlock(&mt->mu);
    st->n = n;
    st->window_s = (double)(t1 - t0) / 1e9;
    st->rate = st->window_s > 0 ? (double)(n - 1) / st->window_s : NAN;
    st->bps = st->window_s > 0 ? bytes / st->window_s : NAN;
    st->pmin = mn;
    st->pmax = mx;
    st->pmean = k ? sum / (double)k : NAN;
    st->pstd = k ? sqrt(fmax(0, sum2 / (double)k - st->pmean * st->pmean)) : NAN;
    return true;
}

/* ---- the verb ---- */

static const struct ax_endpoint_info *first_pub(const struct cli_snap *s)
{
    for (size_t i = 0; i < s->neps; i++)
        if (s->eps[i].kind == AX_ENDPOINT_PUBLISHER)
            return &s->eps[i];
    return NULL;
}

/* Returns whether any publisher had a result. */
static bool report_table(struct cli *c, const char *topic, enum what w, struct series **ser,
                         size_t nser, int64_t window)
{
    double total = 0;
    size_t with = 0;
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    for (size_t i = 0; i < nser; i++) {
        struct stats st;
        struct series *se = ser[i];
        bool ok = series_stats(se, w == BW, &st);
        bool stale = se->last_seen && ax_clock_mono_ns() - se->last_seen > 3 * AX_NS_PER_S;
        if (c->json) {
            struct cli_json j;
            cj_init(&j, stdout);
            cj_obj(&j, NULL);
            cj_str(&j, "topic", topic);
            cj_str(&j, "source", "table");
            cj_str(&j, "publisher", se->node);
            if (w == HZ) {
                cj_num(&j, "rate_hz", ok ? st.mean : NAN);
                cj_num(&j, "min_hz", ok ? st.min : NAN);
                cj_num(&j, "max_hz", ok ? st.max : NAN);
                cj_num(&j, "std_hz", ok ? st.std : NAN);
            } else {
                cj_num(&j, "bytes_per_s", ok ? st.mean : NAN);
                cj_num(&j, "min_bytes_per_s", ok ? st.min : NAN);
                cj_num(&j, "max_bytes_per_s", ok ? st.max : NAN);
                cj_num(&j, "std_bytes_per_s", ok ? st.std : NAN);
                cj_num(&j, "mean_size",
                       ok && st.messages ? (double)st.bytes / (double)st.messages : NAN);
            }
            /* One message more or less at either end of the window. */
            cj_num(&j, "resolution_hz", ok ? 1.0 / st.window_s : NAN);
            cj_uint(&j, "messages", st.messages);
            cj_uint(&j, "intervals", st.intervals);
            cj_num(&j, "window_s", st.window_s);
            cj_num(&j, "window_max_s", (double)window / 1e9);
            cj_bool(&j, "stale", stale);
            cj_end_obj(&j);
            cj_done(&j);
        } else if (!ok) {
            printf("%s  %s: waiting for a second counter snapshot (every ~0.5 s)\n", topic,
                   se->node);
        } else if (w == HZ) {
            printf("%s  %s ±%.2g  min %s  max %s  std %s  | publisher '%s' counters: %llu msgs, "
                   "%zu interval%s over %.1f s%s\n",
                   topic, cli_fmt_rate(st.mean, b1, sizeof b1), 1.0 / st.window_s,
                   cli_fmt_rate(st.min, b2, sizeof b2), cli_fmt_rate(st.max, b3, sizeof b3),
                   cli_fmt_rate(st.std, b4, sizeof b4), se->node, (unsigned long long)st.messages,
                   st.intervals, st.intervals == 1 ? "" : "s", st.window_s,
                   stale ? "  (stale: no new counters for >3 s)" : "");
        } else {
            printf("%s  %s/s  min %s/s  max %s/s  std %s/s  mean size %s  | publisher '%s' "
                   "counters: %zu interval%s over %.1f s%s\n",
                   topic, cli_fmt_size(st.mean, b1, sizeof b1), cli_fmt_size(st.min, b2, sizeof b2),
                   cli_fmt_size(st.max, b3, sizeof b3), cli_fmt_size(st.std, b4, sizeof b4),
                   cli_fmt_size(st.messages ? (double)st.bytes / (double)st.messages : 0, b5,
                                sizeof b5),
                   se->node, st.intervals, st.intervals == 1 ? "" : "s", st.window_s,
                   stale ? "  (stale: no new counters for >3 s)" : "");
        }
        if (ok) {
            total += st.mean;
            with++;
        }
    }
    if (nser > 1 && with > 1 && !c->json)
        printf("%s  total of %zu publishers: %s\n", topic, with,
               w == HZ ? cli_fmt_rate(total, b1, sizeof b1) : cli_fmt_size(total, b1, sizeof b1));
    fflush(stdout);
    return with > 0;
}

/* Returns whether there was a result. */
static bool report_sub(struct cli *c, const char *topic, enum what w, struct meter *mt,
                       int64_t window)
{
    struct sub_stats st;
    bool ok = meter_stats(mt, window, &st);
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "topic", topic);
        cj_str(&j, "source", "subscriber");
        if (w == HZ) {
            cj_num(&j, "rate_hz", ok ? st.rate : NAN);
            cj_num(&j, "min_hz", ok ? 1.0 / st.pmax : NAN);
            cj_num(&j, "max_hz", ok ? 1.0 / st.pmin : NAN);
            cj_num(&j, "period_mean_s", ok ? st.pmean : NAN);
            cj_num(&j, "period_min_s", ok ? st.pmin : NAN);
            cj_num(&j, "period_max_s", ok ? st.pmax : NAN);
            cj_num(&j, "period_std_s", ok ? st.pstd : NAN);
        } else if (w == BW) {
            cj_num(&j, "bytes_per_s", ok ? st.bps : NAN);
            cj_num(&j, "mean_size", ok ? st.pmean : NAN);
            cj_num(&j, "min_size", ok ? st.pmin : NAN);
            cj_num(&j, "max_size", ok ? st.pmax : NAN);
        } else {
            cj_num(&j, "delay_mean_s", ok ? st.pmean : NAN);
            cj_num(&j, "delay_min_s", ok ? st.pmin : NAN);
            cj_num(&j, "delay_max_s", ok ? st.pmax : NAN);
            cj_num(&j, "delay_std_s", ok ? st.pstd : NAN);
            cj_str(&j, "clocks", "realtime");
        }
        cj_uint(&j, "messages", st.n);
        cj_num(&j, "window_s", st.window_s);
        cj_num(&j, "window_max_s", (double)window / 1e9);
        cj_uint(&j, "missing", st.missing);
        cj_end_obj(&j);
        cj_done(&j);
        return ok;
    }
    if (!ok) {
        printf("%s  no messages in the last %.0f s at this subscriber\n", topic,
               (double)window / 1e9);
    } else if (w == HZ) {
        printf("%s  %-10s period min %s  max %s  std %s  | %zu msgs over %.1f s at this "
               "subscriber%s\n",
               topic, cli_fmt_rate(st.rate, b1, sizeof b1),
               cli_fmt_dur((int64_t)(st.pmin * 1e9), b2, sizeof b2),
               cli_fmt_dur((int64_t)(st.pmax * 1e9), b3, sizeof b3),
               cli_fmt_dur((int64_t)(st.pstd * 1e9), b4, sizeof b4), st.n, st.window_s, "");
    } else if (w == BW) {
        printf("%s  %s/s  mean size %s  min %s  max %s  | %zu msgs over %.1f s at this "
               "subscriber\n",
               topic, cli_fmt_size(st.bps, b1, sizeof b1), cli_fmt_size(st.pmean, b2, sizeof b2),
               cli_fmt_size(st.pmin, b3, sizeof b3), cli_fmt_size(st.pmax, b4, sizeof b4), st.n,
               st.window_s);
    } else {
        printf("%s  delay mean %s  min %s  max %s  std %s  | %zu msgs over %.1f s (real-time "
               "clocks)\n",
               topic, cli_fmt_dur((int64_t)(st.pmean * 1e9), b1, sizeof b1),
               cli_fmt_dur((int64_t)(st.pmin * 1e9), b2, sizeof b2),
               cli_fmt_dur((int64_t)(st.pmax * 1e9), b3, sizeof b3),
               cli_fmt_dur((int64_t)(st.pstd * 1e9), b5, sizeof b5), st.n, st.window_s);
    }
    if (ok && st.missing)
        printf("%s  %llu message%s never arrived at this subscriber (sequence gaps)\n", topic,
               (unsigned long long)st.missing, st.missing == 1 ? "" : "s");
    fflush(stdout);
    return ok;
}

static int rate(struct cli *c, const struct cli_args *a, enum what w)
{
    int rc;
    const char *topic = a->pos[0];
    int64_t window = 10 * AX_NS_PER_S, duration = 0, period = AX_NS_PER_S;
    long count = 0;
    if (!cli_opt_seconds(a, "window", &window) || !cli_opt_seconds(a, "duration", &duration) ||
        !cli_opt_seconds(a, "period", &period) || !cli_opt_long(a, "count", 1, 1000000000L, &count))
        return CLI_EXIT_USAGE;
    long reports = 0;
    if (window < 100 * AX_NS_PER_MS || period < 10 * AX_NS_PER_MS)
        return cli_usage_error(a->verb, "--window must be at least 0.1 s and --period 0.01 s");
    bool subscribe = w == DELAY || cli_flag(a, "subscribe");
    int64_t start = ax_clock_mono_ns();
    int64_t end = duration ? start + duration : INT64_MAX;

    if ((rc = cli_node_open(c)) != 0)
        return rc;
    if (cli_settle(c) < 0)
        return CLI_EXIT_OK;
    struct cli_snap s = {0};
    bool said = false;
    for (;;) {
        if ((rc = cli_snap_take(c, topic, &s)) < 0)
            return cli_error("reading the discovery table: %s", ax_strerror(rc));
        if (first_pub(&s))
            break;
        cli_snap_free(&s);
        if (!said)
            cli_note("no publisher of %s in domain %u yet: waiting (Ctrl-C to stop)", topic,
                     (unsigned)c->cfg.domain);
        said = true;
        if (ax_clock_mono_ns() >= end)
            return cli_error("no publisher of %s appeared within --duration", topic);
        if (cli_sleep(c, 100 * AX_NS_PER_MS))
            return CLI_EXIT_OK;
    }

    int result = CLI_EXIT_OK;
    if (!subscribe) {
        struct series **ser = NULL;
        size_t nser = 0, sercap = 0;
        int64_t next = ax_clock_mono_ns() + period;
        bool first_note = false;
        for (;;) {
            for (size_t i = 0; i < s.neps; i++) {
                const struct ax_endpoint_info *e = &s.eps[i];
                if (e->kind != AX_ENDPOINT_PUBLISHER)
                    continue;
                struct series *se = NULL;
                for (size_t k = 0; k < nser && !se; k++)
                    if (ser[k]->node_id == e->node_id && ser[k]->ep_id == e->id)
                        se = ser[k];
                if (!se && nser < 64) {
                    se = calloc(1, sizeof *se);
                    if (!se || ax__array_reserve(&ser, &sercap, nser + 1, 8) < 0) {
                        free(se);
                        for (size_t k = 0; k < nser; k++)
                            free(ser[k]);
                        free(ser);
                        cli_snap_free(&s);
                        return cli_error("out of memory");
                    }
                    ser[nser++] = se;
                    se->node_id = e->node_id;
                    se->ep_id = e->id;
                    snprintf(se->node, sizeof se->node, "%s", e->node_name);
                }
                if (se)
                    series_add(se, &e->counters, window);
            }
            cli_snap_free(&s);
            int64_t now = ax_clock_mono_ns();
            if (now >= next || now >= end) {
                if (!first_note && !c->json) {
                    cli_note("reading publisher counters from the discovery table (no "
                             "subscription); window %.0f s. --subscribe measures at a subscriber",
                             (double)window / 1e9);
                    first_note = true;
                }
                if (report_table(c, topic, w, ser, nser, window))
                    reports++;
                if (count && reports >= count)
                    break;
                next += period;
                if (next < now)
                    next = now + period;
            }
            if (now >= end)
                break;
            int64_t nap = 50 * AX_NS_PER_MS;
            if (cli_sleep(c, nap))
                break;
            if ((rc = cli_snap_take(c, topic, &s)) < 0) {
                result = cli_error("reading the discovery table: %s", ax_strerror(rc));
                break;
            }
        }
        for (size_t i = 0; i < nser; i++)
            free(ser[i]);
        free(ser);
        return result;
    }

    /* Subscribe: one subscription per distinct type among the publishers. */
    struct meter mt = {.what = w};
    pthread_mutex_init(&mt.mu, NULL);
    mt.ring = malloc(RING_MAX * sizeof *mt.ring);
    ax_sub *subs[8];
    size_t nsubs = 0;
    if (!mt.ring) {
        cli_snap_free(&s);
        return cli_error("out of memory");
    }
    for (size_t i = 0; i < s.neps && nsubs < 8; i++) {
        const struct ax_endpoint_info *e = &s.eps[i];
        if (e->kind != AX_ENDPOINT_PUBLISHER)
            continue;
        bool dup = false;
        for (size_t k = 0; k < i; k++)
            dup |= s.eps[k].kind == AX_ENDPOINT_PUBLISHER &&
                   strcmp(s.eps[k].type_name, e->type_name) == 0 &&
                   memcmp(s.eps[k].type_hash, e->type_hash, AX_TYPE_HASH_SIZE) == 0;
        if (dup)
            continue;
        struct ax_sub_options so;
        ax_sub_options_init(&so);
        /* Volatile always: a latched history would read as a burst. */
        so.qos.reliability = e->qos.reliability;
        so.qos.history = e->qos.history ? e->qos.history : 1;
        so.on_event = on_event;
        rc = ax_sub_new_hash(&subs[nsubs], c->node, topic, e->type_name, e->type_hash, on_msg, &mt,
                             &so);
        if (rc < 0) {
            result = cli_error("cannot subscribe to %s: %s", topic, ax_strerror(rc));
            break;
        }
        nsubs++;
    }
    cli_snap_free(&s);
    if (result == CLI_EXIT_OK) {
        if (!c->json)
            cli_note("subscribed to %s; window %.0f s%s", topic, (double)window / 1e9,
                     w == DELAY ? "; delay = receipt - source time, real-time clocks" : "");
        int64_t next = ax_clock_mono_ns() + period;
        for (;;) {
            int64_t now = ax_clock_mono_ns();
            int64_t until = next < end ? next : end;
            if (until > now && cli_sleep(c, until - now))
                break;
            now = ax_clock_mono_ns();
            if (report_sub(c, topic, w, &mt, window))
                reports++;
            if (now >= end || (count && reports >= count))
                break;
            next += period;
            if (next < now)
                next = now + period;
        }
    }
    for (size_t i = 0; i < nsubs; i++)
        ax_sub_free(subs[i]);
    free(mt.ring);
    pthread_mutex_destroy(&mt.mu);
    return result;
}

int cli_verb_topic_hz(struct cli *c, const struct cli_args *a)
{
    return rate(c, a, HZ);
}

int cli_verb_topic_bw(struct cli *c, const struct cli_args *a)
{
    return rate(c, a, BW);
}

int cli_verb_topic_delay(struct cli *c, const struct cli_args *a)
{
    return rate(c, a, DELAY);
}
