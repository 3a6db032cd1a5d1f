/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verb table: every verb of `axon` with its synopsis, one-line summary,
 * help, options, what its arguments complete to, and its handler. One table
 * drives the dispatch, the list of verbs (`axon --help`), each verb's
 * --help (through the parser) and `axon completion bash`, so they cannot
 * disagree (as one table of keys drives the configuration, its defaults
 * and its documentation).
 *
 * Groups ("node", "topic", "bag") are entries with sub-verbs and no
 * handler. The handlers live in one file per group and never call back
 * here: they get their arguments parsed (struct cli_args) and name their
 * verb through a->verb.
 */
#include <string.h>

#include "axon/version.h"
#include "cli.h"

#define QOS_PRESETS "=default|sensor_data|control|latched"

/* ---- the verbs of each group ---- */

static const struct cli_opt rate_opts[] = {
    {"window", 'w', "S", "statistics over the last S seconds (default 10)", NULL},
    {"subscribe", 0, NULL, "measure at a real subscriber instead of reading the table", NULL},
    {"duration", 'd', "S", "stop after S seconds (the last report is the final one)", NULL},
    {"count", 'n', "N", "stop after N reports with a result", NULL},
    {"period", 0, "S", "report every S seconds (default 1)", NULL},
    {0},
};

static const struct cli_verb node_verbs[] = {
    {
        .path = "node list",
        .synopsis = "",
        .summary = "every node: host, pid, endpoint, uptime, heartbeat",
        .about =
            "List every node of the domain: host, pid, TCP endpoint, uptime, when it was last\n"
            "heard (its heartbeat age) and how many publishers and subscribers it has.",
        .details = "Reads the discovery table only (no subscription). Waits for discovery to\n"
                   "settle first (at most --wait). The CLI's own node is not listed.",
        .example = "  axon node list\n  axon node list --domain 3 --json",
        .min_pos = 0,
        .max_pos = 0,
        .run = cli_verb_node_list,
    },
    {
        .path = "node info",
        .synopsis = "NAME|ID",
        .summary = "one node with its publishers and subscribers",
        .about = "Show one node (by name, or by its 16-hex-digit id) with its publishers and\n"
                 "subscribers: topic, type, QoS, connections, messages and drops.",
        .example = "  axon node info planner\n  axon node info 3f2a9c0d11e4b7a8 --json",
        .min_pos = 1,
        .max_pos = 1,
        .complete = "node",
        .run = cli_verb_node_info,
    },
    {0},
};

static const struct cli_verb topic_verbs[] = {
    {
        .path = "topic list",
        .synopsis = "[-v]",
        .summary = "topics with type, publisher and subscriber counts",
        .about = "List the topics of the domain with their type and how many publishers and\n"
                 "subscribers each has.",
        .details = "Reads the discovery table only. A topic whose endpoints disagree on the type\n"
                   "is marked with '!' (run 'axon doctor TOPIC').",
        .example = "  axon topic list\n  axon topic list -v --json",
        .opts = (const struct cli_opt[]){{"verbose", 'v', NULL,
                                          "also the type hash and the nodes of each topic", NULL},
                                         {0}},
        .min_pos = 0,
        .max_pos = 0,
        .run = cli_verb_topic_list,
    },
    {
        .path = "topic info",
        .synopsis = "TOPIC",
        .summary = "each endpoint's QoS, connections, drops by reason",
        .about = "Show each publisher and subscriber of TOPIC: node, type, QoS (reliability,\n"
                 "durability, overload policy, queue depth), connections, messages queued to the\n"
                 "slowest subscriber (publishers), messages, bytes, drops\n"
                 "by reason, sequence gaps and the last connection error.",
        .details = "Counters come from the discovery table; each node refreshes them every\n"
                   "discovery.refresh (1 s by default); AGE says how old they are.",
        .example = "  axon topic info /perception/obstacles",
        .min_pos = 1,
        .max_pos = 1,
        .complete = "topic",
        .run = cli_verb_topic_info,
    },
    {
        .path = "topic type",
        .synopsis = "TOPIC",
        .summary = "the type of a topic",
        .about = "Print the type of TOPIC (one line per distinct type when endpoints disagree).",
        .example = "  axon topic type /perception/obstacles\n"
                   "  axon topic type /perception/obstacles --hash",
        .opts =
            (const struct cli_opt[]){{"hash", 0, NULL, "also print the full type hash", NULL}, {0}},
        .min_pos = 1,
        .max_pos = 1,
        .complete = "topic",
        .run = cli_verb_topic_type,
    },
    {
        .path = "topic echo",
        .synopsis = "TOPIC",
        .summary = "print messages (YAML or --json), any protobuf type",
        .about = "Print the messages of TOPIC as YAML-style text (messages separated by ---),\n"
                 "or with --json as one JSON object per line.",
        .details = "Any protobuf type is decoded: from the types compiled into axon, or from the\n"
                   "schema the publisher serves. Bytes fields print as base64 of their first\n"
                   "--max-bytes bytes followed by '... (N bytes)'. Topics without a schema print\n"
                   "their size and a hex prefix. Waits for a publisher if there is none yet.",
        .example = "  axon topic echo /perception/obstacles -n 1\n"
                   "  axon topic echo /sensors/imu --field header.stamp_ns --json\n"
                   "  axon topic echo /camera/front -n 3 --max-bytes 8",
        .opts =
            (const struct cli_opt[]){
                {"count", 'n', "N", "stop after N messages", NULL},
                {"field", 'f', "PATH", "print only this field (header.stamp_ns, obstacles.0.pose)",
                 NULL},
                {"max-bytes", 0, "N", "bytes of a bytes field shown (default 16; 0: all)", NULL},
                {"max-elems", 0, "N", "elements of a repeated field shown (default: all)", NULL},
                {"meta", 0, NULL, "also print sequence number, publisher and times", NULL},
                {"raw", 0, NULL, "print size and hex even when a schema is known", NULL},
                {"timeout", 0, "S", "give up after S seconds (exit 1 if fewer than N arrived)",
                 NULL},
                {"qos", 0, "PRESET",
                 "subscription QoS: default, sensor_data, control, latched "
                 "(default: the publisher's reliability and durability)",
                 QOS_PRESETS},
                {0},
            },
        .min_pos = 1,
        .max_pos = 1,
        .complete = "topic",
        .run = cli_verb_topic_echo,
    },
    {
        .path = "topic hz",
        .synopsis = "TOPIC",
        .summary = "message rate (from the table; --subscribe to measure)",
        .about = "Message rate of TOPIC: mean, min, max and std dev over a window.",
        .details = "By default it reads each publisher's message counter from the discovery table\n"
                   "(refreshed every discovery.refresh, 1 s) and does not subscribe, so it costs\n"
                   "the system nothing. The mean is over the whole window, exact up to one\n"
                   "message at each end (printed as ±1/window); min/max/std are over the ~1 s\n"
                   "intervals between snapshots. --subscribe measures inter-arrival periods at a\n"
                   "real subscriber instead.",
        .example = "  axon topic hz /sensors/imu\n"
                   "  axon topic hz /sensors/imu --subscribe --window 5 --duration 6 --json",
        .opts = rate_opts,
        .min_pos = 1,
        .max_pos = 1,
        .complete = "topic",
        .run = cli_verb_topic_hz,
    },
    {
        .path = "topic bw",
        .synopsis = "TOPIC",
        .summary = "bandwidth (from the table; --subscribe to measure)",
        .about = "Bandwidth of TOPIC (payload bytes per second) and mean message size.",
        .details = "As 'topic hz': from the publishers' byte counters in the discovery table by\n"
                   "default, or at a real subscriber with --subscribe.",
        .example = "  axon topic bw /camera/front\n  axon topic bw /camera/front --subscribe",
        .opts = rate_opts,
        .min_pos = 1,
        .max_pos = 1,
        .complete = "topic",
        .run = cli_verb_topic_bw,
    },
    {
        .path = "topic delay",
        .synopsis = "TOPIC",
        .summary = "end-to-end delay from the source timestamp",
        .about = "End-to-end delay of TOPIC: receipt time at this subscriber minus the time the\n"
                 "publisher stamped on each message (mean, min, max, std dev over a window).",
        .details = "Both times are real-time clocks (CLOCK_REALTIME). On one host that is one\n"
                   "clock; across hosts the result is only as good as their clock sync (PTP/NTP).\n"
                   "It subscribes to the topic.",
        .example = "  axon topic delay /perception/obstacles --window 5",
        .opts =
            (const struct cli_opt[]){
                {"window", 'w', "S", "statistics over the last S seconds (default 10)", NULL},
                {"duration", 'd', "S", "stop after S seconds", NULL},
                {"count", 'n', "N", "stop after N reports with a result", NULL},
                {"period", 0, "S", "report every S seconds (default 1)", NULL},
                {0}},
        .min_pos = 1,
        .max_pos = 1,
        .complete = "topic",
        .run = cli_verb_topic_delay,
    },
    {
        .path = "topic pub",
        .synopsis = "TOPIC TYPE TEXT",
        .summary = "publish a message written as YAML or JSON",
        .about = "Publish a message of TYPE on TOPIC, written as YAML or JSON text (fields as in\n"
                 "the .proto; fields left out keep their defaults). Publishes once by default.",
        .details = "A field that does not exist or a value of the wrong kind is an error naming\n"
                   "the field and its position. TEXT '-' reads the text from stdin. With --rate\n"
                   "it repeats until Ctrl-C or --count. A one-shot publish waits for the\n"
                   "subscribers in the table to connect (at most --timeout), and then until their\n"
                   "counters confirm receipt (about one discovery refresh; --no-confirm skips it).",
        .example =
            "  axon topic pub /vehicle/cmd axon.vehicle.ControlCommand '{throttle: 0.2, "
            "steering: -0.1}'\n"
            "  axon topic pub /chatter axon.std.KeyValue '{key: a, value: b}' --rate 10 -n 50",
        .opts =
            (const struct cli_opt[]){
                {"rate", 'r', "HZ", "publish repeatedly at HZ", NULL},
                {"count", 'n', "N", "with --rate: stop after N messages", NULL},
                {"once", 0, NULL, "publish one message (the default without --rate)", NULL},
                {"qos", 0, "PRESET", "default (the default), sensor_data, control, latched",
                 QOS_PRESETS},
                {"wait-subs", 0, "N",
                 "wait for N subscribers before publishing (default: those "
                 "the table shows)",
                 NULL},
                {"timeout", 0, "S", "longest wait for subscribers (default 5 s)", NULL},
                {"no-confirm", 0, NULL, "do not wait for the subscribers to confirm receipt", NULL},
                {"quiet", 'q', NULL, "do not print each message published", NULL},
                {0},
            },
        .min_pos = 3,
        .max_pos = 3,
        .complete = "topic - -",
        .run = cli_verb_topic_pub,
    },
    {0},
};

static const struct cli_opt type_local_opt[] = {
    {"local", 0, NULL, "only the types compiled into axon: no node, no discovery wait", NULL},
    {0},
};

static const struct cli_verb type_verbs[] = {
    {
        .path = "type list",
        .synopsis = "[--local]",
        .summary = "the message types axon knows: compiled in and live",
        .about = "List every message type the CLI knows: those compiled into axon (the standard\n"
                 "messages) and those the live nodes of the domain announce, with the short\n"
                 "type hash and the nodes using each.",
        .details = "SOURCE says where a type comes from: 'compiled', 'live' (announced by a node;\n"
                   "'axon type show' fetches its schema from one) or both. A name listed with two\n"
                   "hashes is marked '!': its versions differ, and endpoints of different\n"
                   "versions do not talk. Waits for discovery to settle (at most --wait) unless\n"
                   "--local.",
        .example = "  axon type list\n  axon type list --local --json",
        .opts = type_local_opt,
        .min_pos = 0,
        .max_pos = 0,
        .run = cli_verb_type_list,
    },
    {
        .path = "type show",
        .synopsis = "NAME",
        .summary = "a type's schema as .proto text",
        .about = "Print the schema of message type NAME as .proto text: the type and every type\n"
                 "it uses, one section per .proto file, each starting with '// file: NAME'.",
        .details = "The schema is the one 'topic echo' decodes with: compiled into axon, or else\n"
                   "fetched from a live node that uses the type. A type nobody compiled in or\n"
                   "announces is an error naming it. Comments and options other than packed,\n"
                   "deprecated and proto2 defaults are not part of a schema and are not shown.",
        .example = "  axon type show axon.sensor.Imu\n  axon type show clitest.Secret --json",
        .opts = type_local_opt,
        .min_pos = 1,
        .max_pos = 1,
        .complete = "type",
        .run = cli_verb_type_show,
    },
    {0},
};

static const struct cli_verb bag_verbs[] = {
    {
        .path = "bag info",
        .synopsis = "FILE.mcap",
        .summary = "what a recording holds",
        .about = "Show what a recording holds: duration, start and end, message count, each\n"
                 "channel with topic, type and count, compression and chunks, the metadata\n"
                 "records (gaps and drops the recorder saw) and whether the file was cut off.",
        .details = "A whole file is read from its summary. A file cut off (kill -9, power loss,\n"
                   "full disk) is scanned: what is shown is what can still be read, up to its\n"
                   "last complete chunk, and 'recovered' says so.",
        .example = "  axon bag info drive.mcap\n  axon bag info drive.mcap --json",
        .min_pos = 1,
        .max_pos = 1,
        .complete = "mcap",
        .run = cli_verb_bag_info,
    },
    {
        .path = "bag verify",
        .synopsis = "FILE.mcap",
        .summary = "check every CRC and the structure of a recording",
        .about = "Check every CRC a recording carries, reading every byte once: each chunk's\n"
                 "(of its uncompressed records), the data section's (in the Data End record)\n"
                 "and the summary's (in the footer); and its structure: every record within\n"
                 "the file (and chunk records within their chunk), the footer's offsets, the\n"
                 "summary's indexes pointing at records of their kind, the statistics' counts.",
        .details = "Prints what it checked and each problem with its record and offset. Exit\n"
                   "status 0 when everything is sound, 1 otherwise (also for a file that was not\n"
                   "closed). 'bag info' and 'play' read a whole file from its summary and check\n"
                   "only what they read: a flipped byte in a metadata record or a message index\n"
                   "shows only here, as a data section CRC mismatch.",
        .example = "  axon bag verify drive.mcap\n  axon bag verify drive.mcap --json",
        .min_pos = 1,
        .max_pos = 1,
        .complete = "mcap",
        .run = cli_verb_bag_verify,
    },
    {0},
};

static const struct cli_opt cert_opts[] = {
    {"days", 0, "N", "how many days it is valid (CA: 3650, node: 825)", NULL},
    {"name", 0, "NAME", "ca only: the CA's common name (\"axon fleet CA\")", NULL},
    {0},
};

static const struct cli_verb cert_verbs[] = {
    {
        .path = "cert ca",
        .synopsis = "DIR",
        .summary = "create a fleet CA for TLS certificates",
        .about = "Create DIR/ca.crt (every node's security.ca_file) and DIR/ca.key (mode 600)\n"
                 "for security.tls: cert. Existing files are never overwritten.",
        .details = "Keep ca.key off the vehicles: only `axon cert node` needs it. Keys are\n"
                   "ECDSA P-256; docs/security.md gives the same with the openssl command.",
        .example = "  axon cert ca /etc/axon/pki",
        .opts = cert_opts,
        .min_pos = 1,
        .max_pos = 1,
        .run = cli_verb_cert_ca,
    },
    {
        .path = "cert node",
        .synopsis = "DIR NAME",
        .summary = "create a node's certificate, signed by the CA in DIR",
        .about = "Create DIR/NAME.crt and DIR/NAME.key (mode 600), signed by DIR/ca.crt and\n"
                 "DIR/ca.key, for the node named NAME: its proved identity with\n"
                 "security.tls: cert, and the name access policies (security.policy_file) use.",
        .example = "  axon cert node /etc/axon/pki lidar_driver",
        .opts = cert_opts,
        .min_pos = 2,
        .max_pos = 2,
        .run = cli_verb_cert_node,
    },
    {0},
};

/* ---- verbs about the CLI itself ---- */

static int verb_version(struct cli *c, const struct cli_args *a);
static int verb_help(struct cli *c, const struct cli_args *a);

/* ---- the top level ---- */

static const struct cli_verb top_verbs[] = {
    {
        .path = "node",
        .summary = "the nodes of the domain",
        .about = "The nodes of the domain, from the discovery table.",
        .subs = node_verbs,
    },
    {
        .path = "topic",
        .summary = "the topics of the domain: list, inspect, print, measure, publish",
        .about = "The topics of the domain: list them, inspect their endpoints, print, measure "
                 "and\npublish messages.",
        .subs = topic_verbs,
    },
    {
        .path = "service",
        .summary = "the services of the domain: list, inspect, call",
        .about = "The services of the domain (request/reply): list them, inspect one, call one.",
        .subs = cli_service_verbs,
    },
    {
        .path = "param",
        .summary = "a running node's parameters: list, get, set, dump, load",
        .about = "The parameters of a running node (docs/parameters.md).",
        .subs = cli_param_verbs,
    },
    {
        .path = "type",
        .summary = "message types: list them, print a schema",
        .about = "The message types axon knows, compiled in or announced by live nodes.",
        .subs = type_verbs,
    },
    {
        .path = "bridge",
        .summary = "live view in the browser: Foxglove and the web monitor",
        .about = "Bridges to browser tools (docs/bridge.md).",
        .subs = cli_bridge_verbs,
    },
    {
        .path = "doctor",
        .synopsis = "[TOPIC]",
        .summary = "explain why publishers and subscribers do not talk",
        .about = "Explain why publishers and subscribers do not talk (for TOPIC, or every topic):\n"
                 "not discovered (and which discovery mode each node uses), in another domain,\n"
                 "type mismatch, incompatible QoS, connections failing (with the last error),\n"
                 "stale heartbeats, and messages dropped by the overload policy.",
        .details = "Reads the discovery table and listens to the discovery traffic of every other\n"
                   "domain for --scan seconds. Each finding says what to change. Exit status 0\n"
                   "when nothing is wrong, 1 when something is.",
        .example = "  axon doctor\n  axon doctor /perception/obstacles --json",
        .opts = (const struct cli_opt[]){{"scan", 0, "S",
                                          "how long to listen to other domains "
                                          "(default 1 s; 0: do not scan)",
                                          NULL},
                                         {0}},
        .min_pos = 0,
        .max_pos = 1,
        .complete = "topic",
        .run = cli_verb_doctor,
    },
    {
        .path = "record",
        .synopsis = "-o FILE.mcap [TOPIC|PATTERN]... | --all",
        .summary = "record to MCAP (Foxglove opens the files)",
        .about = "Record topics into an MCAP file (the format of ROS 2 bags and Foxglove Studio),\n"
                 "with each channel's protobuf FileDescriptorSet as its schema, chunked and\n"
                 "indexed, zstd-compressed by default.",
        .details = "TOPIC may be a pattern with * (quote it: '/camera/*'). Topics that appear\n"
                   "later are recorded too. Live progress goes to stderr every second (messages,\n"
                   "bytes, drops) unless --quiet; with --json it goes to stdout as one object per\n"
                   "line. Every sequence gap and transport drop is written into the file as a\n"
                   "metadata record (axon.gap, axon.drop); if the disk cannot keep up the\n"
                   "recorder says so and records how many it lost (axon.recorder_drop). Ctrl-C\n"
                   "closes the file properly. A recorder killed with -9 leaves a file readable up\n"
                   "to its last complete chunk (at most --flush seconds are lost).",
        .example = "  axon record -o drive.mcap --all\n"
                   "  axon record -o cams.mcap '/camera/*' /perception/obstacles --compression lz4",
        .opts =
            (const struct cli_opt[]){
                {"output", 'o', "FILE", "the MCAP file to write", "mcap"},
                {"all", 'a', NULL, "record every topic (also those that appear later)", NULL},
                {"force", 0, NULL, "overwrite FILE if it exists", NULL},
                {"compression", 0, "C", "none, lz4 or zstd (default zstd)", "=none|lz4|zstd"},
                {"chunk-size", 0, "SIZE", "uncompressed bytes per chunk (default 1MiB)", NULL},
                {"flush", 0, "S", "write the open chunk at least every S seconds (default 1)",
                 NULL},
                {"queue-size", 0, "SIZE",
                 "memory between the subscriptions and the disk (default 64MiB)", NULL},
                {"duration", 'd', "S", "stop after S seconds", NULL},
                {"quiet", 'q', NULL, "no progress output", NULL},
                {0},
            },
        .min_pos = 0,
        .max_pos = -1,
        .complete = "topic...",
        .run = cli_verb_record,
    },
    {
        .path = "play",
        .synopsis = "FILE.mcap",
        .summary = "publish a recording with its original timing",
        .about = "Publish the messages of a recording with their original types and timing\n"
                 "(scaled by --rate), in the order they were recorded.",
        .details =
            "Before the first message it waits for the subscribers the table shows to\n"
            "connect (at most --wait), or for --wait-subs N of them. A recording that was cut\n"
            "off plays up to its last complete chunk.",
        .example = "  axon play drive.mcap\n"
                   "  axon play drive.mcap --rate 2 --topics /perception/obstacles --start 30\n"
                   "  axon play drive.mcap --loop --wait-subs 1 --wait 10\n"
                   "  axon play drive.mcap --clock --rate 10   # nodes with use_sim_time",
        .opts =
            (const struct cli_opt[]){
                {"rate", 'r', "R", "speed factor (default 1: original timing; 2: twice as fast)",
                 NULL},
                {"loop", 'l', NULL, "start over at the end, until Ctrl-C", NULL},
                {"clock", 0, NULL,
                 "also publish the recording's time on node.clock_topic (/clock), for "
                 "nodes with node.use_sim_time",
                 NULL},
                {"topics", 't', "TOPIC", "play only this topic (repeat; * patterns allowed)", NULL},
                {"start", 's', "S", "skip the first S seconds of the recording", NULL},
                {"wait-subs", 0, "N", "wait for N subscriber connections before playing", NULL},
                {"qos", 0, "PRESET",
                 "publishers' QoS: default (the default), sensor_data, control, "
                 "latched",
                 QOS_PRESETS},
                {"quiet", 'q', NULL, "no progress output", NULL},
                {0},
            },
        .min_pos = 1,
        .max_pos = 1,
        .complete = "mcap",
        .run = cli_verb_play,
    },
    {
        .path = "bag",
        .summary = "recordings: what they hold, whether they are sound",
        .about = "Recordings (MCAP files).",
        .subs = bag_verbs,
    },
    {
        .path = "keygen",
        .synopsis = "FILE",
        .summary = "write a new domain key",
        .about = "Write a new random domain key to FILE (mode 600; an existing file is never\n"
                 "overwritten) and print its fingerprint. Nodes whose security.key_file names\n"
                 "it sign every discovery datagram and drop the ones without a valid MAC.",
        .details = "Copy the file to every host of the domain by a channel you trust. To\n"
                   "rotate, see docs/security.md. `axon doctor` shows the key in use by its\n"
                   "fingerprint, never the key.",
        .example = "  axon keygen /etc/axon/domain.key\n"
                   "  AXON_KEY_FILE=/etc/axon/domain.key axon node list",
        .min_pos = 1,
        .max_pos = 1,
        .run = cli_verb_keygen,
    },
    {
        .path = "cert",
        .summary = "TLS certificates (security.tls: cert)",
        .about = "A fleet CA and node certificates for TLS with proved identities.",
        .subs = cert_verbs,
    },
    {
        .path = "config",
        .synopsis = "[--defaults] [--no-comments]",
        .summary = "every configuration key with its value",
        .about = "Print every configuration key as a YAML document that loads back: with\n"
                 "--defaults the built-in defaults, otherwise the configuration this program\n"
                 "would run with (--config FILE, then AXON_CONFIG, AXON_DOMAIN, AXON_PEERS,\n"
                 "AXON_LOG_LEVEL, then --domain).",
        .details =
            "Each key is preceded by comments: what it does, its type, unit, range, default\n"
            "and environment variable. docs/configuration.md is generated from the same\n"
            "table.",
        .example =
            "  axon config --defaults > axon.yaml\n  AXON_DOMAIN=3 axon config --no-comments",
        .opts = (const struct cli_opt[]){{"defaults", 0, NULL,
                                          "the defaults, ignoring files and "
                                          "environment",
                                          NULL},
                                         {"no-comments", 0, NULL, "keys and values only", NULL},
                                         {0}},
        .min_pos = 0,
        .max_pos = 0,
        .run = cli_verb_config,
    },
    {
        .path = "completion",
        .synopsis = "bash",
        .summary = "print a bash completion script",
        .about = "Print a bash completion script for axon, generated from its verb table: verbs,\n"
                 "options, option values, and the topics, nodes or recordings a verb takes.",
        .details =
            "Topics and nodes are those 'axon topic list' and 'axon node list' see when TAB\n"
            "is pressed (it waits at most 1 s for discovery; --domain and --config already\n"
            "on the line are passed on). Recordings are *.mcap files.",
        .example = "  source <(axon completion bash)\n"
                   "  axon completion bash > ~/.local/share/bash-completion/completions/axon",
        .min_pos = 1,
        .max_pos = 1,
        .complete = "=bash",
        .run = cli_verb_completion,
    },
    {
        .path = "version",
        .synopsis = "",
        .summary = "the version of axon (also --version)",
        .about = "Print the version of the axon library this program runs with (\"axon X.Y.Z\").",
        .example = "  axon version\n  axon --version",
        .run = verb_version,
    },
    {
        .path = "help",
        .synopsis = "[VERB]",
        .summary = "the verbs, or one verb's options and example",
        .about =
            "Without VERB, list the verbs; 'axon help topic echo' is 'axon topic echo --help'.",
        .example = "  axon help\n  axon help topic echo",
        .max_pos = -1,
        .complete = "verb...",
        .run = verb_help,
    },
    {0},
};

/* ---- dispatch and the list of verbs ---- */

/* The entry of @set whose name (the last word of its path) is @word. */
static const struct cli_verb *find(const struct cli_verb *set, const char *word)
{
    for (; set->path; set++) {
        const char *name = strrchr(set->path, ' ');
        if (strcmp(name ? name + 1 : set->path, word) == 0)
            return set;
    }
    return NULL;
}

static bool is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/* The verbs of @set, groups expanded: "  topic echo TOPIC    summary". */
static void print_verbs(FILE *f, const struct cli_verb *set)
{
    for (; set->path; set++) {
        if (set->subs) {
            print_verbs(f, set->subs);
            continue;
        }
        char left[96];
        snprintf(left, sizeof left, "%s%s%s", set->path, *set->synopsis ? " " : "", set->synopsis);
        if (strlen(left) < 30)
            fprintf(f, "  %-29s %s\n", left, set->summary);
        else
            fprintf(f, "  %s\n  %-29s %s\n", left, "", set->summary);
    }
}

static void print_top_help(FILE *f)
{
    fputs("Usage: axon VERB [ARGS] [options]\n"
          "\n"
          "Inspect and drive a running axon system, the way ros2 topic, cyber_channel\n"
          "and cyber_recorder do. Listing and rates read the discovery table only: the\n"
          "tool does not subscribe to payloads unless a verb says so.\n"
          "\n"
          "Verbs:\n",
          f);
    print_verbs(f, top_verbs);
    fputs("\n"
          "Run 'axon VERB --help' for a verb's options and an example.\n"
          "Exit status: 0 success, 1 error (doctor: problems found), 2 usage error.\n",
          f);
}

static void print_group_help(FILE *f, const struct cli_verb *g)
{
    fprintf(f, "Usage: axon %s VERB [ARGS] [options]\n\n%s\n\nVerbs:\n", g->path, g->about);
    print_verbs(f, g->subs);
    fprintf(f, "\nRun 'axon %s VERB --help' for a verb's options and an example.\n", g->path);
}

/* Walk the words of @argv down the table to a verb, parse the rest for it
 * and run it. A group without its verb prints the group's verbs. */
static int run(struct cli *c, int argc, char **argv)
{
    const struct cli_verb *set = top_verbs, *group = NULL;
    for (int i = 0;; i++) {
        /* A group followed by nothing or by an option lacks its verb. */
        if (i == argc || is_help(argv[i]) || (group && argv[i][0] == '-')) {
            bool help = i < argc && is_help(argv[i]);
            FILE *f = help ? stdout : stderr;
            if (!help && group)
                fprintf(stderr, "axon: usage error: missing %s verb\n\n", group->path);
            if (group)
                print_group_help(f, group);
            else
                print_top_help(f);
            return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
        const char *word = argv[i];
        if (!group && strcmp(word, "--version") == 0)
            word = "version";
        const struct cli_verb *v = find(set, word);
        if (!v) {
            fprintf(stderr, "axon: usage error: unknown %s%sverb '%s'\n\n",
                    group ? group->path : "", group ? " " : "", word);
            if (group)
                print_group_help(stderr, group);
            else
                print_top_help(stderr);
            return CLI_EXIT_USAGE;
        }
        if (v->subs) {
            group = v;
            set = v->subs;
            continue;
        }
        struct cli_args a;
        int rc = cli_parse(c, v, argc - i - 1, argv + i + 1, &a);
        return rc ? rc : v->run(c, &a);
    }
}

int cli_run(struct cli *c, int argc, char **argv)
{
    c->verbs = top_verbs;
    return run(c, argc, argv);
}

static int verb_help(struct cli *c, const struct cli_args *a)
{
    if (a->npos == 0) {
        print_top_help(stdout);
        return CLI_EXIT_OK;
    }
    /* "axon help topic echo" is "axon topic echo --help". */
    char *words[8];
    int n = 0;
    for (int i = 0; i < a->npos && n < 6; i++)
        words[n++] = (char *)a->pos[i];
    words[n++] = (char *)"--help";
    words[n] = NULL;
    return run(c, n, words);
}

static int verb_version(struct cli *c, const struct cli_args *a)
{
    (void)a;
    /* ax_version() is the library this program runs with. A libaxon.so other
     * than the one it was built with (an old one first on the library path)
     * is worth saying. */
    bool same = ax_version_number() == AXON_VERSION_NUMBER;
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "version", ax_version());
        cj_int(&j, "version_number", ax_version_number());
        cj_str(&j, "built_with", AXON_VERSION_STRING);
        cj_end_obj(&j);
        cj_done(&j);
    } else if (same) {
        printf("axon %s\n", ax_version());
    } else {
        printf("axon %s (built with the headers of %s)\n", ax_version(), AXON_VERSION_STRING);
    }
    return CLI_EXIT_OK;
}
