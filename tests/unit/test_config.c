/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: defaults from the key table, a full file, every kind of bad
 * value, unknown and duplicate keys, YAML syntax and shape errors, limits,
 * environment overrides, QoS overrides, copy/fini and the dump round trip.
 * Files are real files in a mkdtemp() directory.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ax_test.h"
#include "axon/units.h"
#include "core/ax__config.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/axon_test_config_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Remove the files this test wrote (flat: no subdirectories), then the dir. */
static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (!d)
        return -1;
    struct dirent *e;
    char path[384];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(tmpdir);
}

/* Write @text to <tmpdir>/<name>; returns the path (static storage). */
static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

/* The dump of @cfg, malloc'd: used to compare configs as a whole. */
static char *dump(const struct ax_config *cfg, unsigned flags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    AX_OK_OR_FAIL(ax_config_dump(cfg, f, flags));
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* ---- value syntaxes ---- */

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ns;
    } good[] = {
        {"100ms", 100 * AX_NS_PER_MS},
        {"1.5s", 1500 * AX_NS_PER_MS},
        {"2m", 120 * AX_NS_PER_S},
        {"250us", 250 * AX_NS_PER_US},
        {"1000ns", 1000},
        {"1h", 3600 * AX_NS_PER_S},
        {"0s", 0},
        {"1 s", AX_NS_PER_S},
        {"0.000000001s", 1},
        {"1.25ms", 1250 * AX_NS_PER_US},
    };
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"100", "has no unit: write a duration like 100ms"},
        {"0", "has no unit"},
        {"1.5ns", "not a whole number of nanoseconds"},
        {"ms", "is not a duration"},
        {"", "is not a duration"},
        {"1..5s", "is not a duration"},
        {"-1s", "is not a duration"},
        {"1e3ms", "is not a duration"},
        {"5 sec", "is not a duration"},
        {"99999999999999999999s", "too large"},
        {"9999999999h", "too large"},
    };
    char msg[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t ns = -1;
        if (ax_duration_parse(good[i].text, 0, &ns, msg, sizeof msg) != 0)
            fail_msg("%s: %s", good[i].text, msg);
        assert_int_equal(ns, good[i].ns);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns = -1;
        assert_int_equal(ax_duration_parse(bad[i].text, 0, &ns, msg, sizeof msg), AX_EINVAL);
        assert_contains(msg, bad[i].msg);
    }
    ax_duration_format(1500 * AX_NS_PER_MS, msg, sizeof msg);
    assert_string_equal(msg, "1500ms");
    ax_duration_format(0, msg, sizeof msg);
    assert_string_equal(msg, "0s");
    ax_duration_format(120 * AX_NS_PER_S, msg, sizeof msg);
    assert_string_equal(msg, "2m");
    /* The CLI's form: a bare number is seconds; "min" is a minute too. */
    int64_t ns = 0;
    assert_int_equal(ax_duration_parse("1.5", AX_NS_PER_S, &ns, msg, sizeof msg), 0);
    assert_int_equal(ns, 1500 * AX_NS_PER_MS);
    assert_int_equal(ax_duration_parse("2min", AX_NS_PER_S, &ns, msg, sizeof msg), 0);
    assert_int_equal(ns, 120 * AX_NS_PER_S);
    assert_int_equal(ax_duration_parse("250ms", AX_NS_PER_S, &ns, msg, sizeof msg), 0);
    assert_int_equal(ns, 250 * AX_NS_PER_MS);
    assert_int_equal(ax_duration_parse("1.5 ", AX_NS_PER_S, &ns, msg, sizeof msg), AX_EINVAL);
    assert_int_equal(ax_duration_parse("0.0000000001", AX_NS_PER_S, &ns, msg, sizeof msg),
                     AX_EINVAL);
    assert_int_equal(ax_duration_parse(NULL, 0, &ns, msg, sizeof msg), AX_EINVAL);
}

static void test_sizes_and_bools(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {
        {"64MiB", 64u << 20}, {"16KiB", 16u << 10},
        {"512", 512},         {"1GiB", 1u << 30},
        {"1kB", 1000},        {"2MB", 2000000},
        {"1.5KiB", 1536},     {"0", 0},
        {"3 B", 3},           {"1TiB", UINT64_C(1) << 40},
        {"1GB", 1000000000},
    };
    static const char *const bad[] = {"64 M", "64mib", "1.5", "0.5B", "KiB", "-1", "1 2", "64MiB "};
    char msg[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t b = 1;
        if (ax_size_parse(good[i].text, &b, msg, sizeof msg) != 0)
            fail_msg("%s: %s", good[i].text, msg);
        assert_int_equal(b, good[i].bytes);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t b;
        if (ax_size_parse(bad[i], &b, msg, sizeof msg) == 0)
            fail_msg("\"%s\" parsed as %llu", bad[i], (unsigned long long)b);
    }
    ax_size_format(65536, msg, sizeof msg);
    assert_string_equal(msg, "64KiB");
    ax_size_format(1000, msg, sizeof msg);
    assert_string_equal(msg, "1000");

    bool b = false;
    static const char *const yes[] = {"true", "yes", "on", "True", "YES"};
    static const char *const no[] = {"false", "no", "off", "False", "OFF"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(ax__cfg_parse_bool(yes[i], &b), 0);
        assert_true(b);
        assert_int_equal(ax__cfg_parse_bool(no[i], &b), 0);
        assert_false(b);
    }
    assert_int_equal(ax__cfg_parse_bool("1", &b), -1);
    assert_int_equal(ax__cfg_parse_bool("maybe", &b), -1);

    char q[64];
    ax__cfg_quote("a\"b\\c\n", q, sizeof q);
    assert_string_equal(q, "\"a\\\"b\\\\c\\x0a\"");
}

/* ---- the table and the defaults ---- */

static void test_table_is_consistent(void **state)
{
    (void)state;
    char msg[256], prev_sec[64] = "", seen[16][64];
    size_t nseen = 0;
    for (size_t i = 0; i < ax__cfg_nkeys; i++) {
        const struct ax__cfg_key *k = &ax__cfg_keys[i];
        const char *dot = strchr(k->path, '.');
        assert_non_null(k->desc);
        if (dot)
            assert_null(strchr(dot + 1, '.')); /* at most one level of sections */
        /* Rows of one section are contiguous (the dump and the docs rely on it). */
        char sec[64];
        snprintf(sec, sizeof sec, "%.*s", (int)(dot ? dot - k->path : 0), k->path);
        if (strcmp(sec, prev_sec) != 0) {
            for (size_t j = 0; j < nseen; j++)
                if (sec[0] && strcmp(seen[j], sec) == 0)
                    fail_msg("section %s is split in the table", sec);
            snprintf(seen[nseen++], sizeof seen[0], "%s", sec);
            snprintf(prev_sec, sizeof prev_sec, "%s", sec);
        }
        /* Lists and maps default to empty; every scalar default is valid. */
        if (k->type == AX__CFG_LIST || k->type == AX__CFG_QOSMAP) {
            assert_string_equal(k->def, "");
        } else {
            union ax__cfg_val v;
            if (ax__cfg_parse(k, k->def, &v, msg, sizeof msg) != 0)
                fail_msg("default of %s: %s", k->path, msg);
        }
        /* No two rows share a field. */
        for (size_t j = 0; j < i; j++)
            assert_true(ax__cfg_keys[j].offset != k->offset);
    }
    /* The enum names agree with the rest of the library. */
    const struct ax__cfg_key *lvl = ax__cfg_find(ax__cfg_keys, ax__cfg_nkeys, "log.level");
    assert_non_null(lvl);
    for (int i = 0; lvl->names[i]; i++)
        assert_string_equal(lvl->names[i], ax_log_level_name(i));
    const struct ax__cfg_key *ov = ax__cfg_find(ax__cfg_qos_keys, ax__cfg_nqos_keys, "overload");
    for (int i = 0; ov->names[i]; i++)
        assert_string_equal(ov->names[i], ax_overload_name((enum ax_overload)i));
    const struct ax__cfg_key *pr = ax__cfg_find(ax__cfg_qos_keys, ax__cfg_nqos_keys, "profile");
    for (int i = 0; pr->names[i]; i++) {
        struct ax_qos q;
        AX_OK_OR_FAIL(ax_qos_preset(pr->names[i], &q));
    }
    for (size_t r = 0; r < ax__cfg_nrules; r++) {
        assert_non_null(ax__cfg_find(ax__cfg_keys, ax__cfg_nkeys, ax__cfg_rules[r].key));
        assert_non_null(ax__cfg_find(ax__cfg_keys, ax__cfg_nkeys, ax__cfg_rules[r].other));
    }
}

static void test_defaults(void **state)
{
    (void)state;
    struct ax_config cfg;
    ax_config_init(&cfg);
    /* Every field holds its row's default. */
    char a[256], b[256], msg[256];
    for (size_t i = 0; i < ax__cfg_nkeys; i++) {
        const struct ax__cfg_key *k = &ax__cfg_keys[i];
        union ax__cfg_val want, got;
        if (k->type == AX__CFG_LIST || k->type == AX__CFG_QOSMAP)
            continue;
        assert_int_equal(ax__cfg_parse(k, k->def, &want, msg, sizeof msg), 0);
        assert_int_equal(ax__cfg_load(k, &cfg, &got, msg, sizeof msg), 0);
        ax__cfg_format(k, &want, a, sizeof a);
        ax__cfg_format(k, &got, b, sizeof b);
        assert_string_equal(a, b);
    }
    /* And the values the issue asks for. */
    assert_string_equal(cfg.node_name, "");
    assert_int_equal(cfg.domain, 0);
    assert_int_equal(cfg.threads, 1);
    assert_int_equal(cfg.discovery.mode, AX_DISCOVERY_LOCAL);
    assert_string_equal(cfg.discovery.interface, "");
    assert_string_equal(cfg.discovery.group, "239.255.0.1");
    assert_int_equal(cfg.discovery.port, 7400);
    assert_int_equal(cfg.discovery.ttl, 1);
    assert_null(cfg.discovery.peers);
    assert_int_equal(cfg.discovery.npeers, 0);
    assert_int_equal(cfg.discovery.heartbeat_ns, AX_NS_PER_S);
    assert_int_equal(cfg.discovery.lease_ns, 4 * AX_NS_PER_S);
    assert_int_equal(cfg.discovery.refresh_ns, 15 * AX_NS_PER_S);
    assert_int_equal(cfg.discovery.liveness_ns, 800 * AX_NS_PER_MS);
    assert_int_equal(cfg.discovery.counters_ns, 0);
    assert_true(cfg.discovery.host_table);
    assert_int_equal(cfg.discovery.max_lease_ns, 60 * AX_NS_PER_S);
    assert_int_equal(cfg.discovery.max_nodes, 1024);
    assert_int_equal(cfg.discovery.max_endpoints, 4096);
    assert_int_equal(cfg.discovery.max_table_endpoints, 32768);
    assert_string_equal(cfg.transport.listen_address, "");
    assert_int_equal(cfg.transport.port_min, 0);
    assert_int_equal(cfg.transport.port_max, 0);
    assert_int_equal(cfg.transport.sndbuf, 0);
    assert_int_equal(cfg.transport.rcvbuf, 0);
    assert_int_equal(cfg.transport.max_frame, 64u << 20);
    assert_int_equal(cfg.transport.queue_bytes, 64u << 20);
    assert_int_equal(cfg.transport.queue_frames, 65536);
    assert_int_equal(cfg.transport.block_bytes, 4u << 20);
    assert_false(cfg.transport.crc_payload);
    assert_int_equal(cfg.transport.connect_timeout_ns, 2 * AX_NS_PER_S);
    assert_int_equal(cfg.transport.reconnect_min_ns, 50 * AX_NS_PER_MS);
    assert_int_equal(cfg.transport.reconnect_max_ns, 2 * AX_NS_PER_S);
    assert_null(cfg.qos);
    assert_int_equal(cfg.nqos, 0);
    assert_int_equal(cfg.log_level, AX_LOG_WARN);
    struct ax_config_error err;
    AX_OK_OR_FAIL(ax_config_validate(&cfg, &err));
    ax_config_fini(&cfg);
}

/* Field by field: struct ax_qos has padding. */
static void assert_qos_equal(const struct ax_qos *a, const struct ax_qos *b)
{
    assert_int_equal(a->reliability, b->reliability);
    assert_int_equal(a->durability, b->durability);
    assert_int_equal(a->overload, b->overload);
    assert_int_equal(a->history, b->history);
    assert_int_equal(a->deadline_ns, b->deadline_ns);
    assert_int_equal(a->lifespan_ns, b->lifespan_ns);
    assert_int_equal(a->max_blocking_ns, b->max_blocking_ns);
    assert_int_equal(a->shm, b->shm);
}

/* ---- valid files ---- */

static const char full_yaml[] = "# every key, none at its default\n"
                                "node:\n"
                                "  name: perception\n"
                                "  domain: 3\n"
                                "  threads: 2\n"
                                "  busy_poll: 50us\n"
                                "  adaptive_poll: 0s\n"
                                "  sched_policy: rr\n"
                                "  sched_priority: 20\n"
                                "  cpus: 0-1\n"
                                "  mlockall: true\n"
                                "  use_sim_time: true\n"
                                "  clock_topic: /sim/clock\n"
                                "discovery:\n"
                                "  mode: network\n"
                                "  interface: eth1\n"
                                "  group: 239.255.7.7\n"
                                "  port: 17400\n"
                                "  ttl: 4\n"
                                "  peers:\n"
                                "    - 10.0.0.2\n"
                                "    - \"10.0.0.3:7403\"\n"
                                "    - lidar-board.local:7500\n"
                                "  heartbeat: 50ms\n"
                                "  lease: 1.5s\n"
                                "  refresh: 2s\n"
                                "  liveness: 300ms\n"
                                "  counters: 250ms\n"
                                "  host_table: false\n"
                                "  max_lease: 3s\n"
                                "  max_nodes: 64\n"
                                "  max_endpoints: 100\n"
                                "  max_table_endpoints: 1000\n"
                                "transport:\n"
                                "  listen_address: 192.168.1.10\n"
                                "  port_min: 20000\n"
                                "  port_max: 20100\n"
                                "  sndbuf: 4MiB\n"
                                "  rcvbuf: 8MB\n"
                                "  max_frame: 16MiB\n"
                                "  queue_bytes: 1GiB\n"
                                "  queue_frames: 1024\n"
                                "  block_bytes: 2MiB\n"
                                "  crc_payload: yes\n"
                                "  connect_timeout: 500ms\n"
                                "  reconnect_min: 10ms\n"
                                "  reconnect_max: 1m\n"
                                "  frame_timeout: 30s\n"
                                "  idle_timeout: 1m\n"
                                "  max_links: 100\n"
                                "  max_links_per_host: 10\n"
                                "  shm: require\n"
                                "  shm_budget: 1GiB\n"
                                "  shm_threshold: 64KiB\n"
                                "  shm_quota: 32\n"
                                "  shm_quota_bytes: 2MiB\n"
                                "  shm_chunk_min: 256KiB\n"
                                "  shm_segment: 16MiB\n"
                                "qos:\n"
                                "  /sensors/lidar: {profile: sensor_data, history: 2}\n"
                                "  /map: {profile: latched}\n"
                                "  /cmd:\n"
                                "    reliability: reliable\n"
                                "    durability: volatile\n"
                                "    overload: disconnect\n"
                                "    history: 8\n"
                                "    deadline: 20ms\n"
                                "    lifespan: 100ms\n"
                                "    max_blocking_time: 1s\n"
                                "    shm: off\n"
                                "security:\n"
                                "  key_file: /etc/axon/domain.key\n"
                                "  tls: cert\n"
                                "  ca_file: /etc/axon/pki/ca.crt\n"
                                "  cert_file: /etc/axon/pki/lidar.crt\n"
                                "  cert_key_file: /etc/axon/pki/lidar.key\n"
                                "  policy_file: /etc/axon/policy.yaml\n"
                                "log:\n"
                                "  level: debug\n";

static void check_full(const struct ax_config *cfg)
{
    assert_string_equal(cfg->node_name, "perception");
    assert_int_equal(cfg->domain, 3);
    assert_int_equal(cfg->threads, 2);
    assert_int_equal(cfg->busy_poll_ns, 50 * AX_NS_PER_US);
    assert_int_equal(cfg->adaptive_poll_ns, 0);
    assert_int_equal(cfg->sched_policy, AX_SCHED_RR);
    assert_int_equal(cfg->sched_priority, 20);
    assert_string_equal(cfg->cpus, "0-1");
    assert_true(cfg->mlockall);
    assert_true(cfg->use_sim_time);
    assert_string_equal(cfg->clock_topic, "/sim/clock");
    assert_int_equal(cfg->discovery.mode, AX_DISCOVERY_NETWORK);
    assert_string_equal(cfg->discovery.interface, "eth1");
    assert_string_equal(cfg->discovery.group, "239.255.7.7");
    assert_int_equal(cfg->discovery.port, 17400);
    assert_int_equal(cfg->discovery.ttl, 4);
    assert_int_equal(cfg->discovery.npeers, 3);
    assert_string_equal(cfg->discovery.peers[0], "10.0.0.2");
    assert_string_equal(cfg->discovery.peers[1], "10.0.0.3:7403");
    assert_string_equal(cfg->discovery.peers[2], "lidar-board.local:7500");
    assert_int_equal(cfg->discovery.heartbeat_ns, 50 * AX_NS_PER_MS);
    assert_int_equal(cfg->discovery.lease_ns, 1500 * AX_NS_PER_MS);
    assert_int_equal(cfg->discovery.refresh_ns, 2 * AX_NS_PER_S);
    assert_int_equal(cfg->discovery.liveness_ns, 300 * AX_NS_PER_MS);
    assert_int_equal(cfg->discovery.counters_ns, 250 * AX_NS_PER_MS);
    assert_false(cfg->discovery.host_table);
    assert_int_equal(cfg->discovery.max_lease_ns, 3 * AX_NS_PER_S);
    assert_int_equal(cfg->discovery.max_nodes, 64);
    assert_int_equal(cfg->discovery.max_endpoints, 100);
    assert_int_equal(cfg->discovery.max_table_endpoints, 1000);
    assert_string_equal(cfg->transport.listen_address, "192.168.1.10");
    assert_int_equal(cfg->transport.port_min, 20000);
    assert_int_equal(cfg->transport.port_max, 20100);
    assert_int_equal(cfg->transport.sndbuf, 4u << 20);
    assert_int_equal(cfg->transport.rcvbuf, 8000000);
    assert_int_equal(cfg->transport.max_frame, 16u << 20);
    assert_int_equal(cfg->transport.queue_bytes, 1u << 30);
    assert_int_equal(cfg->transport.queue_frames, 1024);
    assert_int_equal(cfg->transport.block_bytes, 2u << 20);
    assert_true(cfg->transport.crc_payload);
    assert_int_equal(cfg->transport.connect_timeout_ns, 500 * AX_NS_PER_MS);
    assert_int_equal(cfg->transport.reconnect_min_ns, 10 * AX_NS_PER_MS);
    assert_int_equal(cfg->transport.reconnect_max_ns, 60 * AX_NS_PER_S);
    assert_int_equal(cfg->transport.frame_timeout_ns, 30 * AX_NS_PER_S);
    assert_int_equal(cfg->transport.idle_timeout_ns, 60 * AX_NS_PER_S);
    assert_int_equal(cfg->transport.max_links, 100);
    assert_int_equal(cfg->transport.max_links_per_host, 10);
    assert_int_equal(cfg->transport.shm, AX_SHM_REQUIRE);
    assert_int_equal(cfg->transport.shm_budget, 1u << 30);
    assert_int_equal(cfg->transport.shm_threshold, 64u << 10);
    assert_int_equal(cfg->transport.shm_quota, 32);
    assert_int_equal(cfg->transport.shm_quota_bytes, 2 * 1024 * 1024);
    assert_int_equal(cfg->transport.shm_chunk_min, 256u << 10);
    assert_int_equal(cfg->transport.shm_segment, 16u << 20);
    assert_int_equal(cfg->log_level, AX_LOG_DEBUG);
    assert_string_equal(cfg->security.key_file, "/etc/axon/domain.key");
    assert_int_equal(cfg->security.tls, AX_TLS_CERT);
    assert_string_equal(cfg->security.ca_file, "/etc/axon/pki/ca.crt");
    assert_string_equal(cfg->security.cert_file, "/etc/axon/pki/lidar.crt");
    assert_string_equal(cfg->security.cert_key_file, "/etc/axon/pki/lidar.key");
    assert_string_equal(cfg->security.policy_file, "/etc/axon/policy.yaml");

    assert_int_equal(cfg->nqos, 3);
    struct ax_qos q, want = AX_QOS_SENSOR_DATA;
    want.history = 2;
    AX_OK_OR_FAIL(ax_config_qos_for(cfg, "/sensors/lidar", &q));
    assert_qos_equal(&q, &want);
    want = AX_QOS_LATCHED;
    AX_OK_OR_FAIL(ax_config_qos_for(cfg, "/map", &q));
    assert_qos_equal(&q, &want);
    AX_OK_OR_FAIL(ax_config_qos_for(cfg, "/cmd", &q));
    assert_int_equal(q.reliability, AX_RELIABLE);
    assert_int_equal(q.durability, AX_VOLATILE);
    assert_int_equal(q.overload, AX_OVERLOAD_DISCONNECT);
    assert_int_equal(q.history, 8);
    assert_int_equal(q.deadline_ns, 20 * AX_NS_PER_MS);
    assert_int_equal(q.lifespan_ns, 100 * AX_NS_PER_MS);
    assert_int_equal(q.max_blocking_ns, AX_NS_PER_S);
    assert_int_equal(q.shm, AX_SHM_OFF);
}

static void test_full_file_sets_every_key(void **state)
{
    (void)state;
    struct ax_config cfg, defaults;
    struct ax_config_error err;
    ax_config_init(&cfg);
    ax_config_init(&defaults);
    AX_OK_OR_FAIL(ax_config_load_file(&cfg, write_file("full.yaml", full_yaml), &err));
    check_full(&cfg);
    AX_OK_OR_FAIL(ax_config_validate(&cfg, &err));
    /* Every key really differs from its default (so the file tests them all). */
    char msg[256], a[512], b[512];
    for (size_t i = 0; i < ax__cfg_nkeys; i++) {
        const struct ax__cfg_key *k = &ax__cfg_keys[i];
        union ax__cfg_val x, y;
        if (k->type == AX__CFG_LIST || k->type == AX__CFG_QOSMAP)
            continue;
        ax__cfg_load(k, &cfg, &x, msg, sizeof msg);
        ax__cfg_load(k, &defaults, &y, msg, sizeof msg);
        ax__cfg_format(k, &x, a, sizeof a);
        ax__cfg_format(k, &y, b, sizeof b);
        if (strcmp(a, b) == 0)
            fail_msg("full.yaml leaves %s at its default", k->path);
    }
    ax_config_fini(&cfg);
    ax_config_fini(&defaults);
}

/* The example of docs/configuration.md and of the issue. */
static void test_issue_example(void **state)
{
    (void)state;
    static const char yaml[] = "node:\n"
                               "  name: perception\n"
                               "  domain: 3\n"
                               "discovery:\n"
                               "  mode: peers\n"
                               "  peers: [10.0.0.2, \"10.0.0.3:7403\"]\n"
                               "  heartbeat: 100ms\n"
                               "transport:\n"
                               "  max_frame: 16MiB\n"
                               "qos:\n"
                               "  /sensors/lidar: {profile: sensor_data, history: 2}\n"
                               "  /map: {profile: latched}\n"
                               "log:\n"
                               "  level: info\n";
    struct ax_config cfg;
    struct ax_config_error err;
    ax_config_init(&cfg);
    AX_OK_OR_FAIL(ax_config_load_string(&cfg, yaml, "example", &err));
    assert_string_equal(cfg.node_name, "perception");
    assert_int_equal(cfg.domain, 3);
    assert_int_equal(cfg.discovery.mode, AX_DISCOVERY_PEERS);
    assert_int_equal(cfg.discovery.npeers, 2);
    assert_string_equal(cfg.discovery.peers[1], "10.0.0.3:7403");
    assert_int_equal(cfg.transport.max_frame, 16u << 20);
    assert_int_equal(cfg.log_level, AX_LOG_INFO);
    assert_int_equal(cfg.nqos, 2);
    ax_config_fini(&cfg);
}

/* Absent keys keep their value; an empty document or a comment-only file
 * changes nothing; an empty section is allowed. */
static void test_partial_and_empty_documents(void **state)
{
    (void)state;
    struct ax_config cfg;
    struct ax_config_error err;
    ax_config_init(&cfg);
    AX_OK_OR_FAIL(ax_config_load_string(&cfg, "node: {domain: 9}\n", NULL, &err));
    AX_OK_OR_FAIL(ax_config_load_string(&cfg, "discovery: {port: 9000}\n", NULL, &err));
    assert_int_equal(cfg.domain, 9);
    assert_int_equal(cfg.discovery.port, 9000);
    char *before = dump(&cfg, 0);
    static const char *const empty[] = {"", "# only a comment\n", "---\n", "~\n",
                                        "discovery:\n  # heartbeat: 1s\n"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        AX_OK_OR_FAIL(ax_config_load_file(&cfg, write_file("empty.yaml", empty[i]), &err));
        char *after = dump(&cfg, 0);
        assert_string_equal(before, after);
        free(after);
    }
    free(before);
    ax_config_fini(&cfg);
}

/* ---- errors ---- */

struct bad_case {
    const char *yaml;
    int line;
    const char *key;
    const char *msg;
};

/* Each case fails with AX_ECONFIG naming the file, the line and the key, and
 * leaves the config as it was. */
static void run_bad_cases(const struct bad_case *cases, size_t n)
{
    struct ax_config cfg;
    ax_config_init(&cfg);
    AX_OK_OR_FAIL(ax_config_load_string(&cfg, "node: {name: before}\nqos: {/x: {}}\n", NULL, NULL));
    char *before = dump(&cfg, 0);
    for (size_t i = 0; i < n; i++) {
        struct ax_config_error err;
        memset(&err, 0x55, sizeof err);
        const char *path = write_file("bad.yaml", cases[i].yaml);
        int rc = ax_config_load_file(&cfg, path, &err);
        if (rc != AX_ECONFIG)
            fail_msg("case %zu (%s): %s, expected AX_ECONFIG", i, cases[i].yaml, ax_err_name(rc));
        char line[700];
        ax_config_error_str(&err, line, sizeof line);
        print_message("  case %zu -> %s\n", i, line);
        assert_string_equal(err.file, path);
        if (err.line != cases[i].line)
            fail_msg("case %zu: line %d, expected %d (%s)", i, err.line, cases[i].line, line);
        assert_true(cases[i].line == 0 || err.column >= 1);
        assert_string_equal(err.key, cases[i].key);
        assert_contains(err.message, cases[i].msg);
        char *after = dump(&cfg, 0);
        assert_string_equal(before, after);
        free(after);
    }
    free(before);
    ax_config_fini(&cfg);
}

static void test_bad_values(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        /* bad duration, with the expected unit named */
        {"discovery:\n  heartbeat: 100\n", 2, "discovery.heartbeat",
         "has no unit: write a duration like 100ms (units: ns, us, ms, s, m, h)"},
        {"discovery:\n  heartbeat: fast\n", 2, "discovery.heartbeat", "is not a duration"},
        {"discovery:\n  heartbeat: 0ms\n", 2, "discovery.heartbeat", "out of range 1ms..1h"},
        {"transport:\n  connect_timeout: 1.5ns\n", 2, "transport.connect_timeout",
         "whole number of nanoseconds"},
        /* out-of-range and malformed integers */
        {"node:\n  domain: 233\n", 2, "node.domain", "233 is out of range 0..232"},
        {"node:\n  domain: -1\n", 2, "node.domain", "not a non-negative integer"},
        {"node:\n  threads: 65\n", 2, "node.threads", "out of range 0..64"},
        {"node:\n  busy_poll: 2s\n", 2, "node.busy_poll", "out of range"},
        {"discovery:\n  port: 0\n", 2, "discovery.port", "out of range 1..65535"},
        {"discovery:\n  port: 70000\n", 2, "discovery.port", "out of range"},
        {"discovery:\n  ttl: 1.5\n", 2, "discovery.ttl", "not a non-negative integer"},
        /* unknown enum value */
        {"discovery:\n  mode: broadcast\n", 2, "discovery.mode",
         "unknown value \"broadcast\": expected one of local, network, peers, off"},
        {"log:\n  level: loud\n", 2, "log.level", "expected one of off, error, warn"},
        /* addresses */
        {"discovery:\n  group: 10.0.0.1\n", 2, "discovery.group", "not an IPv4 multicast group"},
        {"discovery:\n  group: 239.255.0\n", 2, "discovery.group", "not an IPv4 multicast group"},
        {"transport:\n  listen_address: localhost\n", 2, "transport.listen_address",
         "not an IPv4 address"},
        {"discovery:\n  interface: eth0/1\n", 2, "discovery.interface", "interface name"},
        {"discovery:\n  interface: 10.0.0.300\n", 2, "discovery.interface", "not an IPv4"},
        {"discovery:\n  peers: [10.0.0.2, \"bad host:99\"]\n", 2, "discovery.peers",
         "entry 2: \"bad host:99\""},
        {"discovery:\n  peers:\n    - 10.0.0.2:70000\n", 3, "discovery.peers", "port must be"},
        {"discovery:\n  peers:\n    - \":7400\"\n", 3, "discovery.peers", "host"},
        /* sizes and bools */
        {"transport:\n  max_frame: 64MB!\n", 2, "transport.max_frame", "is not a size"},
        {"transport:\n  max_frame: 512\n", 2, "transport.max_frame",
         "512 bytes is out of range 1KiB..1GiB"},
        {"transport:\n  max_frame: 2GiB\n", 2, "transport.max_frame", "out of range"},
        {"transport:\n  crc_payload: maybe\n", 2, "transport.crc_payload", "is not a bool"},
        /* strings bounded by their field */
        {"node:\n  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
         2, "node.name", "too long: 70 bytes, at most 63"},
        {"node:\n  name: \"a\\tb\"\n", 2, "node.name", "control characters"},
        {"node:\n  name: \"a\\0b\"\n", 2, "node.name", "NUL byte"},
        {"discovery:\n  group: \"\"\n", 2, "discovery.group", "must not be empty"},
        /* missing values */
        {"node:\n  domain:\n", 2, "node.domain", "missing value"},
        {"discovery:\n  peers:\n", 2, "discovery.peers", "expected a list (write [] for none)"},
        /* cross-key rules: blame the key the document set */
        {"discovery:\n  heartbeat: 1s\n  lease: 500ms\n", 3, "discovery.lease",
         "must be longer than discovery.heartbeat"},
        {"discovery:\n  lease: 1s\n", 2, "discovery.lease", "must be longer"},
        {"discovery:\n  heartbeat: 4s\n", 2, "discovery.heartbeat", "must be longer"},
        {"discovery:\n  lease: 90s\n", 2, "discovery.lease",
         "discovery.max_lease (1m) must be at least discovery.lease (90s)"},
        {"discovery:\n  max_lease: 2s\n", 2, "discovery.max_lease", "must be at least"},
        {"discovery:\n  max_nodes: 0\n", 2, "discovery.max_nodes", "out of range 1..65536"},
        {"discovery:\n  max_endpoints: 131073\n", 2, "discovery.max_endpoints",
         "out of range 1..131072"},
        {"node:\n  domain: 200\ndiscovery:\n  port: 65400\n", 4, "discovery.port", "exceeds 65535"},
        {"transport:\n  port_min: 2000\n", 2, "transport.port_min", "both be 0"},
        {"transport:\n  port_min: 3000\n  port_max: 2000\n", 3, "transport.port_max",
         "is above transport.port_max"},
        {"transport:\n  reconnect_min: 5s\n", 2, "transport.reconnect_min", "is above"},
        /* qos */
        {"qos:\n  /a: {history: 0}\n", 2, "qos[/a].history", "out of range 1..1048576"},
        {"qos:\n  /a: {profile: fast}\n", 2, "qos[/a].profile",
         "expected one of default, sensor_data, control, latched"},
        {"qos:\n  /a: {reliability: sometimes}\n", 2, "qos[/a].reliability", "reliable"},
        {"qos:\n  /a: {deadline: 10}\n", 2, "qos[/a].deadline", "has no unit"},
        {"qos:\n  \"a b\": {}\n", 2, "qos[a b]", "spaces"},
    };
    run_bad_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        /* the nested typo of the issue */
        {"node:\n  name: x\ndiscovery:\n  mode: local\n  hartbeat: 100ms\n", 5,
         "discovery.hartbeat", "unknown key (did you mean \"discovery.heartbeat\"?)"},
        {"discovry:\n  mode: local\n", 1, "discovry", "did you mean \"discovery\"?"},
        {"log:\n  levle: info\n", 2, "log.levle", "did you mean \"log.level\"?"},
        /* right name, wrong section */
        {"transport:\n  heartbeat: 1s\n", 2, "transport.heartbeat",
         "did you mean \"discovery.heartbeat\"?"},
        {"heartbeat: 1s\n", 1, "heartbeat", "did you mean \"discovery.heartbeat\"?"},
        /* nothing close: list what is there */
        {"node:\n  colour: blue\n", 2, "node.colour",
         "unknown key (known: name, domain, threads, busy_poll, adaptive_poll, sched_policy, "
         "sched_priority, cpus, mlockall, use_sim_time, clock_topic)"},
        {"plugins: {}\n", 1, "plugins", "known: node, discovery, transport, qos, security, log"},
        {"qos:\n  /a: {histroy: 3}\n", 2, "qos[/a].histroy", "did you mean \"history\"?"},
    };
    run_bad_cases(cases, sizeof cases / sizeof cases[0]);

    /* The whole message, as a user sees it. */
    struct ax_config cfg;
    struct ax_config_error err;
    char line[700], want[700];
    ax_config_init(&cfg);
    const char *path =
        write_file("typo.yaml", "node:\n  name: x\ndiscovery:\n  mode: local\n  hartbeat: 100ms\n");
    assert_int_equal(ax_config_load_file(&cfg, path, &err), AX_ECONFIG);
    assert_int_equal(err.column, 3);
    snprintf(want, sizeof want,
             "%s:5:3: discovery.hartbeat: unknown key (did you mean \"discovery.heartbeat\"?)",
             path);
    assert_string_equal(ax_config_error_str(&err, line, sizeof line), want);
    ax_config_fini(&cfg);
}

static void test_syntax_shape_and_duplicates(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        /* YAML syntax errors name the line */
        {"discovery:\n  peers: [10.0.0.1, 10.0.0.2\n", 3, "", "YAML syntax error"},
        {"node:\n  name: x\n bad: indent\n", 3, "", "YAML syntax error"},
        {"node:\n  name: \"unterminated\n", 3, "", "YAML syntax error"},
        {"node: {name: x\n", 2, "", "YAML syntax error"},
        /* wrong shapes */
        {"- a\n- b\n", 1, "", "expected a mapping of sections"},
        {"discovery: [a, b]\n", 1, "discovery", "expected a mapping of discovery keys, got a list"},
        {"node:\n  name: [x]\n", 2, "node.name",
         "expected a string (at most 63 bytes), got a list"},
        {"node:\n  domain: {a: 1}\n", 2, "node.domain", "got a mapping"},
        {"discovery:\n  peers: {a: 1}\n", 2, "discovery.peers", "expected a list"},
        {"discovery:\n  peers: [[a]]\n", 2, "discovery.peers", "expected a string entry"},
        {"qos: [a]\n", 1, "qos", "expected a mapping of topic names"},
        {"qos:\n  /map: [latched]\n", 2, "qos[/map]", "expected a mapping of QoS keys"},
        {"qos:\n  /map:\n", 2, "qos[/map]", "expected a mapping of QoS keys"},
        {"node:\n  [a]: 1\n", 2, "node", "expected a key"},
        /* duplicates */
        {"discovery:\n  port: 1000\n  port: 2000\n", 3, "discovery.port",
         "duplicate key (first at line 2)"},
        {"node: {domain: 1}\nnode: {domain: 2}\n", 2, "node",
         "duplicate section (first at line 1)"},
        {"qos:\n  /a: {}\n  /a: {history: 2}\n", 3, "qos[/a]", "duplicate topic (first at line 2)"},
        {"qos:\n  /a: {history: 1, history: 2}\n", 2, "qos[/a].history", "duplicate key"},
        /* aliases and several documents are refused */
        {"node: &n {domain: 1}\ndiscovery: *n\n", 2, "", "aliases"},
        {"node: {domain: 1}\n---\nnode: {domain: 2}\n", 2, "", "only one YAML document"},
    };
    run_bad_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_files_and_limits(void **state)
{
    (void)state;
    struct ax_config cfg;
    struct ax_config_error err;
    char path[128];
    ax_config_init(&cfg);

    snprintf(path, sizeof path, "%s/does-not-exist.yaml", tmpdir);
    assert_int_equal(ax_config_load_file(&cfg, path, &err), AX_ENOENT);
    assert_string_equal(err.file, path);
    assert_contains(err.message, "cannot open");
    assert_int_equal(ax_config_load_file(&cfg, tmpdir, &err), AX_ECONFIG);
    assert_contains(err.message, "is a directory");
    assert_int_equal(ax_config_load_file(NULL, path, &err), AX_EINVAL);
    assert_int_equal(ax_config_load_file(&cfg, path, NULL), AX_ENOENT); /* err is optional */

    /* Unreadable: only meaningful when not root (root reads anything). */
    if (geteuid() != 0) {
        const char *p = write_file("secret.yaml", "node: {domain: 1}\n");
        assert_int_equal(chmod(p, 0), 0);
        assert_int_equal(ax_config_load_file(&cfg, p, &err), AX_EACCES);
    }

    /* The file size bound. */
    size_t big = AX_CONFIG_FILE_MAX + 1;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, '#', big);
    for (size_t i = 79; i < big; i += 80)
        text[i] = '\n';
    text[big] = 0;
    assert_int_equal(ax_config_load_file(&cfg, write_file("big.yaml", text), &err), AX_ECONFIG);
    assert_contains(err.message, "larger than 1048576 bytes");
    assert_int_equal(ax_config_load_string(&cfg, text, "big", &err), AX_ECONFIG);
    text[big - 1] = 0; /* exactly the limit is fine */
    text[big - 2] = '\n';
    AX_OK_OR_FAIL(ax_config_load_file(&cfg, write_file("big.yaml", text), &err));
    free(text);

    /* 256 peers are fine, the 257th is refused on its own line. */
    size_t cap = 64 * 300;
    text = malloc(cap);
    assert_non_null(text);
    size_t o = (size_t)snprintf(text, cap, "discovery:\n  peers:\n");
    for (int i = 0; i < AX_CONFIG_PEERS_MAX; i++)
        o += (size_t)snprintf(text + o, cap - o, "    - 10.0.%d.%d\n", i / 200, i % 200 + 1);
    AX_OK_OR_FAIL(ax_config_load_string(&cfg, text, "peers", &err));
    assert_int_equal(cfg.discovery.npeers, AX_CONFIG_PEERS_MAX);
    snprintf(text + o, cap - o, "    - 10.9.9.9\n");
    assert_int_equal(ax_config_load_string(&cfg, text, "peers", &err), AX_ECONFIG);
    assert_int_equal(err.line, 2 + AX_CONFIG_PEERS_MAX + 1);
    assert_string_equal(err.key, "discovery.peers");
    assert_contains(err.message, "too many entries: at most 256");
    free(text);

    /* A peer longer than the bound. */
    char longpeer[400] = "discovery:\n  peers: [";
    memset(longpeer + strlen(longpeer), 'a', 300);
    strcpy(longpeer + strlen("discovery:\n  peers: [") + 300, "]\n");
    assert_int_equal(ax_config_load_string(&cfg, longpeer, "p", &err), AX_ECONFIG);
    assert_contains(err.message, "too long: 300 bytes, at most 259");

    /* 1024 topics are fine, the 1025th is refused. */
    cap = 40 * 1100;
    text = malloc(cap);
    assert_non_null(text);
    o = (size_t)snprintf(text, cap, "qos:\n");
    for (int i = 0; i < AX_CONFIG_QOS_MAX; i++)
        o += (size_t)snprintf(text + o, cap - o, "  /t%d: {history: %d}\n", i, i + 1);
    AX_OK_OR_FAIL(ax_config_load_string(&cfg, text, "topics", &err));
    assert_int_equal(cfg.nqos, AX_CONFIG_QOS_MAX);
    struct ax_qos q;
    AX_OK_OR_FAIL(ax_config_qos_for(&cfg, "/t1023", &q));
    assert_int_equal(q.history, 1024);
    AX_OK_OR_FAIL(ax_config_load_string(&cfg, "qos: {/t5: {history: 9}}\n", "t", &err));
    assert_int_equal(cfg.nqos, AX_CONFIG_QOS_MAX); /* replacing one is fine at the bound */
    assert_int_equal(ax_config_load_string(&cfg, "qos: {/new: {}}\n", "t", &err), AX_ECONFIG);
    assert_string_equal(err.key, "qos[/new]");
    assert_contains(err.message, "too many topics: at most 1024");
    free(text);

    /* A topic name longer than the bound. */
    char longtopic[400] = "qos:\n  /";
    memset(longtopic + 8, 'x', 300);
    strcpy(longtopic + 308, ": {}\n");
    assert_int_equal(ax_config_load_string(&cfg, longtopic, "t", &err), AX_ECONFIG);
    assert_contains(err.message, "at most 255");
    ax_config_fini(&cfg);
}

/* ---- environment ---- */

static void clear_env(void)
{
    unsetenv("AXON_CONFIG");
    unsetenv("AXON_DOMAIN");
    unsetenv("AXON_PEERS");
    unsetenv("AXON_LOG_LEVEL");
}

static void test_env_overrides(void **state)
{
    (void)state;
    struct ax_config cfg;
    struct ax_config_error err;
    clear_env();
    ax_config_init(&cfg);

    /* Nothing set: nothing changes. */
    AX_OK_OR_FAIL(ax_config_apply_env(&cfg, &err));
    assert_int_equal(cfg.domain, 0);

    /* defaults < file < AXON_CONFIG file < variables */
    AX_OK_OR_FAIL(ax_config_load_file(
        &cfg, write_file("prog.yaml", "node: {domain: 3, name: prog}\nlog: {level: error}\n"),
        &err));
    setenv("AXON_CONFIG",
           write_file("env.yaml", "node: {domain: 4, threads: 3}\ndiscovery: {peers: [a]}\n"), 1);
    setenv("AXON_DOMAIN", "7", 1);
    setenv("AXON_PEERS", " 10.0.0.1 , host-b:7500,10.0.0.3", 1);
    setenv("AXON_LOG_LEVEL", "DEBUG", 1);
    AX_OK_OR_FAIL(ax_config_apply_env(&cfg, &err));
    assert_string_equal(cfg.node_name, "prog"); /* from the program's file */
    assert_int_equal(cfg.threads, 3);           /* from AXON_CONFIG's file */
    assert_int_equal(cfg.domain, 7);            /* AXON_DOMAIN wins */
    assert_int_equal(cfg.discovery.npeers, 3);  /* AXON_PEERS replaces the list */
    assert_string_equal(cfg.discovery.peers[0], "10.0.0.1");
    assert_string_equal(cfg.discovery.peers[1], "host-b:7500");
    assert_string_equal(cfg.discovery.peers[2], "10.0.0.3");
    assert_int_equal(cfg.log_level, AX_LOG_DEBUG);

    /* An empty variable is ignored. */
    clear_env();
    setenv("AXON_DOMAIN", "", 1);
    AX_OK_OR_FAIL(ax_config_apply_env(&cfg, &err));
    assert_int_equal(cfg.domain, 7);
    clear_env();

    /* AXON_PEERS takes as many entries as a file, and no more. */
    char peers[AX_CONFIG_PEERS_MAX * 16];
    size_t o = 0;
    for (int i = 0; i < AX_CONFIG_PEERS_MAX; i++)
        o += (size_t)snprintf(peers + o, sizeof peers - o, "%s10.1.%d.%d", i ? "," : "", i / 200,
                              i % 200 + 1);
    setenv("AXON_PEERS", peers, 1);
    AX_OK_OR_FAIL(ax_config_apply_env(&cfg, &err));
    assert_int_equal(cfg.discovery.npeers, AX_CONFIG_PEERS_MAX);
    assert_string_equal(cfg.discovery.peers[AX_CONFIG_PEERS_MAX - 1], "10.1.1.56");
    snprintf(peers + o, sizeof peers - o, ",10.9.9.9");
    setenv("AXON_PEERS", peers, 1);
    assert_int_equal(ax_config_apply_env(&cfg, &err), AX_ECONFIG);
    assert_string_equal(err.file, "AXON_PEERS");
    assert_contains(err.message, "too many entries: at most 256");
    assert_int_equal(cfg.discovery.npeers,
                     AX_CONFIG_PEERS_MAX); /* a failed apply changes nothing */
    clear_env();
    ax_config_fini(&cfg);
}

static void test_env_errors(void **state)
{
    (void)state;
    static const struct {
        const char *var, *value, *file, *key, *msg;
    } cases[] = {
        {"AXON_DOMAIN", "abc", "AXON_DOMAIN", "node.domain", "not a non-negative integer"},
        {"AXON_DOMAIN", "300", "AXON_DOMAIN", "node.domain", "out of range 0..232"},
        {"AXON_PEERS", "10.0.0.1,,10.0.0.2", "AXON_PEERS", "discovery.peers", "entry 2 is empty"},
        {"AXON_PEERS", "10.0.0.1,bad host", "AXON_PEERS", "discovery.peers", "entry 2"},
        {"AXON_LOG_LEVEL", "loud", "AXON_LOG_LEVEL", "log.level", "expected one of off, error"},
    };
    struct ax_config cfg;
    struct ax_config_error err;
    char line[700];
    clear_env();
    ax_config_init(&cfg);
    char *before = dump(&cfg, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].var, cases[i].value, 1);
        assert_int_equal(ax_config_apply_env(&cfg, &err), AX_ECONFIG);
        print_message("  %s=%s -> %s\n", cases[i].var, cases[i].value,
                      ax_config_error_str(&err, line, sizeof line));
        assert_string_equal(err.file, cases[i].file);
        assert_int_equal(err.line, 0);
        assert_string_equal(err.key, cases[i].key);
        assert_contains(err.message, cases[i].msg);
        char *after = dump(&cfg, 0);
        assert_string_equal(before, after);
        free(after);
        unsetenv(cases[i].var);
    }

    /* A cross-key rule broken by a variable blames the variable. */
    AX_OK_OR_FAIL(ax_config_load_string(&cfg, "discovery: {port: 65400}\n", NULL, &err));
    setenv("AXON_DOMAIN", "200", 1);
    assert_int_equal(ax_config_apply_env(&cfg, &err), AX_ECONFIG);
    assert_string_equal(err.file, "AXON_DOMAIN");
    assert_string_equal(err.key, "node.domain");
    assert_contains(err.message, "exceeds 65535");
    unsetenv("AXON_DOMAIN");

    /* AXON_CONFIG naming a missing file, or a bad one. */
    char path[128];
    snprintf(path, sizeof path, "%s/missing.yaml", tmpdir);
    setenv("AXON_CONFIG", path, 1);
    assert_int_equal(ax_config_apply_env(&cfg, &err), AX_ENOENT);
    assert_string_equal(err.file, path);
    assert_contains(err.message, "AXON_CONFIG");
    setenv("AXON_CONFIG", write_file("envbad.yaml", "node:\n  domian: 1\n"), 1);
    assert_int_equal(ax_config_apply_env(&cfg, &err), AX_ECONFIG);
    assert_int_equal(err.line, 2);
    assert_string_equal(err.key, "node.domian");
    clear_env();
    free(before);
    ax_config_fini(&cfg);
}

/* ---- qos overrides ---- */

static void test_qos_overrides(void **state)
{
    (void)state;
    struct ax_config cfg;
    struct ax_config_error err;
    struct ax_qos q, want;
    ax_config_init(&cfg);
    AX_OK_OR_FAIL(ax_config_load_string(&cfg,
                                        "qos:\n"
                                        "  /sensors/lidar: {profile: sensor_data, history: 2}\n"
                                        "  /map: {profile: latched}\n"
                                        "  /plain: {}\n"
                                        "  /late_profile: {history: 3, profile: control}\n"
                                        "  \"/ns/with-dash_and.dot\": {overload: drop_newest}\n",
                                        "qos", &err));
    assert_int_equal(cfg.nqos, 0 + 5);
    want = AX_QOS_SENSOR_DATA;
    want.history = 2;
    AX_OK_OR_FAIL(ax_config_qos_for(&cfg, "/sensors/lidar", &q));
    assert_qos_equal(&q, &want);
    want = AX_QOS_LATCHED;
    AX_OK_OR_FAIL(ax_config_qos_for(&cfg, "/map", &q));
    assert_qos_equal(&q, &want);
    want = AX_QOS_DEFAULT; /* no profile: the default preset */
    AX_OK_OR_FAIL(ax_config_qos_for(&cfg, "/plain", &q));
    assert_qos_equal(&q, &want);
    want = AX_QOS_CONTROL; /* the profile applies first wherever it is written */
    want.history = 3;
    AX_OK_OR_FAIL(ax_config_qos_for(&cfg, "/late_profile", &q));
    assert_qos_equal(&q, &want);
    AX_OK_OR_FAIL(ax_config_qos_for(&cfg, "/ns/with-dash_and.dot", &q));
    assert_int_equal(q.overload, AX_OVERLOAD_DROP_NEWEST);

    /* Unknown topics, and exact matching only. */
    memset(&q, 0x77, sizeof q);
    struct ax_qos untouched = q;
    assert_int_equal(ax_config_qos_for(&cfg, "/sensors", &q), AX_ENOTFOUND);
    assert_int_equal(ax_config_qos_for(&cfg, "/map/", &q), AX_ENOTFOUND);
    assert_memory_equal(&q, &untouched, sizeof q);
    assert_int_equal(ax_config_qos_for(NULL, "/map", &q), AX_EINVAL);

    /* A second document replaces entries per topic and adds new ones. */
    AX_OK_OR_FAIL(ax_config_load_string(
        &cfg, "qos:\n  /map: {profile: sensor_data}\n  /new: {lifespan: 2s}\n", "qos2", &err));
    assert_int_equal(cfg.nqos, 6);
    want = AX_QOS_SENSOR_DATA;
    AX_OK_OR_FAIL(ax_config_qos_for(&cfg, "/map", &q));
    assert_qos_equal(&q, &want);
    AX_OK_OR_FAIL(ax_config_qos_for(&cfg, "/new", &q));
    assert_int_equal(q.lifespan_ns, 2 * AX_NS_PER_S);
    assert_string_equal(cfg.qos[1].topic, "/map"); /* replaced in place */
    assert_string_equal(cfg.qos[5].topic, "/new");
    ax_config_fini(&cfg);
}

/* ---- copy, fini, dump, validate ---- */

static void test_copy_fini_and_dump_round_trip(void **state)
{
    (void)state;
    struct ax_config a, b, c;
    struct ax_config_error err;
    ax_config_init(&a);
    AX_OK_OR_FAIL(ax_config_load_string(&a, full_yaml, "full", &err));
    AX_OK_OR_FAIL(ax_config_copy(&b, &a));
    /* Deep: changing or freeing the source leaves the copy intact. */
    a.discovery.peers[0][0] = 'X';
    a.qos[0].topic[1] = 'X';
    ax_config_fini(&a);
    check_full(&b);
    assert_null(a.qos); /* fini leaves the defaults */
    assert_int_equal(a.discovery.port, 7400);
    ax_config_fini(&a); /* twice is harmless */
    ax_config_fini(NULL);
    assert_int_equal(ax_config_copy(&a, &b), 0);
    assert_int_equal(ax_config_copy(&a, &a), 0);
    assert_int_equal(ax_config_copy(NULL, &b), AX_EINVAL);

    /* The dump loads back to an equal config, with or without comments. */
    for (unsigned flags = 0; flags <= AX_CONFIG_DUMP_COMMENTS; flags++) {
        char *text = dump(&b, flags);
        ax_config_init(&c);
        if (ax_config_load_string(&c, text, "dump", &err) != 0) {
            char line[700];
            fail_msg("%s\n%s", ax_config_error_str(&err, line, sizeof line), text);
        }
        check_full(&c);
        char *again = dump(&c, flags);
        assert_string_equal(text, again);
        free(text);
        free(again);
        ax_config_fini(&c);
    }
    /* The defaults' dump too, and it holds every key. */
    ax_config_init(&c);
    char *text = dump(&c, AX_CONFIG_DUMP_COMMENTS);
    for (size_t i = 0; i < ax__cfg_nkeys; i++) {
        const char *dot = strchr(ax__cfg_keys[i].path, '.');
        char key[80];
        snprintf(key, sizeof key, "%s:", dot ? dot + 1 : ax__cfg_keys[i].path);
        assert_contains(text, key);
    }
    assert_contains(text, "# Period of the heartbeats");
    assert_contains(text, "Environment: AXON_DOMAIN.");
    AX_OK_OR_FAIL(ax_config_load_string(&a, text, "defaults", &err));
    free(text);
    assert_int_equal(ax_config_dump(&c, stdout, 0x80), AX_EINVAL);
    ax_config_fini(&a);
    ax_config_fini(&b);
    ax_config_fini(&c);
}

static void test_validate_built_in_code(void **state)
{
    (void)state;
    struct ax_config cfg;
    struct ax_config_error err;
    ax_config_init(&cfg);
    cfg.domain = 500;
    assert_int_equal(ax_config_validate(&cfg, &err), AX_ECONFIG);
    assert_string_equal(err.key, "node.domain");
    cfg.domain = 0;
    cfg.discovery.mode = (enum ax_discovery_mode)9;
    assert_int_equal(ax_config_validate(&cfg, &err), AX_ECONFIG);
    assert_string_equal(err.key, "discovery.mode");
    cfg.discovery.mode = AX_DISCOVERY_PEERS;
    memset(cfg.node_name, 'a', sizeof cfg.node_name); /* not terminated */
    assert_int_equal(ax_config_validate(&cfg, &err), AX_ECONFIG);
    assert_string_equal(err.key, "node.name");
    cfg.node_name[0] = 0;
    cfg.discovery.lease_ns = cfg.discovery.heartbeat_ns;
    assert_int_equal(ax_config_validate(&cfg, &err), AX_ECONFIG);
    assert_string_equal(err.key, "discovery.lease");
    assert_int_equal(err.line, 0);
    cfg.discovery.lease_ns = 2 * cfg.discovery.heartbeat_ns;
    AX_OK_OR_FAIL(ax_config_validate(&cfg, &err));
    assert_int_equal(ax_config_validate(NULL, &err), AX_EINVAL);

    /* ax_config_error_str() leaves out what is empty. */
    char buf[64];
    struct ax_config_error e = {.file = "AXON_DOMAIN", .key = "node.domain", .message = "bad"};
    assert_string_equal(ax_config_error_str(&e, buf, sizeof buf), "AXON_DOMAIN: node.domain: bad");
    struct ax_config_error e2 = {.file = "f.yaml", .line = 3, .column = 7, .message = "oops"};
    assert_string_equal(ax_config_error_str(&e2, buf, sizeof buf), "f.yaml:3:7: oops");
    assert_string_equal(ax_config_error_str(&e2, buf, 8), "f.yaml:");
    ax_config_fini(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes_and_bools),
        cmocka_unit_test(test_table_is_consistent),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_file_sets_every_key),
        cmocka_unit_test(test_issue_example),
        cmocka_unit_test(test_partial_and_empty_documents),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_syntax_shape_and_duplicates),
        cmocka_unit_test(test_files_and_limits),
        cmocka_unit_test(test_env_overrides),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_qos_overrides),
        cmocka_unit_test(test_copy_fini_and_dump_round_trip),
        cmocka_unit_test(test_validate_built_in_code),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
