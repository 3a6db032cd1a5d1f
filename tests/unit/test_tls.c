/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS on TCP links (security.tls; docs/security.md): two nodes of one
 * process, each with its own loop thread, shared memory off so the data
 * crosses real TCP sockets on loopback through OpenSSL. What is checked:
 * small and large messages arrive whole and in order in both identity
 * modes; a peer without TLS, with another CA's certificate, or a node
 * whose certificate names someone else is refused and counted; certificate
 * files are made by the library (ax_cert_make_*), never overwritten. And
 * the access policy (security.policy_file) on top: a node's own endpoints,
 * a subscriber the publisher's policy refuses, a publisher the
 * subscriber's policy refuses (each counted where it was refused, nothing
 * delivered), and shared memory offered only to the users it names
 * (SO_PEERCRED): another user's subscriber is served over TCP instead.
 * And a dead peer is EPIPE, never SIGPIPE (left at its default, as an
 * application that never heard of it leaves it): a session writing to a
 * socket whose other end closed, and a TLS subscriber process killed with
 * -9 while 1 MiB messages stream to it (the publisher's process goes on
 * and sees its link gone).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ax_test.h"
#include "axon/axon.h"
#include "axon/security.h"
#include "integration/proc.h"
#include "transport/tls/ax__tls.h"

static char dir[64];

static uint32_t dom(unsigned k)
{
    return axt_domain(AXT_DOMAINS_TLS, k);
}

struct tls_setup {
    enum ax_tls_mode mode;
    const char *key;    /* domain key file */
    const char *ca;     /* CA certificate */
    const char *cert;   /* "DIR/NAME": NAME.crt and NAME.key */
    const char *policy; /* security.policy_file */
    bool shm;           /* transport.shm auto (else off) */
};

static ax_node *make(const char *name, uint32_t domain, const struct tls_setup *s)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = domain;
    c.threads = 1;
    c.transport.shm = s->shm ? AX_SHM_AUTO : AX_SHM_OFF;
    c.log_level = getenv("TLS_DEBUG") ? AX_LOG_DEBUG : AX_LOG_ERROR;
    c.security.tls = s->mode;
    if (s->key)
        snprintf(c.security.key_file, sizeof c.security.key_file, "%s", s->key);
    if (s->ca)
        snprintf(c.security.ca_file, sizeof c.security.ca_file, "%s", s->ca);
    if (s->policy)
        snprintf(c.security.policy_file, sizeof c.security.policy_file, "%s", s->policy);
    if (s->cert) {
        snprintf(c.security.cert_file, sizeof c.security.cert_file, "%s.crt", s->cert);
        snprintf(c.security.cert_key_file, sizeof c.security.cert_key_file, "%s.key", s->cert);
    }
    ax_node *n = NULL;
    int rc = ax_node_new(&n, &c);
    ax_config_fini(&c);
    return rc == 0 ? n : NULL;
}

struct got {
    pthread_mutex_t mu;
    uint64_t n, bad, bytes;
};

/* Each message: its counter, then bytes that are a function of it. */
static void fill(uint8_t *p, size_t len, uint64_t i)
{
    memcpy(p, &i, sizeof i);
    for (size_t k = sizeof i; k < len; k++)
        p[k] = (uint8_t)(i * 31 + k);
}

static void on_msg(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct got *g = user;
    (void)s;
    uint64_t i = 0;
    bool ok = m->len >= sizeof i;
    if (ok)
        memcpy(&i, m->data, sizeof i);
    for (size_t k = sizeof i; ok && k < m->len; k++)
        ok = m->data[k] == (uint8_t)(i * 31 + k);
    pthread_mutex_lock(&g->mu);
    ok = ok && i == g->n + 1;
    g->n++;
    g->bad += !ok;
    g->bytes += m->len;
    pthread_mutex_unlock(&g->mu);
}

static uint64_t got_n(struct got *g)
{
    pthread_mutex_lock(&g->mu);
    uint64_t n = g->n;
    pthread_mutex_unlock(&g->mu);
    return n;
}

static uint32_t connections(ax_pub *p)
{
    struct ax_endpoint_counters c;
    AX_OK_OR_FAIL(ax_pub_counters(p, &c));
    return c.connections;
}

static struct ax_endpoint_counters sub_ctr(ax_sub *s)
{
    struct ax_endpoint_counters c;
    AX_OK_OR_FAIL(ax_sub_counters(s, &c));
    return c;
}

static uint64_t refused_auth(ax_node *n)
{
    struct ax_connection_stats st;
    AX_OK_OR_FAIL(ax_node_connection_stats(n, &st));
    return st.unauthenticated;
}

/* @pub_s publishes, @sub_s subscribes; 200 small and 8 large (1 MiB)
 * messages must all arrive intact and in order. */
static void roundtrip(uint32_t domain, const char *pub_name, const struct tls_setup *pub_s,
                      const char *sub_name, const struct tls_setup *sub_s)
{
    ax_node *a = make(pub_name, domain, pub_s), *b = make(sub_name, domain, sub_s);
    assert_non_null(a);
    assert_non_null(b);
    ax_pub *p;
    ax_sub *s;
    struct got g = {.mu = PTHREAD_MUTEX_INITIALIZER};
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/tls/data", "axon.test.Bytes", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, b, "/tls/data", "axon.test.Bytes", on_msg, &g, NULL));
    WAIT_FOR(connections(p) == 1, 10000);
    uint8_t *buf = malloc(1 << 20);
    assert_non_null(buf);
    uint64_t i = 0;
    for (; i < 200; i++) {
        fill(buf, 64, i + 1);
        AX_OK_OR_FAIL(ax_pub_publish_bytes(p, buf, 64));
    }
    for (; i < 208; i++) {
        fill(buf, 1 << 20, i + 1);
        AX_OK_OR_FAIL(ax_pub_publish_bytes(p, buf, 1 << 20));
        WAIT_FOR(got_n(&g) == i + 1, 10000); /* within the queue's bounds */
    }
    free(buf);
    WAIT_FOR(got_n(&g) == 208, 10000);
    assert_int_equal(g.bad, 0);
    assert_int_equal(g.bytes, 200 * 64 + 8 * (1 << 20));
    assert_int_equal(refused_auth(a), 0);
    /* The publisher goes: its links close gracefully, TLS's close_notify
     * first, so the subscriber sees a clean end, not a reset. */
    ax_pub_free(p);
    WAIT_FOR(sub_ctr(s).connections == 0, 10000);
    assert_int_equal(sub_ctr(s).last_error, 0);
    ax_sub_free(s);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

static char key1[128], key2[128], ca1[128], ca2[128];

static void test_psk_carries_small_and_large(void **state)
{
    (void)state;
    struct tls_setup s = {.mode = AX_TLS_PSK, .key = key1};
    roundtrip(dom(0), "tls-psk-pub", &s, "tls-psk-sub", &s);
}

static void test_cert_carries_small_and_large(void **state)
{
    (void)state;
    char pc[128], sc[128];
    snprintf(pc, sizeof pc, "%s/pki1/tls-cert-pub", dir);
    snprintf(sc, sizeof sc, "%s/pki1/tls-cert-sub", dir);
    struct tls_setup ps = {.mode = AX_TLS_CERT, .key = key1, .ca = ca1, .cert = pc};
    struct tls_setup ss = {.mode = AX_TLS_CERT, .key = key1, .ca = ca1, .cert = sc};
    roundtrip(dom(1), "tls-cert-pub", &ps, "tls-cert-sub", &ss);
}

/* The publisher refuses (AX_EACCES, counted) a subscriber that @sub_s
 * makes unfit; nothing is delivered. */
static void refused(uint32_t domain, const struct tls_setup *pub_s, const char *sub_name,
                    const struct tls_setup *sub_s)
{
    ax_node *a = make("tls-gate", domain, pub_s), *b = make(sub_name, domain, sub_s);
    assert_non_null(a);
    assert_non_null(b);
    ax_pub *p;
    ax_sub *s;
    struct got g = {.mu = PTHREAD_MUTEX_INITIALIZER};
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/tls/gate", "axon.test.Bytes", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, b, "/tls/gate", "axon.test.Bytes", on_msg, &g, NULL));
    /* The subscriber retries: each attempt is refused and counted. */
    WAIT_FOR(refused_auth(a) >= 2, 15000);
    uint8_t m[64];
    fill(m, sizeof m, 1);
    AX_OK_OR_FAIL(ax_pub_publish_bytes(p, m, sizeof m));
    assert_int_equal(connections(p), 0);
    struct ax_endpoint_counters sc;
    AX_OK_OR_FAIL(ax_sub_counters(s, &sc));
    assert_int_equal(sc.messages, 0);
    assert_int_equal(got_n(&g), 0);
    ax_sub_free(s);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

static void test_plaintext_peer_refused(void **state)
{
    (void)state;
    struct tls_setup on = {.mode = AX_TLS_PSK, .key = key1};
    struct tls_setup off = {.mode = AX_TLS_OFF, .key = key1};
    refused(dom(0), &on, "tls-plain", &off);
}

static void test_other_ca_refused(void **state)
{
    (void)state;
    char pc[128], sc[128];
    snprintf(pc, sizeof pc, "%s/pki1/tls-gate", dir);
    snprintf(sc, sizeof sc, "%s/pki2/tls-stranger", dir);
    struct tls_setup ps = {.mode = AX_TLS_CERT, .key = key1, .ca = ca1, .cert = pc};
    /* The stranger trusts the fleet's CA but its certificate is another's. */
    struct tls_setup ss = {.mode = AX_TLS_CERT, .key = key1, .ca = ca1, .cert = sc};
    refused(dom(1), &ps, "tls-stranger", &ss);
}

static void test_certificate_must_name_the_node(void **state)
{
    (void)state;
    char pc[128];
    snprintf(pc, sizeof pc, "%s/pki1/tls-cert-pub", dir);
    struct tls_setup s = {.mode = AX_TLS_CERT, .key = key1, .ca = ca1, .cert = pc};
    assert_null(make("someone-else", dom(1), &s));
    struct tls_setup psk_nokey = {.mode = AX_TLS_PSK};
    assert_null(make("tls-psk-nokey", dom(1), &psk_nokey));
    struct tls_setup nocert = {.mode = AX_TLS_CERT, .ca = ca1};
    assert_null(make("tls-nocert", dom(1), &nocert));
}

static void test_cert_files_never_overwritten(void **state)
{
    (void)state;
    char crt[160], key[160], why[300] = "";
    snprintf(crt, sizeof crt, "%s/pki1/tls-cert-pub.crt", dir);
    snprintf(key, sizeof key, "%s/pki1/again.key", dir);
    char cak[160];
    snprintf(cak, sizeof cak, "%s/pki1/ca.key", dir);
    assert_int_equal(ax_cert_make_node(ca1, cak, "again", 10, crt, key, why, sizeof why),
                     AX_EEXIST);
    assert_non_null(strstr(why, "exists"));
    assert_int_not_equal(access(key, F_OK), 0); /* the key made first is removed */
    assert_int_equal(ax_cert_make_node(ca1, cak, "", 10, key, key, why, sizeof why), AX_EINVAL);
    struct stat st;
    snprintf(key, sizeof key, "%s/pki1/tls-cert-pub.key", dir);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* ---- the access policy ---- */

static char pol_strict[128], pol_pubs[128], pol_shm[128];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static uint64_t policy_refused(ax_node *n)
{
    struct ax_connection_stats st;
    AX_OK_OR_FAIL(ax_node_connection_stats(n, &st));
    return st.policy_refused;
}

/* Certificates prove the names; the policies decide per topic. */
static void test_policy_enforced_on_both_ends(void **state)
{
    (void)state;
    char pc[128], sc[128];
    snprintf(pc, sizeof pc, "%s/pki1/tls-cert-pub", dir);
    snprintf(sc, sizeof sc, "%s/pki1/tls-cert-sub", dir);
    /* The publisher's policy lets the subscriber have /tls/allowed only;
     * the subscriber's lets the publisher publish /tls/allowed and
     * /tls/other only (and the subscriber itself anything). */
    struct tls_setup ps = {
        .mode = AX_TLS_CERT, .key = key1, .ca = ca1, .cert = pc, .policy = pol_strict};
    struct tls_setup ss = {
        .mode = AX_TLS_CERT, .key = key1, .ca = ca1, .cert = sc, .policy = pol_pubs};
    ax_node *a = make("tls-cert-pub", dom(1), &ps), *b = make("tls-cert-sub", dom(1), &ss);
    assert_non_null(a);
    assert_non_null(b);
    /* Its own policy: the subscriber may not publish anything here. */
    ax_pub *nope;
    assert_int_equal(ax_pub_new_raw(&nope, b, "/tls/allowed", "axon.test.Bytes", NULL), AX_EACCES);
    assert_int_equal(policy_refused(b), 1);

    ax_pub *p_ok, *p_other, *p_rogue;
    ax_sub *s_ok, *s_other, *s_rogue;
    struct got g_ok = {.mu = PTHREAD_MUTEX_INITIALIZER}, g_other = g_ok, g_rogue = g_ok;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p_ok, a, "/tls/allowed", "axon.test.Bytes", NULL));
    AX_OK_OR_FAIL(ax_pub_new_raw(&p_other, a, "/tls/other", "axon.test.Bytes", NULL));
    AX_OK_OR_FAIL(ax_pub_new_raw(&p_rogue, a, "/tls/rogue", "axon.test.Bytes", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&s_ok, b, "/tls/allowed", "axon.test.Bytes", on_msg, &g_ok, NULL));
    AX_OK_OR_FAIL(
        ax_sub_new_raw(&s_other, b, "/tls/other", "axon.test.Bytes", on_msg, &g_other, NULL));
    AX_OK_OR_FAIL(
        ax_sub_new_raw(&s_rogue, b, "/tls/rogue", "axon.test.Bytes", on_msg, &g_rogue, NULL));
    WAIT_FOR(connections(p_ok) == 1, 10000);
    /* /tls/other: the publisher refuses the subscriber; /tls/rogue: the
     * subscriber refuses the publisher. Both ends hear why (AX_EACCES). */
    WAIT_FOR(sub_ctr(s_other).last_error == AX_EACCES && sub_ctr(s_rogue).last_error == AX_EACCES,
             10000);
    WAIT_FOR(policy_refused(a) >= 1 && policy_refused(b) >= 2, 10000);
    uint8_t m[64];
    for (uint64_t i = 1; i <= 50; i++) {
        fill(m, sizeof m, i);
        AX_OK_OR_FAIL(ax_pub_publish_bytes(p_ok, m, sizeof m));
        AX_OK_OR_FAIL(ax_pub_publish_bytes(p_other, m, sizeof m));
        AX_OK_OR_FAIL(ax_pub_publish_bytes(p_rogue, m, sizeof m));
    }
    WAIT_FOR(got_n(&g_ok) == 50, 10000);
    assert_int_equal(g_ok.bad, 0);
    assert_int_equal(connections(p_other), 0);
    assert_int_equal(connections(p_rogue), 0);
    assert_int_equal(got_n(&g_other) + got_n(&g_rogue), 0);
    /* Refusals by policy are not failed authentications. */
    assert_int_equal(refused_auth(a), 0);
    ax_sub_free(s_ok);
    ax_sub_free(s_other);
    ax_sub_free(s_rogue);
    ax_pub_free(p_ok);
    ax_pub_free(p_other);
    ax_pub_free(p_rogue);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

/* A policy that offers shared memory to another uid only: this process's
 * subscriber is refused it (by its SO_PEERCRED credentials) and served over
 * TCP, which the links say. */
static void test_shm_only_for_the_users_the_policy_names(void **state)
{
    (void)state;
    struct tls_setup ps = {.policy = pol_shm, .shm = true}, ss = {.shm = true};
    ax_node *a = make("shm-pub", dom(0), &ps), *b = make("shm-sub", dom(0), &ss);
    assert_non_null(a);
    assert_non_null(b);
    ax_pub *p;
    ax_sub *s;
    struct got g = {.mu = PTHREAD_MUTEX_INITIALIZER};
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/shm/only", "axon.test.Bytes", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, b, "/shm/only", "axon.test.Bytes", on_msg, &g, NULL));
    WAIT_FOR(connections(p) == 1, 10000);
    assert_true(policy_refused(a) >= 1);
    uint8_t *big = malloc(1 << 20);
    assert_non_null(big);
    fill(big, 1 << 20, 1);
    AX_OK_OR_FAIL(ax_pub_publish_bytes(p, big, 1 << 20));
    free(big);
    WAIT_FOR(got_n(&g) == 1, 10000);
    assert_int_equal(g.bad, 0);
    struct ax_endpoint_counters c;
    AX_OK_OR_FAIL(ax_sub_counters(s, &c));
    assert_int_equal(c.nlinks, 1);
    assert_int_equal(c.links[0].transport, AX_LINK_TCP);
    assert_int_equal(c.links[0].reason, AX_SHM_R_POLICY);
    ax_sub_free(s);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/axon-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char d[128], crt[160], key[160], why[300];
    snprintf(key1, sizeof key1, "%s/one.key", dir);
    snprintf(key2, sizeof key2, "%s/two.key", dir);
    if (ax_key_generate(key1) < 0 || ax_key_generate(key2) < 0)
        return -1;
    snprintf(pol_strict, sizeof pol_strict, "%s/strict.yaml", dir);
    write_text(pol_strict, "version: 1\n"
                           "nodes:\n"
                           "  tls-cert-pub:\n"
                           "    publish: [\"/tls/**\"]\n"
                           "  tls-cert-sub:\n"
                           "    subscribe: [/tls/allowed]\n");
    snprintf(pol_pubs, sizeof pol_pubs, "%s/pubs.yaml", dir);
    write_text(pol_pubs, "nodes:\n"
                         "  tls-cert-pub:\n"
                         "    publish: [/tls/allowed, /tls/other]\n"
                         "  tls-cert-sub:\n"
                         "    subscribe: [\"**\"]\n");
    snprintf(pol_shm, sizeof pol_shm, "%s/shm.yaml", dir);
    write_text(pol_shm, "default: allow\nshm_uids: [4242424]\nshm_gids: []\n");
    const char *names[2][3] = {{"tls-cert-pub", "tls-cert-sub", "tls-gate"}, {"tls-stranger"}};
    for (int k = 1; k <= 2; k++) {
        snprintf(d, sizeof d, "%s/pki%d", dir, k);
        if (mkdir(d, 0700) < 0)
            return -1;
        char *ca = k == 1 ? ca1 : ca2;
        snprintf(ca, 128, "%s/ca.crt", d);
        snprintf(key, sizeof key, "%s/ca.key", d);
        if (ax_cert_make_ca(k == 1 ? "fleet" : "elsewhere", 30, ca, key, why, sizeof why) < 0)
            return -1;
        for (int i = 0; i < 3 && names[k - 1][i]; i++) {
            char nk[160];
            snprintf(crt, sizeof crt, "%s/%s.crt", d, names[k - 1][i]);
            snprintf(nk, sizeof nk, "%s/%s.key", d, names[k - 1][i]);
            if (ax_cert_make_node(ca, key, names[k - 1][i], 30, crt, nk, why, sizeof why) < 0) {
                fprintf(stderr, "%s\n", why);
                return -1;
            }
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The child of test_dead_peer_is_no_sigpipe: a TLS subscriber in
 * @domain with the domain key @key, until it is killed (or its parent
 * dies, or a minute passes). */
static int run_subscriber(const char *key, const char *domain)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct tls_setup s = {.mode = AX_TLS_PSK, .key = key};
    ax_node *b = make("tls-victim", (uint32_t)strtoul(domain, NULL, 10), &s);
    struct got g = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ax_sub *sub;
    if (!b || ax_sub_new_raw(&sub, b, "/tls/dead", "axon.test.Bytes", on_msg, &g, NULL) < 0)
        return 1;
    for (int i = 0; i < 600; i++) { /* killed long before: a bound, not a wait */
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* The session itself, on a socket pair: after the handshake the peer's
 * end closes, and a write and a close_notify to it fail with EPIPE. With
 * OpenSSL's own socket BIO (write()), the first of them raised SIGPIPE
 * and ended this process. */
static void test_write_to_closed_peer_is_epipe(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_DFL);
    struct ax__tls_config cfg = {.mode = AX__TLS_PSK, .npsk = 1};
    memset(cfg.psk[0], 7, AX__TLS_PSK_SIZE);
    snprintf(cfg.psk_id[0], sizeof cfg.psk_id[0], "test-key");
    char why[256];
    ax__tls_ctx *ctx;
    AX_OK_OR_FAIL(ax__tls_ctx_new(&cfg, &ctx, why, sizeof why));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ax__tls *cl = ax__tls_new(ctx, sv[0], true), *sr = ax__tls_new(ctx, sv[1], false);
    assert_non_null(cl);
    assert_non_null(sr);
    /* The handshake rides the first bytes: write "hi" until the server
     * has read it (each side only ever waits for the other: bounded). */
    struct iovec hi = {.iov_base = "hi", .iov_len = 2};
    bool sent = false;
    char got[8];
    ssize_t n = -1;
    for (int i = 0; i < 1000 && n != 2; i++) {
        if (!sent)
            sent = ax__tls_writev(cl, &hi, 1) == 2;
        else
            (void)ax__tls_flush(cl);
        if (!sent || ax__tls_wants_read(cl))
            (void)ax__tls_read(cl, got, sizeof got);
        n = ax__tls_read(sr, got, sizeof got);
    }
    assert_int_equal(n, 2);
    assert_true(ax__tls_established(cl));
    ax__tls_free(sr);
    close(sv[1]);
    static uint8_t big[64 * 1024];
    struct iovec v = {.iov_base = big, .iov_len = sizeof big};
    errno = 0;
    n = ax__tls_writev(cl, &v, 1);
    if (n >= 0) /* sealed but not all on the wire: the flush meets it */
        assert_int_equal(ax__tls_flush(cl), -1);
    assert_int_equal(errno, EPIPE);
    ax__tls_close_notify(cl);
    ax__tls_free(cl);
    close(sv[0]);
    ax__tls_ctx_free(ctx);
}

static char self_exe[512];

static void test_dead_peer_is_no_sigpipe(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_DFL);
    struct tls_setup s = {.mode = AX_TLS_PSK, .key = key1};
    ax_node *a = make("tls-survivor", dom(0), &s);
    assert_non_null(a);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/tls/dead", "axon.test.Bytes", NULL));
    char domain[16];
    snprintf(domain, sizeof domain, "%u", dom(0));
    char *argv[] = {self_exe, "--subscriber", key1, domain, NULL};
    static struct proc child;
    assert_int_equal(proc_start(&child, "tls-victim", argv), 0);
    WAIT_FOR(connections(p) == 1, 30000);
    uint8_t *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        (void)ax_pub_publish_bytes(p, buf, 1 << 20);
    proc_kill9(&child);
    /* Writing on until the link is seen gone: EPIPE and ECONNRESET close
     * it; a SIGPIPE would have ended this process instead. */
    WAIT_FOR(((void)ax_pub_publish_bytes(p, buf, 1 << 20), connections(p) == 0), 15000);
    for (int i = 0; i < 8; i++)
        (void)ax_pub_publish_bytes(p, buf, 1 << 20);
    free(buf);
    ax_pub_free(p);
    ax_node_destroy(a);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--subscriber") == 0)
        return run_subscriber(argv[2], argv[3]);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        return 2;
    self_exe[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psk_carries_small_and_large),
        cmocka_unit_test(test_cert_carries_small_and_large),
        cmocka_unit_test(test_plaintext_peer_refused),
        cmocka_unit_test(test_other_ca_refused),
        cmocka_unit_test(test_certificate_must_name_the_node),
        cmocka_unit_test(test_cert_files_never_overwritten),
        cmocka_unit_test(test_policy_enforced_on_both_ends),
        cmocka_unit_test(test_shm_only_for_the_users_the_policy_names),
        cmocka_unit_test(test_write_to_closed_peer_is_epipe),
        cmocka_unit_test(test_dead_peer_is_no_sigpipe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
