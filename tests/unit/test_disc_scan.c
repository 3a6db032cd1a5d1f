/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ax_discovery_scan(): hearing the nodes of every domain at once (what
 * `axon doctor` uses to find a node in the wrong domain), over real
 * host-local multicast, through the public API only.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ax_test.h"

/* Domains of their own (k 0..1), so parallel tests (ctest -j) do not mix
 * (tests/ax_test.h). */
static uint32_t test_domain(unsigned k)
{
    return axt_domain(AXT_DOMAINS_DISC_SCAN, k);
}

static ax_node *make_node(const char *name, uint32_t domain)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = domain;
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

struct seen {
    char topic[64];
    uint64_t id_a, id_b;
    uint32_t dom_a, dom_b;
    bool a, b, a_pub, b_sub;
    char a_name[AX_NODE_NAME_MAX];
    uint32_t a_pid;
    size_t calls;
};

static void on_node(uint32_t domain, const struct ax_node_info *node,
                    const struct ax_endpoint_info *eps, size_t neps, void *user)
{
    struct seen *s = user;
    s->calls++;
    if (node->id == s->id_a && domain == s->dom_a) {
        s->a = true;
        snprintf(s->a_name, sizeof s->a_name, "%s", node->name);
        s->a_pid = node->pid;
        for (size_t i = 0; i < neps; i++)
            if (eps[i].kind == AX_ENDPOINT_PUBLISHER && strcmp(eps[i].topic, s->topic) == 0 &&
                strcmp(eps[i].type_name, "scan.Raw") == 0 && eps[i].node_id == s->id_a)
                s->a_pub = true;
    }
    if (node->id == s->id_b && domain == s->dom_b) {
        s->b = true;
        for (size_t i = 0; i < neps; i++)
            if (eps[i].kind == AX_ENDPOINT_SUBSCRIBER && strcmp(eps[i].topic, s->topic) == 0)
                s->b_sub = true;
    }
}

static void nop_cb(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    (void)m;
    (void)user;
}

/* Two nodes in two domains, one with a publisher and one with a
 * subscription of the same topic: the scan hears both, with their domain
 * and endpoints, and takes about the time it was given. */
static void t_scan_two_domains(void **state)
{
    (void)state;
    struct seen s = {0};
    snprintf(s.topic, sizeof s.topic, "/scan/%d", (int)getpid());
    s.dom_a = test_domain(0);
    s.dom_b = test_domain(1);
    ax_node *a = make_node("scan-a", s.dom_a);
    ax_node *b = make_node("scan-b", s.dom_b);
    s.id_a = ax_node_id(a);
    s.id_b = ax_node_id(b);
    ax_pub *pub;
    ax_sub *sub;
    AX_OK_OR_FAIL(ax_pub_new_raw(&pub, a, s.topic, "scan.Raw", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&sub, b, s.topic, "scan.Raw", nop_cb, NULL, NULL));

    /* Each scan asks every domain for its state, so one short scan is
     * normally enough; repeat (bounded) for slow emulated runs. */
    int64_t end = ax_clock_mono_ns() + 20 * AX_NS_PER_S;
    while (!(s.a_pub && s.b_sub)) {
        if (ax_clock_mono_ns() > end)
            fail_msg("the scan did not hear both nodes: a=%d a_pub=%d b=%d b_sub=%d", s.a, s.a_pub,
                     s.b, s.b_sub);
        int64_t t0 = ax_clock_mono_ns();
        AX_OK_OR_FAIL(ax_discovery_scan(NULL, 300 * AX_NS_PER_MS, on_node, &s));
        int64_t took = ax_clock_mono_ns() - t0;
        assert_true(took >= 300 * AX_NS_PER_MS);
        assert_true(took < 5 * AX_NS_PER_S);
    }
    assert_string_equal(s.a_name, "scan-a");
    assert_int_equal(s.a_pid, (uint32_t)getpid());

    /* The scanner is not a node: nobody added it to a table. */
    size_t n = 0;
    AX_OK_OR_FAIL(ax_node_list_nodes(a, NULL, 0, &n));
    assert_int_equal(n, 1);

    ax_sub_free(sub);
    ax_pub_free(pub);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

static void t_scan_errors(void **state)
{
    (void)state;
    struct seen s = {0};
    assert_int_equal(ax_discovery_scan(NULL, 1000, NULL, NULL), AX_EINVAL);
    assert_int_equal(ax_discovery_scan(NULL, -1, on_node, &s), AX_EINVAL);
    struct ax_config c;
    ax_config_init(&c);
    c.discovery.mode = AX_DISCOVERY_OFF;
    assert_int_equal(ax_discovery_scan(&c, 1000, on_node, &s), AX_ENOTSUP);
    /* A zero duration returns at once, having heard nothing or little. */
    c.discovery.mode = AX_DISCOVERY_LOCAL;
    AX_OK_OR_FAIL(ax_discovery_scan(&c, 0, on_node, &s));
    ax_config_fini(&c);
}

int main(void)
{
    ax_log_set_level(AX_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_scan_two_domains),
        cmocka_unit_test(t_scan_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
