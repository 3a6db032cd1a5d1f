/* SPDX-License-Identifier: Apache-2.0 */
/*
 * service_probe: a service server or client process for
 * test_service_procs.c.
 *
 *   --role server  offers "/add" (axon.geometry.Point both ways: z = x + y)
 *                  and has parameters "gain" (double in [0, 10], default 1)
 *                  and "mode" (string: eco or sport). Says READY; exits on
 *                  "quit" or end of stdin.
 *   --role client  --name NAME --x X --y Y --timeout MS: waits (10 s) for
 *                  the server (says WAITED rc=...); then on each "call"
 *                  line says CALLING, calls and says
 *                  RESULT rc=<AX_E... or AX_OK> z=<z> reason=<text>;
 *                  exits on "quit" or end of stdin. --reply vector3: its
 *                  reply type is axon.geometry.Vector3 (a client of other
 *                  types than the server's).
 *
 * --domain D, --lease L, --heartbeat H (discovery, as in the YAML file).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ax_say.h"
#include "axon/axon.h"
#include "axon/msgs/geometry.pb-c.h"

static int add(const ProtobufCMessage *req, ProtobufCMessage *rep, struct ax_service_call *call,
               void *user)
{
    (void)call;
    (void)user;
    const Axon__Geometry__Point *q = (const Axon__Geometry__Point *)req;
    Axon__Geometry__Point *r = (Axon__Geometry__Point *)rep;
    r->x = q->x;
    r->y = q->y;
    r->z = q->x + q->y;
    return 0;
}

static int call_once(ax_client *c, double x, double y, long timeout_ms)
{
    Axon__Geometry__Point q = AXON__GEOMETRY__POINT__INIT;
    q.x = x;
    q.y = y;
    ProtobufCMessage *rep = NULL;
    struct ax_call_result res;
    say("CALLING");
    int rc = ax_client_call(c, &q.base, &rep, (int64_t)timeout_ms * AX_NS_PER_MS, &res);
    double z = rc == 0 ? ((Axon__Geometry__Point *)rep)->z : 0;
    if (rep)
        protobuf_c_message_free_unpacked(rep, NULL);
    say("RESULT rc=%s z=%g reason=%s", ax_err_name(rc), z, res.reason);
    return rc;
}

int main(int argc, char **argv)
{
    const char *role = "server", *name = "/add", *lease = NULL, *heartbeat = NULL, *reply = NULL;
    long domain = 0, timeout_ms = 60000;
    double x = 1, y = 2;
    static const struct option opts[] = {{"role", 1, 0, 'r'},  {"domain", 1, 0, 'd'},
                                         {"name", 1, 0, 'n'},  {"x", 1, 0, 'x'},
                                         {"y", 1, 0, 'y'},     {"timeout", 1, 0, 't'},
                                         {"lease", 1, 0, 'l'}, {"heartbeat", 1, 0, 'b'},
                                         {"reply", 1, 0, 'R'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            role = optarg;
            break;
        case 'd':
            domain = strtol(optarg, NULL, 10);
            break;
        case 'n':
            name = optarg;
            break;
        case 'x':
            x = strtod(optarg, NULL);
            break;
        case 'y':
            y = strtod(optarg, NULL);
            break;
        case 't':
            timeout_ms = strtol(optarg, NULL, 10);
            break;
        case 'l':
            lease = optarg;
            break;
        case 'b':
            heartbeat = optarg;
            break;
        case 'R':
            reply = optarg;
            break;
        default:
            return 2;
        }
    }
    struct ax_config cfg;
    ax_config_init(&cfg);
    snprintf(cfg.node_name, sizeof cfg.node_name, "svc-%s", role);
    cfg.domain = (uint32_t)domain;
    cfg.log_level = AX_LOG_ERROR;
    char yaml[256];
    int len = snprintf(yaml, sizeof yaml, "discovery:\n");
    if (lease)
        len += snprintf(yaml + len, sizeof yaml - (size_t)len, "  lease: \"%s\"\n", lease);
    if (heartbeat)
        snprintf(yaml + len, sizeof yaml - (size_t)len, "  heartbeat: \"%s\"\n", heartbeat);
    struct ax_config_error err;
    if (((lease || heartbeat) && ax_config_load_string(&cfg, yaml, "command line", &err) < 0) ||
        ax_config_apply_env(&cfg, &err) < 0) {
        fprintf(stderr, "service_probe: %s\n", err.message);
        return 1;
    }
    ax_node *node;
    if (ax_node_new(&node, &cfg) < 0)
        return 1;
    ax_config_fini(&cfg);
    const ax_type *pt;
    if (ax_type_find("axon.geometry.Point", &pt) < 0)
        return 1;
    char line[256];
    int rc = 0;
    if (strcmp(role, "server") == 0) {
        ax_service *a;
        static const char *const modes[] = {"eco", "sport"};
        struct ax_param_desc gain = {.name = "gain",
                                     .def = {.type = AX_PARAM_DOUBLE, .d = 1},
                                     .description = "controller gain",
                                     .has_range = true,
                                     .min = 0,
                                     .max = 10};
        struct ax_param_desc mode = {.name = "mode",
                                     .def = {.type = AX_PARAM_STRING, .s = "eco"},
                                     .choices = modes,
                                     .nchoices = 2};
        if (ax_service_new(&a, node, "/add", pt, pt, add, NULL, NULL) < 0 ||
            ax_param_declare(node, &gain) < 0 || ax_param_declare(node, &mode) < 0)
            return 1;
        say("READY");
        while (fgets(line, sizeof line, stdin) && strncmp(line, "quit", 4) != 0) {
        }
        ax_service_free(a);
    } else {
        const ax_type *rt = pt;
        if (reply && ax_type_find("axon.geometry.Vector3", &rt) < 0)
            return 1;
        ax_client *c;
        if (ax_client_new(&c, node, name, pt, rt, NULL) < 0)
            return 1;
        rc = ax_client_wait_server(c, 10000 * AX_NS_PER_MS);
        say("WAITED rc=%s", ax_err_name(rc));
        while (fgets(line, sizeof line, stdin) && strncmp(line, "quit", 4) != 0)
            if (strncmp(line, "call", 4) == 0)
                call_once(c, x, y, timeout_ms);
        ax_client_free(c);
    }
    ax_node_destroy(node);
    return 0;
}
