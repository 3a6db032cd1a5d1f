/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ax_type_proto_text(): the text is the schema. For every registered type
 * (the standard messages and the test types: proto2 defaults, oneofs,
 * nested and cross-file types), and for protoc-made sets with maps, proto3
 * `optional` and a recursive type, each section of the text is cut out
 * under its file name, compiled back with the host's protoc, and the type
 * built from that set must have the same type hash as the original. A set
 * whose names would put control characters on a terminal, or whose types do
 * not resolve, is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ax_test.h"
#include "ax__descriptor.pb-c.h"
#include "axtest_types.h"
#include "msgs_util.h"

static char why[256];
static char tmp[256];

/* mkdir -p for the directories of @path. */
static void make_dirs(char *path)
{
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
}

/* Cut @text into its "// file: NAME" sections under @dir; returns the name
 * of the first section (the type's own file), malloc'ed. */
static char *write_sections(const char *text, const char *dir)
{
    char *first = NULL;
    const char *s = text;
    assert_memory_equal(s, "// file: ", 9);
    while (s) {
        const char *name = s + 9, *eol = strchr(name, '\n');
        assert_non_null(eol);
        const char *next = strstr(eol, "\n// file: ");
        const char *end = next ? next + 1 : s + strlen(s);
        char path[1024];
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)(eol - name), name);
        make_dirs(path);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fwrite(s, 1, (size_t)(end - s), f);
        fclose(f);
        if (!first)
            first = strndup(name, (size_t)(eol - name));
        s = next ? next + 1 : NULL;
    }
    return first;
}

/* protoc --include_imports over @proto in @dir; the set, malloc'ed. NULL
 * with the test skipped when protoc cannot run here. */
static uint8_t *compile(const char *dir, const char *proto, size_t *len)
{
    char inc[512], outarg[600], out[512];
    snprintf(inc, sizeof inc, "-I%s", dir);
    snprintf(out, sizeof out, "%s.fds", dir);
    snprintf(outarg, sizeof outarg, "--descriptor_set_out=%s", out);
    const char *args[] = {"--include_imports", inc, outarg, proto, NULL};
    unsigned char *o = NULL;
    size_t olen;
    int rc = axt_protoc(args, NULL, 0, &o, &olen, why, sizeof why);
    free(o);
    if (rc < 0 || rc == 127) {
        print_message("skipped: protoc cannot be run here: %s\n", why);
        skip();
    }
    if (rc != 0)
        return NULL;
    uint8_t *fds = axt_read_file(out, len);
    assert_non_null(fds);
    return fds;
}

/* The round trip of @name in the set @fds: text, protoc, same hash. */
static void round_trip(const uint8_t *fds, size_t len, const char *name,
                       const struct ax_type_hash *want, int k)
{
    char *text = NULL;
    int rc = ax_type_proto_text(fds, len, name, &text);
    if (rc != 0)
        fail_msg("ax_type_proto_text(%s): %s", name, ax_strerror(rc));
    char dir[512];
    snprintf(dir, sizeof dir, "%s/t%d", tmp, k);
    mkdir(dir, 0755);
    char *proto = write_sections(text, dir);
    size_t blen;
    uint8_t *back = compile(dir, proto, &blen);
    if (!back)
        fail_msg("protoc refused the text of %s:\n%s", name, text);
    ax_type *t = NULL;
    rc = ax_type_from_fds(back, blen, name, &t);
    if (rc != 0)
        fail_msg("%s from the recompiled text: %s\n%s", name, ax_strerror(rc), text);
    if (!ax_type_hash_equal(ax_type_hash(t), want))
        fail_msg("%s: the recompiled text has another type hash:\n%s", name, text);
    ax_type_free(t);
    free(back);
    free(proto);
    free(text);
}

struct names {
    char *v[512];
    size_t n;
};

static int collect(const ax_type *t, void *user)
{
    struct names *n = user;
    if (n->n < 512)
        n->v[n->n++] = strdup(ax_type_name(t));
    return 0;
}

static void t_registered(void **state)
{
    (void)state;
    struct names n = {0};
    ax_type_foreach(collect, &n);
    assert_true(n.n > 20);
    size_t done = 0;
    for (size_t i = 0; i < n.n; i++) {
        const ax_type *t;
        const uint8_t *fds;
        size_t len;
        assert_int_equal(ax_type_find(n.v[i], &t), 0);
        if (ax_type_fds(t, &fds, &len) == 0) {
            round_trip(fds, len, n.v[i], ax_type_hash(t), (int)i);
            done++;
        }
        free(n.v[i]);
    }
    print_message("%zu of %zu registered types round-tripped\n", done, n.n);
    assert_true(done > 20);
}

/* What the text looks like: a proto3 type using another file's, and a
 * proto2 type with defaults, a oneof and an enum with aliases. */
static void t_shape(void **state)
{
    (void)state;
    const ax_type *t;
    const uint8_t *fds;
    size_t len;
    char *text;
    assert_int_equal(ax_type_find("axon.sensor.Imu", &t), 0);
    assert_int_equal(ax_type_fds(t, &fds, &len), 0);
    assert_int_equal(ax_type_proto_text(fds, len, "axon.sensor.Imu", &text), 0);
    print_message("%s", text);
    assert_memory_equal(text, "// file: axon/msgs/sensor.proto\nsyntax = \"proto3\";\n", 50);
    assert_non_null(strstr(text, "package axon.sensor;\n"));
    assert_non_null(strstr(text, "import \"axon/msgs/std.proto\";\n"));
    assert_non_null(strstr(text, "\nmessage Imu {\n"));
    assert_non_null(strstr(text, "  axon.std.Header header = 1;\n"));
    assert_non_null(strstr(text, "\n// file: axon/msgs/std.proto\n"));
    assert_non_null(strstr(text, "\nmessage Header {\n"));
    /* Only what Imu uses: not the other messages of sensor.proto. */
    assert_null(strstr(text, "message PointCloud"));
    free(text);

    assert_int_equal(ax_type_find("axtest.legacy.Legacy", &t), 0);
    assert_int_equal(ax_type_fds(t, &fds, &len), 0);
    assert_int_equal(ax_type_proto_text(fds, len, "axtest.legacy.Legacy", &text), 0);
    print_message("%s", text);
    assert_non_null(strstr(text, "syntax = \"proto2\";\n"));
    assert_non_null(strstr(text, "optional string name = 2 [default = \"anon\"];\n"));
    assert_non_null(strstr(text, "optional Mode mode = 4 [default = MODE_B];\n"));
    assert_non_null(strstr(text, "optional bytes blob = 5 [default = \"\\001\\377x\"];\n"));
    assert_non_null(strstr(text, "  oneof choice {\n"));
    assert_non_null(strstr(text, "  option allow_alias = true;\n"));
    free(text);
}

/* Maps, proto3 `optional`, recursion, nested enums, packed: from protoc. */
static void t_protoc_sets(void **state)
{
    (void)state;
    static const char *const src = "syntax = \"proto3\";\n"
                                   "package m.x;\n"
                                   "message Top {\n"
                                   "  enum Kind { KIND_A = 0; KIND_B = 1; }\n"
                                   "  message Inner { repeated Kind kinds = 1; Top back = 2; }\n"
                                   "  map<string, int32> counts = 1;\n"
                                   "  map<uint64, Inner> inners = 2;\n"
                                   "  optional int32 maybe = 3;\n"
                                   "  repeated uint32 plain = 4 [packed = false];\n"
                                   "  oneof pick { string s = 5; Inner i = 6; }\n"
                                   "  double d = 7 [deprecated = true];\n"
                                   "}\n";
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/src", tmp);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/m.proto", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(src, f);
    fclose(f);
    size_t len;
    uint8_t *fds = compile(dir, "m.proto", &len);
    assert_non_null(fds);
    ax_type *t;
    assert_int_equal(ax_type_from_fds(fds, len, "m.x.Top", &t), 0);
    char *text;
    assert_int_equal(ax_type_proto_text(fds, len, "m.x.Top", &text), 0);
    print_message("%s", text);
    assert_non_null(strstr(text, "  map<string, int32> counts = 1;\n"));
    assert_non_null(strstr(text, "  map<uint64, Top.Inner> inners = 2;\n"));
    assert_non_null(strstr(text, "  optional int32 maybe = 3;\n"));
    assert_non_null(strstr(text, "  repeated uint32 plain = 4 [packed = false];\n"));
    assert_non_null(strstr(text, "  double d = 7 [deprecated = true];\n"));
    assert_null(strstr(text, "Entry"));
    free(text);
    round_trip(fds, len, "m.x.Top", ax_type_hash(t), 1000);
    /* A nested type prints its top-level parent, whole. */
    assert_int_equal(ax_type_proto_text(fds, len, "m.x.Top.Inner", &text), 0);
    assert_non_null(strstr(text, "message Top {\n"));
    free(text);
    ax_type_free(t);

    uint8_t *p3 = axt_read_file(AXT_DATA_OUT "/p3opt.fds", &len);
    assert_non_null(p3);
    assert_int_equal(ax_type_from_fds(p3, len, "p3.Opt", &t), 0);
    round_trip(p3, len, "p3.Opt", ax_type_hash(t), 1001);
    ax_type_free(t);
    free(p3);
    free(fds);
}

/* Hostile or wrong input: an error, never text with control characters. */
static void t_refused(void **state)
{
    (void)state;
    const ax_type *t;
    const uint8_t *fds;
    size_t len;
    char *text = (char *)"unchanged";
    assert_int_equal(ax_type_find("axtest.legacy.Legacy", &t), 0);
    assert_int_equal(ax_type_fds(t, &fds, &len), 0);
    assert_int_equal(ax_type_proto_text(NULL, len, "axtest.legacy.Legacy", &text), AX_EINVAL);
    assert_int_equal(ax_type_proto_text(fds, len, "axtest.legacy.Nope", &text), AX_ENOTFOUND);
    assert_null(text);
    assert_int_equal(ax_type_proto_text(fds, len / 2, "axtest.legacy.Legacy", &text), AX_EPROTO);

    Axon__Pbdesc__FileDescriptorSet *set =
        axon__pbdesc__file_descriptor_set__unpack(NULL, len, fds);
    assert_non_null(set);
    Axon__Pbdesc__DescriptorProto *m = NULL;
    for (size_t i = 0; i < set->n_file; i++)
        for (size_t j = 0; j < set->file[i]->n_message_type; j++)
            if (strcmp(set->file[i]->message_type[j]->name, "Legacy") == 0)
                m = set->file[i]->message_type[j];
    assert_non_null(m);
    assert_true(m->n_field > 1);
    static const char *const bad_names[] = {"x\n\x1b[31m", "", "1x", "a b"};
    char *keep = m->field[0]->name;
    for (size_t k = 0; k < 4; k++) {
        m->field[0]->name = (char *)bad_names[k];
        size_t blen;
        uint8_t *bad = axt_pack(&set->base, &blen);
        assert_int_equal(ax_type_proto_text(bad, blen, "axtest.legacy.Legacy", &text), AX_EPROTO);
        free(bad);
    }
    m->field[0]->name = keep;
    /* A message field whose type is not in the set. */
    for (size_t i = 0; i < m->n_field; i++)
        if (m->field[i]->type == AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM) {
            keep = m->field[i]->type_name;
            m->field[i]->type_name = (char *)".axtest.Missing";
            size_t blen;
            uint8_t *bad = axt_pack(&set->base, &blen);
            assert_int_equal(ax_type_proto_text(bad, blen, "axtest.legacy.Legacy", &text),
                             AX_EPROTO);
            free(bad);
            m->field[i]->type_name = keep;
        }
    axon__pbdesc__file_descriptor_set__free_unpacked(set, NULL);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/axt_prototext_%d", (int)getpid());
    mkdir(tmp, 0755);
    return ax_types_axtest_register() == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_registered),
        cmocka_unit_test(t_shape),
        cmocka_unit_test(t_protoc_sets),
        cmocka_unit_test(t_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
