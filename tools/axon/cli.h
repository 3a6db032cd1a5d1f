/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tools/axon/cli.h: what the verbs of the `axon` command share.
 *
 * The CLI is dogfood: it uses only the public API (<axon/axon.h>) and the
 * MCAP library (tools/mcap/mcap.h); no private header of the library is
 * included anywhere under tools/axon but the header-only base/ax__array.h
 * (growing arrays; it links nothing).
 *
 * Threads: main() runs every verb on the main thread. The CLI's node runs
 * one loop thread of its own (node.threads = 1); subscription callbacks run
 * there and never block (they copy into a cli_msgq or update a counter under
 * a short lock). SIGINT and SIGTERM are blocked in every thread; the main
 * thread lets them in only while it waits in cli_sleep() / cli_wait_fd()
 * (ppoll), so Ctrl-C ends every loop at a well-defined point.
 *
 * Files, top down; a file calls only those below it (tests/arch/check_arch.py
 * cycles checks the objects): main.c (signals, the context) runs verbs.c
 * (the verb table: dispatch, the list of verbs), which parses the arguments
 * with args.c and runs a verb's handler (node.c, topic.c, echo.c, rate.c,
 * pub.c, type.c, doctor.c, record.c, play.c, bag.c, bag_verify.c, config.c; complete.c reads the
 * table through c->verbs, not by its name). They use common.c
 * (the CLI's node, snapshots, types) and the leaves: args.c (the parser),
 * msg.c (messages), wait.c (signals and waiting), fmt.c, table.c (tables and
 * JSON), msgq.c. No handler calls verbs.c or main.c.
 */
#ifndef AXON_CLI_H
#define AXON_CLI_H

#include <stdio.h>

#include "axon/axon.h"

/* Exit codes. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_ERR = 1, CLI_EXIT_USAGE = 2 };
/* A parser result meaning "help was printed, exit 0". */
#define CLI_HELP_SHOWN (-1000)

/* The CLI's node asks every node for its live counters this often
 * (discovery.counters); a listing waits until the table has been quiet for
 * CLI_SETTLE_QUIET_NS and at least CLI_SETTLE_MIN_NS since the start. */
#define CLI_COUNTERS_NS     (500 * AX_NS_PER_MS)
#define CLI_SETTLE_QUIET_NS (150 * AX_NS_PER_MS)
#define CLI_SETTLE_MIN_NS   (200 * AX_NS_PER_MS)

/* ---- the verb table (verbs.c) and the parser (args.c) ---- */

/* What a word completes to in `axon completion bash` (complete.c),
 * space-separated, one per positional argument: "topic" (the live topics),
 * "node" (the live nodes), "type" (the types `axon type list` shows),
 * "mcap" (*.mcap files and directories), "file"
 * (any file), "verb" (the next word of a verb's path, for help), "-"
 * (nothing), or "=a|b" (these words). A trailing "..." repeats the last. */

struct cli_opt {
    const char *name; /* long name, without "--" */
    char short_name;  /* 0: none */
    const char *arg;  /* metavariable ("N", "FILE"); NULL: a flag */
    const char *help;
    const char *complete; /* what the value completes to (above); NULL: nothing */
};

struct cli;
struct cli_args;

/* A verb's handler: the arguments are parsed and the global options
 * applied. Returns an exit code (CLI_EXIT_*), or CLI_HELP_SHOWN. */
typedef int cli_handler(struct cli *c, const struct cli_args *a);

/* One entry of the verb table: a verb, or a group of verbs ("topic"). */
struct cli_verb {
    const char *path;            /* "topic echo": the words that select it */
    const char *synopsis;        /* its arguments, "TOPIC" ("": none) */
    const char *summary;         /* one line, for the list of verbs */
    const char *about;           /* --help: what it does (lines); NULL: the summary */
    const char *details;         /* --help: more; may be NULL */
    const char *example;         /* --help: one or more lines */
    const struct cli_opt *opts;  /* terminated by {0}; NULL: none */
    int min_pos, max_pos;        /* positional arguments; max -1: any */
    const char *complete;        /* what each positional completes to (above) */
    cli_handler *run;            /* NULL: a group */
    const struct cli_verb *subs; /* a group's verbs, terminated by {0} */
};

#define CLI_MAX_OPTS 48
#define CLI_MAX_POS  256

struct cli_args {
    const struct cli_verb *verb;
    int argc; /* the words after the verb's path, as given */
    char **argv;
    const char *pos[CLI_MAX_POS];
    int npos;
    const char *val[CLI_MAX_OPTS]; /* last value (flags: "1") */
    int count[CLI_MAX_OPTS];
    /* repeated values of options that may repeat (--topics a --topics b) */
    const char *multi[CLI_MAX_OPTS][16];
};

/* ---- the context every verb gets ---- */

struct cli {
    struct ax_config cfg;
    const char *config_path;
    bool json;
    int64_t wait_ns; /* --wait: discovery convergence bound */
    bool domain_set;
    ax_node *node;
    const char *node_prefix; /* its name before "-PID" (NULL: "axon-cli") */
    uint64_t self_id;
    bool stop;                    /* a SIGINT/SIGTERM arrived */
    bool settled;                 /* the last cli_settle() converged */
    const struct cli_verb *verbs; /* the verb table (for verbs that describe it) */
};

/* verbs.c: run the verb @argv names (argv[0] is the first word after
 * "axon"); returns the exit code. */
int cli_run(struct cli *c, int argc, char **argv);

/* args.c */
extern const struct cli_opt cli_global_opts[]; /* every verb takes these */
/* Parse @argv (what follows the verb's path) for @v into @a and apply the
 * global options to @c. Returns 0, CLI_HELP_SHOWN (--help was printed) or
 * an exit code (the error was printed). */
int cli_parse(struct cli *c, const struct cli_verb *v, int argc, char **argv, struct cli_args *a);
const char *cli_opt(const struct cli_args *a, const char *name);
bool cli_flag(const struct cli_args *a, const char *name);
size_t cli_opt_all(const struct cli_args *a, const char *name, const char **out, size_t cap);
/* Parse an option's number; on a bad value print a usage error and return
 * false. Absent: @out keeps its default, returns true. */
bool cli_opt_double(const struct cli_args *a, const char *name, double min, double max,
                    double *out);
bool cli_opt_long(const struct cli_args *a, const char *name, long min, long max, long *out);
/* A duration to nanoseconds: ax_duration_parse() with a bare number as
 * seconds ("1.5", "250ms", "2s", "1m"); a usage error quotes its reason. */
bool cli_opt_seconds(const struct cli_args *a, const char *name, int64_t *out_ns);
/* A size option ("64MiB", "65536": axon/units.h), within [@min, @max]
 * bytes; false after a usage error. */
bool cli_opt_size(const struct cli_args *a, const char *name, uint64_t min, uint64_t max,
                  uint64_t *out);
/* Print a usage error about @v; returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_verb *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* msg.c: "axon: error: ..." on stderr (stdout flushed first). cli_error
 * returns CLI_EXIT_ERR. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* wait.c: block SIGINT/SIGTERM (before any thread starts) and install the
 * handler; ignore SIGPIPE. */
void cli_signals_init(void);
/* Wait up to @ns (interrupted by SIGINT/SIGTERM: then returns true and
 * c->stop is set). A second signal while stopping exits at once (130). */
bool cli_sleep(struct cli *c, int64_t ns);
/* As cli_sleep(), also returning when @fd becomes readable (then false). */
bool cli_wait_fd(struct cli *c, int fd, int64_t ns);

/* ---- common.c ---- */

/* The CLI's node: "axon-cli-<pid>", one thread. Prints the error. */
int cli_node_open(struct cli *c);
void cli_node_close(struct cli *c);

/* Wait until the discovery table is stable (no change for two heartbeat
 * periods, every node's endpoint set complete), at most c->wait_ns.
 * Returns 0, or AX_ECLOSED when interrupted. c->settled says whether it
 * converged. */
int cli_settle(struct cli *c);

/* ---- table snapshots (the CLI's own node left out) ---- */

struct cli_snap {
    struct ax_node_info *nodes;
    size_t nnodes;
    struct ax_endpoint_info *eps;
    size_t neps;
};

/* The table without this CLI's own node: publishers and subscribers
 * (cli_snap_take), or services only (cli_snap_take_kind, @services). */
int cli_snap_take(struct cli *c, const char *topic, struct cli_snap *s);
int cli_snap_take_kind(struct cli *c, const char *topic, bool services, struct cli_snap *s);
void cli_snap_free(struct cli_snap *s);
const struct ax_node_info *cli_snap_node(const struct cli_snap *s, uint64_t id);

/* ---- types ---- */

/* A type found for a (name, hash) of the table: compiled, built from a
 * schema fetched from a node, or raw bytes (no schema anywhere). */
struct cli_type {
    const ax_type *type; /* NULL: raw */
    ax_type *owned;      /* built from a fetched schema; freed by cli_type_fini */
    uint8_t *fds;        /* the schema (FileDescriptorSet) when known */
    size_t fds_len;
    bool fds_owned;
    char name[AX_TYPE_NAME_MAX];
    uint8_t hash[AX_TYPE_HASH_SIZE];
    bool have_hash;
    char source[96]; /* "compiled in", "schema from node 'x'", "raw" */
};

/* Find @name (with @hash when not NULL): the registry first, else the
 * schema from a node of @snap that has an endpoint of that type (@prefer
 * first). Returns 0 (out->type NULL when raw: no node has a schema),
 * AX_ETYPE (a schema was found but its hash differs), or another error. */
int cli_type_resolve(struct cli *c, const char *name, const uint8_t *hash,
                     const struct cli_snap *snap, uint64_t prefer, struct cli_type *out);
void cli_type_fini(struct cli_type *t);

/* ---- formatting (fmt.c) ---- */

const char *cli_fmt_dur(int64_t ns, char *buf, size_t size);       /* "1.25s", "340ms", "2h05m" */
const char *cli_fmt_size(double bytes, char *buf, size_t size);    /* "12.3 MiB" */
const char *cli_fmt_rate(double hz, char *buf, size_t size);       /* "9.998 Hz" */
const char *cli_fmt_time(int64_t real_ns, char *buf, size_t size); /* ISO 8601 UTC */
const char *cli_fmt_qos(const struct ax_qos *q, char *buf, size_t size);
const char *cli_fmt_hash_short(const uint8_t hash[AX_TYPE_HASH_SIZE], char *buf, size_t size);
const char *cli_fmt_hash(const uint8_t hash[AX_TYPE_HASH_SIZE], char *buf, size_t size);
const char *cli_fmt_drops(const struct ax_endpoint_counters *ctr, char *buf, size_t size);
const char *cli_mode_name(enum ax_discovery_mode m);
const char *cli_reliability_name(enum ax_reliability r);
const char *cli_durability_name(enum ax_durability d);
uint64_t cli_drops_total(const struct ax_endpoint_counters *ctr);

/* ---- aligned tables (table.c) ---- */

struct cli_table;
/* @cols: header names; a name starting with '>' is right-aligned (the '>'
 * is not printed). */
struct cli_table *cli_table_new(const char *const *cols, size_t ncols);
void cli_table_row(struct cli_table *t);
void cli_table_cell(struct cli_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_table_print(struct cli_table *t, FILE *out, const char *indent);
void cli_table_free(struct cli_table *t);

/* ---- JSON output (table.c) ---- */

struct cli_json {
    FILE *f;
    int depth;
    bool need_comma[32];
};

void cj_init(struct cli_json *j, FILE *f);
void cj_obj(struct cli_json *j, const char *key); /* key NULL inside arrays / at top */
void cj_end_obj(struct cli_json *j);
void cj_arr(struct cli_json *j, const char *key);
void cj_end_arr(struct cli_json *j);
void cj_str(struct cli_json *j, const char *key, const char *val);
void cj_int(struct cli_json *j, const char *key, int64_t v);
void cj_uint(struct cli_json *j, const char *key, uint64_t v);
void cj_num(struct cli_json *j, const char *key, double v); /* NaN/inf: null */
void cj_bool(struct cli_json *j, const char *key, bool v);
void cj_null(struct cli_json *j, const char *key);
void cj_raw(struct cli_json *j, const char *key, const char *json, size_t len);
/* End the document: a newline and a flush. */
void cj_done(struct cli_json *j);
void cj_qos(struct cli_json *j, const char *key, const struct ax_qos *q);
void cj_counters(struct cli_json *j, const char *key, const struct ax_endpoint_counters *c,
                 enum ax_endpoint_kind kind);
void cj_node(struct cli_json *j, const char *key, const struct ax_node_info *n);
void cj_endpoint(struct cli_json *j, const char *key, const struct ax_endpoint_info *e);

/* ---- a bounded message queue from callbacks to a consumer (msgq.c) ---- */

enum cli_qkind { CLI_Q_MSG = 0, CLI_Q_GAP = 1, CLI_Q_DROP = 2, CLI_Q_CHAN = 3 };

struct cli_qmsg {
    enum cli_qkind kind;
    uint32_t chan;
    uint64_t seq;
    int64_t source_ns, received_ns;
    uint64_t publisher_node;
    uint64_t a, b, c; /* GAP: expected, received, missing; DROP: count, reason */
    const uint8_t *data;
    size_t len;
};

struct cli_msgq;
int cli_msgq_new(struct cli_msgq **out, size_t capacity);
void cli_msgq_free(struct cli_msgq *q);
/* Copy @m in. Returns false when it does not fit (nothing queued); @force
 * queues it anyway, outside the bound (for rare events). */
bool cli_msgq_push(struct cli_msgq *q, const struct cli_qmsg *m, bool force);
/* The oldest message, without removing it: true if there is one. Its data
 * stays valid until cli_msgq_pop(). Consumer only (one thread). */
bool cli_msgq_peek(struct cli_msgq *q, struct cli_qmsg *m);
void cli_msgq_pop(struct cli_msgq *q);
/* Readable when messages may be waiting; cli_msgq_peek() re-arms it. */
int cli_msgq_fd(const struct cli_msgq *q);
size_t cli_msgq_bytes(struct cli_msgq *q);
size_t cli_msgq_capacity(const struct cli_msgq *q);

/* ---- recordings (bag.c) ---- */

struct ax_mcap_reader;
struct ax_mcap_channel;
/* The type of a recorded channel: its schema's name, or for raw channels
 * the type name the recorder kept in the channel's metadata. */
const char *cli_channel_type(const struct ax_mcap_reader *r, const struct ax_mcap_channel *ch);
struct ax_mcap_info;
/* Why a recovered file (info->recovered) could not be read from its
 * summary, for the notices of bag info and play: "the file was not closed
 * properly", "summary CRC mismatch", ... */
const char *cli_bag_damage(const struct ax_mcap_info *in);

/* ---- the verbs' handlers (one file per group; the table is in verbs.c) ---- */

cli_handler cli_verb_node_list, cli_verb_node_info;                        /* node.c */
cli_handler cli_verb_topic_list, cli_verb_topic_info, cli_verb_topic_type; /* topic.c */
cli_handler cli_verb_topic_echo;                                           /* echo.c */
cli_handler cli_verb_topic_hz, cli_verb_topic_bw, cli_verb_topic_delay;    /* rate.c */
cli_handler cli_verb_topic_pub;                                            /* pub.c */
/* doctor_services.c: the findings about services (of @name, or all),
 * each handed to @add; true when the table has servers or clients (of
 * @name). */
typedef void (*cli_doctor_add_fn)(void *report, const char *kind, const char *name,
                                  const char *summary, const char *fix);
bool cli_doctor_services(struct cli *c, const char *name, cli_doctor_add_fn add, void *report);
/* verbs_rpc.c: the verbs of the groups "service", "param" and "bridge". */
extern const struct cli_verb cli_service_verbs[], cli_param_verbs[], cli_bridge_verbs[];
cli_handler cli_verb_service_list, cli_verb_service_info, cli_verb_service_call; /* service.c */
cli_handler cli_verb_param_list, cli_verb_param_get, cli_verb_param_set, cli_verb_param_dump,
    cli_verb_param_load;                            /* param.c */
cli_handler cli_verb_type_list, cli_verb_type_show; /* type.c */
cli_handler cli_verb_doctor;                        /* doctor.c */
/* doctor_fix.c: the advice for a subscription's last error (an AX_E* code). */
const char *cli_doctor_connect_fix(int err);
cli_handler cli_verb_record;                      /* record.c */
cli_handler cli_verb_bridge_foxglove;             /* bridge.c (verbs_rpc.c without libwebsockets) */
cli_handler cli_verb_play;                        /* play.c */
cli_handler cli_verb_bag_info;                    /* bag.c */
cli_handler cli_verb_bag_verify;                  /* bag_verify.c */
cli_handler cli_verb_config;                      /* config.c */
cli_handler cli_verb_keygen;                      /* keygen.c */
cli_handler cli_verb_cert_ca, cli_verb_cert_node; /* cert.c */
cli_handler cli_verb_completion;                  /* complete.c: reads c->verbs */

#endif /* AXON_CLI_H */
