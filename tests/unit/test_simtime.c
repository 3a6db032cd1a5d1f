/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's time (ax_node_now(), node timers; docs/time.md). With
 * node.use_sim_time the timers follow the clock messages: the test
 * publishes them itself, on the same node (delivered in the publishing
 * call), so every count below is exact: a timer fires once per period
 * the clock passes, never while it is paused, ten times as often when the
 * clock runs ten times as fast, restarts when the clock goes back, and
 * stops when freed, even from its own callback. On wall time a timer
 * fires from the node's loop thread.
 */
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ax_test.h"
#include "axon/axon.h"

#define MS AX_NS_PER_MS

static ax_node *sim_node(void)
{
    struct ax_config c;
    ax_config_init(&c);
    c.threads = 0;
    c.discovery.mode = AX_DISCOVERY_OFF;
    c.transport.shm = AX_SHM_OFF;
    c.log_level = AX_LOG_ERROR;
    c.use_sim_time = true;
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

static void tick(ax_pub *clock, int64_t t)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)t >> (8 * i));
    AX_OK_OR_FAIL(ax_pub_publish_bytes(clock, b, sizeof b));
}

struct fired {
    atomic_int n;
    _Atomic int64_t last_now;
    bool free_self;
};

static void count(ax_node_timer *t, int64_t now, void *user)
{
    struct fired *f = user;
    f->last_now = now;
    atomic_fetch_add(&f->n, 1);
    if (f->free_self)
        ax_node_timer_free(t);
}

static void test_timer_follows_simulated_time(void **state)
{
    (void)state;
    ax_node *n = sim_node();
    ax_pub *clock;
    AX_OK_OR_FAIL(ax_pub_new_raw(&clock, n, "/clock", AX_CLOCK_TYPE, NULL));
    assert_int_equal(ax_node_now(n), 0); /* no clock yet */
    struct fired f = {0};
    ax_node_timer *t;
    AX_OK_OR_FAIL(ax_node_timer_new(&t, n, 100 * MS, count, &f));

    const int64_t t0 = 1700000000LL * AX_NS_PER_S;
    /* 1 s of simulated time in 10 ms steps: 10 periods, 10 calls. */
    for (int i = 0; i <= 100; i++)
        tick(clock, t0 + i * 10 * MS);
    assert_int_equal(ax_node_now(n), t0 + 1000 * MS);
    assert_int_equal(atomic_load(&f.n), 10);
    assert_int_equal(f.last_now, t0 + 1000 * MS);

    /* Paused: the same time again and again, however long it takes. */
    for (int i = 0; i < 50; i++)
        tick(clock, t0 + 1000 * MS);
    assert_int_equal(atomic_load(&f.n), 10);

    /* Ten times as fast: 100 ms per message, 10 messages, 10 calls. */
    for (int i = 1; i <= 10; i++)
        tick(clock, t0 + 1000 * MS + i * 100 * MS);
    assert_int_equal(atomic_load(&f.n), 20);

    /* A jump of 5 periods fires the 5 at once. */
    tick(clock, t0 + 2500 * MS);
    assert_int_equal(atomic_load(&f.n), 25);

    /* Back in time (a replay started over): the count restarts from there. */
    tick(clock, t0);
    assert_int_equal(atomic_load(&f.n), 25);
    tick(clock, t0 + 100 * MS);
    assert_int_equal(atomic_load(&f.n), 26);

    /* Freed: nothing more. */
    ax_node_timer_free(t);
    tick(clock, t0 + 900 * MS);
    assert_int_equal(atomic_load(&f.n), 26);

    /* A timer that frees itself in its callback fires once. */
    struct fired g = {.free_self = true};
    AX_OK_OR_FAIL(ax_node_timer_new(&t, n, 10 * MS, count, &g));
    tick(clock, t0 + 1000 * MS); /* starts the count */
    tick(clock, t0 + 1010 * MS);
    tick(clock, t0 + 1020 * MS);
    assert_int_equal(atomic_load(&g.n), 1);

    /* Not a clock: ignored. */
    uint8_t junk[3] = {1, 2, 3};
    AX_OK_OR_FAIL(ax_pub_publish_bytes(clock, junk, sizeof junk));
    assert_int_equal(ax_node_now(n), t0 + 1020 * MS);

    assert_int_equal(ax_node_timer_new(&t, n, 0, count, &f), AX_EINVAL);
    ax_pub_free(clock);
    ax_node_destroy(n); /* frees what is left */
}

static int fired_n(struct fired *f)
{
    return atomic_load(&f->n);
}

static void test_timer_on_wall_time(void **state)
{
    (void)state;
    struct ax_config c;
    ax_config_init(&c);
    c.threads = 1;
    c.discovery.mode = AX_DISCOVERY_OFF;
    c.log_level = AX_LOG_ERROR;
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    int64_t before = ax_clock_real_ns();
    assert_true(ax_node_now(n) >= before);
    struct fired f = {0};
    ax_node_timer *t, *kept;
    AX_OK_OR_FAIL(ax_node_timer_new(&t, n, 5 * MS, count, &f));
    struct fired g = {0};
    AX_OK_OR_FAIL(ax_node_timer_new(&kept, n, 5 * MS, count, &g));
    int64_t end = ax_clock_mono_ns() + 5 * AX_NS_PER_S;
    while (fired_n(&f) < 3 && ax_clock_mono_ns() < end)
        poll(NULL, 0, 2);
    assert_true(fired_n(&f) >= 3);
    assert_true(f.last_now >= before);
    ax_node_timer_free(t);
    ax_node_destroy(n); /* with a timer still alive: freed with the node */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_follows_simulated_time),
        cmocka_unit_test(test_timer_on_wall_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
