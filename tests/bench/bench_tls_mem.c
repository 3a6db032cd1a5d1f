/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a TLS connection costs in memory (docs/security.md, "The budget"):
 * two nodes of this process, shared memory off, N topics each with one
 * publisher on node A and one subscription on node B, so 2N connection
 * ends; the process's VmRSS with every connection up and one 64-byte
 * message through each, with TLS off, psk or cert. One mode per process,
 * so that memory freed by one mode does not hide the next one's. Public
 * API only.
 *
 *   bench_tls_mem N off|psk|cert
 *   for m in off psk cert; do bench_tls_mem 200 $m; done
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/axon.h"
#include "axon/security.h"

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static ax_node *node(const char *name, uint32_t domain, enum ax_tls_mode mode, const char *dir)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = domain;
    c.threads = 1;
    c.transport.shm = AX_SHM_OFF;
    c.log_level = AX_LOG_ERROR;
    c.security.tls = mode;
    snprintf(c.security.key_file, sizeof c.security.key_file, "%s/domain.key", dir);
    snprintf(c.security.ca_file, sizeof c.security.ca_file, "%s/ca.crt", dir);
    snprintf(c.security.cert_file, sizeof c.security.cert_file, "%s/%s.crt", dir, name);
    snprintf(c.security.cert_key_file, sizeof c.security.cert_key_file, "%s/%s.key", dir, name);
    ax_node *n;
    if (ax_node_new(&n, &c) < 0) {
        fprintf(stderr, "bench_tls_mem: node %s failed\n", name);
        exit(1);
    }
    ax_config_fini(&c);
    return n;
}

static volatile int received;
static void on_msg(ax_sub *s, const struct ax_msg *m, void *u)
{
    (void)s;
    (void)m;
    (void)u;
    __atomic_add_fetch(&received, 1, __ATOMIC_RELAXED);
}

static void run(int n, enum ax_tls_mode mode, const char *dir, uint32_t domain)
{
    static const char *const names[] = {"off", "psk", "cert"};
    long before = rss_kib();
    ax_node *a = node("memA", domain, mode, dir), *b = node("memB", domain, mode, dir);
    long nodes = rss_kib();
    ax_pub **p = calloc((size_t)n, sizeof *p);
    ax_sub **s = calloc((size_t)n, sizeof *s);
    received = 0;
    for (int i = 0; i < n; i++) {
        char topic[64];
        snprintf(topic, sizeof topic, "/mem/%d", i);
        if (ax_pub_new_raw(&p[i], a, topic, "bench.Bytes", NULL) < 0 ||
            ax_sub_new_raw(&s[i], b, topic, "bench.Bytes", on_msg, NULL, NULL) < 0)
            exit(1);
    }
    int64_t end = ax_clock_mono_ns() + 30 * AX_NS_PER_S;
    for (int i = 0; i < n && ax_clock_mono_ns() < end; i++) {
        struct ax_endpoint_counters c;
        while (ax_pub_counters(p[i], &c) == 0 && c.connections == 0 && ax_clock_mono_ns() < end)
            poll(NULL, 0, 5);
        char msg[64] = {0};
        ax_pub_publish_bytes(p[i], msg, sizeof msg);
    }
    while (__atomic_load_n(&received, __ATOMIC_RELAXED) < n && ax_clock_mono_ns() < end)
        poll(NULL, 0, 5);
    long up = rss_kib();
    printf("RESULT bench=tls_mem tls=%s connections=%d delivered=%d rss_nodes_kib=%ld "
           "rss_up_kib=%ld per_connection_end_kib=%.1f\n",
           names[mode], 2 * n, received, nodes - before, up, (double)(up - nodes) / (2.0 * n));
    for (int i = 0; i < n; i++) {
        ax_sub_free(s[i]);
        ax_pub_free(p[i]);
    }
    free(p);
    free(s);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    const char *m = argc > 2 ? argv[2] : "psk";
    enum ax_tls_mode mode = strcmp(m, "off") == 0    ? AX_TLS_OFF
                            : strcmp(m, "cert") == 0 ? AX_TLS_CERT
                                                     : AX_TLS_PSK;
    char dir[] = "/tmp/axon-tls-mem-XXXXXX", path[256], key[256], why[256];
    if (n < 1 || !mkdtemp(dir))
        return 2;
    snprintf(path, sizeof path, "%s/domain.key", dir);
    snprintf(key, sizeof key, "%s/ca.key", dir);
    char ca[256];
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    if (ax_key_generate(path) < 0 || ax_cert_make_ca("bench", 1, ca, key, why, sizeof why) < 0)
        return 1;
    const char *names[] = {"memA", "memB"};
    for (int i = 0; i < 2; i++) {
        char crt[256], k[256];
        snprintf(crt, sizeof crt, "%s/%s.crt", dir, names[i]);
        snprintf(k, sizeof k, "%s/%s.key", dir, names[i]);
        if (ax_cert_make_node(ca, key, names[i], 1, crt, k, why, sizeof why) < 0)
            return 1;
    }
    uint32_t domain = 200 + (uint32_t)(getpid() % 20);
    run(n, mode, dir, domain);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
