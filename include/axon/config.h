/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/config.h: the node configuration, loaded from YAML.
 *
 * struct ax_config is a plain struct a node is created from. Every field has
 * a default; one table of keys inside the library (core/config_table.c) gives
 * each YAML key its type, default, unit, range or validator and description.
 * The same table drives the YAML loader, the environment overrides,
 * ax_config_dump() (`axon config --defaults`) and the reference in
 * docs/configuration.md, so the four cannot disagree.
 *
 * ## Precedence
 *
 *   defaults (ax_config_init)  <  files loaded by the program
 *                              <  the file named by AXON_CONFIG
 *                              <  AXON_DOMAIN, AXON_PEERS, AXON_LOG_LEVEL
 *
 * A program calls ax_config_init(), then ax_config_load_file() for its own
 * file if it has one, then ax_config_apply_env(). Each load applies a YAML
 * document over the config: keys absent from the document keep their value.
 *
 * ## File format
 *
 * One YAML document whose top level maps section names (node, discovery,
 * transport, log) to mappings of keys, plus the qos map:
 *
 *   node: {name: perception, domain: 3}
 *   discovery:
 *     heartbeat: 100ms
 *     peers: [10.0.0.2, "10.0.0.3:7403"]
 *   qos:
 *     /sensors/lidar: {profile: sensor_data, history: 2}
 *
 * A section left empty ("discovery:" with its keys commented out) is fine; a
 * key with no value ("domain:") is an error. Durations need a unit (100ms,
 * 1.5s, 2m, 250us, 1000ns, 1h); sizes are bytes or take a unit (64MiB,
 * 16KiB, 1GiB, 8MB); bools are true/false, yes/no or on/off; enum values are
 * matched without regard to case.
 *
 * ## Errors
 *
 * An unknown key, a value of the wrong type or out of range, a YAML shape
 * other than the expected one (a list where a mapping belongs), a duplicate
 * key or a YAML syntax error makes the load fail with AX_ECONFIG and fills a
 * struct ax_config_error naming the file, the 1-based line and column and the
 * key ("discovery.heartbeat"). An unknown key close to a known one (by edit
 * distance) gets a "did you mean" suggestion. A failed load leaves the config
 * exactly as it was: documents are applied to a copy that replaces the
 * original only on success.
 *
 * ## Limits
 *
 * Everything read from a file is bounded: the file (or string) is at most
 * AX_CONFIG_FILE_MAX bytes, strings have the lengths of their fields, the
 * peers list has at most AX_CONFIG_PEERS_MAX entries and the qos map at most
 * AX_CONFIG_QOS_MAX topics. Exceeding a bound is an error naming the key and
 * the limit. YAML aliases (*name) are refused.
 *
 * ## Threads
 *
 * These functions touch only the structs passed to them (and, for
 * ax_config_apply_env(), the environment): any thread may call them, but one
 * struct must not be used by two threads at once while one of them writes
 * it. ax_config_apply_env() calls getenv() and must not race with setenv().
 */
#ifndef AXON_CONFIG_H
#define AXON_CONFIG_H

#include <stdio.h>

#include "axon/common.h"
#include "axon/loop.h"
#include "axon/qos.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a node finds the others (discovery.mode). */
enum ax_discovery_mode {
    /* Multicast on the loopback interface only: every node on this host, with
     * zero configuration and no dependency on the network setup. */
    AX_DISCOVERY_LOCAL = 0,
    /* Multicast on discovery.interface (any interface when empty). */
    AX_DISCOVERY_NETWORK = 1,
    /* Unicast to the hosts in discovery.peers only, where multicast is not
     * routed. */
    AX_DISCOVERY_PEERS = 2,
    /* No discovery: only nodes in this process see each other. */
    AX_DISCOVERY_OFF = 3
};

/* Bounds on what a configuration file may contain. */
#define AX_CONFIG_FILE_MAX  (1024 * 1024) /* bytes of one file or string */
#define AX_CONFIG_PEERS_MAX 256           /* entries of discovery.peers */
#define AX_CONFIG_PEER_MAX  259           /* bytes of one peer: 253 (name) + ":65535" */
#define AX_CONFIG_QOS_MAX   1024          /* topics in the qos map */
#define AX_CONFIG_TOPIC_MAX 255           /* bytes of a topic name in the qos map */

/* A QoS override for one topic (an entry of the qos map). */
struct ax_qos_override {
    char *topic; /* exact topic name, owned by the config */
    struct ax_qos qos;
};

/*
 * The configuration. Keys are given as YAML paths; the table in
 * docs/configuration.md has each one's type, default and range. Strings are
 * NUL-terminated within their arrays. Pointers are owned by the config and
 * released by ax_config_fini().
 */
/* TLS on TCP links (security.tls; docs/security.md). */
enum ax_tls_mode {
    AX_TLS_OFF = 0,  /* plaintext (with a domain key, still authenticated) */
    AX_TLS_PSK = 1,  /* TLS 1.3 keyed by the domain key: every key holder is trusted */
    AX_TLS_CERT = 2, /* TLS 1.3 with certificates from the fleet CA: names are proved */
};

struct ax_config {
    /* node.name: "" = derived from the program name when the node is made. */
    char node_name[64];
    /* node.domain: 0..232; nodes in different domains never see each other. */
    uint32_t domain;
    /* node.threads: loop threads the node starts, 0..64; 0 = the caller runs
     * the loop (spin). */
    uint32_t threads;
    /* node.busy_poll: 0..1 s; a loop polls this long before it sleeps
     * (struct ax_loop_options.busy_poll_ns). 0 = sleep at once. */
    int64_t busy_poll_ns;
    /* node.adaptive_poll: 0..1 s; after sending, a loop polls up to this
     * long while answers have been coming back faster than this (struct
     * ax_loop_options.adaptive_poll_ns). 0 = never. */
    int64_t adaptive_poll_ns;
    /* node.sched_policy, node.sched_priority, node.cpus: what the node's
     * loop threads are created with (struct ax_thread_rt); node.mlockall:
     * lock the process's memory when the node is made. */
    enum ax_sched_policy sched_policy;
    uint32_t sched_priority;
    char cpus[128];
    bool mlockall;
    /* node.use_sim_time: ax_node_now() and node timers follow the clock
     * messages on node.clock_topic instead of the wall clock. */
    bool use_sim_time;
    char clock_topic[256];
    struct {
        enum ax_discovery_mode mode; /* discovery.mode */
        char interface[64];          /* discovery.interface: name or IPv4, "" = any */
        char group[48];              /* discovery.group: IPv4 multicast group */
        uint16_t port;               /* discovery.port: base UDP port (+ 10 * domain) */
        uint8_t ttl;                 /* discovery.ttl: multicast TTL, network mode */
        char **peers;                /* discovery.peers: "host" or "host:port" */
        size_t npeers;
        int64_t heartbeat_ns;   /* discovery.heartbeat */
        int64_t lease_ns;       /* discovery.lease: > heartbeat */
        int64_t max_lease_ns;   /* discovery.max_lease: >= lease; peers' leases capped to it */
        int64_t refresh_ns;     /* discovery.refresh: full-state re-announcement */
        int64_t liveness_ns;    /* discovery.liveness: silent data link -> peer dropped */
        int64_t counters_ns;    /* discovery.counters: ask peers for counters, 0 = never */
        bool host_table;        /* discovery.host_table: beat in shared memory on one host */
        uint32_t max_nodes;     /* discovery.max_nodes: remote nodes kept in the table */
        uint32_t max_endpoints; /* discovery.max_endpoints: endpoints kept per remote node */
        uint32_t max_table_endpoints; /* discovery.max_table_endpoints: for all of them */
    } discovery;
    struct {
        char listen_address[48];     /* transport.listen_address: IPv4, "" = by mode */
        uint16_t port_min;           /* transport.port_min: 0 with port_max 0 = kernel */
        uint16_t port_max;           /* transport.port_max */
        uint32_t sndbuf;             /* transport.sndbuf: bytes, 0 = kernel default */
        uint32_t rcvbuf;             /* transport.rcvbuf: bytes, 0 = kernel default */
        uint32_t max_frame;          /* transport.max_frame: bytes */
        uint64_t queue_bytes;        /* transport.queue_bytes: per-connection bound */
        uint32_t queue_frames;       /* transport.queue_frames: per-connection bound */
        uint64_t block_bytes;        /* transport.block_bytes: queued to a block subscriber */
        bool crc_payload;            /* transport.crc_payload */
        int64_t connect_timeout_ns;  /* transport.connect_timeout */
        int64_t reconnect_min_ns;    /* transport.reconnect_min: first back-off */
        int64_t reconnect_max_ns;    /* transport.reconnect_max: back-off cap */
        int64_t frame_timeout_ns;    /* transport.frame_timeout: a begun frame's deadline */
        int64_t idle_timeout_ns;     /* transport.idle_timeout: accepted, no subscription */
        uint32_t max_links;          /* transport.max_links: accepted connections at once */
        uint32_t max_links_per_host; /* transport.max_links_per_host: from one IP address */
        enum ax_shm_use shm;         /* transport.shm: same-host shared memory */
        uint64_t shm_budget;         /* transport.shm_budget: bytes of chunks per publisher */
        uint32_t shm_threshold;      /* transport.shm_threshold: smaller messages are copied */
        uint32_t shm_quota;          /* transport.shm_quota: chunks one subscriber may hold */
        uint64_t shm_quota_bytes;    /* transport.shm_quota_bytes: and their bytes */
        uint32_t shm_chunk_min;      /* transport.shm_chunk_min: the smallest size class */
        uint32_t shm_segment;        /* transport.shm_segment: bytes of one segment */
    } transport;
    struct {
        char key_file[256];      /* security.key_file: the domain key; "" = the domain is open */
        enum ax_tls_mode tls;    /* security.tls: TLS on TCP links */
        char ca_file[256];       /* security.ca_file: the fleet CA (tls: cert) */
        char cert_file[256];     /* security.cert_file: this node's certificate (tls: cert) */
        char cert_key_file[256]; /* security.cert_key_file: its private key (tls: cert) */
        char policy_file[256];   /* security.policy_file: access control; "" = none */
    } security;
    /* qos: per-topic overrides, in the order they were first loaded. */
    struct ax_qos_override *qos;
    size_t nqos;
    /* log.level: an enum ax_log_level. Loading does not apply it; the node
     * does (ax_log_set_level()). */
    int log_level;
};

/* Where and why a load failed. */
struct ax_config_error {
    /* The file's path, the name given to ax_config_load_string(), or the
     * environment variable's name for ax_config_apply_env(). */
    char file[256];
    int line;          /* 1-based; 0 when the error has no position */
    int column;        /* 1-based; 0 when the error has no position */
    char key[128];     /* "discovery.heartbeat", "qos[/map].history"; "" if none */
    char message[256]; /* what is wrong, with the limit or the expected form */
};

/**
 * ax_config_init() - fill @cfg with the defaults.
 * @cfg: the config; any previous content is overwritten, not freed.
 *
 * The defaults are stored in the key table as text and parsed by the same
 * code as a file, so they obey their own ranges. Cannot fail.
 */
AX_API void ax_config_init(struct ax_config *cfg);

/**
 * ax_config_fini() - free what @cfg owns (the peers and the qos map) and
 * leave it as after ax_config_init(). NULL is a no-op.
 */
AX_API void ax_config_fini(struct ax_config *cfg);

/**
 * ax_config_copy() - deep-copy @src into @dst.
 * @dst: overwritten without being freed: call ax_config_fini() first if it
 *       holds a config.
 * @src: an initialised config.
 *
 * Returns 0, AX_EINVAL (NULL argument) or AX_ENOMEM; on failure @dst holds
 * the defaults and owns nothing.
 */
AX_API int ax_config_copy(struct ax_config *dst, const struct ax_config *src);

/**
 * ax_config_load_file() - apply the YAML document in the file @path over
 * @cfg.
 * @cfg: an initialised config. Keys absent from the file keep their value;
 *       discovery.peers is replaced as a whole when present; an entry of the
 *       qos map replaces the entry for the same topic and adds the others.
 * @path: the file.
 * @err: receives the error's position and text on failure; may be NULL.
 *
 * An empty file (or one holding only comments) changes nothing.
 *
 * Returns 0 on success. On failure @cfg is unchanged and the code is:
 * AX_ENOENT (no such file), AX_EACCES (permission denied), AX_ECONFIG (a
 * directory, larger than AX_CONFIG_FILE_MAX, YAML syntax error, unknown or
 * duplicate key, wrong shape, bad value, or a cross-key rule broken such as
 * discovery.lease <= discovery.heartbeat), AX_ENOMEM, AX_EINVAL (NULL @cfg or
 * @path), or another mapped OS error from reading the file.
 */
AX_API int ax_config_load_file(struct ax_config *cfg, const char *path,
                               struct ax_config_error *err);

/**
 * ax_config_load_string() - as ax_config_load_file(), from a NUL-terminated
 * YAML document in memory.
 * @name_for_errors: copied to err->file; NULL gives "<string>".
 *
 * Returns 0, AX_ECONFIG, AX_ENOMEM or AX_EINVAL as above; on failure @cfg is
 * unchanged.
 */
AX_API int ax_config_load_string(struct ax_config *cfg, const char *yaml,
                                 const char *name_for_errors, struct ax_config_error *err);

/**
 * ax_config_apply_env() - apply the environment over @cfg.
 *
 * In this order: AXON_CONFIG (a file to load, as ax_config_load_file()),
 * then AXON_DOMAIN (node.domain), AXON_PEERS (discovery.peers: a
 * comma-separated list that replaces the list) and AXON_LOG_LEVEL
 * (log.level). Values are checked exactly as in a file. An unset or empty
 * variable is ignored.
 *
 * Returns 0 on success. On failure @cfg is unchanged and the code is that of
 * ax_config_load_file() for AXON_CONFIG, or AX_ECONFIG for a bad value, with
 * err->file set to the variable's name ("AXON_DOMAIN") and err->key to the
 * key it overrides; AX_ENOMEM; AX_EINVAL (NULL @cfg).
 */
AX_API int ax_config_apply_env(struct ax_config *cfg, struct ax_config_error *err);

/**
 * ax_config_validate() - check every field of @cfg against its key's type and
 * range, and the cross-key rules (for a config built in code rather than
 * loaded). Returns 0, AX_ECONFIG (with @err naming the key; line 0) or
 * AX_EINVAL (NULL @cfg).
 */
AX_API int ax_config_validate(const struct ax_config *cfg, struct ax_config_error *err);

/**
 * ax_config_qos_for() - the QoS override for @topic.
 * @qos: receives the override's QoS when there is one.
 *
 * Topic names match exactly. Linear in the number of overrides (meant for
 * endpoint creation, not the message path). Returns 0 when an override
 * exists, AX_ENOTFOUND when none does (@qos untouched), AX_EINVAL (NULL
 * argument).
 */
AX_API int ax_config_qos_for(const struct ax_config *cfg, const char *topic, struct ax_qos *qos);

/* Flags for ax_config_dump(). */
enum ax_config_dump_flags {
    /* Precede each key with comments: description, type, unit, range,
     * default and environment variable. */
    AX_CONFIG_DUMP_COMMENTS = 1u << 0
};

/**
 * ax_config_dump() - write @cfg as a YAML document with every key and its
 * value. The output loads back (ax_config_load_*) to an equal config.
 * @flags: AX_CONFIG_DUMP_* bits.
 *
 * Returns 0, AX_EINVAL (NULL argument or unknown flag) or AX_EIO (a write to
 * @out failed).
 */
AX_API int ax_config_dump(const struct ax_config *cfg, FILE *out, unsigned flags);

/**
 * ax_config_write_reference() - write the key reference as Markdown tables
 * (key, type, default, range, environment variable, description): the
 * generated part of docs/configuration.md.
 *
 * Returns 0, AX_EINVAL (NULL @out) or AX_EIO.
 */
AX_API int ax_config_write_reference(FILE *out);

/**
 * ax_config_error_str() - format @err as "file:line:column: key: message"
 * (parts that are empty or 0 left out) into @buf.
 * @size: size of @buf; the text is truncated to fit and NUL-terminated.
 *
 * Returns @buf. Any thread.
 */
AX_API const char *ax_config_error_str(const struct ax_config_error *err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* AXON_CONFIG_H */
