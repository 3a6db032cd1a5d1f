/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verbs of the request/reply groups, "service" and "param", for the
 * verb table (verbs.c), which keeps the rest: the same fields, the same
 * rules (one table drives dispatch, help and completion).
 */
#include "cli.h"

const struct cli_verb cli_service_verbs[] = {
    {
        .path = "service list",
        .synopsis = "",
        .summary = "services with request and reply types, server, calls",
        .about = "List the services of the domain: name, request and reply types, the node that\n"
                 "serves it, the calls it answered and the clients connected to it.",
        .details = "Reads the discovery table only.",
        .example = "  axon service list\n  axon service list --json",
        .min_pos = 0,
        .max_pos = 0,
        .run = cli_verb_service_list,
    },
    {
        .path = "service info",
        .synopsis = "NAME",
        .summary = "one service: its server, types and hashes, limits, counters",
        .about = "Show one service: the node that serves it, its request and reply types with\n"
                 "their hashes, the largest request it takes, the calls it answered and its\n"
                 "clients. Several servers of one name are each shown, with a warning.",
        .example = "  axon service info /map/lookup",
        .min_pos = 1,
        .max_pos = 1,
        .run = cli_verb_service_info,
    },
    {
        .path = "service call",
        .synopsis = "NAME TEXT",
        .summary = "call a service with a request written as YAML or JSON",
        .about = "Call the service NAME with a request written as YAML or JSON text (the syntax\n"
                 "of 'axon topic pub') and print the reply (--json: as JSON).",
        .details = "The request and reply types come from the registry or, when axon was not\n"
                   "built with them, from the server's node. A refusal prints the handler's code\n"
                   "and reason; no reply within --timeout, a server that went away and a server\n"
                   "of other types are each their own error. Exit status 0 only with a reply.",
        .example = "  axon service call /map/lookup '{x: 12.5, y: -3}'\n"
                   "  axon service call /planner/replan '{}' --timeout 2",
        .opts =
            (const struct cli_opt[]){
                {"timeout", 0, "S", "longest wait for the reply (default 5 s)", NULL},
                {0},
            },
        .min_pos = 2,
        .max_pos = 2,
        .run = cli_verb_service_call,
    },
    {0},
};

static const struct cli_opt param_opts[] = {
    {"timeout", 0, "S", "longest wait for the node's answer (default 5 s)", NULL},
    {0},
};

static const struct cli_opt param_load_opts[] = {
    {"timeout", 0, "S", "longest wait for the node's answer (default 5 s)", NULL},
    {"quiet", 'q', NULL, "print only the values refused", NULL},
    {0},
};

const struct cli_verb cli_param_verbs[] = {
    {
        .path = "param list",
        .synopsis = "NODE",
        .summary = "a node's parameters: type, value, default, limits, description",
        .about = "List the parameters of the running node NODE: type, value, default, range or\n"
                 "choices, read-only, description.",
        .details = "Asks the node itself (its service /axon/param/NODE): a node without\n"
                   "parameters, or not running, is an error after --timeout.",
        .example = "  axon param list planner\n  axon param list planner --json",
        .opts = param_opts,
        .min_pos = 1,
        .max_pos = 1,
        .complete = "node",
        .run = cli_verb_param_list,
    },
    {
        .path = "param get",
        .synopsis = "NODE NAME",
        .summary = "one parameter's value",
        .about = "Print the value of parameter NAME of the running node NODE.",
        .example = "  axon param get planner max_speed",
        .opts = param_opts,
        .min_pos = 2,
        .max_pos = 2,
        .complete = "node",
        .run = cli_verb_param_get,
    },
    {
        .path = "param set",
        .synopsis = "NODE NAME VALUE",
        .summary = "change a parameter (the node may refuse, with a reason)",
        .about = "Set parameter NAME of the running node NODE to VALUE, written as text (true,\n"
                 "12, 0.5, any string): the node converts it to the declared type and checks\n"
                 "its range or choices, then its change callback may refuse it.",
        .details = "A refusal prints its code and the node's reason; the exit status is 1.",
        .example = "  axon param set planner max_speed 12.5\n  axon param set planner mode sport",
        .opts = param_opts,
        .min_pos = 3,
        .max_pos = 3,
        .complete = "node",
        .run = cli_verb_param_set,
    },
    {
        .path = "param dump",
        .synopsis = "NODE",
        .summary = "a node's parameters as a YAML file 'param load' reads",
        .about = "Print the parameters of NODE as YAML (name: value; strings quoted;\n"
                 "read-only ones as comments), which 'axon param load' reads back.",
        .example = "  axon param dump planner > planner.yaml",
        .opts = param_opts,
        .min_pos = 1,
        .max_pos = 1,
        .complete = "node",
        .run = cli_verb_param_dump,
    },
    {
        .path = "param load",
        .synopsis = "NODE FILE.yaml",
        .summary = "set parameters from a YAML file",
        .about = "Set the parameters of NODE from FILE.yaml, a mapping of names to values\n"
                 "(nested mappings join their keys with '.'), each on its own: every refusal\n"
                 "is printed with its reason, and the exit status is 1 if any.",
        .example = "  axon param load planner planner.yaml",
        .opts = param_load_opts,
        .min_pos = 2,
        .max_pos = 2,
        .complete = "node file",
        .run = cli_verb_param_load,
    },
    {0},
};

const struct cli_verb cli_bridge_verbs[] = {
    {
        .path = "bridge foxglove",
        .synopsis = "[TOPIC|PATTERN]...",
        .summary = "a Foxglove WebSocket server and the web monitor on one port",
        .about =
            "Serve the domain to Foxglove Studio or Lichtblick (the Foxglove WebSocket protocol,\n"
            "foxglove.websocket.v1: open the printed foxglove: URL with 'Open connection') and\n"
            "the web monitor (the node graph, the topic table with rates, drops and gaps, a live\n"
            "echo: open the printed monitor: URL in a browser), on one port.",
        .details =
            "Topics are advertised as publishers appear in the discovery table and taken back\n"
            "when they leave; the bridge subscribes to a topic only while a client does, by\n"
            "its type hash, with the schema fetched from a publisher when axon was not built\n"
            "with it. axon.sensor images and point clouds, poses and transforms are also\n"
            "offered as foxglove.* schemas on TOPIC/foxglove (docs/bridge.md); services and\n"
            "nodes' parameters reach Foxglove's Service Call and Parameters panels. Each client\n"
            "has a queue of --max-client-queue bytes: a slow browser loses its oldest\n"
            "messages, counted and told to it, never the publisher's. Bound to 127.0.0.1\n"
            "unless --address says otherwise; with security on (a domain key or TLS) every\n"
            "request needs the token the printed URLs carry.",
        .example = "  axon bridge foxglove\n"
                   "  axon bridge foxglove --port 0 '/perception/*'\n"
                   "  axon bridge foxglove --address 0.0.0.0 --token s3cret-token",
        .opts =
            (const struct cli_opt[]){
                {"port", 'p', "PORT", "TCP port (default 8765; 0: the kernel chooses)", NULL},
                {"address", 0, "ADDR", "address to listen on (default 127.0.0.1)", NULL},
                {"topics", 't', "PATTERN", "only topics matching PATTERN (repeatable)", NULL},
                {"client-publish", 0, NULL, "let clients publish (Foxglove's Publish panel)", NULL},
                {"token", 0, "TOKEN", "require ?token=TOKEN on every request", NULL},
                {"max-client-queue", 0, "SIZE",
                 "bytes queued per client before its oldest are dropped (default 32MiB)", NULL},
                {"duration", 'd', "S", "stop after S seconds", NULL},
                {0},
            },
        .min_pos = 0,
        .max_pos = -1,
        .complete = "topic...",
        .run = cli_verb_bridge_foxglove,
    },
    {0},
};

#ifndef AXON_HAVE_BRIDGE
/* Built without libwebsockets or cJSON: the verb says so. */
int cli_verb_bridge_foxglove(struct cli *c, const struct cli_args *a)
{
    (void)c;
    (void)a;
    return cli_error("this axon was built without the bridge: install libwebsockets-dev and "
                     "libcjson-dev (bash tools/dev.sh deps) and build again");
}
#endif
