/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Services between processes (service_probe), and the CLI calling them:
 *   - kill -9 of a server with a call outstanding (sent to it while it was
 *     stopped): the caller gets AX_ECONNRESET (not its 60 s timeout), and a
 *     server started again is called;
 *   - SIGSTOP of a server with a call outstanding, past its lease: the
 *     caller gets AX_ECONNRESET when the server leaves the table;
 *   - `axon service list`, `info` and `call` against a server process,
 *     with a bad request text refused by name.
 * Deadlines only, no timing assertions: a call that timed out instead
 * would say AX_ETIMEDOUT, and the tests look for AX_ECONNRESET.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ax_test.h"
#include "proc.h"

static char probe[512], cli[512];
static char dom[16];
static bool emulated;

static int T(int ms)
{
    return emulated ? ms * 4 : ms; /* qemu is slower; deadlines only */
}

/* Every probe a test started, killed by its teardown if a failed
 * assertion left it running (the next test must not meet it). */
static struct proc *started[8];
static int nstarted;

static int kill_started(void **state)
{
    (void)state;
    for (int i = 0; i < nstarted; i++) {
        kill(started[i]->pid, SIGCONT);
        proc_kill9(started[i]);
    }
    nstarted = 0;
    return 0;
}

static void start(struct proc *p, const char *name, ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = probe;
    argv[n++] = "--domain";
    argv[n++] = dom;
    va_list ap;
    va_start(ap, name);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 31)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(proc_start(p, name, argv), 0);
    if (nstarted < 8)
        started[nstarted++] = p;
}

static void server(struct proc *p, const char *lease)
{
    if (lease)
        start(p, "server", "--role", "server", "--lease", lease, "--heartbeat", "100ms", NULL);
    else
        start(p, "server", "--role", "server", NULL);
    assert_true(proc_wait_line(p, "READY", NULL, T(10000), NULL, 0));
}

/* A call outstanding at a stopped server (its kernel holds the request). */
static void call_stopped(struct proc *s, struct proc *c)
{
    assert_true(proc_wait_line(c, "WAITED", "rc=AX_OK", T(15000), NULL, 0));
    assert_true(proc_sigstop(s, T(5000))); /* stopped before the call goes */
    assert_true(write(c->in_fd, "call\n", 5) == 5);
    assert_true(proc_wait_line(c, "CALLING", NULL, T(5000), NULL, 0));
}

static void test_kill9_server_mid_call(void **state)
{
    (void)state;
    static struct proc s, s2, c; /* the teardown may kill them after we return */
    server(&s, NULL);
    start(&c, "client", "--role", "client", "--x", "7", "--y", "3", "--timeout", "60000", NULL);
    call_stopped(&s, &c);
    proc_kill9(&s);
    char line[512];
    assert_true(proc_wait_line(&c, "RESULT", NULL, T(20000), line, sizeof line));
    if (!strstr(line, "rc=AX_ECONNRESET") || !strstr(line, "went away"))
        fail_msg("after kill -9: %s", line);

    /* A server started again is found and called (the dead one may still
     * be tried once while the table forgets it: each try ends at once). */
    server(&s2, NULL);
    bool ok = false;
    for (int i = 0; i < 100 && !ok; i++) {
        assert_true(write(c.in_fd, "call\n", 5) == 5);
        assert_true(proc_wait_line(&c, "RESULT", NULL, T(20000), line, sizeof line));
        ok = strstr(line, "rc=AX_OK z=10") != NULL;
        if (!ok) {
            if (!strstr(line, "rc=AX_ECONNRESET") && !strstr(line, "rc=AX_ENOTFOUND"))
                fail_msg("after the restart: %s", line);
            struct timespec ts = {0, 100 * 1000 * 1000}; /* a retry's pace, not a wait */
            nanosleep(&ts, NULL);
        }
    }
    assert_true(ok);
    proc_stop(&c, T(5000));
    proc_stop(&s2, T(5000));
}

static void test_sigstop_server_past_lease(void **state)
{
    (void)state;
    static struct proc s, c;
    server(&s, "1s");
    start(&c, "client", "--role", "client", "--timeout", "60000", NULL);
    call_stopped(&s, &c);
    char line[512];
    assert_true(proc_wait_line(&c, "RESULT", NULL, T(30000), line, sizeof line));
    if (!strstr(line, "rc=AX_ECONNRESET"))
        fail_msg("a stopped server past its lease: %s", line);
    kill(s.pid, SIGCONT);
    proc_kill9(&s);
    proc_stop(&c, T(5000));
}

/* Run the CLI with @args; its output in @out. Returns its exit status. */
static int run_cli(char *out, size_t size, ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = cli;
    va_list ap;
    va_start(ap, size);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 28)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n++] = "--domain";
    argv[n++] = dom;
    argv[n] = NULL;
    struct proc p;
    assert_int_equal(proc_start(&p, "axon", argv), 0);
    close(p.in_fd);
    p.in_fd = -1;
    /* Everything it prints, until it exits (deadline: the wait below). */
    out[0] = '\0';
    size_t used = 0;
    char line[1024];
    while (proc_wait_line(&p, "", NULL, T(20000), line, sizeof line)) {
        int k = snprintf(out + used, size - used, "%s\n", line);
        if (k > 0 && (size_t)k < size - used)
            used += (size_t)k;
    }
    return proc_stop(&p, T(20000));
}

static void test_cli(void **state)
{
    (void)state;
    static struct proc s;
    server(&s, NULL);
    static char out[16384];
    assert_int_equal(run_cli(out, sizeof out, "service", "list", NULL), 0);
    assert_non_null(strstr(out, "/add"));
    assert_non_null(strstr(out, "axon.geometry.Point"));
    assert_int_equal(run_cli(out, sizeof out, "service", "info", "/add", NULL), 0);
    assert_non_null(strstr(out, "svc-server"));
    assert_int_equal(run_cli(out, sizeof out, "service", "call", "/add", "{x: 2, y: 3.5}", NULL),
                     0);
    assert_non_null(strstr(out, "z: 5.5"));
    assert_int_equal(run_cli(out, sizeof out, "service", "call", "/add", "{x: 1}", "--json", NULL),
                     0);
    assert_non_null(strstr(out, "\"z\":1"));
    assert_int_not_equal(run_cli(out, sizeof out, "service", "call", "/nope", "{}", NULL), 0);
    assert_int_not_equal(run_cli(out, sizeof out, "service", "call", "/add", "{w: 1}", NULL), 0);

    /* The doctor: a client of other types, and a client with no server. */
    static struct proc wrong, lonely;
    start(&wrong, "client", "--role", "client", "--reply", "vector3", NULL);
    start(&lonely, "client", "--role", "client", "--name", "/nosrv", NULL);
    assert_true(proc_wait_line(&wrong, "WAITED", "rc=AX_ETYPE", T(15000), NULL, 0));
    assert_true(proc_wait_line(&lonely, "WAITED", "rc=AX_ETIMEDOUT", T(15000), NULL, 0));
    assert_int_equal(run_cli(out, sizeof out, "doctor", "/add", "--scan", "0", NULL), 1);
    assert_non_null(strstr(out, "axon.geometry.Vector3"));
    assert_non_null(strstr(out, "AX_ETYPE"));
    assert_int_equal(run_cli(out, sizeof out, "doctor", "/nosrv", "--scan", "0", NULL), 1);
    assert_non_null(strstr(out, "no node serves /nosrv"));
    proc_stop(&wrong, T(5000));
    proc_stop(&lonely, T(5000));

    /* Parameters of the server process. */
    assert_int_equal(run_cli(out, sizeof out, "param", "list", "svc-server", NULL), 0);
    assert_non_null(strstr(out, "gain"));
    assert_non_null(strstr(out, "[0, 10]"));
    assert_non_null(strstr(out, "eco|sport"));
    assert_int_not_equal(run_cli(out, sizeof out, "param", "set", "svc-server", "gain", "20", NULL),
                         0);
    assert_int_equal(run_cli(out, sizeof out, "param", "set", "svc-server", "gain", "2.5", NULL),
                     0);
    assert_int_equal(run_cli(out, sizeof out, "param", "get", "svc-server", "gain", NULL), 0);
    assert_string_equal(out, "2.5\n");
    assert_int_equal(run_cli(out, sizeof out, "param", "dump", "svc-server", NULL), 0);
    assert_non_null(strstr(out, "gain: 2.5\n"));
    assert_non_null(strstr(out, "mode: \"eco\"\n"));
    char file[] = "/tmp/axon-param-load-XXXXXX";
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    static const char yaml[] = "gain: 4\nmode: sport\n";
    assert_true(write(fd, yaml, sizeof yaml - 1) == (ssize_t)(sizeof yaml - 1));
    close(fd);
    assert_int_equal(run_cli(out, sizeof out, "param", "load", "svc-server", file, NULL), 0);
    assert_int_equal(run_cli(out, sizeof out, "param", "get", "svc-server", "mode", NULL), 0);
    assert_string_equal(out, "sport\n");
    static const char bad[] = "mode: turbo\n";
    fd = open(file, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0 && write(fd, bad, sizeof bad - 1) == (ssize_t)(sizeof bad - 1));
    close(fd);
    assert_int_not_equal(run_cli(out, sizeof out, "param", "load", "svc-server", file, NULL), 0);
    unlink(file);
    assert_int_not_equal(
        run_cli(out, sizeof out, "param", "list", "nobody", "--timeout", "0.5", NULL), 0);
    proc_stop(&s, T(5000));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_service_procs <service_probe> <axon>\n");
        return 2;
    }
    snprintf(probe, sizeof probe, "%s", argv[1]);
    snprintf(cli, sizeof cli, "%s", argv[2]);
    snprintf(dom, sizeof dom, "%u", (unsigned)axt_domain(AXT_DOMAINS_SERVICE_PROCS, 0));
    emulated = getenv("AXON_TEST_EMULATOR") && *getenv("AXON_TEST_EMULATOR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kill9_server_mid_call, kill_started),
        cmocka_unit_test_teardown(test_sigstop_server_past_lease, kill_started),
        cmocka_unit_test_teardown(test_cli, kill_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
