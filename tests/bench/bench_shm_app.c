/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_shm --app: axon's default path in the peers' table (issue 16),
 * beside raw TCP, ZeroMQ and NNG (tests/bench/peers) in one run of
 * tools/bench.sh. Not axon_perf's special path: nothing here runs a loop,
 * asks for the backlog or publishes from a loop thread.
 *
 * The way a user publishes: two processes, each a node with the default
 * configuration (its own loop thread) over TCP (transport.shm off, like
 * the peers), the publisher's QoS the default, every publish made from the
 * application's main thread and made again when it says AX_EAGAIN or
 * AX_ETIMEDOUT (counted: retries=). Messages under 64 KiB are copied from
 * the application's buffer (ax_pub_publish_bytes()); from 64 KiB up they
 * are written into a loan (ax_pub_loan(), ax_pub_publish_loan()), as a
 * camera driver would, so the application makes no copy of its own.
 *
 *   axon_app         the subscription's overload policy is block: lossless,
 *                    every sequence number checked (mode=lossless).
 *   axon_app_sensor  the subscription's QoS is the sensor_data preset (best
 *                    effort, latest_only, history 5): lossy; the publisher
 *                    runs flat out and END is repeated every 5 ms until the
 *                    subscriber has reported, as for ZeroMQ's PUB.
 *
 * Besides the peers' fields each RESULT line says retries=, drops= (the
 * publisher's drop counters, every reason), rx_busy_pct= (the subscriber
 * process's CPU over its receiving time: an idle subscriber of a lossy
 * publisher means the drops happened before the socket).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_shm.h"

#define LOAN_MIN      65536 /* from here on the publisher writes into a loan */
#define ALARM_EXTRA_S 15

struct app_variant {
    const char *impl;
    bool lossy; /* sensor_data: the subscription's QoS */
};

static const struct app_variant v_app = {"axon_app", false};
static const struct app_variant v_sensor = {"axon_app_sensor", true};
static const struct variant v_tcp_node = {"axon_app", AX_SHM_OFF, AX_LINK_TCP, false, false};

struct app_arg {
    const struct app_variant *v;
    size_t size;
    char topic[96];
};

struct app_stats {
    uint64_t retries; /* AX_EAGAIN / AX_ETIMEDOUT: published again */
};

/*
 * One message carrying @seq and @aux: copied from @buf under LOAN_MIN,
 * else written into a loan. Made again while refused for room, until
 * @hard. Returns 0 or the last error.
 */
static int app_publish(ax_pub *p, uint8_t *buf, size_t size, uint64_t seq, uint64_t aux,
                       struct app_stats *st, int64_t hard)
{
    for (;;) {
        int rc;
        if (size < LOAN_MIN) {
            pb_hdr_put(buf, seq, aux);
            rc = ax_pub_publish_bytes(p, buf, size);
        } else {
            struct ax_loan loan;
            rc = ax_pub_loan(p, size, &loan);
            if (rc < 0)
                return rc;
            pb_hdr_put(loan.data, seq, aux);
            rc = ax_pub_publish_loan(p, &loan, size);
        }
        if (rc != AX_EAGAIN && rc != AX_ETIMEDOUT)
            return rc;
        st->retries++;
        if (pb_now() >= hard)
            return rc;
    }
}

/* ---- the subscriber process ---- */

static void app_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct box *b = user;
    (void)s;
    int64_t now = pb_now();
    if (b->rx.delivered == 0 && m->len >= PB_HDR && pb_hdr_seq(m->data) < PB_SEQ_WARMUP)
        b->cpu0 = pb_cpu(); /* the first data message */
    enum pb_kind k = pb_rx_see(&b->rx, m->data, m->len);
    if (k == PB_DATA) {
        pb_rx_stamp(&b->rx, now);
        return;
    }
    if (k == PB_END && !b->end)
        b->cpu1 = pb_cpu();
    pthread_mutex_lock(&b->mu);
    if (k == PB_WARMUP)
        b->warm = true;
    else
        b->end = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static int app_sub_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    const struct app_arg *ra = arg;
    (void)idx;
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    int64_t hard = pb_deadline(o->cap);
    struct box b;
    box_init(&b, ra->size);
    ax_node *n = node_new("sub", &v_tcp_node);
    if (!n)
        exit(1);
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    if (ra->v->lossy)
        so.qos = AX_QOS_SENSOR_DATA;
    else
        so.qos.overload = AX_OVERLOAD_BLOCK;
    ax_sub *s = NULL;
    int rc = ax_sub_new_raw(&s, n, ra->topic, TYPE_NAME, app_cb, &b, &so);
    if (rc < 0) {
        fprintf(stderr, "%s: subscribe: %s\n", ra->v->impl, ax_strerror(rc));
        exit(1);
    }
    if (!box_wait_flag(&b, &b.warm, hard)) {
        fprintf(stderr, "%s size=%zu: no warm-up message\n", ra->v->impl, ra->size);
        exit(1);
    }
    enum ax_link_transport link = sub_link(s);
    pb_child_ready(ctl);
    bool end = box_wait_flag(&b, &b.end, hard);
    ax_sub_free(s); /* no callback after this: b.rx is ours */
    b.rx.cpu_ns = (end ? b.cpu1 : pb_cpu()) - b.cpu0;
    b.rx.timed_out = !end;
    if (link != AX_LINK_TCP) {
        fprintf(stderr, "%s size=%zu: the link is %s, not tcp\n", ra->v->impl, ra->size,
                ax_link_transport_name(link));
        b.rx.bad++;
    }
    pb_child_report(ctl, &b.rx);
    ax_node_destroy(n);
    box_fini(&b);
    exit(0);
}

/* ---- the publisher (the measurer) ---- */

static int app_run(const struct pb_opts *o, size_t size, const void *arg)
{
    const struct app_variant *v = arg;
    struct app_arg ra = {.v = v, .size = size};
    snprintf(ra.topic, sizeof ra.topic, "/bench/app/%d/thr/%zu", (int)getpid(), size);
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    struct pb_child ch;
    struct pb_rx rx;
    struct app_stats st = {0};
    memset(&rx, 0, sizeof rx);
    uint8_t *buf = calloc(1, size < LOAN_MIN ? size : PB_HDR);
    if (!buf || pb_spawn(&ch, 0, app_sub_child, o, &ra) != 0) {
        pb_fail(v->impl, "thr", size, "spawn");
        free(buf);
        return 0;
    }
    ax_node *n = node_new("pub", &v_tcp_node);
    ax_pub *p = NULL;
    if (!n || pub_new(&p, n, ra.topic) < 0) {
        pb_fail(v->impl, "thr", size, "setup");
        goto out;
    }
    if (!wait_match(p, NULL, pb_deadline(MATCH_SECS))) {
        pb_fail(v->impl, "thr", size, "no_match");
        goto out;
    }
    /* Warm-up: until the subscriber has seen one (a lossy link may drop
     * some, hence the repetition). */
    int64_t warm_hard = pb_deadline(MATCH_SECS);
    while (!ch.ready) {
        if (app_publish(p, buf, size, PB_SEQ_WARMUP, 0, &st, warm_hard) != 0 ||
            pb_poll_ctl(&ch, 1, &rx, 1) < 0 || ch.reported) {
            pb_fail(v->impl, "thr", size, "warmup");
            goto out;
        }
    }
    struct ax_endpoint_counters c0, c1;
    ax_pub_counters(p, &c0);

    st = (struct app_stats){0};
    int64_t t0 = pb_now(), cpu0 = pb_cpu();
    struct pb_budget b;
    pb_budget_init(&b, o, size, t0);
    uint64_t sent = 0;
    int rc = 0;
    while (rc == 0 && pb_budget_more(&b, sent)) {
        rc = app_publish(p, buf, size, sent, 0, &st, b.t_hard);
        if (rc == 0)
            sent++;
    }
    /* END carries the count (header-only when copied, the data's size in
     * a loan); lossy: repeated every 5 ms until the subscriber reported. */
    size_t end_len = size < LOAN_MIN ? PB_HDR : size;
    int64_t end_by = b.t_hard + 2 * AX_NS_PER_S;
    bool all = false;
    if (rc != 0) {
        fprintf(stderr, "%s size=%zu: publish failed after %" PRIu64 " messages: %s\n", v->impl,
                size, sent, ax_strerror(rc));
    } else if (!v->lossy) {
        rc = app_publish(p, buf, end_len, PB_SEQ_END, sent, &st, end_by);
        all = rc == 0 && pb_collect(&ch, 1, &rx, end_by) == 0;
    } else {
        int r = 0;
        while (r >= 0 && !pb_all(&ch, 1, true) && pb_now() < end_by) {
            app_publish(p, buf, end_len, PB_SEQ_END, sent, &st, end_by);
            r = pb_poll_ctl(&ch, 1, &rx, 5);
        }
        all = pb_all(&ch, 1, true);
    }
    int64_t cpu_tx = pb_cpu() - cpu0;
    ax_pub_counters(p, &c1);
    uint64_t drops = 0;
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++)
        drops += c1.drops[r] - c0.drops[r];
    int64_t rx_span = rx.t_last > t0 ? rx.t_last - t0 : 0;
    char extra[200];
    snprintf(extra, sizeof extra, "link=tcp retries=%" PRIu64 " drops=%" PRIu64 " rx_busy_pct=%.0f",
             st.retries, drops, rx_span > 0 ? 100.0 * (double)rx.cpu_ns / (double)rx_span : 0.0);
    pb_print_thr_note(v->impl, "thr", size, sent, &rx, 1, all && rc == 0, t0, cpu_tx, !v->lossy,
                      extra);
out:
    ax_pub_free(p);
    ax_node_destroy(n);
    if (pb_reap(&ch, 1, pb_deadline(3)) != 0)
        fprintf(stderr, "%s size=%zu: the subscriber process failed\n", v->impl, size);
    free(buf);
    return 0;
}

int app_main(struct pb_opts *o, bool sizes_given)
{
    (void)sizes_given; /* the peers' sizes unless --sizes says */
    if (!(o->tests & PB_TEST_THR))
        return 0;
    const struct app_variant *const vs[] = {&v_app, &v_sensor};
    for (int i = 0; i < o->nsizes; i++)
        for (int k = 0; k < 2; k++)
            if (pb_want(o, vs[k]->impl))
                pb_run(o, vs[k]->impl, "thr", o->sizes[i], app_run, vs[k]);
    return 0;
}
