/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The access policy (core/ax__policy.h): the decisions for listed, "*"
 * and default identities; the shared-memory lists; and each refused
 * document, whose message must name the line and the key. The glob has its
 * own test (test_glob.c).
 */
#include <string.h>

#include "ax_test.h"
#include "core/ax__policy.h"

static ax__policy *parse_ok(const char *text)
{
    char err[512] = "";
    ax__policy *p = NULL;
    int rc = ax__policy_parse(text, strlen(text), "t.yaml", &p, err, sizeof err);
    if (rc)
        fail_msg("parse: %s: %s", ax_err_name(rc), err);
    return p;
}

static const char example[] = "# axon access policy\n"
                              "version: 1\n"
                              "default: deny\n"
                              "shm_uids: [1000]\n"
                              "shm_gids: []\n"
                              "nodes:\n"
                              "  lidar_driver:\n"
                              "    publish: [\"/sensors/lidar/*\"]\n"
                              "    subscribe: []\n"
                              "  planner:\n"
                              "    publish: [\"/plan/**\"]\n"
                              "    subscribe:\n"
                              "      - /sensors/**\n"
                              "      - /perception/*\n"
                              "    call: [\"/planner/*\"]\n"
                              "    set_param: planner.*\n"
                              "    shm_uids: [1001]\n"
                              "  mute:\n"
                              "  \"*\":\n"
                              "    subscribe: [\"/diagnostics/**\"]\n";

static void test_listed_and_star(void **state)
{
    (void)state;
    ax__policy *p = parse_ok(example);
    /* listed: exactly its lists */
    assert_true(ax__policy_allows(p, "lidar_driver", AX__POLICY_PUBLISH, "/sensors/lidar/front"));
    assert_false(ax__policy_allows(p, "lidar_driver", AX__POLICY_PUBLISH, "/sensors/lidar/a/b"));
    assert_false(ax__policy_allows(p, "lidar_driver", AX__POLICY_PUBLISH, "/plan/x"));
    assert_false(ax__policy_allows(p, "lidar_driver", AX__POLICY_SUBSCRIBE, "/sensors/lidar/a"));
    assert_false(ax__policy_allows(p, "lidar_driver", AX__POLICY_CALL, "/planner/x"));
    /* a listed identity does not get "*"'s rules */
    assert_false(ax__policy_allows(p, "lidar_driver", AX__POLICY_SUBSCRIBE, "/diagnostics/a"));
    assert_true(ax__policy_allows(p, "planner", AX__POLICY_PUBLISH, "/plan/a/b/c"));
    assert_true(ax__policy_allows(p, "planner", AX__POLICY_SUBSCRIBE, "/sensors/lidar/front"));
    assert_true(ax__policy_allows(p, "planner", AX__POLICY_SUBSCRIBE, "/perception/objects"));
    assert_false(ax__policy_allows(p, "planner", AX__POLICY_SUBSCRIBE, "/perception/a/b"));
    assert_true(ax__policy_allows(p, "planner", AX__POLICY_CALL, "/planner/replan"));
    assert_true(ax__policy_allows(p, "planner", AX__POLICY_SET_PARAM, "planner.gain"));
    assert_false(ax__policy_allows(p, "planner", AX__POLICY_SET_PARAM, "lidar.gain"));
    /* a node with no value may do nothing */
    assert_false(ax__policy_allows(p, "mute", AX__POLICY_SUBSCRIBE, "/diagnostics/a"));
    /* unlisted: "*" */
    assert_true(ax__policy_allows(p, "stranger", AX__POLICY_SUBSCRIBE, "/diagnostics/cpu/0"));
    assert_true(ax__policy_allows(p, NULL, AX__POLICY_SUBSCRIBE, "/diagnostics/cpu"));
    assert_false(ax__policy_allows(p, "stranger", AX__POLICY_PUBLISH, "/diagnostics/cpu"));
    assert_false(ax__policy_allows(p, "stranger", AX__POLICY_SUBSCRIBE, "/sensors/a"));
    /* identities are exact */
    assert_false(ax__policy_allows(p, "Planner", AX__POLICY_PUBLISH, "/plan/a"));
    /* bad arguments */
    assert_false(ax__policy_allows(p, "planner", AX__POLICY_PUBLISH, NULL));
    assert_false(ax__policy_allows(p, "planner", (enum ax__policy_action)4, "/plan/a"));
    assert_false(ax__policy_allows(NULL, "planner", AX__POLICY_PUBLISH, "/plan/a"));
    /* a name over the bound is never matched */
    char longname[300];
    memset(longname, 'x', sizeof longname);
    memcpy(longname, "/plan/", 6);
    longname[sizeof longname - 1] = 0;
    assert_false(ax__policy_allows(p, "planner", AX__POLICY_PUBLISH, longname));
    longname[AX__POLICY_NAME_MAX] = 0;
    assert_true(ax__policy_allows(p, "planner", AX__POLICY_PUBLISH, longname));
    ax__policy_free(p);
}

static void test_defaults(void **state)
{
    (void)state;
    /* default deny (written or not), no "*": unlisted may do nothing */
    const char *deny[] = {"default: deny\nnodes:\n  a:\n    publish: /x\n",
                          "nodes:\n  a:\n    publish: /x\n"};
    for (size_t i = 0; i < 2; i++) {
        ax__policy *p = parse_ok(deny[i]);
        assert_true(ax__policy_allows(p, "a", AX__POLICY_PUBLISH, "/x"));
        assert_false(ax__policy_allows(p, "a", AX__POLICY_PUBLISH, "/y"));
        assert_false(ax__policy_allows(p, "b", AX__POLICY_PUBLISH, "/x"));
        assert_false(ax__policy_allows(p, NULL, AX__POLICY_SUBSCRIBE, "/x"));
        ax__policy_free(p);
    }
    /* default allow: unlisted may do everything, listed only its lists */
    ax__policy *p = parse_ok("default: allow\nnodes:\n  a:\n    publish: /x\n");
    assert_true(ax__policy_allows(p, "a", AX__POLICY_PUBLISH, "/x"));
    assert_false(ax__policy_allows(p, "a", AX__POLICY_SUBSCRIBE, "/x"));
    assert_true(ax__policy_allows(p, "b", AX__POLICY_SUBSCRIBE, "/anything/at/all"));
    assert_true(ax__policy_allows(p, "b", AX__POLICY_SET_PARAM, "x"));
    ax__policy_free(p);
    /* "*" overrides default allow */
    p = parse_ok("default: allow\nnodes:\n  '*':\n    subscribe: ['/pub/*']\n");
    assert_true(ax__policy_allows(p, "b", AX__POLICY_SUBSCRIBE, "/pub/x"));
    assert_false(ax__policy_allows(p, "b", AX__POLICY_PUBLISH, "/pub/x"));
    ax__policy_free(p);
    /* no nodes at all */
    p = parse_ok("default: allow\n");
    assert_true(ax__policy_allows(p, "z", AX__POLICY_PUBLISH, "/q"));
    ax__policy_free(p);
}

static void test_many_nodes_lookup(void **state)
{
    (void)state;
    /* Enough entries that the lookup is a search over a sorted array. */
    size_t cap = 64 * AX__POLICY_NODES_MAX, o = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    o += (size_t)snprintf(t + o, cap - o, "nodes:\n");
    for (int i = AX__POLICY_NODES_MAX - 1; i >= 0; i--)
        o += (size_t)snprintf(t + o, cap - o, "  n%d: {publish: /t%d}\n", i, i);
    ax__policy *p = parse_ok(t);
    for (int i = 0; i < AX__POLICY_NODES_MAX; i += 97) {
        char id[16], topic[16];
        snprintf(id, sizeof id, "n%d", i);
        snprintf(topic, sizeof topic, "/t%d", i);
        assert_true(ax__policy_allows(p, id, AX__POLICY_PUBLISH, topic));
        snprintf(topic, sizeof topic, "/t%d", i + 1);
        assert_false(ax__policy_allows(p, id, AX__POLICY_PUBLISH, topic));
    }
    ax__policy_free(p);
    free(t);
}

static void test_shm(void **state)
{
    (void)state;
    uint32_t me = (uint32_t)getuid();
    /* no lists: only our own uid */
    ax__policy *p = parse_ok("version: 1\n");
    assert_true(ax__policy_allows_shm(p, "x", me, 12345));
    assert_false(ax__policy_allows_shm(p, "x", me + 1, 12345));
    ax__policy_free(p);
    /* top-level lists: uid or gid; our own uid is no longer implied */
    p = parse_ok(example);
    assert_true(ax__policy_allows_shm(p, "lidar_driver", 1000, 5));
    assert_false(ax__policy_allows_shm(p, "lidar_driver", 1001, 5));
    if (me != 1000)
        assert_false(ax__policy_allows_shm(p, "lidar_driver", me, 5));
    /* per-node override replaces both lists */
    assert_true(ax__policy_allows_shm(p, "planner", 1001, 5));
    assert_false(ax__policy_allows_shm(p, "planner", 1000, 5));
    /* unlisted, and "*" without its own lists: the top-level ones */
    assert_true(ax__policy_allows_shm(p, "stranger", 1000, 5));
    assert_true(ax__policy_allows_shm(p, NULL, 1000, 5));
    ax__policy_free(p);
    p = parse_ok("shm_uids: []\nshm_gids: [50, 60]\nnodes:\n"
                 "  a: {shm_gids: 70}\n  '*': {shm_uids: [7]}\n  b: {publish: /x}\n");
    assert_true(ax__policy_allows_shm(p, "b", 1, 60));
    assert_false(ax__policy_allows_shm(p, "b", me, 1));
    assert_true(ax__policy_allows_shm(p, "a", 1, 70));
    assert_false(ax__policy_allows_shm(p, "a", 1, 50)); /* replaced */
    assert_true(ax__policy_allows_shm(p, "other", 7, 1));
    assert_false(ax__policy_allows_shm(p, "other", 1, 50));
    assert_false(ax__policy_allows_shm(NULL, "a", me, 0));
    ax__policy_free(p);
}

/* ---- refused documents ---- */

/* Parse @text, expect AX_EINVAL and a message holding each of @want. */
#define EXPECT_ERROR(text, ...)                                                                    \
    do {                                                                                           \
        const char *want_[] = {__VA_ARGS__};                                                       \
        expect_error((text), want_, sizeof want_ / sizeof want_[0]);                               \
    } while (0)

static void expect_error(const char *text, const char **want, size_t n)
{
    char err[512] = "";
    ax__policy *p = (ax__policy *)&err; /* must stay untouched */
    int rc = ax__policy_parse(text, strlen(text), "t.yaml", &p, err, sizeof err);
    if (rc != AX_EINVAL)
        fail_msg("expected AX_EINVAL, got %s for:\n%s", ax_err_name(rc), text);
    assert_ptr_equal(p, (ax__policy *)&err);
    for (size_t i = 0; i < n; i++)
        if (!strstr(err, want[i]))
            fail_msg("message \"%s\" lacks \"%s\"", err, want[i]);
    printf("    refused: %s\n", err);
}

static void test_errors(void **state)
{
    (void)state;
    EXPECT_ERROR("version: 1\nfoo: 2\n", "t.yaml:2:1: foo: ", "unknown key \"foo\"");
    EXPECT_ERROR("nodes:\n  planner:\n    publish: []\n    publsh: []\n",
                 "t.yaml:4:5: nodes.planner.publsh: ", "unknown key \"publsh\"");
    EXPECT_ERROR("version: 1\ndefault: maybe\n",
                 "t.yaml:2:10: default: ", "expected deny or allow, got \"maybe\"");
    EXPECT_ERROR("version: 2\n", "t.yaml:1:10: version: ", "unsupported version 2");
    EXPECT_ERROR("nodes:\n  a: &x {publish: /a}\n  b: *x\n", "t.yaml:3:6:", "aliases");
    EXPECT_ERROR("nodes:\n  a:\n    publish: &p [/a]\n    subscribe: *p\n",
                 "t.yaml:4:16:", "aliases");
    EXPECT_ERROR("nodes:\n  a: {}\n  b: {}\n  a: {}\n",
                 "t.yaml:4:3: nodes.a: ", "duplicate node (first at line 2)");
    EXPECT_ERROR("nodes:\n  '*': {}\n  \"*\": {}\n", "t.yaml:3:3: nodes.*: ", "duplicate node");
    EXPECT_ERROR("default: deny\ndefault: allow\n", "t.yaml:2:1: default: ", "duplicate key");
    EXPECT_ERROR("nodes:\n  a:\n    publish: /a\n    publish: /b\n",
                 "t.yaml:4:5: nodes.a.publish: ", "duplicate key (first at line 3)");
    EXPECT_ERROR("", "t.yaml: empty policy");
    EXPECT_ERROR("# only a comment\n", "empty policy");
    EXPECT_ERROR("---\n...\n", "empty policy");
    EXPECT_ERROR("- a\n", "t.yaml:1:1:", "expected a mapping at the top level");
    EXPECT_ERROR("nodes:\n  a:\n    publish:\n",
                 "t.yaml:3:13: nodes.a.publish: ", "expected a list (write [] for none)");
    EXPECT_ERROR("nodes:\n  a:\n    publish: [/a, {x: 1}]\n",
                 "t.yaml:3:19: nodes.a.publish: ", "expected a string entry, got a mapping");
    EXPECT_ERROR("nodes:\n  a: [/x]\n", "t.yaml:2:6: nodes.a: ", "expected a mapping");
    EXPECT_ERROR("shm_uids: [1000, -1]\n", "t.yaml:1:18: shm_uids: ", "\"-1\" is not an id");
    EXPECT_ERROR("shm_gids: [4294967296]\n", "t.yaml:1:12: shm_gids: ", "not an id");
    EXPECT_ERROR("nodes:\n  a:\n    publish: ['']\n", "t.yaml:3:15: nodes.a.publish: ", "0 bytes");
    EXPECT_ERROR("nodes:\n  a:\n    publish: [\"/a\\0b\"]\n", "t.yaml:3:", "NUL byte");
    EXPECT_ERROR("{version: 1\n", "t.yaml:2:1: ", "YAML syntax error");
    EXPECT_ERROR("a: 1\n---\nb: 2\n", "t.yaml:1:1: a: ", "unknown key"); /* the first error wins */
    EXPECT_ERROR("version: 1\n---\nversion: 1\n", "t.yaml:2:1:", "only one YAML document");
}

static void test_bounds(void **state)
{
    (void)state;
    size_t cap = 64 * (AX__POLICY_NODES_MAX + 2), o = 0;
    char *t = malloc(cap);
    assert_non_null(t);

    /* a list one entry too long: the error is on its 1025th entry's line */
    o = (size_t)snprintf(t, cap, "version: 1\nnodes:\n  big:\n    subscribe:\n");
    for (int i = 0; i <= AX__POLICY_LIST_MAX; i++)
        o += (size_t)snprintf(t + o, cap - o, "      - /t/%d\n", i);
    char want[64];
    snprintf(want, sizeof want, "t.yaml:%d:9: nodes.big.subscribe: ", 5 + AX__POLICY_LIST_MAX);
    EXPECT_ERROR(t, want, "too many entries: at most 1024");
    /* ... and one entry fewer is fine */
    char *cut = strstr(t, "      - /t/1024\n");
    assert_non_null(cut);
    *cut = 0;
    ax__policy *p = parse_ok(t);
    assert_true(ax__policy_allows(p, "big", AX__POLICY_SUBSCRIBE, "/t/1023"));
    ax__policy_free(p);

    /* one node too many ("*" does not count) */
    o = (size_t)snprintf(t, cap, "nodes:\n  '*': {}\n");
    for (int i = 0; i <= AX__POLICY_NODES_MAX; i++)
        o += (size_t)snprintf(t + o, cap - o, "  n%d: {}\n", i);
    snprintf(want, sizeof want, "t.yaml:%d:3: nodes.n4096: ", 3 + AX__POLICY_NODES_MAX);
    EXPECT_ERROR(t, want, "too many nodes: at most 4096");

    /* a pattern and an identity over AX__POLICY_NAME_MAX bytes */
    char name[AX__POLICY_NAME_MAX + 2];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    snprintf(t, cap, "nodes:\n  a:\n    publish: [/ok, %s]\n", name);
    EXPECT_ERROR(t, "t.yaml:3:20: nodes.a.publish: ", "256 bytes (1 to 255)");
    snprintf(t, cap, "nodes:\n  a: {}\n  %s: {}\n", name);
    EXPECT_ERROR(t, "t.yaml:3:3: nodes: ", "an identity of 256 bytes");
    free(t);
}

static void test_load_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/axon_policy_XXXXXX", path[64], err[512] = "";
    ax__policy *p = NULL;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/none.yaml", dir);
    assert_int_equal(ax__policy_load(path, &p, err, sizeof err), AX_ENOENT);
    assert_null(p);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot open"));
    printf("    refused: %s\n", err);

    snprintf(path, sizeof path, "%s/policy.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(example, f);
    fclose(f);
    AX_OK_OR_FAIL(ax__policy_load(path, &p, err, sizeof err));
    assert_true(ax__policy_allows(p, "planner", AX__POLICY_PUBLISH, "/plan/x"));
    ax__policy_free(p);

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("nodes:\n  a:\n    pub: []\n", f);
    fclose(f);
    p = NULL;
    assert_int_equal(ax__policy_load(path, &p, err, sizeof err), AX_EINVAL);
    assert_null(p);
    char want[96];
    snprintf(want, sizeof want, "%s:3:5: nodes.a.pub: unknown key", path);
    assert_non_null(strstr(err, want));
    unlink(path);

    assert_int_equal(ax__policy_load(dir, &p, err, sizeof err), AX_EINVAL); /* a directory */
    assert_non_null(strstr(err, "not a regular file"));
    /* bad arguments, and a document over the size bound (not read) */
    assert_int_equal(ax__policy_load(NULL, &p, err, sizeof err), AX_EINVAL);
    assert_int_equal(ax__policy_parse("", 0, NULL, NULL, err, sizeof err), AX_EINVAL);
    assert_int_equal(
        ax__policy_parse("", (size_t)AX__POLICY_FILE_MAX + 1, NULL, &p, err, sizeof err),
        AX_EINVAL);
    assert_non_null(strstr(err, "<string>: larger than"));
    assert_null(p);
    /* no room for a message is fine */
    assert_int_equal(ax__policy_parse("x: 1", 4, NULL, &p, NULL, 0), AX_EINVAL);
    assert_int_equal(rmdir(dir), 0);
    ax__policy_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listed_and_star),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_many_nodes_lookup),
        cmocka_unit_test(test_shm),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
