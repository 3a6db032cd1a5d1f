/* SPDX-License-Identifier: Apache-2.0 */
/* axon_perf's `bench` join: how soon a new subscriber process gets data. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf.h"

/* Time from a subscriber process's start to its first message, with a
 * publisher already running at 1 kHz. Trials are 250 ms apart: each join
 * makes the publisher's node send its discovery state, which is limited to
 * 20 rounds a second with a burst of 4 (docs/discovery.md), so joins back
 * to back measure that limit (up to ~50 ms each once the burst is spent)
 * rather than a subscriber starting in a running system. */
void perf_bench_join(const struct perf_opts *o)
{
    char topic[64];
    snprintf(topic, sizeof topic, "/perf/join/%d", (int)getpid());
    ax_node *n = perf_node_new("perf-join-pub");
    ax_pub *p;
    if (ax_pub_new_raw(&p, n, topic, PERF_TYPE, NULL) < 0)
        exit(1);
    int trials = o->quick ? 3 : 7;
    int64_t t[16];
    int ok = 0;
    for (int i = 0; i < trials; i++) {
        struct perf_child ch;
        int a[2], b[2];
        if (pipe(a) < 0 || pipe(b) < 0)
            exit(1);
        ch.pid = fork();
        if (ch.pid == 0) {
            close(a[1]);
            close(b[0]);
            perf_bench_subscriber(topic, a[0], b[1], 10);
        }
        close(a[0]);
        close(b[1]);
        uint64_t one = 1, seq = 0;
        uint8_t buf[64] = {0};
        struct perf_sub_report rep;
        bool ready = false, done = false;
        int64_t end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
        while (!done && ax_clock_mono_ns() < end) {
            perf_fill(buf, sizeof buf, ++seq);
            ax_pub_publish_bytes(p, buf, sizeof buf);
            perf_spin_for(n, AX_NS_PER_MS);
            struct pollfd pf = {.fd = b[0], .events = POLLIN};
            if (poll(&pf, 1, 0) == 1 && read(b[0], &rep, sizeof rep) == sizeof rep) {
                if (!ready) {
                    ready = true;
                    if (write(a[1], &one, sizeof one) != sizeof one) /* one message is enough */
                        break;
                } else {
                    done = true;
                }
            }
        }
        int st;
        waitpid(ch.pid, &st, 0);
        close(a[1]);
        close(b[0]);
        if (done && rep.first_msg_ns > 0 && ok < 16)
            t[ok++] = rep.first_msg_ns;
        perf_spin_for(n, 250 * AX_NS_PER_MS); /* the node runs on meanwhile */
    }
    if (ok) {
        qsort(t, (size_t)ok, sizeof t[0], perf_cmp_i64);
        printf("JOIN impl=axon trials=%d first_message_ms_median=%.1f max=%.1f (from the "
               "subscriber process's start, publisher at 1 kHz, one host)\n",
               ok, (double)t[ok / 2] / 1e6, (double)t[ok - 1] / 1e6);
    }
    fflush(stdout);
    ax_pub_free(p);
    ax_node_destroy(n);
}
