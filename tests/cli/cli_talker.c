/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_talker: a demo node for the CLI tests, using the public API only.
 * It publishes real protobuf messages at a steady rate (absolute schedule on
 * CLOCK_MONOTONIC, one thread per publisher) and subscribes and reports what
 * it receives, so the tests can drive `axon` against something real.
 *
 *   cli_talker --name N [--domain D]
 *              [--pub TOPIC=TYPE[@HZ][xCOUNT]]...  TYPE: a type name (the
 *                     standard messages, clitest.Secret) or raw:NAME
 *              [--sub TOPIC=TYPE]...
 *              [--size BYTES] [--wait-subs N] [--qos PRESET] [--transient]
 *              [--sub-transient] [--print key|json|none] [--slow-ms N]
 *
 * clitest.Secret (tests/cli/proto) is compiled into this program only: the
 * CLI must get its schema from here.
 *
 * Each message carries a key k = 1, 2, ...: header.seq (axon.sensor.Imu),
 * id (clitest.Secret), the first 8 bytes (raw). Lines printed:
 *   READY id=<hex>
 *   DONE topic=T published=N elapsed_ns=E          (a publisher reached COUNT)
 *   RECV topic=T key=K seq=S len=L                 (--print key, the default)
 *   RECV topic=T json=<one line>                   (--print json)
 *   (none with --print none: for a fast topic nobody reads the lines of,
 *   whose pipe would fill and block the callback, hence the node)
 *   STATS topic=T published=N elapsed_ns=E rate=R  (on "report")
 *   SUBSTATS topic=T received=N order_errors=E first=F last=L  (on "report")
 * It exits when stdin closes or reads "quit".
 */
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ax_say.h"
#include "axon/axon.h"
#include "axon/msgs/sensor.pb-c.h"
#include "clitest/secret.pb-c.h"
#include "clitest_types.h"

struct pubspec {
    char topic[256];
    char type[128];
    double hz;
    long count;
    const ax_type *t; /* NULL: raw */
    ax_pub *pub;
    pthread_t th;
    atomic_long published;
    int64_t first_ns, last_ns;
    pthread_mutex_t mu;
};

struct subspec {
    char topic[256];
    char type[128];
    const ax_type *t;
    ax_sub *sub;
    pthread_mutex_t mu;
    long received, order_errors;
    uint64_t first, last;
};

static atomic_bool stopping;
static long payload_size = 64, wait_subs = 0, slow_ms = 0;
static bool print_json, print_none;

static void fill_raw(uint8_t *p, size_t n, uint64_t k)
{
    memcpy(p, &k, n < 8 ? n : 8);
    for (size_t i = 8; i < n; i++)
        p[i] = (uint8_t)(k * 7 + i);
}

static int publish_one(struct pubspec *ps, uint64_t k, uint8_t *buf)
{
    int rc;
    if (!ps->t) {
        fill_raw(buf, (size_t)payload_size, k);
        while ((rc = ax_pub_publish_bytes(ps->pub, buf, (size_t)payload_size)) == AX_EAGAIN)
            sched_yield();
        return rc;
    }
    Axon__Std__Header hdr = AXON__STD__HEADER__INIT;
    hdr.seq = k;
    hdr.stamp_ns = ax_clock_real_ns();
    if (strcmp(ps->type, "axon.sensor.Imu") == 0) {
        Axon__Sensor__Imu imu = AXON__SENSOR__IMU__INIT;
        Axon__Geometry__Vector3 acc = AXON__GEOMETRY__VECTOR3__INIT;
        hdr.frame_id = "imu_link";
        acc.x = (double)k;
        acc.y = 0.5;
        acc.z = 9.81;
        imu.header = &hdr;
        imu.linear_acceleration = &acc;
        while ((rc = ax_pub_publish(ps->pub, &imu.base)) == AX_EAGAIN)
            sched_yield();
        return rc;
    }
    if (strcmp(ps->type, "clitest.Secret") == 0) {
        Clitest__Secret s = CLITEST__SECRET__INIT;
        Clitest__Inner in = CLITEST__INNER__INIT;
        char name[32];
        int32_t v[3] = {1, 2, 3};
        char *tags[2] = {"alpha", "beta"};
        snprintf(name, sizeof name, "secret-%llu", (unsigned long long)k);
        hdr.frame_id = "vault";
        fill_raw(buf, (size_t)payload_size, k);
        s.header = &hdr;
        s.id = k;
        s.name = name;
        s.blob.data = buf;
        s.blob.len = (size_t)payload_size;
        s.mood = (Clitest__Mood)(k % 3);
        in.x = (double)k / 2;
        in.n_v = 3;
        in.v = v;
        s.inner = &in;
        s.n_tags = 2;
        s.tags = tags;
        while ((rc = ax_pub_publish(ps->pub, &s.base)) == AX_EAGAIN)
            sched_yield();
        return rc;
    }
    /* Any other type: an empty message of it. */
    const ProtobufCMessageDescriptor *d = ax_type_descriptor(ps->t);
    void *m = calloc(1, d->sizeof_message);
    ax_msg_init(d, m);
    rc = ax_pub_publish(ps->pub, m);
    free(m);
    return rc;
}

static void *pub_main(void *arg)
{
    struct pubspec *ps = arg;
    uint8_t *buf = malloc((size_t)payload_size > 8 ? (size_t)payload_size : 8);
    struct ax_endpoint_counters c;
    while (wait_subs > 0 && !atomic_load(&stopping)) {
        ax_pub_counters(ps->pub, &c);
        if ((long)c.connections >= wait_subs)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t start = (int64_t)t0.tv_sec * AX_NS_PER_S + t0.tv_nsec;
    int64_t period = ps->hz > 0 ? (int64_t)(1e9 / ps->hz) : 0;
    for (long k = 1; !atomic_load(&stopping) && (ps->count == 0 || k <= ps->count); k++) {
        int64_t target = start + (k - 1) * period;
        struct timespec ts = {.tv_sec = target / AX_NS_PER_S, .tv_nsec = target % AX_NS_PER_S};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
            ;
        int rc = publish_one(ps, (uint64_t)k, buf);
        if (rc < 0) {
            say("ERROR topic=%s publish: %s", ps->topic, ax_strerror(rc));
            break;
        }
        int64_t now = ax_clock_mono_ns();
        pthread_mutex_lock(&ps->mu);
        if (k == 1)
            ps->first_ns = now;
        ps->last_ns = now;
        pthread_mutex_unlock(&ps->mu);
        atomic_store(&ps->published, k);
        if (period == 0 && ps->count == 0)
            break; /* no rate and no count: one message */
    }
    if (ps->count)
        say("DONE topic=%s published=%ld elapsed_ns=%lld", ps->topic, atomic_load(&ps->published),
            (long long)(ps->last_ns - ps->first_ns));
    free(buf);
    return NULL;
}

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    struct subspec *ss = user;
    (void)sub;
    uint64_t key = m->seq;
    char *json = NULL;
    if (!ss->t) {
        memcpy(&key, m->data, m->len < 8 ? m->len : 8);
    } else {
        ProtobufCMessage *pm = NULL;
        if (ax_msg_unpack(m, ax_type_descriptor(ss->t), &pm) == 0) {
            if (strcmp(ss->type, "axon.sensor.Imu") == 0) {
                Axon__Sensor__Imu *imu = (Axon__Sensor__Imu *)pm;
                key = imu->header ? imu->header->seq : 0;
            } else if (strcmp(ss->type, "clitest.Secret") == 0) {
                key = ((Clitest__Secret *)pm)->id;
            }
            if (print_json) {
                struct ax_print_options po;
                ax_print_options_init(&po);
                po.format = AX_TEXT_JSON;
                struct ax_strbuf sb;
                ax_strbuf_init(&sb);
                if (ax_msg_print(pm, &po, &sb) == 0)
                    json = ax_strbuf_release(&sb);
                ax_strbuf_fini(&sb);
            }
            protobuf_c_message_free_unpacked(pm, NULL);
        }
    }
    pthread_mutex_lock(&ss->mu);
    if (ss->received == 0)
        ss->first = key;
    else if (key <= ss->last)
        ss->order_errors++;
    ss->last = key;
    ss->received++;
    pthread_mutex_unlock(&ss->mu);
    if (print_none) {
        free(json);
    } else if (json) {
        size_t n = strlen(json);
        while (n && json[n - 1] == '\n')
            json[--n] = '\0';
        say("RECV topic=%s json=%s", ss->topic, json);
        free(json);
    } else {
        say("RECV topic=%s key=%llu seq=%llu len=%zu", ss->topic, (unsigned long long)key,
            (unsigned long long)m->seq, m->len);
    }
    if (slow_ms > 0) {
        struct timespec ts = {slow_ms / 1000, (slow_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* "TOPIC=TYPE[@HZ][xCOUNT]" */
static int parse_spec(const char *arg, char *topic, char *type, double *hz, long *count)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= 256)
        return -1;
    memcpy(topic, arg, (size_t)(eq - arg));
    topic[eq - arg] = '\0';
    snprintf(type, 128, "%s", eq + 1);
    char *at = strchr(type, '@'), *x = strrchr(type, 'x');
    if (x && x > type && (x[-1] >= '0' && x[-1] <= '9') && x[1] >= '0' && x[1] <= '9') {
        *count = atol(x + 1);
        *x = '\0';
    }
    if (at) {
        *hz = atof(at + 1);
        *at = '\0';
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = "talker", *qos_name = NULL;
    long domain = -1;
    bool transient = false, sub_transient = false;
    struct pubspec *pubs[16];
    struct subspec *subs[16];
    int npubs = 0, nsubs = 0;
    ax_types_clitest_register();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--name") == 0 && v) {
            name = v;
            i++;
        } else if (strcmp(a, "--domain") == 0 && v) {
            domain = atol(v);
            i++;
        } else if (strcmp(a, "--size") == 0 && v) {
            payload_size = atol(v);
            i++;
        } else if (strcmp(a, "--wait-subs") == 0 && v) {
            wait_subs = atol(v);
            i++;
        } else if (strcmp(a, "--qos") == 0 && v) {
            qos_name = v;
            i++;
        } else if (strcmp(a, "--slow-ms") == 0 && v) {
            slow_ms = atol(v);
            i++;
        } else if (strcmp(a, "--print") == 0 && v) {
            print_json = strcmp(v, "json") == 0;
            print_none = strcmp(v, "none") == 0;
            i++;
        } else if (strcmp(a, "--transient") == 0) {
            transient = true;
        } else if (strcmp(a, "--sub-transient") == 0) {
            sub_transient = true;
        } else if ((strcmp(a, "--pub") == 0 || strcmp(a, "--sub") == 0) && v && npubs < 16 &&
                   nsubs < 16) {
            char topic[256], type[128];
            double hz = 0;
            long count = 0;
            if (parse_spec(v, topic, type, &hz, &count) < 0) {
                fprintf(stderr, "cli_talker: bad spec %s\n", v);
                return 2;
            }
            const ax_type *t = NULL;
            if (strncmp(type, "raw:", 4) != 0 && ax_type_find(type, &t) < 0) {
                fprintf(stderr, "cli_talker: unknown type %s\n", type);
                return 2;
            }
            if (a[2] == 'p') {
                struct pubspec *ps = calloc(1, sizeof *ps);
                snprintf(ps->topic, sizeof ps->topic, "%s", topic);
                snprintf(ps->type, sizeof ps->type, "%s", t ? type : type + 4);
                ps->hz = hz;
                ps->count = count;
                ps->t = t;
                pthread_mutex_init(&ps->mu, NULL);
                pubs[npubs++] = ps;
            } else {
                struct subspec *ss = calloc(1, sizeof *ss);
                snprintf(ss->topic, sizeof ss->topic, "%s", topic);
                snprintf(ss->type, sizeof ss->type, "%s", t ? type : type + 4);
                ss->t = t;
                pthread_mutex_init(&ss->mu, NULL);
                subs[nsubs++] = ss;
            }
            i++;
        } else {
            fprintf(stderr, "cli_talker: bad argument %s\n", a);
            return 2;
        }
    }

    struct ax_config cfg;
    ax_config_init(&cfg);
    struct ax_config_error err;
    ax_config_apply_env(&cfg, &err);
    snprintf(cfg.node_name, sizeof cfg.node_name, "%s", name);
    if (domain >= 0)
        cfg.domain = (uint32_t)domain;
    cfg.log_level = AX_LOG_ERROR;
    ax_log_set_level(AX_LOG_ERROR);
    ax_node *node;
    int rc = ax_node_new(&node, &cfg);
    ax_config_fini(&cfg);
    if (rc < 0) {
        fprintf(stderr, "cli_talker: node: %s\n", ax_strerror(rc));
        return 1;
    }
    struct ax_qos qos = AX_QOS_DEFAULT;
    if (qos_name && ax_qos_preset(qos_name, &qos) < 0) {
        fprintf(stderr, "cli_talker: bad qos %s\n", qos_name);
        return 2;
    }
    if (transient)
        qos.durability = AX_TRANSIENT_LOCAL;
    for (int i = 0; i < nsubs; i++) {
        struct ax_sub_options so;
        ax_sub_options_init(&so);
        so.qos = qos;
        if (sub_transient)
            so.qos.durability = AX_TRANSIENT_LOCAL;
        rc = subs[i]->t
                 ? ax_sub_new(&subs[i]->sub, node, subs[i]->topic, subs[i]->t, on_msg, subs[i], &so)
                 : ax_sub_new_raw(&subs[i]->sub, node, subs[i]->topic, subs[i]->type, on_msg,
                                  subs[i], &so);
        if (rc < 0) {
            fprintf(stderr, "cli_talker: sub %s: %s\n", subs[i]->topic, ax_strerror(rc));
            return 1;
        }
    }
    for (int i = 0; i < npubs; i++) {
        struct ax_pub_options po;
        ax_pub_options_init(&po);
        po.qos = qos;
        rc = pubs[i]->t ? ax_pub_new(&pubs[i]->pub, node, pubs[i]->topic, pubs[i]->t, &po)
                        : ax_pub_new_raw(&pubs[i]->pub, node, pubs[i]->topic, pubs[i]->type, &po);
        if (rc < 0) {
            fprintf(stderr, "cli_talker: pub %s: %s\n", pubs[i]->topic, ax_strerror(rc));
            return 1;
        }
    }
    say("READY id=%016llx", (unsigned long long)ax_node_id(node));
    for (int i = 0; i < npubs; i++)
        if (pubs[i]->hz > 0 || pubs[i]->count > 0)
            pthread_create(&pubs[i]->th, NULL, pub_main, pubs[i]);

    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "quit", 4) == 0)
            break;
        if (strncmp(line, "report", 6) == 0) {
            for (int i = 0; i < npubs; i++) {
                struct pubspec *ps = pubs[i];
                pthread_mutex_lock(&ps->mu);
                long n = atomic_load(&ps->published);
                int64_t el = ps->last_ns - ps->first_ns;
                pthread_mutex_unlock(&ps->mu);
                say("STATS topic=%s published=%ld elapsed_ns=%lld rate=%.6f", ps->topic, n,
                    (long long)el, n > 1 && el > 0 ? (double)(n - 1) * 1e9 / (double)el : 0.0);
            }
            for (int i = 0; i < nsubs; i++) {
                struct subspec *ss = subs[i];
                pthread_mutex_lock(&ss->mu);
                say("SUBSTATS topic=%s received=%ld order_errors=%ld first=%llu last=%llu",
                    ss->topic, ss->received, ss->order_errors, (unsigned long long)ss->first,
                    (unsigned long long)ss->last);
                pthread_mutex_unlock(&ss->mu);
            }
        }
    }
    atomic_store(&stopping, true);
    for (int i = 0; i < npubs; i++) {
        if (pubs[i]->hz > 0 || pubs[i]->count > 0)
            pthread_join(pubs[i]->th, NULL);
        ax_pub_free(pubs[i]->pub);
        pthread_mutex_destroy(&pubs[i]->mu);
        free(pubs[i]);
    }
    for (int i = 0; i < nsubs; i++) {
        ax_sub_free(subs[i]->sub);
        pthread_mutex_destroy(&subs[i]->mu);
        free(subs[i]);
    }
    ax_node_destroy(node);
    say("BYE");
    return 0;
}
