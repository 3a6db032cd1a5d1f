/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parameters (axon/param.h): declarations and their checks, sets from
 * inside the node through the same checks and change callback as from
 * outside, another node listing and setting them through the node's
 * parameter service (text values converted to the declared types, each
 * refusal with its code and reason), the access policy's set_param, and
 * parameter files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ax_test.h"
#include "axon/axon.h"

#define MS AX_NS_PER_MS

static ax_node *make(const char *name, const char *policy)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = axt_domain(AXT_DOMAINS_PARAM, 0);
    c.log_level = AX_LOG_ERROR;
    if (policy)
        snprintf(c.security.policy_file, sizeof c.security.policy_file, "%s", policy);
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

static const char *const modes[] = {"cautious", "normal", "sport"};

static void declare_all(ax_node *n)
{
    struct ax_param_desc d = {.name = "max_speed",
                              .def = {.type = AX_PARAM_DOUBLE, .d = 10.0},
                              .description = "m/s",
                              .has_range = true,
                              .min = 0,
                              .max = 30};
    AX_OK_OR_FAIL(ax_param_declare(n, &d));
    d = (struct ax_param_desc){.name = "mode",
                               .def = {.type = AX_PARAM_STRING, .s = "normal"},
                               .choices = modes,
                               .nchoices = 3};
    AX_OK_OR_FAIL(ax_param_declare(n, &d));
    d = (struct ax_param_desc){.name = "lanes", .def = {.type = AX_PARAM_INT, .i = 2}};
    AX_OK_OR_FAIL(ax_param_declare(n, &d));
    d = (struct ax_param_desc){.name = "enabled", .def = {.type = AX_PARAM_BOOL, .b = true}};
    AX_OK_OR_FAIL(ax_param_declare(n, &d));
    d = (struct ax_param_desc){
        .name = "vehicle", .def = {.type = AX_PARAM_STRING, .s = "car-7"}, .read_only = true};
    AX_OK_OR_FAIL(ax_param_declare(n, &d));
}

struct guard {
    int calls;
    bool in_cb_set_busy;
};

/* Refuses lanes above 4 (a rule the range cannot say: it depends on the
 * mode); tries a set from inside, which must be refused. */
static int guard_fn(ax_node *node, const char *name, const struct ax_param_value *v, char *why,
                    size_t why_size, void *user)
{
    struct guard *g = user;
    g->calls++;
    struct ax_param_value x = {.type = AX_PARAM_INT, .i = 1};
    g->in_cb_set_busy = ax_param_set(node, "lanes", &x, NULL, 0) == AX_EBUSY;
    char mode[32];
    ax_param_get_string(node, "mode", mode, sizeof mode); /* reading is fine */
    if (strcmp(name, "lanes") == 0 && v->i > 4 && strcmp(mode, "sport") != 0) {
        snprintf(why, why_size, "more than 4 lanes only in sport mode (mode is %s)", mode);
        return AX_EINVAL;
    }
    return 0;
}

static void test_local(void **state)
{
    (void)state;
    ax_node *n = make("planner", NULL);
    declare_all(n);
    struct ax_param_desc d = {.name = "lanes", .def = {.type = AX_PARAM_INT, .i = 1}};
    assert_int_equal(ax_param_declare(n, &d), AX_EEXIST);
    d = (struct ax_param_desc){.name = "bad name", .def = {.type = AX_PARAM_INT}};
    assert_int_equal(ax_param_declare(n, &d), AX_EINVAL);
    d = (struct ax_param_desc){
        .name = "gain", .def = {.type = AX_PARAM_DOUBLE, .d = 5}, .has_range = true, .max = 1};
    assert_int_equal(ax_param_declare(n, &d), AX_EINVAL); /* its default outside its range */

    double speed;
    AX_OK_OR_FAIL(ax_param_get_double(n, "max_speed", &speed));
    assert_true(speed == 10.0);
    int64_t lanes;
    assert_int_equal(ax_param_get_int(n, "max_speed", &lanes), AX_ETYPE);
    assert_int_equal(ax_param_get_int(n, "nope", &lanes), AX_ENOTFOUND);

    struct guard g = {0};
    AX_OK_OR_FAIL(ax_param_on_change(n, guard_fn, &g));
    char why[256];
    struct ax_param_value v = {.type = AX_PARAM_DOUBLE, .d = 31};
    assert_int_equal(ax_param_set(n, "max_speed", &v, why, sizeof why), AX_EINVAL);
    assert_non_null(strstr(why, "outside [0, 30]"));
    v = (struct ax_param_value){.type = AX_PARAM_INT, .i = 5};
    assert_int_equal(ax_param_set(n, "lanes", &v, why, sizeof why), AX_EREFUSED);
    assert_non_null(strstr(why, "only in sport mode"));
    AX_OK_OR_FAIL(ax_param_get_int(n, "lanes", &lanes));
    assert_int_equal(lanes, 2); /* unchanged */
    assert_true(g.in_cb_set_busy);
    v = (struct ax_param_value){.type = AX_PARAM_STRING, .s = "reckless"};
    assert_int_equal(ax_param_set(n, "mode", &v, why, sizeof why), AX_EINVAL);
    assert_non_null(strstr(why, "not one of cautious normal sport"));
    v.s = "sport";
    AX_OK_OR_FAIL(ax_param_set(n, "mode", &v, why, sizeof why));
    v = (struct ax_param_value){.type = AX_PARAM_INT, .i = 5};
    AX_OK_OR_FAIL(ax_param_set(n, "lanes", &v, why, sizeof why));
    AX_OK_OR_FAIL(ax_param_get_int(n, "lanes", &lanes));
    assert_int_equal(lanes, 5);
    v = (struct ax_param_value){.type = AX_PARAM_STRING, .s = "car-8"};
    assert_int_equal(ax_param_set(n, "vehicle", &v, why, sizeof why), AX_EINVAL);
    assert_non_null(strstr(why, "read-only"));
    ax_node_destroy(n);
}

static struct ax_param_info *find(struct ax_param_info *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

static void test_remote(void **state)
{
    (void)state;
    ax_node *n = make("planner", NULL);
    ax_node *tool = make("tool", NULL);
    declare_all(n);
    struct guard g = {0};
    AX_OK_OR_FAIL(ax_param_on_change(n, guard_fn, &g));

    struct ax_param_info *v = NULL;
    size_t cnt = 0;
    char why[256];
    AX_OK_OR_FAIL(ax_param_remote_list(tool, "planner", 10000 * MS, &v, &cnt, why, sizeof why));
    assert_int_equal(cnt, 5);
    struct ax_param_info *p = find(v, cnt, "max_speed");
    assert_non_null(p);
    assert_int_equal(p->type, AX_PARAM_DOUBLE);
    assert_string_equal(p->value, "10");
    assert_string_equal(p->description, "m/s");
    assert_true(p->has_range && p->max == 30);
    assert_string_equal(find(v, cnt, "mode")->choices, "cautious|normal|sport");
    assert_true(find(v, cnt, "vehicle")->read_only);
    free(v);

    const char *names[] = {"max_speed", "enabled", "lanes", "mode", "nope", "enabled", "vehicle"};
    const char *vals[] = {"12.5", "off", "6", "reckless", "1", "maybe", "x"};
    struct ax_param_result res[7];
    AX_OK_OR_FAIL(
        ax_param_remote_set(tool, "planner", names, vals, 7, 10000 * MS, res, why, sizeof why));
    assert_int_equal(res[0].error, 0);
    assert_int_equal(res[1].error, 0);
    assert_int_equal(res[2].error, AX_EREFUSED);
    assert_non_null(strstr(res[2].reason, "only in sport mode"));
    assert_int_equal(res[3].error, AX_EINVAL);
    assert_int_equal(res[4].error, AX_ENOTFOUND);
    assert_int_equal(res[5].error, AX_EINVAL);
    assert_non_null(strstr(res[5].reason, "is a bool"));
    assert_int_equal(res[6].error, AX_EINVAL);
    double speed;
    AX_OK_OR_FAIL(ax_param_get_double(n, "max_speed", &speed));
    assert_true(speed == 12.5);
    bool en = true;
    AX_OK_OR_FAIL(ax_param_get_bool(n, "enabled", &en));
    assert_false(en);

    /* No such node. */
    assert_int_equal(ax_param_remote_list(tool, "ghost", 300 * MS, &v, &cnt, why, sizeof why),
                     AX_ENOTFOUND);
    assert_non_null(strstr(why, "ghost"));
    ax_node_destroy(tool);
    ax_node_destroy(n);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_policy_and_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/axon-param-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char policy[256], good[256], bad[256];
    snprintf(policy, sizeof policy, "%s/policy.yaml", dir);
    snprintf(good, sizeof good, "%s/good.yaml", dir);
    snprintf(bad, sizeof bad, "%s/bad.yaml", dir);
    write_file(policy, "version: 1\ndefault: allow\nnodes:\n  tool:\n    subscribe: [\"**\"]\n"
                       "    call: [\"/axon/param/*\"]\n    set_param: [\"planner.max_speed\"]\n");
    ax_node *n = make("planner", policy);
    ax_node *tool = make("tool", NULL);
    declare_all(n);
    write_file(good, "max_speed: 3\nmode: cautious\n");
    char **names, **vals;
    size_t cnt;
    char why[256];
    AX_OK_OR_FAIL(ax_param_load_yaml(good, &names, &vals, &cnt, why, sizeof why));
    assert_int_equal(cnt, 2);
    struct ax_param_result res[2];
    AX_OK_OR_FAIL(ax_param_remote_set(tool, "planner", (const char *const *)names,
                                      (const char *const *)vals, cnt, 10000 * MS, res, why,
                                      sizeof why));
    if (res[0].error != 0)
        fail_msg("max_speed: %s: %s", ax_err_name(res[0].error), res[0].reason);
    assert_int_equal(res[1].error, AX_EACCES); /* tool may set planner.max_speed only */
    ax_param_yaml_free(names, vals, cnt);

    write_file(good, "controller:\n  kp: 1.5\n  ki: 0\nname: x\n");
    AX_OK_OR_FAIL(ax_param_load_yaml(good, &names, &vals, &cnt, why, sizeof why));
    assert_int_equal(cnt, 3);
    assert_string_equal(names[0], "controller.kp");
    assert_string_equal(vals[0], "1.5");
    ax_param_yaml_free(names, vals, cnt);
    write_file(bad, "a: 1\nb:\n  - 1\n  - 2\n");
    assert_int_equal(ax_param_load_yaml(bad, &names, &vals, &cnt, why, sizeof why), AX_ECONFIG);
    assert_non_null(strstr(why, "line 3"));
    assert_non_null(strstr(why, "sequence"));
    ax_node_destroy(tool);
    ax_node_destroy(n);
    unlink(policy);
    unlink(good);
    unlink(bad);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local),
        cmocka_unit_test(test_remote),
        cmocka_unit_test(test_policy_and_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
