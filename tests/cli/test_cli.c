/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration tests of the `axon` CLI: the real binary against real demo
 * nodes (cli_talker) in separate processes.
 *
 *   test_cli CASE AXON TALKER NODE_DIR WORK_DIR
 *
 * CASE is one of the tests below (one ctest test each, so each has its own
 * timeout). NODE_DIR holds the reference MCAP reader (tests/mcap, npm
 * packages installed by the mcap_node_deps target); WORK_DIR is a scratch
 * directory. Under qemu-user (AXON_TEST_EMULATOR) the CLI and the talkers
 * run emulated, node runs on the host, and the discovery wait is longer.
 *
 * Every wait is on a condition with a deadline; nothing sleeps to
 * synchronise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ax_test.h"
#include "axon/version.h"
#include "cli_fixture.h"
#include "test_cli_cases.h"
#include "clirun.h"
#include "proc.h"

/* Run a host program (node) with stdout to @out_file; returns its status. */
static int run_host(const char *out_file, char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            dup2(fd, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *node_exe(void)
{
    static const char *const cands[] = {"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"};
    for (size_t i = 0; i < 3; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

/* Whether the reference reader can run; prints why not. */
static bool have_reference_reader(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/node_modules/@mcap/core", node_dir);
    if (!node_exe()) {
        printf("SKIP (reference reader): node is not installed (bash tools/dev.sh deps)\n");
        return false;
    }
    if (access(p, R_OK) != 0) {
        printf("SKIP (reference reader): %s is missing; build the mcap_node_deps target first\n",
               p);
        return false;
    }
    return true;
}

/* verify_mcap.mjs on @file (mode both), then check_report.mjs with @checks
 * (NULL-terminated). Fails the test on a mismatch. */
static void reference_check(const char *file, const char *report, const char *first, ...)
{
    char verify[1024], check[1024];
    snprintf(verify, sizeof verify, "%s/verify_mcap.mjs", node_dir);
    snprintf(check, sizeof check, "%s/tests/cli/check_report.mjs", AXT_SOURCE_DIR);
    char *v[] = {(char *)node_exe(), verify, "--mode", "both", (char *)file, NULL};
    int rc = run_host(report, v);
    /* verify_mcap exits 0 whatever it found (no --expect): the check decides. */
    if (rc != 0)
        fail_msg("verify_mcap.mjs failed with %d on %s", rc, file);
    char *argv[48];
    int n = 0;
    argv[n++] = (char *)node_exe();
    argv[n++] = check;
    argv[n++] = (char *)report;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 46; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    char out[1024];
    snprintf(out, sizeof out, "%s.check", report);
    rc = run_host(out, argv);
    FILE *f = fopen(out, "r");
    char line[2048] = "";
    while (f && fgets(line, sizeof line, f))
        printf("  %s", line);
    if (f)
        fclose(f);
    if (rc != 0)
        fail_msg("the reference reader disagrees (report in %s)", report);
}

/* ---- help, usage, config: no node needed ---- */

static void t_help(void **state)
{
    (void)state;
    static const char *const verbs[][3] = {
        {"node", "list", NULL},  {"node", "info", NULL},  {"topic", "list", NULL},
        {"topic", "info", NULL}, {"topic", "type", NULL}, {"topic", "echo", NULL},
        {"topic", "hz", NULL},   {"topic", "bw", NULL},   {"topic", "delay", NULL},
        {"topic", "pub", NULL},  {"doctor", NULL, NULL},  {"record", NULL, NULL},
        {"play", NULL, NULL},    {"bag", "info", NULL},   {"config", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        struct cli_proc p;
        if (verbs[i][1])
            AXON(&p, 10000, verbs[i][0], verbs[i][1], "--help");
        else
            AXON(&p, 10000, verbs[i][0], "--help");
        EXPECT_EXIT(&p, 0);
        EXPECT_OUT(&p, 0, "Usage: axon");
        EXPECT_OUT(&p, 0, "Example:");
        EXPECT_OUT(&p, 0, "--domain");
        cli_proc_free(&p);
    }
    struct cli_proc p;
    AXON(&p, 10000, "frobnicate");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "unknown verb");
    cli_proc_free(&p);
    AXON(&p, 10000, "topic", "echo");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "usage error");
    cli_proc_free(&p);
    AXON(&p, 10000, "topic", "hz", "/x", "--window", "soon");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "--window: \"soon\" is not a duration"); /* ax_duration_parse()'s reason */
    cli_proc_free(&p);
    /* Durations are the library's grammar: a bare number is seconds, units
     * and exact fractions are taken, the rest refused with its reason. */
    static const char *const good[] = {"1.5", "250ms", "2s", "0.25 s", "1m"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        AXON_BARE(&p, 10000, "config", "--no-comments", "--wait", good[i]);
        EXPECT_EXIT(&p, 0);
        cli_proc_free(&p);
    }
    AXON_BARE(&p, 10000, "config", "--wait", "1.5ns");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "--wait: \"1.5ns\" is not a whole number of nanoseconds");
    cli_proc_free(&p);
    AXON_BARE(&p, 10000, "config", "--wait", "1e3");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "is not a duration");
    cli_proc_free(&p);
    /* Sizes too: the configuration's units, refused before anything opens. */
    AXON_BARE(&p, 10000, "record", "-o", "/nonexistent/x.mcap", "--queue-size", "64M", "/x");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "--queue-size: \"64M\" is not a size");
    cli_proc_free(&p);
    AXON_BARE(&p, 10000, "record", "-o", "/nonexistent/x.mcap", "--chunk-size", "512", "/x");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "--chunk-size 512: from 1KiB to 256MiB");
    cli_proc_free(&p);
    AXON(&p, 10000, "node", "list", "--bogus");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "unknown option --bogus");
    cli_proc_free(&p);
    AXON(&p, 10000, "bag", "info", path_in_work("does-not-exist.mcap"));
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "cannot open");
    cli_proc_free(&p);

    /* The list of verbs comes from the verb table: every group expanded. */
    AXON(&p, 10000, "--help");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "  topic echo TOPIC ");
    EXPECT_OUT(&p, 0, "  bag info FILE.mcap ");
    EXPECT_OUT(&p, 0, "  version ");
    cli_proc_free(&p);
    AXON(&p, 10000, "help", "topic", "echo");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "Usage: axon topic echo TOPIC [options]");
    cli_proc_free(&p);
    AXON(&p, 10000, "topic");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "missing topic verb");
    EXPECT_OUT(&p, 1, "  topic hz TOPIC ");
    cli_proc_free(&p);
    AXON(&p, 10000, "topic", "frobnicate");
    EXPECT_EXIT(&p, 2);
    EXPECT_OUT(&p, 1, "unknown topic verb 'frobnicate'");
    cli_proc_free(&p);

    /* The version is the library's (ax_version()), both ways of asking. */
    char want[64];
    snprintf(want, sizeof want, "axon %s\n", ax_version());
    static const char *const version_words[] = {"--version", "version"};
    for (size_t i = 0; i < 2; i++) {
        AXON(&p, 10000, version_words[i]);
        EXPECT_EXIT(&p, 0);
        assert_string_equal(p.buf[0], want);
        cli_proc_free(&p);
    }
    AXON(&p, 10000, "version", "--json");
    EXPECT_EXIT(&p, 0);
    char v[32];
    assert_true(json_str(p.buf[0], "version", v, sizeof v));
    assert_string_equal(v, ax_version());
    cli_proc_free(&p);
}

/* Every key of the reference table in docs/configuration.md is in
 * `axon config --defaults`, under its section, and the output loads back
 * to the defaults. */
static void t_config(void **state)
{
    (void)state;
    struct cli_proc p;
    AXON(&p, 10000, "config", "--defaults");
    EXPECT_EXIT(&p, 0);
    const char *out = p.buf[0];
    char doc[1024];
    snprintf(doc, sizeof doc, "%s/docs/configuration.md", AXT_SOURCE_DIR);
    FILE *f = fopen(doc, "r");
    assert_non_null(f);
    char line[4096];
    int keys = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        char key[128];
        size_t n = strcspn(line + 3, "`");
        if (n >= sizeof key)
            continue;
        memcpy(key, line + 3, n);
        key[n] = '\0';
        if (strncmp(key, "qos.", 4) == 0)
            continue; /* per-topic keys: the map itself is "qos" */
        char *dot = strchr(key, '.');
        char want[160];
        if (!dot) {
            snprintf(want, sizeof want, "\n%s:", key);
            if (!strstr(out, want))
                fail_msg("`axon config --defaults` has no top-level key %s", key);
        } else {
            *dot = '\0';
            snprintf(want, sizeof want, "\n%s:", key);
            const char *sec = strstr(out, want);
            if (!sec && strncmp(out, want + 1, strlen(want + 1)) == 0)
                sec = out - 1;
            if (!sec)
                fail_msg("`axon config --defaults` has no section %s", key);
            /* The section ends at the next line that starts in column 0
             * with something other than a comment. */
            const char *end = sec + 1;
            while ((end = strchr(end, '\n')) != NULL && (end[1] == ' ' || end[1] == '#'))
                end++;
            snprintf(want, sizeof want, "\n  %s:", dot + 1);
            const char *k = strstr(sec, want);
            if (!k || (end && k > end))
                fail_msg("`axon config --defaults` has no key %s.%s in its section", key, dot + 1);
        }
        keys++;
    }
    fclose(f);
    assert_true(keys >= 20);
    printf("config --defaults has all %d keys of docs/configuration.md\n", keys);

    struct ax_config a, b;
    struct ax_config_error err;
    ax_config_init(&a);
    ax_config_init(&b);
    a.domain = 77; /* must come back as the default */
    AX_OK_OR_FAIL(ax_config_load_string(&a, out, "config --defaults", &err));
    char *da = NULL, *db = NULL;
    size_t la = 0, lb = 0;
    FILE *fa = open_memstream(&da, &la), *fb = open_memstream(&db, &lb);
    AX_OK_OR_FAIL(ax_config_dump(&a, fa, 0));
    AX_OK_OR_FAIL(ax_config_dump(&b, fb, 0));
    fclose(fa);
    fclose(fb);
    assert_string_equal(da, db);
    free(da);
    free(db);
    ax_config_fini(&a);
    ax_config_fini(&b);
    cli_proc_free(&p);
}

/* ---- node list, topic list / info / type ---- */

static void t_list(void **state)
{
    (void)state;
    struct proc alpha, beta;
    talker(&alpha, "alpha", "--pub", "/t/imu=axon.sensor.Imu@10", "--sub",
           "/t/cmd=axon.std.KeyValue", NULL);
    talker(&beta, "beta", "--sub", "/t/imu=axon.sensor.Imu", "--pub", "/t/raw=raw:demo.Bytes@5",
           NULL);
    struct cli_proc p;

    AXON(&p, 20000, "node", "list");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "NAME");
    EXPECT_OUT(&p, 0, "HEARD");
    EXPECT_OUT(&p, 0, "alpha");
    EXPECT_OUT(&p, 0, "beta");
    EXPECT_OUT(&p, 0, "2 nodes in domain");
    EXPECT_NOT_OUT(&p, 0, "axon-cli");
    char pid[32];
    snprintf(pid, sizeof pid, " %d ", (int)alpha.pid);
    if (!emulated)
        EXPECT_OUT(&p, 0, pid); /* under qemu the talker's pid is qemu's, also what it reports */
    cli_proc_free(&p);

    AXON(&p, 20000, "node", "list", "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"name\":\"alpha\"");
    EXPECT_OUT(&p, 0, "\"uptime_ns\":");
    EXPECT_OUT(&p, 0, "\"heard_age_ns\":");
    EXPECT_OUT(&p, 0, "\"tcp\":\"127.0.0.1:");
    EXPECT_NOT_OUT(&p, 0, "axon-cli");
    cli_proc_free(&p);

    AXON(&p, 20000, "node", "info", "alpha");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "Node alpha");
    EXPECT_OUT(&p, 0, "heartbeat 1s");
    EXPECT_OUT(&p, 0, "/t/imu");
    EXPECT_OUT(&p, 0, "/t/cmd");
    EXPECT_OUT(&p, 0, "pub ");
    EXPECT_OUT(&p, 0, "sub ");
    cli_proc_free(&p);

    AXON(&p, 20000, "node", "info", "gamma");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "no node named 'gamma'");
    cli_proc_free(&p);

    AXON(&p, 20000, "topic", "list");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "TOPIC");
    char line[512];
    assert_true(cli_proc_last_line(&p, 0, "/t/imu", line, sizeof line));
    assert_non_null(strstr(line, "axon.sensor.Imu"));
    assert_non_null(strstr(line, "1     1")); /* one publisher, one subscriber */
    assert_true(cli_proc_last_line(&p, 0, "/t/raw", line, sizeof line));
    assert_non_null(strstr(line, "demo.Bytes"));
    cli_proc_free(&p);

    AXON(&p, 20000, "topic", "list", "-v", "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "{\"topic\":\"/t/cmd\",\"types\":[{\"name\":\"axon.std.KeyValue\"");
    EXPECT_OUT(&p, 0, "\"publishers\":0,\"subscribers\":1");
    EXPECT_OUT(&p, 0, "\"publisher_nodes\":[\"alpha\"],\"subscriber_nodes\":[\"beta\"]");
    cli_proc_free(&p);

    AXON(&p, 20000, "topic", "info", "/t/imu");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "Publishers:");
    EXPECT_OUT(&p, 0, "Subscribers:");
    EXPECT_OUT(&p, 0, "RELIABILITY");
    EXPECT_OUT(&p, 0, "DEPTH");
    EXPECT_OUT(&p, 0, "DROPS");
    EXPECT_OUT(&p, 0, "LAST ERROR");
    EXPECT_OUT(&p, 0, "reliable");
    EXPECT_OUT(&p, 0, "drop_oldest");
    cli_proc_free(&p);

    AXON(&p, 20000, "topic", "info", "/t/imu", "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"kind\":\"publisher\"");
    EXPECT_OUT(&p, 0, "\"kind\":\"subscriber\"");
    EXPECT_OUT(&p, 0, "\"reliability\":\"reliable\"");
    EXPECT_OUT(&p, 0, "\"drops\":{\"queue_oldest\":0");
    EXPECT_OUT(&p, 0, "\"last_error\":null");
    cli_proc_free(&p);

    AXON(&p, 20000, "topic", "type", "/t/imu");
    EXPECT_EXIT(&p, 0);
    assert_string_equal(p.buf[0], "axon.sensor.Imu\n");
    cli_proc_free(&p);

    AXON(&p, 20000, "topic", "info", "/t/nothing");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "axon topic list");
    cli_proc_free(&p);

    proc_stop(&alpha, 10000);
    proc_stop(&beta, 10000);
}

/* ---- echo, including a type the CLI was not built with ---- */

static void t_echo(void **state)
{
    (void)state;
    struct proc t;
    talker(&t, "echoer", "--size", "100", "--pub", "/e/imu=axon.sensor.Imu@20", "--pub",
           "/e/secret=clitest.Secret@20", "--pub", "/e/raw=raw:demo.Bytes@20", NULL);
    struct cli_proc p;

    AXON(&p, 30000, "topic", "echo", "/e/imu", "-n", "3");
    EXPECT_EXIT(&p, 0);
    assert_int_equal(count_of(p.buf[0], "---\n"), 3);
    assert_int_equal(count_of(p.buf[0], "frame_id: \"imu_link\""), 3);
    EXPECT_OUT(&p, 0, "linear_acceleration:\n  x: ");
    cli_proc_free(&p);

    AXON(&p, 30000, "topic", "echo", "/e/imu", "-n", "3", "--json");
    EXPECT_EXIT(&p, 0);
    assert_int_equal(count_of(p.buf[0], "\n"), 3);
    assert_int_equal(count_of(p.buf[0], "{\"header\":{\"stamp_ns\":"), 3);
    assert_int_equal(count_of(p.buf[0], "\"frame_id\":\"imu_link\""), 3);
    cli_proc_free(&p);

    AXON(&p, 30000, "topic", "echo", "/e/imu", "-n", "2", "--field", "header.frame_id");
    EXPECT_EXIT(&p, 0);
    assert_int_equal(count_of(p.buf[0], "imu_link"), 2);
    EXPECT_NOT_OUT(&p, 0, "linear_acceleration");
    cli_proc_free(&p);

    /* clitest.Secret is compiled into the talker only. */
    AXON(&p, 30000, "topic", "echo", "/e/secret", "-n", "2", "--max-bytes", "8");
    EXPECT_EXIT(&p, 0);
    assert_int_equal(count_of(p.buf[0], "name: \"secret-"), 2);
    EXPECT_OUT(&p, 0, "mood: MOOD_");
    EXPECT_OUT(&p, 0, "... (100 bytes)");
    EXPECT_OUT(&p, 0, "tags:\n  - \"alpha\"\n  - \"beta\"");
    cli_proc_free(&p);

    AXON(&p, 30000, "topic", "echo", "/e/secret", "-n", "1", "--json", "--field", "inner");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"v\":[1,2,3]");
    cli_proc_free(&p);

    AXON(&p, 30000, "topic", "echo", "/e/raw", "-n", "2");
    EXPECT_EXIT(&p, 0);
    assert_int_equal(count_of(p.buf[0], "size: 100\n"), 2);
    EXPECT_OUT(&p, 0, "data: ");
    EXPECT_OUT(&p, 0, "... (100 bytes)");
    cli_proc_free(&p);

    AXON(&p, 30000, "topic", "echo", "/e/imu", "-n", "1", "--field", "header.nope");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "no field 'header.nope'");
    cli_proc_free(&p);

    /* Ctrl-C ends an endless echo cleanly. */
    axon_start(&p, "topic", "echo", "/e/imu", NULL);
    if (!cli_proc_wait_line(&p, 0, "---", ms(30000), NULL, 0)) {
        dump(&p);
        fail_msg("echo printed nothing");
    }
    cli_proc_signal(&p, SIGINT);
    cli_proc_finish(&p, ms(10000));
    EXPECT_EXIT(&p, 0);
    cli_proc_free(&p);

    proc_stop(&t, 10000);
}

/* ---- hz: from the table and at a subscriber, against the true rate ---- */

static void hz_case(int rate)
{
    char spec[64];
    snprintf(spec, sizeof spec, "/h/t=axon.sensor.Imu@%d", rate);
    struct proc t;
    talker(&t, "metronome", "--pub", spec, NULL);
    /* Long enough for the table's ~1 s snapshots: at 10 Hz one message
     * more or less at each end is 1/(10 * window). */
    const char *window = rate <= 10 ? "8" : "5";
    const char *duration = rate <= 10 ? "9" : "6";
    struct cli_proc tab, sub;
    axon_start(&tab, "topic", "hz", "/h/t", "--window", window, "--duration", duration, "--json",
               NULL);
    axon_start(&sub, "topic", "hz", "/h/t", "--subscribe", "--window", window, "--duration",
               duration, "--json", NULL);
    cli_proc_finish(&tab, ms(60000));
    cli_proc_finish(&sub, ms(60000));
    EXPECT_EXIT(&tab, 0);
    EXPECT_EXIT(&sub, 0);
    say_to(&t, "report\n");
    char line[512], last_t[2048], last_s[2048];
    if (!proc_wait_line(&t, "STATS", "/h/t", 10000, line, sizeof line))
        fail_msg("no STATS from the talker");
    char v[64];
    assert_true(line_field(line, "rate", v, sizeof v));
    double truth = atof(v);
    assert_true(cli_proc_last_line(&tab, 0, "rate_hz", last_t, sizeof last_t));
    assert_true(cli_proc_last_line(&sub, 0, "rate_hz", last_s, sizeof last_s));
    double r_tab = 0, r_sub = 0, intervals = 0, msgs = 0, missing = 0;
    assert_true(json_num(last_t, "rate_hz", &r_tab));
    assert_true(json_num(last_s, "rate_hz", &r_sub));
    assert_true(json_num(last_t, "intervals", &intervals));
    assert_true(json_num(last_s, "messages", &msgs));
    json_num(last_s, "missing", &missing);
    printf("rate %d Hz: the talker published at %.4f Hz; hz from the table %.4f Hz (%g "
           "intervals), at a subscriber %.4f Hz (%g messages, %g missing)\n",
           rate, truth, r_tab, intervals, r_sub, msgs, missing);
    if (truth < rate * 0.5)
        fail_msg("the talker could not publish at %d Hz (%.1f): the machine is overloaded", rate,
                 truth);
    assert_true(intervals >= 3);
    double e_tab = (r_tab - truth) / truth, e_sub = (r_sub - truth) / truth;
    if (e_tab > 0.05 || e_tab < -0.05)
        fail_msg("hz from the table is %.2f%% off the true rate", e_tab * 100);
    if (e_sub > 0.05 || e_sub < -0.05)
        fail_msg("hz at a subscriber is %.2f%% off the true rate", e_sub * 100);
    cli_proc_free(&tab);
    cli_proc_free(&sub);

    /* bw and delay answer too (subscribing). */
    struct cli_proc p;
    AXON(&p, 30000, "topic", "bw", "/h/t", "--duration", "2.5", "--json");
    EXPECT_EXIT(&p, 0);
    assert_true(cli_proc_last_line(&p, 0, "bytes_per_s", line, sizeof line));
    double size = 0;
    assert_true(json_num(line, "mean_size", &size));
    assert_true(size > 30 && size < 200);
    cli_proc_free(&p);
    AXON(&p, 30000, "topic", "delay", "/h/t", "--duration", "2.5", "--json");
    EXPECT_EXIT(&p, 0);
    assert_true(cli_proc_last_line(&p, 0, "delay_mean_s", line, sizeof line));
    double d = -1;
    assert_true(json_num(line, "delay_mean_s", &d));
    assert_true(d >= 0 && d < 1.0);
    EXPECT_OUT(&p, 0, "\"clocks\":\"realtime\"");
    cli_proc_free(&p);
    proc_stop(&t, 10000);
}

static void t_hz10(void **state)
{
    (void)state;
    hz_case(10);
}

static void t_hz1k(void **state)
{
    (void)state;
    hz_case(1000);
}

/* ---- pub ---- */

static void t_pub(void **state)
{
    (void)state;
    struct proc t;
    talker(&t, "listener", "--print", "json", "--sub", "/p/cmd=axon.std.KeyValue", "--sub",
           "/p/secret=clitest.Secret", NULL);
    struct cli_proc p;
    char line[4096];

    AXON(&p, 30000, "topic", "pub", "/p/cmd", "axon.std.KeyValue", "{key: speed, value: \"42\"}");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "published #1 on /p/cmd");
    EXPECT_OUT(&p, 1, "receipt confirmed");
    if (!proc_wait_line(&t, "RECV topic=/p/cmd", NULL, ms(10000), line, sizeof line))
        fail_msg("the subscriber did not get the message");
    assert_non_null(strstr(line, "\"key\":\"speed\",\"value\":\"42\""));
    cli_proc_free(&p);

    /* A type the CLI was not built with: its schema comes from the node
     * that subscribes it. */
    AXON(&p, 30000, "topic", "pub", "/p/secret", "clitest.Secret",
         "{id: 7, name: hi, mood: MOOD_ANGRY, inner: {v: [4, 5]}, blob: \"hex:0a0b\"}");
    EXPECT_EXIT(&p, 0);
    if (!proc_wait_line(&t, "RECV topic=/p/secret", NULL, ms(10000), line, sizeof line))
        fail_msg("the subscriber did not get the clitest.Secret");
    assert_non_null(strstr(line, "\"id\":7"));
    assert_non_null(strstr(line, "\"mood\":\"MOOD_ANGRY\""));
    assert_non_null(strstr(line, "\"v\":[4,5]"));
    cli_proc_free(&p);

    /* A bad field is named, with its position. */
    AXON(&p, 30000, "topic", "pub", "/p/cmd", "axon.std.KeyValue", "{key: a, valu: b}");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "valu");
    EXPECT_OUT(&p, 1, "line 1 column");
    cli_proc_free(&p);
    AXON(&p, 30000, "topic", "pub", "/p/secret", "clitest.Secret", "{inner: {x: fast}}");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "inner.x");
    cli_proc_free(&p);

    AXON(&p, 30000, "topic", "pub", "/p/cmd", "no.such.Type", "{}");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "unknown type 'no.such.Type'");
    cli_proc_free(&p);

    /* Repeated at a rate. */
    AXON(&p, 30000, "topic", "pub", "/p/cmd", "axon.std.KeyValue", "{key: k, value: v}", "--rate",
         "20", "-n", "5");
    EXPECT_EXIT(&p, 0);
    assert_int_equal(count_of(p.buf[0], "published #"), 5);
    for (int i = 0; i < 5; i++)
        if (!proc_wait_line(&t, "RECV topic=/p/cmd", "\"key\":\"k\"", ms(10000), NULL, 0))
            fail_msg("message %d of 5 did not arrive", i + 1);
    cli_proc_free(&p);
    proc_stop(&t, 10000);
}

/* ---- doctor ---- */

static void t_doctor(void **state)
{
    (void)state;
    char other[8];
    snprintf(other, sizeof other, "%d", atoi(domain) + 1);
    struct proc tp[12];
    int n = 0;
    /* A type mismatch. */
    talker(&tp[n++], "p-mm", "--pub", "/d/mismatch=axon.sensor.Imu@5", NULL);
    talker(&tp[n++], "s-mm", "--sub", "/d/mismatch=axon.geometry.Pose", NULL);
    /* A domain mismatch: the subscriber is one domain up. */
    talker(&tp[n++], "p-dom", "--pub", "/d/domain=axon.sensor.Imu@5", NULL);
    {
        char *argv[] = {(char *)talker_bin,          "--name", "s-dom", "--domain", other, "--sub",
                        "/d/domain=axon.sensor.Imu", NULL};
        if (proc_start(&tp[n], "s-dom", argv) < 0 ||
            !proc_wait_line(&tp[n], "READY", NULL, ms(20000), NULL, 0))
            fail_msg("s-dom did not start");
        n++;
    }
    /* Incompatible QoS: transient-local subscriber, volatile publisher. */
    talker(&tp[n++], "p-qos", "--pub", "/d/qos=axon.sensor.Imu@5", NULL);
    talker(&tp[n++], "s-qos", "--sub-transient", "--sub", "/d/qos=axon.sensor.Imu", NULL);
    /* Drops: a subscriber slower than its publisher, latest-only queue. */
    talker(&tp[n++], "p-drop", "--qos", "sensor_data", "--size", "2000", "--pub",
           "/d/drops=raw:demo.Big@1000", NULL);
    talker(&tp[n++], "s-drop", "--qos", "sensor_data", "--slow-ms", "2", "--print", "none", "--sub",
           "/d/drops=raw:demo.Big", NULL);
    /* A healthy pair. */
    talker(&tp[n++], "p-ok", "--pub", "/d/ok=axon.sensor.Imu@5", NULL);
    talker(&tp[n++], "s-ok", "--sub", "/d/ok=axon.sensor.Imu", NULL);
    /* A node whose thread a callback will block for 4 s (its heartbeats
     * stop meanwhile), with a 6 s lease so it is not dropped: stale. */
    char *cfg = path_in_work("long-lease.yaml");
    FILE *cf = fopen(cfg, "w");
    assert_non_null(cf);
    fputs("discovery:\n  lease: 6s\n", cf);
    fclose(cf);
    setenv("AXON_CONFIG", cfg, 1);
    talker(&tp[n++], "p-stale", "--pub", "/d/stale=axon.sensor.Imu@5", "--sub",
           "/d/freeze=axon.std.KeyValue", "--slow-ms", "4000", NULL);
    unsetenv("AXON_CONFIG");

    struct cli_proc p;
    const char *want[][2] = {{"type_mismatch", "/d/mismatch"},
                             {"other_domain", "/d/domain"},
                             {"qos_incompatible", "/d/qos"},
                             {"drops", "/d/drops"}};
    /* Drops show once the publisher's counters carry them (about a second);
     * try a few times, bounded. */
    bool all = false;
    for (int attempt = 0; attempt < 6 && !all; attempt++) {
        AXON(&p, 60000, "doctor", "--json", "--scan", emulated ? "3" : "1");
        EXPECT_EXIT(&p, 1);
        all = true;
        for (size_t i = 0; i < 4; i++) {
            char pat[160];
            snprintf(pat, sizeof pat, "\"kind\":\"%s\",\"topic\":\"%s\"", want[i][0], want[i][1]);
            if (!strstr(p.buf[0], pat))
                all = false;
        }
        if (!all && attempt == 5)
            dump(&p);
        if (all) {
            char pat[64];
            snprintf(pat, sizeof pat, "in domain %s", other);
            EXPECT_OUT(&p, 0, pat);
            EXPECT_OUT(&p, 0, "axon.geometry.Pose");
            EXPECT_NOT_OUT(&p, 0, "\"topic\":\"/d/ok\"");
        }
        cli_proc_free(&p);
    }
    if (!all)
        fail_msg("doctor did not report all four planted problems");

    AXON(&p, 60000, "doctor", "/d/mismatch", "--scan", "0");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 0, "PROBLEM [type_mismatch]");
    EXPECT_OUT(&p, 0, "sends axon.sensor.Imu");
    EXPECT_OUT(&p, 0, "expects axon.geometry.Pose");
    EXPECT_OUT(&p, 0, "  fix: ");
    cli_proc_free(&p);

    AXON(&p, 60000, "doctor", "/d/domain", "--scan", emulated ? "3" : "1");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 0, "domain mismatch: node 's-dom'");
    EXPECT_OUT(&p, 0, "AXON_DOMAIN");
    cli_proc_free(&p);

    AXON(&p, 60000, "doctor", "/d/ok");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "No problems found.");
    cli_proc_free(&p);

    /* Stale heartbeat: while the doctor watches (a long --scan keeps it
     * watching), a message makes p-stale's callback block its node's thread
     * for 4 s. Ordered by lines, not by timing: the doctor says on stderr
     * when it starts watching, p-stale says RECV before it blocks. Under
     * emulation the publishing CLI alone may take seconds to start and to
     * see p-stale connect, hence the longer scan. */
    struct proc *stale = &tp[n - 1];
    int scan_s = emulated ? 40 : 10;
    char scan_arg[16];
    snprintf(scan_arg, sizeof scan_arg, "%d", scan_s);
    axon_start(&p, "doctor", "/d/stale", "--json", "--scan", scan_arg, NULL);
    if (!cli_proc_wait_line(&p, 1, "watching heartbeats", ms(60000), NULL, 0)) {
        dump(&p);
        fail_msg("doctor did not start watching");
    }
    int64_t watch_start = ax_clock_mono_ns();
    struct cli_proc q;
    AXON(&q, 60000, "topic", "pub", "/d/freeze", "axon.std.KeyValue", "{key: freeze}",
         "--no-confirm", "--timeout", emulated ? "20" : "5");
    EXPECT_EXIT(&q, 0);
    char qout[512];
    snprintf(qout, sizeof qout, "%s | %s", q.buf[0] ? q.buf[0] : "", q.buf[1] ? q.buf[1] : "");
    cli_proc_free(&q);
    if (!proc_wait_line(stale, "RECV", "topic=/d/freeze", ms(20000), NULL, 0))
        fail_msg("p-stale never received the freeze message; topic pub said: %s", qout);
    double freeze_at = (double)(ax_clock_mono_ns() - watch_start) / 1e9;
    cli_proc_finish(&p, ms(90000));
    if (!p.buf[0] || !strstr(p.buf[0], "\"kind\":\"stale_heartbeat\""))
        printf("the freeze began %.1f s into a watch of at most %d s; topic pub said: %s\n",
               freeze_at, scan_s, qout);
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 0, "\"kind\":\"stale_heartbeat\",\"topic\":\"/d/stale\"");
    EXPECT_OUT(&p, 0, "node 'p-stale'");
    EXPECT_OUT(&p, 0, "without a heartbeat while this check ran");
    cli_proc_free(&p);

    for (int i = 0; i < n; i++)
        proc_stop(&tp[i], 10000);
}

/* ---- record, reference reader, play ---- */

static void t_record(void **state)
{
    (void)state;
    char *file = path_in_work("rec.mcap");
    unlink(file);
    /* The recorder starts first, with nothing to record: the topics that
     * appear later are picked up. */
    struct cli_proc rec;
    axon_start(&rec, "record", "-o", file, "--all", "--json", NULL);
    if (!cli_proc_wait_line(&rec, 0, "\"channels\":0", ms(30000), NULL, 0)) {
        dump(&rec);
        fail_msg("the recorder did not start");
    }
    struct proc src;
    talker(&src, "source", "--wait-subs", "1", "--size", "200", "--pub",
           "/r/imu=axon.sensor.Imu@100x300", "--pub", "/r/secret=clitest.Secret@50x150", "--pub",
           "/r/raw=raw:demo.Bytes@50x100", NULL);
    for (int i = 0; i < 3; i++)
        if (!proc_wait_line(&src, "DONE", NULL, ms(60000), NULL, 0))
            fail_msg("the source did not publish everything");
    if (!cli_proc_wait_line(&rec, 0, "\"received\":550", ms(20000), NULL, 0)) {
        dump(&rec);
        fail_msg("the recorder did not receive 550 messages");
    }
    cli_proc_signal(&rec, SIGINT);
    cli_proc_finish(&rec, ms(20000));
    EXPECT_EXIT(&rec, 0);
    char line[4096];
    assert_true(cli_proc_last_line(&rec, 0, "\"event\":\"summary\"", line, sizeof line));
    assert_non_null(strstr(line, "\"written\":550"));
    assert_non_null(strstr(line, "\"recorder_drops\":0"));
    cli_proc_free(&rec);
    proc_stop(&src, 10000);

    /* Refuses to overwrite. */
    struct cli_proc p;
    AXON(&p, 20000, "record", "-o", file, "--all");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "--force");
    cli_proc_free(&p);

    AXON(&p, 20000, "bag", "info", file, "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"recovered\":false");
    EXPECT_OUT(&p, 0, "\"message_count\":550");
    EXPECT_OUT(&p, 0,
               "\"topic\":\"/r/imu\",\"type\":\"axon.sensor.Imu\",\"message_encoding\":"
               "\"protobuf\",\"schema_id\":1,\"message_count\":300");
    EXPECT_OUT(&p, 0, "\"type\":\"clitest.Secret\"");
    EXPECT_OUT(&p, 0, "\"message_count\":150");
    EXPECT_OUT(&p, 0, "\"topic\":\"/r/raw\",\"type\":\"demo.Bytes\"");
    EXPECT_OUT(&p, 0, "\"compression\":\"zstd\"");
    EXPECT_OUT(&p, 0, "\"axon.recording\":1");
    const char *et = strstr(p.buf[0], "\"end_time_ns\":");
    assert_non_null(et);
    unsigned long long end_time = strtoull(et + strlen("\"end_time_ns\":"), NULL, 10);
    FILE *bi = fopen(path_in_work("rec.bag.json"), "w");
    fputs(p.buf[0], bi);
    fclose(bi);
    cli_proc_free(&p);
    AXON(&p, 20000, "bag", "info", file);
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "Messages:     550");
    EXPECT_OUT(&p, 0, "Recovered:    no");
    cli_proc_free(&p);

    bool reference = have_reference_reader();
    if (reference)
        reference_check(file, path_in_work("rec.reference.json"), "--messages-from",
                        path_in_work("rec.bag.json"), "--decoded", "450", "--channel",
                        "/r/imu=axon.sensor.Imu=300", "--channel", "/r/secret=clitest.Secret=150",
                        "--channel", "/r/raw==100", "--metadata", "axon.recording",
                        "--stream-complete", "yes", NULL);

    /* Play it into a subscriber: every message, in order, per topic; with
     * --clock, the recording's time on /clock too, ending at its last
     * message's log time. */
    struct proc sink;
    talker(&sink, "sink", "--sub", "/r/imu=axon.sensor.Imu", "--sub", "/r/secret=clitest.Secret",
           "--sub", "/r/raw=raw:demo.Bytes", "--sub", "/clock=raw:axon.Clock", NULL);
    AXON(&p, 60000, "play", file, "--rate", "4", "--wait-subs", "3", "--json", "--clock");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"published\":550");
    cli_proc_free(&p);
    static const struct {
        const char *topic;
        int n;
    } want[] = {{"/r/imu", 300}, {"/r/secret", 150}, {"/r/raw", 100}};
    /* Ask the sink for its counts until every message is in (bounded). */
    int64_t end = ax_clock_mono_ns() + (int64_t)ms(20000) * AX_NS_PER_MS;
    for (bool done = false; !done;) {
        if (ax_clock_mono_ns() > end)
            fail_msg("the sink did not receive every played message: %s", line);
        say_to(&sink, "report\n");
        done = true;
        for (size_t i = 0; i < 3; i++) {
            char prefix[64], v[32];
            snprintf(prefix, sizeof prefix, "SUBSTATS topic=%s ", want[i].topic);
            if (!proc_wait_line(&sink, prefix, NULL, 10000, line, sizeof line))
                fail_msg("no SUBSTATS for %s", want[i].topic);
            assert_true(line_field(line, "received", v, sizeof v));
            if (atoi(v) < want[i].n) {
                done = false;
                continue;
            }
            printf("play: %s\n", line);
            assert_int_equal(atoi(v), want[i].n);
            assert_true(line_field(line, "order_errors", v, sizeof v));
            assert_int_equal(atoi(v), 0);
            assert_true(line_field(line, "first", v, sizeof v));
            assert_int_equal(atoi(v), 1);
            assert_true(line_field(line, "last", v, sizeof v));
            assert_int_equal(atoi(v), want[i].n);
        }
        if (!done) {
            /* What arrived since: wait for one more line, bounded. */
            proc_wait_line(&sink, "RECV", NULL, 200, NULL, 0);
        }
    }
    /* The clock's last value is the last message's time (bounded wait: the
     * clock has a link of its own). */
    for (;;) {
        if (ax_clock_mono_ns() > end)
            fail_msg("the clock did not reach the recording's end %llu: %s", end_time, line);
        say_to(&sink, "report\n");
        if (!proc_wait_line(&sink, "SUBSTATS topic=/clock ", NULL, 10000, line, sizeof line))
            fail_msg("no SUBSTATS for /clock");
        char v[32];
        assert_true(line_field(line, "last", v, sizeof v));
        if (strtoull(v, NULL, 10) == end_time) {
            printf("play --clock: %s\n", line);
            break;
        }
        proc_wait_line(&sink, "RECV", NULL, 200, NULL, 0);
    }
    proc_stop(&sink, 10000);
    if (!reference)
        reference_skipped = true;
}

/* A recorder killed with -9 leaves a file readable up to its last
 * complete chunk. */
static void t_kill9(void **state)
{
    (void)state;
    char *file = path_in_work("killed.mcap");
    unlink(file);
    struct proc src;
    talker(&src, "firehose", "--size", "4000", "--pub", "/k/big=raw:demo.Big@400", "--pub",
           "/k/imu=axon.sensor.Imu@200", NULL);
    struct cli_proc rec;
    axon_start(&rec, "record", "-o", file, "--all", "--json", "--chunk-size", "65536", "--flush",
               "0.5", NULL);
    /* Wait until several chunks are in the file. */
    char line[4096];
    double written = 0;
    while (written < 600) {
        if (!cli_proc_wait_line(&rec, 0, "\"event\":\"progress\"", ms(30000), line, sizeof line)) {
            dump(&rec);
            fail_msg("no progress from the recorder");
        }
        json_num(line, "written", &written);
    }
    cli_proc_signal(&rec, SIGKILL);
    cli_proc_finish(&rec, ms(10000));
    assert_int_equal(rec.status, 128 + SIGKILL);
    cli_proc_free(&rec);
    proc_stop(&src, 10000);

    struct cli_proc p;
    AXON(&p, 20000, "bag", "info", file, "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"recovered\":true");
    double count = 0;
    assert_true(json_num(p.buf[0], "message_count", &count));
    printf("killed recording: %s: %.0f messages recovered (the recorder had %.0f on disk when "
           "killed)\n",
           file, count, written);
    assert_true(count >= written);
    EXPECT_OUT(&p, 0, "\"topic\":\"/k/big\"");
    EXPECT_OUT(&p, 0, "\"topic\":\"/k/imu\"");
    FILE *bi = fopen(path_in_work("killed.bag.json"), "w");
    fputs(p.buf[0], bi);
    fclose(bi);
    cli_proc_free(&p);
    AXON(&p, 20000, "bag", "info", file);
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "Recovered:    YES");
    cli_proc_free(&p);

    if (!have_reference_reader()) {
        reference_skipped = true;
        return;
    }
    /* The streaming reader reads exactly what axon's reader recovered; the
     * indexed reader (which needs the footer) refuses the file. */
    reference_check(file, path_in_work("killed.reference.json"), "--indexed", "fails",
                    "--stream-complete", "no", "--messages-from", path_in_work("killed.bag.json"),
                    "--channel", "/k/imu=axon.sensor.Imu=NaN", "--channel", "/k/big==NaN", NULL);
}

/* A disk that cannot keep up (a FIFO nobody reads): the recorder says so
 * and writes what it lost into the file. */
static void t_slow_disk(void **state)
{
    (void)state;
    char *fifo = path_in_work("slow.mcap");
    char *copy = path_in_work("slow-copy.mcap");
    unlink(fifo);
    unlink(copy);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    struct proc src;
    talker(&src, "flood", "--size", "20000", "--pub", "/s/big=raw:demo.Big@500", NULL);
    struct cli_proc rec;
    axon_start(&rec, "record", "-o", fifo, "--force", "--queue-size", "1MiB", "--json", "/s/big",
               NULL);
    if (!cli_proc_wait_line(&rec, 1, "the disk cannot keep up", ms(60000), NULL, 0)) {
        dump(&rec);
        fail_msg("the recorder did not say that it drops");
    }
    /* Now drain the "disk" and stop the recorder. */
    int out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(out >= 0);
    cli_proc_signal(&rec, SIGINT);
    char buf[65536];
    int64_t end = ax_clock_mono_ns() + (int64_t)ms(60000) * AX_NS_PER_MS;
    for (;;) {
        ssize_t r = read(rd, buf, sizeof buf);
        if (r > 0) {
            assert_true(write(out, buf, (size_t)r) == r);
            continue;
        }
        if (r == 0 && cli_proc_poll(&rec, 0))
            break;
        if (ax_clock_mono_ns() > end)
            fail_msg("the recorder did not finish");
        cli_proc_poll(&rec, 10);
    }
    close(rd);
    close(out);
    EXPECT_EXIT(&rec, 0);
    char line[4096];
    assert_true(cli_proc_last_line(&rec, 0, "\"event\":\"summary\"", line, sizeof line));
    double drops = 0;
    assert_true(json_num(line, "recorder_drops", &drops));
    assert_true(drops > 0);
    printf("slow disk: %s\n", line);
    cli_proc_free(&rec);
    proc_stop(&src, 10000);

    struct cli_proc p;
    AXON(&p, 20000, "bag", "info", copy, "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"recovered\":false");
    EXPECT_OUT(&p, 0, "\"axon.recorder_drop\":");
    cli_proc_free(&p);
}

/* A recorder that falls behind (stopped with SIGSTOP while the publisher's
 * queue to it overflows) writes the sequence gap into the file. */
static void t_gap(void **state)
{
    (void)state;
    char *file = path_in_work("gap.mcap");
    unlink(file);
    /* A short publisher queue, and a long lease for the recorder so that
     * the publisher keeps it (and drops by policy) while it is stopped. */
    char *pcfg = path_in_work("short-queue.yaml"), *rcfg = path_in_work("long-lease.yaml");
    FILE *f = fopen(pcfg, "w");
    fputs("transport:\n  queue_frames: 64\n", f);
    fclose(f);
    f = fopen(rcfg, "w");
    fputs("discovery:\n  lease: 30s\n", f);
    fclose(f);
    setenv("AXON_CONFIG", pcfg, 1);
    struct proc src;
    talker(&src, "bulk", "--size", "20000", "--pub", "/g/big=raw:demo.Big@500", NULL);
    unsetenv("AXON_CONFIG");
    struct cli_proc rec;
    axon_start(&rec, "record", "-o", file, "/g/big", "--json", "--config", rcfg, NULL);
    char line[4096];
    double recv = 0;
    while (recv < 100) {
        if (!cli_proc_wait_line(&rec, 0, "\"event\":\"progress\"", ms(30000), line, sizeof line)) {
            dump(&rec);
            fail_msg("no progress from the recorder");
        }
        json_num(line, "received", &recv);
    }
    kill(rec.pid, SIGSTOP);
    /* Wait until the publisher's counters show drops to the recorder, and
     * its queue to it as full as the configured bound lets it be. */
    bool dropped = false;
    double queued = 0;
    int64_t end = ax_clock_mono_ns() + (int64_t)ms(30000) * AX_NS_PER_MS;
    while (!(dropped && queued > 0) && ax_clock_mono_ns() < end) {
        struct cli_proc p;
        AXON(&p, 30000, "topic", "info", "/g/big", "--json");
        dropped = p.buf[0] && strstr(p.buf[0], "\"queue_oldest\":") &&
                  !strstr(p.buf[0], "\"queue_oldest\":0,");
        if (p.buf[0])
            json_num(p.buf[0], "queued_messages", &queued);
        cli_proc_free(&p);
    }
    kill(rec.pid, SIGCONT);
    if (!dropped)
        fail_msg("the publisher never dropped messages to the stopped recorder");
    if (!(queued > 0))
        fail_msg("topic info never showed the publisher's queue to the stopped recorder");
    assert_true(queued <= 64); /* transport.queue_frames */
    printf("gap: the publisher's queue to the stopped recorder held %.0f messages\n", queued);
    double missing = 0;
    while (missing <= 0) {
        if (!cli_proc_wait_line(&rec, 0, "\"event\":\"progress\"", ms(30000), line, sizeof line)) {
            dump(&rec);
            fail_msg("the recorder reported no gap");
        }
        json_num(line, "gap_missing", &missing);
    }
    cli_proc_signal(&rec, SIGINT);
    cli_proc_finish(&rec, ms(30000));
    EXPECT_EXIT(&rec, 0);
    cli_proc_free(&rec);
    proc_stop(&src, 10000);
    printf("gap: the recorder saw %.0f messages missing\n", missing);

    struct cli_proc p;
    AXON(&p, 20000, "bag", "info", file, "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"axon.gap\":");
    cli_proc_free(&p);
    if (!have_reference_reader()) {
        reference_skipped = true;
        return;
    }
    reference_check(file, path_in_work("gap.reference.json"), "--metadata", "axon.gap",
                    "--metadata", "axon.recording_summary", "--channel", "/g/big==NaN", NULL);
}

/* ---- shell completion ---- */

static const char *host_exe(const char *name)
{
    static char buf[4][256];
    static int k;
    static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/local/bin"};
    for (size_t i = 0; i < 3; i++) {
        char *b = buf[k % 4];
        snprintf(b, sizeof buf[0], "%s/%s", dirs[i], name);
        if (access(b, X_OK) == 0) {
            k++;
            return b;
        }
    }
    return NULL;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&buf, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* `axon completion bash` is valid bash and, sourced into a shell,
 * completes verbs, sub-verbs, options, option values and live topics the
 * way the verb table says: _axon is called as bash calls it (COMP_WORDS,
 * COMP_CWORD) and COMPREPLY is checked. */
static void t_completion(void **state)
{
    (void)state;
    const char *bash = host_exe("bash");
    if (!bash) {
        printf("SKIP: bash is not installed\n");
        reference_skipped = true;
        return;
    }
    struct cli_proc p;
    AXON_BARE(&p, 10000, "completion", "bash");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "complete -F _axon axon");
    /* path_in_work() rotates four buffers: keep copies. */
    char script[1024], drv[1024], out_path[1024];
    snprintf(script, sizeof script, "%s", path_in_work("axon.bash"));
    snprintf(drv, sizeof drv, "%s", path_in_work("complete.sh"));
    snprintf(out_path, sizeof out_path, "%s", path_in_work("complete.out"));
    write_file(script, p.buf[0], 0644);
    cli_proc_free(&p);
    AXON_BARE(&p, 10000, "completion", "zsh");
    EXPECT_EXIT(&p, 2);
    cli_proc_free(&p);

    char *syntax[] = {(char *)bash, "-n", script, NULL};
    assert_int_equal(run_host(path_in_work("bash-n.out"), syntax), 0);

    /* The program the script runs for live topics is COMP_WORDS[0]; under
     * emulation a wrapper that runs it through the emulator. */
    char axon_cmd[1024];
    snprintf(axon_cmd, sizeof axon_cmd, "%s", axon_bin);
    if (emulated) {
        char wrapper[2048];
        snprintf(wrapper, sizeof wrapper, "#!/bin/sh\nexec %s '%s' \"$@\"\n",
                 getenv("AXON_TEST_EMULATOR"), axon_bin);
        for (char *c = wrapper; *c; c++)
            if (*c == ';')
                *c = ' ';
        snprintf(axon_cmd, sizeof axon_cmd, "%s", path_in_work("axon-emulated"));
        write_file(axon_cmd, wrapper, 0755);
    }
    struct proc t;
    talker(&t, "completer", "--pub", "/c/imu=axon.sensor.Imu@10", NULL);

    /* c WORDS...: complete the last word; prints "WORDS|REPLIES". The live
     * topic is asked for until it shows (the talker is up, but under qemu
     * the CLI's discovery may need more than the script's 1 s). */
    static const char driver[] =
        ". \"$1\" || exit 1\n"
        "c() {\n"
        "    COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()\n"
        "    _axon\n"
        "    echo \"${COMP_WORDS[*]}|${COMPREPLY[*]}\"\n"
        "}\n"
        "c axon to\n"
        "c axon topic e\n"
        "c axon topic echo --max\n"
        "c axon topic echo /x --qos s\n"
        "c axon topic echo /x -n 5 --qos = c\n"
        "c axon node list --log-level=d\n"
        "c axon record -o x.mcap --compression ''\n"
        "c axon help topic d\n"
        "c axon completion ''\n"
        "for i in 1 2 3 4 5 6 7 8 9 10; do\n"
        "    out=$(c \"$2\" topic echo --domain \"$3\" /c/)\n"
        "    [[ $out == *'|/c/imu' ]] && break\n"
        "done\n"
        "echo \"live: ${out#*|}\"\n"
        "complete -p axon\n";
    write_file(drv, driver, 0644);
    char *argv[] = {(char *)bash, drv, script, axon_cmd, domain, NULL};
    int rc = run_host(out_path, argv);
    proc_stop(&t, 10000);
    char *out = read_file(out_path);
    assert_non_null(out);
    printf("%s", out);
    assert_int_equal(rc, 0);
    static const char *const want[] = {
        "axon to|topic\n",
        "axon topic e|echo\n",
        "axon topic echo --max|--max-bytes --max-elems\n",
        "axon topic echo /x --qos s|sensor_data\n",
        "axon topic echo /x -n 5 --qos = c|control\n",
        "axon node list --log-level=d|--log-level=debug\n",
        "axon record -o x.mcap --compression |none lz4 zstd\n",
        "axon help topic d|delay\n",
        "axon completion |bash\n",
        "live: /c/imu\n",
        "complete -F _axon axon\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i]))
            fail_msg("the completion does not give: %s", want[i]);
    free(out);
}

/* ---- JSON for any bytes ---- */

/* Names and topics are bytes from other nodes, not necessarily UTF-8; the
 * CLI's JSON must still be valid. A talker whose name and topic carry
 * stray bytes (0xff, a cut sequence, a surrogate) and valid UTF-8 (é):
 * `node list --json` and `topic list -v --json` decode as strict UTF-8 and
 * parse as JSON (python3), with U+FFFD for each maximal invalid part. */
static void t_json_utf8(void **state)
{
    (void)state;
    const char *py = getenv("AXON_TEST_PYTHON3");
    if (!py || !*py)
        py = host_exe("python3");
    if (!py) {
        printf("SKIP: python3 is not installed\n");
        reference_skipped = true;
        return;
    }
    struct proc t;
    talker(&t, "caf\xc3\xa9 \xff \xe2\x82 \xed\xa0\x80 end", "--pub",
           "/u/caf\xc3\xa9-\xff=axon.sensor.Imu@10", "--sub", "/u/caf\xc3\xa9-\xff=axon.sensor.Imu",
           NULL);
    /* The check: argv[1] the file, argv[2] what to look at. */
    static const char check[] = "import json, sys\n"
                                "raw = open(sys.argv[1], 'rb').read()\n"
                                "doc = json.loads(raw.decode('utf-8', 'strict'))\n"
                                "name = 'caf\\u00e9 \\ufffd \\ufffd \\ufffd\\ufffd\\ufffd end'\n"
                                "topic = '/u/caf\\u00e9-\\ufffd'\n"
                                "if sys.argv[2] == 'nodes':\n"
                                "    names = [n['name'] for n in doc['nodes']]\n"
                                "    print('node names:', ascii(names))\n"
                                "    sys.exit(0 if name in names else 1)\n"
                                "t = [x for x in doc['topics'] if x['topic'] == topic]\n"
                                "print('topics:', ascii([x['topic'] for x in doc['topics']]))\n"
                                "sys.exit(0 if t and t[0]['publisher_nodes'] == [name] else 1)\n";
    /* path_in_work() rotates four buffers: keep copies. */
    char check_py[1024], file[1024], out[1024];
    snprintf(check_py, sizeof check_py, "%s", path_in_work("check_json.py"));
    snprintf(out, sizeof out, "%s", path_in_work("check_json.out"));
    write_file(check_py, check, 0644);

    static const char *const what[] = {"nodes", "topics"};
    for (int k = 0; k < 2; k++) {
        struct cli_proc p;
        if (k == 0)
            AXON(&p, 20000, "node", "list", "--json");
        else
            AXON(&p, 20000, "topic", "list", "-v", "--json");
        EXPECT_EXIT(&p, 0);
        snprintf(file, sizeof file, "%s", path_in_work(k == 0 ? "nodes.json" : "topics.json"));
        write_file(file, p.buf[0], 0644);
        char *argv[] = {(char *)py, check_py, file, (char *)what[k], NULL};
        int rc = run_host(out, argv);
        char *text = read_file(out);
        printf("%s", text ? text : "");
        free(text);
        if (rc != 0) {
            dump(&p);
            fail_msg("the JSON of `axon %s` is not valid UTF-8 JSON with U+FFFD where the bytes "
                     "were not UTF-8",
                     k == 0 ? "node list --json" : "topic list -v --json");
        }
        EXPECT_OUT(&p, 0, "\\ufffd"); /* escaped, as the message printer does */
        cli_proc_free(&p);
    }
    proc_stop(&t, 10000);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: test_cli CASE AXON TALKER NODE_DIR WORK_DIR\n");
        return 2;
    }
    axon_bin = argv[2];
    talker_bin = argv[3];
    node_dir = argv[4];
    work_dir = argv[5];
    mkdir(work_dir, 0755);
    const char *emu = getenv("AXON_TEST_EMULATOR");
    emulated = emu && *emu;
    if (emulated)
        wait_s = "6";
    static const struct {
        const char *name;
        unsigned k; /* the case's domain in this binary's block (tests/ax_test.h) */
        struct CMUnitTest test;
    } cases[] = {
        {"help", 0, cmocka_unit_test(t_help)},
        {"config", 1, cmocka_unit_test(t_config)},
        {"list", 2, cmocka_unit_test(t_list)},
        {"echo", 3, cmocka_unit_test(t_echo)},
        {"hz10", 4, cmocka_unit_test(t_hz10)},
        {"hz1k", 5, cmocka_unit_test(t_hz1k)},
        {"pub", 6, cmocka_unit_test(t_pub)},
        {"doctor", 7, cmocka_unit_test(t_doctor)}, /* and 8 */
        {"record", 9, cmocka_unit_test(t_record)},
        {"kill9", 10, cmocka_unit_test(t_kill9)},
        {"slow_disk", 11, cmocka_unit_test(t_slow_disk)},
        {"gap", 12, cmocka_unit_test(t_gap)},
        {"completion", 13, cmocka_unit_test(t_completion)},
        {"json_utf8", 14, cmocka_unit_test(t_json_utf8)},
        /* The block is full (tests/ax_test.h): these RUN_SERIAL cases share
         * the domain of a RUN_SERIAL case of their kind, never run at once. */
        {"type", 3, cmocka_unit_test(t_type)},
        {"bag_verify", 9, cmocka_unit_test(t_bag_verify)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(cases[i].name, argv[1]) != 0)
            continue;
        snprintf(domain, sizeof domain, "%u", (unsigned)axt_domain(AXT_DOMAINS_CLI, cases[i].k));
        const struct CMUnitTest one[] = {cases[i].test};
        int failed = _cmocka_run_group_tests(cases[i].name, one, 1, NULL, NULL);
        if (!failed && reference_skipped) {
            printf("SKIPPED: everything else passed, but the reference MCAP reader did not "
                   "run (see above)\n");
            return 77;
        }
        return failed;
    }
    fprintf(stderr, "test_cli: unknown case %s\n", argv[1]);
    return 2;
}
