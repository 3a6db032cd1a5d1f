/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared memory under concurrency, in one process so that ThreadSanitizer
 * sees every thread (the CI runs it under TSan; it cannot see across
 * processes, and qemu on x86 shows no weak ordering): a publishing node
 * and a subscribing node, linked through shared memory, so the publisher's
 * segments are mapped twice here, writable by the publisher and read-only
 * by the subscriber.
 *
 *  - the application's thread loans chunks, writes a pattern derived from
 *    the sequence number over the whole chunk and publishes (overload
 *    block: nothing is dropped); chunks are reused as fast as they come
 *    back;
 *  - the subscriber's loop thread checks every byte of every message
 *    through its own mapping, and keeps one in five (ax_msg_retain) for a
 *    third thread, which checks it again later and releases it there (the
 *    release travels back to the loop and to the publisher);
 *  - a chunk given back too early (reused while a subscriber still reads
 *    it) shows as a wrong byte; a race on axon's own state, as a TSan
 *    report.
 * At the end: delivered = published, no wrong byte, every chunk back.
 *
 * No atomics live in the shared memory itself: who holds a chunk is the
 * publisher's private state, changed only by messages on the socket, whose
 * system calls order the payload's writes before the subscriber's reads
 * (docs/pubsub.md, "Memory ordering").
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "ax_test.h"

#define COUNT 3000
#define SIZE  (96u * 1024) /* several pages, above shm_threshold */

static uint8_t pattern(uint64_t seq, size_t i)
{
    return (uint8_t)(seq * 131 + i * 7 + (i >> 12));
}

struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ax_msg *kept[64];
    unsigned head, count; /* a ring of retained messages for the checker */
    bool done;
    atomic_ullong received, wrong, rechecked, order_errors, next;
};

static bool message_ok(const struct ax_msg *m)
{
    uint64_t seq;
    if (m->len != SIZE)
        return false;
    memcpy(&seq, m->data, sizeof seq);
    for (size_t i = 8; i < m->len; i++)
        if (m->data[i] != pattern(seq, i))
            return false;
    return true;
}

static void on_msg(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct shared *sh = user;
    (void)s;
    uint64_t seq = 0;
    memcpy(&seq, m->data, sizeof seq);
    if (seq != atomic_load(&sh->next))
        atomic_fetch_add(&sh->order_errors, 1);
    atomic_store(&sh->next, seq + 1);
    if (!message_ok(m))
        atomic_fetch_add(&sh->wrong, 1);
    if (seq % 5 == 0) {
        struct ax_msg *r;
        if (ax_msg_retain(m, &r) == 0) {
            pthread_mutex_lock(&sh->mu);
            if (sh->count < 64) {
                sh->kept[(sh->head + sh->count) % 64] = r;
                sh->count++;
                r = NULL;
                pthread_cond_signal(&sh->cv);
            }
            pthread_mutex_unlock(&sh->mu);
            if (r) /* the checker is behind: release here */
                ax_msg_release(r);
        }
    }
    atomic_fetch_add(&sh->received, 1);
}

/* Checks the retained messages again, later, and releases them on this
 * thread: the chunks must not have changed meanwhile. */
static void *checker(void *arg)
{
    struct shared *sh = arg;
    pthread_mutex_lock(&sh->mu);
    for (;;) {
        while (sh->count == 0 && !sh->done)
            pthread_cond_wait(&sh->cv, &sh->mu);
        if (sh->count == 0 && sh->done)
            break;
        struct ax_msg *r = sh->kept[sh->head];
        sh->head = (sh->head + 1) % 64;
        sh->count--;
        pthread_mutex_unlock(&sh->mu);
        if (!message_ok(r))
            atomic_fetch_add(&sh->wrong, 1);
        atomic_fetch_add(&sh->rechecked, 1);
        ax_msg_release(r);
        pthread_mutex_lock(&sh->mu);
    }
    pthread_mutex_unlock(&sh->mu);
    return NULL;
}

static ax_node *make(const char *name)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = axt_domain(AXT_DOMAINS_SHM_STRESS, 0);
    c.transport.shm_budget = 8u << 20; /* few chunks: reused all the time */
    c.transport.shm_quota = 16;
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

static void t_two_mappings_under_load(void **state)
{
    (void)state;
    struct shared sh;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    atomic_store(&sh.next, 1);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, checker, &sh), 0);

    ax_node *pn = make("stress-pub"), *sn = make("stress-sub");
    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.qos.max_blocking_ns = 5 * AX_NS_PER_S;
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, pn, "/stress", "test.Pattern", &po));
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.qos.overload = AX_OVERLOAD_BLOCK;
    ax_sub *s;
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, sn, "/stress", "test.Pattern", on_msg, &sh, &so));
    struct ax_endpoint_counters c;
    int64_t end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
    do
        poll(NULL, 0, 2);
    while ((ax_sub_counters(s, &c), c.nlinks == 0 || c.links[0].transport != AX_LINK_SHM) &&
           ax_clock_mono_ns() < end);
    assert_int_equal(c.links[0].transport, AX_LINK_SHM);
    /* And the publisher's side of the link: until it has the subscriber,
     * a message goes to nobody (a volatile subscription does not get what
     * was published before it matched). Under qemu the first messages
     * were published in that window now and then. */
    struct ax_endpoint_counters pc;
    WAIT_FOR((ax_pub_counters(p, &pc), pc.connections == 1), 10000);

    uint64_t enobufs = 0;
    for (uint64_t seq = 1; seq <= COUNT;) {
        struct ax_loan loan;
        int rc = ax_pub_loan(p, SIZE, &loan);
        if (rc == AX_ENOBUFS) { /* every chunk is out: wait for one back */
            enobufs++;
            poll(NULL, 0, 1);
            continue;
        }
        AX_OK_OR_FAIL(rc);
        memcpy(loan.data, &seq, sizeof seq);
        for (size_t i = 8; i < SIZE; i++)
            loan.data[i] = pattern(seq, i);
        AX_OK_OR_FAIL(ax_pub_publish_loan(p, &loan, SIZE));
        seq++;
    }
    end = ax_clock_mono_ns() + 60 * AX_NS_PER_S;
    while (atomic_load(&sh.received) < COUNT && ax_clock_mono_ns() < end)
        poll(NULL, 0, 5);
    pthread_mutex_lock(&sh.mu);
    sh.done = true;
    pthread_cond_signal(&sh.cv);
    pthread_mutex_unlock(&sh.mu);
    pthread_join(th, NULL);
    print_message("stress: %llu messages, %llu rechecked later, %llu loans waited for a chunk\n",
                  (unsigned long long)atomic_load(&sh.received),
                  (unsigned long long)atomic_load(&sh.rechecked), (unsigned long long)enobufs);
    assert_int_equal(atomic_load(&sh.received), COUNT);
    assert_int_equal(atomic_load(&sh.wrong), 0);
    assert_int_equal(atomic_load(&sh.order_errors), 0);
    assert_true(atomic_load(&sh.rechecked) > 0);
    struct ax_pool_stats ps;
    end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
    do {
        AX_OK_OR_FAIL(ax_pub_pool_stats(p, &ps));
        poll(NULL, 0, 2);
    } while (ps.in_use > 0 && ax_clock_mono_ns() < end);
    assert_int_equal(ps.in_use, 0);
    assert_int_equal(ps.copied, 0);
    AX_OK_OR_FAIL(ax_pub_counters(p, &c));
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++)
        assert_int_equal(c.drops[r], 0);
    ax_sub_free(s);
    ax_pub_free(p);
    ax_node_destroy(sn);
    ax_node_destroy(pn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_two_mappings_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
