/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: level filtering before formatting, sinks, level names; clocks. */
#include <string.h>

#include "ax_test.h"
#include "base/ax__log_limit.h"

struct capture {
    int count;
    int last_level;
    char last_module[32];
    char last_msg[2048];
};

static void capture_sink(int level, const char *module, const char *msg, void *user)
{
    struct capture *c = user;
    c->count++;
    c->last_level = level;
    strncpy(c->last_module, module, sizeof c->last_module - 1);
    strncpy(c->last_msg, msg, sizeof c->last_msg - 1);
}

static int evaluated;

static int side_effect(void)
{
    return ++evaluated;
}

static void test_level_checked_before_formatting(void **state)
{
    (void)state;
    struct capture c = {0};
    ax_log_set_sink(capture_sink, &c);
    ax_log_set_level(AX_LOG_WARN);
    evaluated = 0;
    AX_LOG_D("test", "debug %d", side_effect()); /* disabled: args not evaluated */
    assert_int_equal(evaluated, 0);
    assert_int_equal(c.count, 0);
    AX_LOG_W("test", "warn %d", side_effect());
    assert_int_equal(evaluated, 1);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.last_level, AX_LOG_WARN);
    assert_string_equal(c.last_module, "test");
    assert_string_equal(c.last_msg, "warn 1");
    ax_log_set_level(AX_LOG_OFF);
    AX_LOG_E("test", "error");
    assert_int_equal(c.count, 1);
    ax_log_set_level(99);
    assert_int_equal(ax_log_level(), AX_LOG_TRACE);
    /* Long messages are truncated visibly, not overflowed. */
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    AX_LOG_I("test", "%s", big);
    assert_int_equal(strlen(c.last_msg), 1023);
    assert_memory_equal(c.last_msg + 1020, "...", 3);
    ax_log_set_sink(NULL, NULL);
    ax_log_set_level(AX_LOG_WARN);
}

static void test_level_names(void **state)
{
    (void)state;
    int lvl = -1;
    AX_OK_OR_FAIL(ax_log_level_parse("DEBUG", &lvl));
    assert_int_equal(lvl, AX_LOG_DEBUG);
    AX_OK_OR_FAIL(ax_log_level_parse("warning", &lvl));
    assert_int_equal(lvl, AX_LOG_WARN);
    assert_int_equal(ax_log_level_parse("loud", &lvl), AX_EINVAL);
    assert_int_equal(lvl, AX_LOG_WARN);
    assert_string_equal(ax_log_level_name(AX_LOG_ERROR), "error");
    assert_string_equal(ax_log_level_name(42), "?");
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t a = ax_clock_mono_ns();
    int64_t b = ax_clock_mono_ns();
    assert_true(b >= a);
    assert_true(ax_clock_real_ns() > INT64_C(1600000000) * AX_NS_PER_S);
    assert_true(ax_clock_cpu_ns() > 0);
}

/* What a peer can trigger is logged at a bounded rate: a burst per window,
 * then nothing until the window ends, and the first line after it carries
 * the number left out. */
static void test_limited_logging(void **state)
{
    (void)state;
    struct ax__log_limit lim = {0};
    unsigned sup = 99;
    int64_t t0 = 5 * AX_NS_PER_S;
    unsigned emitted = 0;
    for (unsigned i = 0; i < 1000; i++)
        if (ax__log_limit_take(&lim, t0 + i, &sup)) {
            emitted++;
            assert_int_equal(sup, 0);
        }
    assert_int_equal(emitted, AX__LOG_LIMIT_BURST);
    assert_false(ax__log_limit_take(&lim, t0 + AX__LOG_LIMIT_WINDOW_NS - 1, &sup));
    assert_true(ax__log_limit_take(&lim, t0 + AX__LOG_LIMIT_WINDOW_NS, &sup));
    assert_int_equal(sup, 1000 - AX__LOG_LIMIT_BURST + 1);
    assert_true(ax__log_limit_take(&lim, t0 + AX__LOG_LIMIT_WINDOW_NS + 1, &sup));
    assert_int_equal(sup, 0);

    /* Through the macro: one call site, 100 calls, BURST lines. */
    struct capture c = {0};
    ax_log_set_sink(capture_sink, &c);
    ax_log_set_level(AX_LOG_WARN);
    for (int i = 0; i < 100; i++)
        AX_LOG_LIMITED(AX_LOG_WARN, "test", "refused %d", i);
    ax_log_set_sink(NULL, NULL);
    assert_int_equal(c.count, (int)AX__LOG_LIMIT_BURST);
    assert_string_equal(c.last_msg, "refused 4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_checked_before_formatting),
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_limited_logging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
