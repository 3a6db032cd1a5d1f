/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every axon_perf run uses: the settings of the nodes it makes, CPU
 * accounting, the counting subscriber, and the fork()ed subscriber process
 * of `bench` (see perf.h).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "perf.h"

volatile sig_atomic_t perf_stop;
uint32_t perf_domain = 0;
bool perf_domain_set;
int64_t perf_busy_poll_ns, perf_adaptive_poll_ns = -1;
enum perf_transport perf_transport;
const char *perf_impl = "axon";
char perf_key_file[64];

ax_node *perf_node_new(const char *name)
{
    struct ax_config c;
    ax_config_init(&c);
    struct ax_config_error err;
    ax_config_apply_env(&c, &err);
    snprintf(c.node_name, sizeof c.node_name, "%s-%d", name, (int)getpid());
    c.threads = 0;
    c.busy_poll_ns = perf_busy_poll_ns;
    if (perf_adaptive_poll_ns >= 0)
        c.adaptive_poll_ns = perf_adaptive_poll_ns;
    c.log_level = AX_LOG_ERROR;
    if (perf_transport != PERF_DEFAULT)
        c.transport.shm = AX_SHM_OFF;
    if (perf_transport == PERF_TLS) {
        c.security.tls = AX_TLS_PSK;
        snprintf(c.security.key_file, sizeof c.security.key_file, "%s", perf_key_file);
    }
    if (perf_domain_set)
        c.domain = perf_domain;
    /* node.threads is 0 here: this thread runs the loop, so it takes the
     * real-time settings (AXON_SCHED_POLICY, AXON_SCHED_PRIORITY, AXON_CPUS). */
    if (c.sched_policy != AX_SCHED_OTHER || c.cpus[0]) {
        struct ax_thread_rt rt = {c.sched_policy, (int)c.sched_priority, c.cpus};
        char why[300] = "";
        if (ax_thread_set_rt(&rt, why, sizeof why) < 0) {
            fprintf(stderr, "axon_perf: %s\n", why);
            exit(1);
        }
    }
    ax_node *n;
    int rc = ax_node_new(&n, &c);
    ax_config_fini(&c);
    if (rc < 0) {
        fprintf(stderr, "axon_perf: node: %s\n", ax_strerror(rc));
        exit(1);
    }
    return n;
}

int64_t perf_cpu_children_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (int64_t)ru.ru_utime.tv_sec * AX_NS_PER_S + ru.ru_utime.tv_usec * 1000 +
           (int64_t)ru.ru_stime.tv_sec * AX_NS_PER_S + ru.ru_stime.tv_usec * 1000;
}

void perf_spin_for(ax_node *n, int64_t ns)
{
    int64_t end = ax_clock_mono_ns() + ns;
    while (ax_clock_mono_ns() < end && !perf_stop)
        ax_node_spin_once(n, 1);
}

void perf_rx_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct perf_rx *r = user;
    (void)s;
    uint64_t c = 0;
    memcpy(&c, m->data, m->len < 8 ? m->len : 8);
    int64_t now = ax_clock_mono_ns();
    if (r->received == 0)
        r->t_first = now;
    r->t_last = now;
    if (r->received && c != r->last + 1) {
        if (c > r->last)
            r->gaps += c - r->last - 1;
        else
            r->ooo++;
    }
    r->last = c;
    r->received++;
    r->bytes += m->len;
    r->lat_sum += m->received_ns - m->source_ns;
    r->lat_n++;
}

void perf_bench_subscriber(const char *topic, int in_fd, int out_fd, double cap_s)
{
    int64_t t_start = ax_clock_mono_ns();
    ax_node *n = perf_node_new("perf-sub");
    struct perf_rx r = {0};
    ax_sub *s;
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    int rc = ax_sub_new_raw(&s, n, topic, PERF_TYPE, perf_rx_cb, &r, &so);
    if (rc < 0)
        _exit(1);
    struct perf_sub_report rep = {.ready = 1};
    if (write(out_fd, &rep, sizeof rep) != sizeof rep) /* subscribed */
        _exit(1);
    uint64_t expected = UINT64_MAX;
    int64_t deadline = ax_clock_mono_ns() + (int64_t)(cap_s * 1e9);
    int64_t first_msg = 0, next_check = 0;
    while (r.received < expected && ax_clock_mono_ns() < deadline) {
        ax_node_spin_once(n, 1);
        if (!first_msg && r.received)
            first_msg = r.t_first - t_start;
        /* The parent's "done" is looked for every 5 ms, not after every
         * step: a poll() per read would be harness cost in the receiver's
         * path that the raw TCP receiver does not pay. */
        int64_t now = ax_clock_mono_ns();
        if (expected != UINT64_MAX || now < next_check)
            continue;
        next_check = now + 5 * AX_NS_PER_MS;
        struct pollfd p = {.fd = in_fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1) {
            if (read(in_fd, &expected, sizeof expected) != sizeof expected)
                break;
            /* the publisher is done: what is not here within 2 s is lost */
            int64_t d = ax_clock_mono_ns() + 2 * AX_NS_PER_S;
            if (d < deadline)
                deadline = d;
        }
    }
    rep = (struct perf_sub_report){r.received, r.bytes,           r.gaps,    r.ooo, r.t_first,
                                   r.t_last,   ax_clock_cpu_ns(), first_msg, 0};
    if (write(out_fd, &rep, sizeof rep) != sizeof rep)
        _exit(1);
    ax_sub_free(s);
    ax_node_destroy(n);
    _exit(0);
}

void perf_spawn_sub(struct perf_child *c, const char *topic, double cap_s)
{
    int a[2], b[2];
    if (pipe(a) < 0 || pipe(b) < 0)
        exit(1);
    c->pid = fork();
    if (c->pid == 0) {
        close(a[1]);
        close(b[0]);
        perf_bench_subscriber(topic, a[0], b[1], cap_s);
    }
    close(a[0]);
    close(b[1]);
    c->to = a[1];
    c->from = b[0];
    struct perf_sub_report rep;
    if (read(c->from, &rep, sizeof rep) != sizeof rep)
        exit(1);
}

void perf_fill(uint8_t *p, size_t n, uint64_t c)
{
    memcpy(p, &c, n < 8 ? n : 8);
}

int perf_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

size_t perf_parse_size(const char *s)
{
    char *e;
    double v = strtod(s, &e);
    if (*e == 'k' || *e == 'K')
        v *= 1024;
    else if (*e == 'm' || *e == 'M')
        v *= 1024 * 1024;
    return (size_t)v;
}
