/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon bridge foxglove: the objects the bridge's files share.
 *
 * One thread (the verb's) runs the libwebsockets service loop and owns
 * everything here: the channels, the clients, their subscriptions, the
 * HTTP answers. The node's loop thread only runs the subscription
 * callbacks, which copy a message once into a frame and queue a reference
 * to it on each subscribed client's bounded queue, under bridge->mu; that
 * mutex guards the queues, the client list and the counters the callbacks
 * touch, nothing else. lws_cancel_service() then wakes the service loop,
 * which asks lws for a writable callback on each client with frames.
 *
 * bridge.c: the verb, the service loop and the discovery sync;
 * bridge_ws.c: the WebSocket side (a client's life, its control messages,
 * its writes); bridge_http.c: the web monitor's files and its JSON API;
 * bridge_chan.c: channels (topics seen in the table), their subscriptions
 * and frames; bridge_json.c: the client control-message decoder (fuzzed);
 * bridge_b64.c: base64 for schemas.
 */
#ifndef AXON_CLI_BRIDGE_H
#define AXON_CLI_BRIDGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

struct lws;
struct lws_context;

/* Bounds on what one client may ask for: past them it is closed with the
 * reason (a subscribe storm is not allowed to grow the bridge). */
#define BRIDGE_MAX_OP_ITEMS       256         /* entries in one control message */
#define BRIDGE_MAX_CLIENT_SUBS    1024        /* subscriptions of one client */
#define BRIDGE_MAX_CLIENT_CHANS   256         /* channels one client advertises */
#define BRIDGE_MAX_TEXT           (64u << 10) /* a control message */
#define BRIDGE_MAX_BINARY         (16u << 20) /* a published message (client publish) */
#define BRIDGE_MAX_CLIENTS        64
#define BRIDGE_OPS_PER_SECOND     200         /* control messages per second and client */
#define BRIDGE_ENTRIES_PER_SECOND 4096        /* their entries (subscriptions, ...) */
#define BRIDGE_MAX_CLIENT_TEXT    (16u << 20) /* server text waiting for one client */
#define BRIDGE_FRAME_HEADER       13          /* opcode, u32 subscription, u64 time */
/* A frame goes out in WebSocket fragments of at most this: each fits a
 * socket that just became writable, so libwebsockets need not copy the
 * rest of a 1 MiB frame aside (it did: a third of the bridge's CPU with
 * slow readers). */
#define BRIDGE_WRITE_PIECE        (64u << 10)
/* A client being closed gets its close frame once it has sent nothing for
 * this long (see on_writable). */
#define BRIDGE_CLOSE_QUIET_NS     (100 * AX_NS_PER_MS)
#define BRIDGE_ECHO_IDLE_NS       (10 * AX_NS_PER_S)
#define BRIDGE_RATE_SAMPLES       8

/* ---- the client control messages (bridge_json.c) ---- */

enum bridge_op_kind {
    BRIDGE_OP_SUBSCRIBE,
    BRIDGE_OP_UNSUBSCRIBE,
    BRIDGE_OP_ADVERTISE,   /* client publish: the channels it will send on */
    BRIDGE_OP_UNADVERTISE, /* client publish */
    BRIDGE_OP_GET_PARAMS,  /* getParameters: u.params names (n 0: all) */
    BRIDGE_OP_SET_PARAMS,  /* setParameters: u.params names and values */
};

#define BRIDGE_MAX_PARAM_ITEMS 64                       /* names in one get or set */
#define BRIDGE_PARAM_NAME_MAX  (AX_NODE_NAME_MAX + 128) /* "NODE:PARAM" */

/* A parameter of a get or set: "NODE:PARAM", and for a set its value as
 * the text ax_param_remote_set() takes ("true", "12", "0.5", the string). */
struct bridge_param_req {
    char name[BRIDGE_PARAM_NAME_MAX];
    char value[1024];
};

struct bridge_sub_req {
    uint32_t id, channel;
};

struct bridge_chan_req {
    uint32_t id;
    char topic[AX_TOPIC_MAX];
    char encoding[32];
    char schema_name[AX_TYPE_NAME_MAX];
};

struct bridge_op {
    enum bridge_op_kind kind;
    size_t n; /* entries in the array of the kind */
    union {
        struct bridge_sub_req subs[BRIDGE_MAX_OP_ITEMS];        /* SUBSCRIBE */
        uint32_t ids[BRIDGE_MAX_OP_ITEMS];                      /* UNSUBSCRIBE, UNADVERTISE */
        struct bridge_chan_req chans[BRIDGE_MAX_OP_ITEMS];      /* ADVERTISE */
        struct bridge_param_req params[BRIDGE_MAX_PARAM_ITEMS]; /* GET/SET_PARAMS */
    } u;
    char id[128]; /* GET/SET_PARAMS: the request's "id" ("" none) */
};

/* Decode one text message of a client into @op. Returns 0, or -1 with the
 * reason in @err (which the client is closed with): not JSON, not an
 * object, no or an unknown "op", a missing or mistyped field, an id out of
 * range, more than BRIDGE_MAX_OP_ITEMS entries. Any thread; no state. */
int bridge_json_decode(const char *text, size_t len, struct bridge_op *op, char *err,
                       size_t errlen);

/* ---- base64 (bridge_b64.c) ---- */

/* @len bytes as base64 text, NUL-terminated, malloc'd; NULL: no memory. */
char *bridge_b64(const uint8_t *data, size_t len);

/* ---- frames: one message, shared by the clients it is queued for ---- */

enum bridge_frame_kind {
    BRIDGE_FRAME_MESSAGE = 0, /* opcode 1: a subscription id is patched in per client */
    BRIDGE_FRAME_BINARY,      /* another binary message, sent as it is */
    BRIDGE_FRAME_TEXT,        /* a JSON message (a service call's failure) */
};

struct bridge_frame {
    atomic_uint refs;
    enum bridge_frame_kind kind;
    size_t len;    /* header + payload, from data */
    uint8_t *data; /* LWS_PRE bytes into mem: the opcode, then a
                      subscription id each write patches in */
    uint8_t *mem;  /* malloc'd: LWS_PRE + len bytes */
};

struct bridge_qitem {
    struct bridge_frame *frame;
    uint32_t sub_id;
    uint32_t chan_id;
    struct bridge_qitem *next;
};

/* What one queued frame costs a client's budget: its bytes and the
 * bookkeeping around them (so a flood of empty messages is bounded too). */
#define BRIDGE_QITEM_COST(f) ((f)->len + sizeof(struct bridge_qitem) + 128)

/* ---- a channel: one (topic, type) the table has publishers of ---- */

struct bridge_conv;

struct bridge_chan {
    uint32_t id;
    char topic[AX_TOPIC_MAX]; /* as advertised (a converted one: "/t/foxglove") */
    char axon_topic[AX_TOPIC_MAX];
    uint64_t node_id; /* the publisher first seen: its schema */
    char type_name[AX_TYPE_NAME_MAX];
    uint8_t hash[AX_TYPE_HASH_SIZE];
    struct cli_type type; /* its schema: what advertise sends, echo decodes */
    char *schema_b64;     /* NULL: no schema yet (not advertised) */
    const char *schema_name;
    const struct bridge_conv *conv; /* offered as a foxglove.* schema */
    int64_t retry_at;               /* when to ask for the schema again */
    bool asking;                    /* a schema job is out */
    bool advertised;                /* to the clients (its schema is known) */
    struct ax_qos qos;              /* the first publisher's (the subscription asks for it) */
    struct bridge *b;
    ax_sub *sub;      /* while a client subscribes */
    unsigned clients; /* client subscriptions on it */
    bool seen;        /* in the last sync */
    struct bridge_chan *next;
};

/* A service server the table shows (bridge_svc.c). */
struct bridge_svc {
    uint32_t id; /* 0: not offered (a type axon was not built with) */
    char name[AX_TOPIC_MAX];
    uint8_t req_hash[AX_TYPE_HASH_SIZE], rep_hash[AX_TYPE_HASH_SIZE];
    const ax_type *req, *rep;
    char *req_b64, *rep_b64;
    ax_client *client; /* made at the first call */
    bool seen;
    struct bridge *b;
    struct bridge_svc *next;
};

struct bridge_svc_changes {
    struct bridge_svc *fresh[64];
    size_t nfresh;
    struct bridge_svc *gone[64];
    size_t ngone;
};

/* A client subscription. */
struct bridge_csub {
    uint32_t id, chan;
    uint64_t sent, dropped; /* under b->mu */
};

/* A channel a client publishes on (--client-publish). */
struct bridge_cpub {
    uint32_t id;
    ax_pub *pub;
    struct cli_type type;
};

struct bridge_client {
    struct bridge *b;
    struct lws *wsi;
    uint64_t serial; /* for logs: "client 3" */
    char peer[64];
    /* Text to send, oldest first (service thread only). */
    char **text;
    size_t ntext, captext;
    size_t text_bytes;  /* past BRIDGE_MAX_CLIENT_TEXT it is closed */
    bool broken;        /* closed at its next writable callback */
    bool closing;       /* close_code and close_reason go out at the next one */
    int64_t last_rx_ns; /* monotonic: the last bytes from it */
    int close_code;
    char close_reason[120];
    /* Frames to send (under b->mu), and their payload bytes. */
    struct bridge_qitem *head, *tail;
    size_t queued_bytes;
    /* The frame being written, in pieces (service thread only). */
    struct bridge_qitem *cur;
    size_t cur_off;
    uint64_t dropped, dropped_said; /* under b->mu */
    struct bridge_csub subs[BRIDGE_MAX_CLIENT_SUBS];
    size_t nsubs; /* written under b->mu (the callbacks read subs) */
    struct bridge_cpub *pubs;
    size_t npubs;
    /* The message being received, over its fragments. */
    uint8_t *rx;
    size_t rxlen;
    bool rx_binary;
    /* Rate limit on control messages: this second's start and count. */
    int64_t ops_window;
    unsigned ops, entries;
    int64_t drop_said_at, binary_said_at; /* statuses at most once a second */
    struct bridge_client *next;
};

/* The newest message of a topic the web page echoes. */
struct bridge_echo {
    char topic[AX_TOPIC_MAX];
    struct bridge_chan *chan; /* borrowed; NULL when its channel went */
    ax_sub *sub;
    struct ax_msg *msg; /* newest message, retained (under b->mu) */
    int64_t last_asked; /* monotonic: the subscription ends when idle */
    struct bridge_echo *next;
};

/* Publisher counters over time, for rates. */
struct bridge_rate {
    uint64_t node_id;
    uint32_t ep_id;
    char topic[AX_TOPIC_MAX];
    struct {
        int64_t stamp;
        uint64_t messages, bytes;
    } s[BRIDGE_RATE_SAMPLES];
    size_t n;
    bool seen;
};

/* A schema asked of the nodes off the service thread (bridge_schema.c). */
struct bridge_schema_job {
    uint32_t chan;
    char type_name[AX_TYPE_NAME_MAX];
    uint8_t hash[AX_TYPE_HASH_SIZE];
    uint64_t node_id; /* asked first */
    int rc;           /* 0: type holds the schema (the taker owns it) */
    struct cli_type type;
    struct bridge_schema_job *next;
};

struct bridge_schema_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stop;
    struct bridge_schema_job *todo, *done;
};

/* Parameter requests, answered off the service thread (bridge_param.c). */
struct bridge_param_job;
#define BRIDGE_MAX_PARAM_JOBS 64
struct bridge_param_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stop;
    struct bridge_param_job *todo;
    size_t queued;
};

struct bridge {
    struct cli *c;
    struct lws_context *ctx;
    const char *address;
    int port;
    const char *token; /* NULL: none asked */
    bool loopback;     /* bound to a loopback address (Host is checked) */
    bool sim_time;     /* node.use_sim_time: the time capability */
    int64_t last_time; /* the last time message sent */
    const char *globs[16];
    size_t nglobs;
    bool client_publish;
    size_t max_queue; /* bytes per client */

    pthread_mutex_t mu;
    struct bridge_client *clients;
    size_t nclients;
    uint64_t next_serial;

    struct bridge_chan *chans;
    uint32_t next_chan;
    struct bridge_svc *svcs;
    uint32_t next_svc;
    struct bridge_echo *echoes;
    struct bridge_rate *rates;
    size_t nrates, caprates;

    struct bridge_schema_queue schemas;
    struct bridge_param_queue params;
    uint64_t forwarded, dropped; /* all clients, under mu */
    int64_t next_sync;
};

/* bridge_chan.c (service thread) */
/* What a sync changed: channels whose schema became known (to advertise)
 * and channels whose publishers left the table (taken off the list, not
 * yet freed: to unadvertise, then bridge_chan_free). Never more than the
 * arrays hold; the rest waits for the next sync. */
struct bridge_chan_changes {
    struct bridge_chan *fresh[64];
    size_t nfresh;
    struct bridge_chan *gone[64];
    size_t ngone;
};
/* Bring the channels in step with the table. */
void bridge_chan_sync(struct bridge *b, struct bridge_chan_changes *out);
void bridge_chan_free(struct bridge_chan *ch);
struct bridge_chan *bridge_chan_find(struct bridge *b, uint32_t id);
struct bridge_chan *bridge_chan_by_topic(struct bridge *b, const char *topic);
/* The advertise message for @only, or every channel (@only NULL):
 * malloc'd JSON text, NULL when there is nothing to say or no memory. */
char *bridge_chan_advertise_json(struct bridge *b, const struct bridge_chan *only);
/* The unadvertise message of @gone (those that were advertised); NULL
 * when none was or no memory. */
char *bridge_chan_unadvertise_json(struct bridge_chan *const *gone, size_t n);
/* A client subscription was added to / removed from @ch: subscribes the
 * bridge's node on the first, unsubscribes after the last. Returns 0 or an
 * AX_E* code. */
int bridge_chan_ref(struct bridge_chan *ch);
void bridge_chan_unref(struct bridge_chan *ch);
void bridge_chan_free_all(struct bridge *b);
/* Subscription callbacks of the echo subscriptions (bridge_http.c). */
void bridge_echo_on_msg(ax_sub *sub, const struct ax_msg *m, void *user);
/* @ch is going: the echoes of it stop (bridge_http.c). */
void bridge_echo_chan_gone(struct bridge *b, struct bridge_chan *ch);

/* bridge_chan.c: queue @f for the client @serial (a reply to it; 0: every
 * client), within its queue's bound; false: queued for nobody. Any
 * thread. */
bool bridge_queue_frame(struct bridge *b, uint64_t serial, struct bridge_frame *f);

/* bridge_chan.c: a frame holding JSON text (refs 1); NULL: no memory. */
struct bridge_frame *bridge_text_frame(const char *text, size_t len);
/* ... and one holding a binary message sent as it is. */
struct bridge_frame *bridge_binary_frame(const uint8_t *data, size_t len);

/* bridge_param.c: the parameter worker (start/stop as the schema
 * worker's). ask queues a getParameters or setParameters of client
 * @serial: 0, AX_ENOMEM, AX_EAGAIN (BRIDGE_MAX_PARAM_JOBS waiting). */
int bridge_param_start(struct bridge *b);
void bridge_param_stop(struct bridge *b);
int bridge_param_ask(struct bridge *b, uint64_t serial, const struct bridge_op *op);

/* bridge_svc.c (service thread, but the replies: loop thread) */
void bridge_svc_sync(struct bridge *b, struct bridge_svc_changes *out);
struct bridge_svc *bridge_svc_find(struct bridge *b, uint32_t id);
/* advertiseServices of @only (n of them), or of all (@only NULL);
 * unadvertiseServices of @gone. malloc'd; NULL: nothing to say. */
char *bridge_svc_advertise_json(struct bridge *b, struct bridge_svc *const *only, size_t n);
char *bridge_svc_unadvertise_json(struct bridge_svc *const *gone, size_t n);
void bridge_svc_free(struct bridge_svc *s);
void bridge_svc_free_all(struct bridge *b);
/* A client's service call request (binary opcode 2, @len bytes): made
 * asynchronously; the reply or failure is queued for client @serial.
 * Returns 0, or an AX_E* code with the reason in @why and the ids read
 * (for the serviceCallFailure the caller sends). */
int bridge_svc_call(struct bridge *b, uint64_t serial, const uint8_t *d, size_t len, char *why,
                    size_t whylen, uint32_t *svc_id, uint32_t *call_id);

/* bridge_schema.c: the schema worker. start/stop from the service thread
 * (stop before the lws context goes: the worker wakes it); ask queues a
 * job for @ch (false: no memory); take returns the answered jobs, which
 * the caller frees with bridge_schema_job_free (after taking or finishing
 * job->type). */
int bridge_schema_start(struct bridge *b);
void bridge_schema_stop(struct bridge *b);
bool bridge_schema_ask(struct bridge *b, const struct bridge_chan *ch);
struct bridge_schema_job *bridge_schema_take(struct bridge *b);
void bridge_schema_job_free(struct bridge_schema_job *j);

/* bridge_ws.c (service thread) */
extern const struct lws_protocols bridge_ws_protocol;
/* Queue @text (copied) for @cl; false: no memory (the client is closed). */
bool bridge_client_text(struct bridge_client *cl, const char *text);
/* Tell every client: @text, once each. */
void bridge_broadcast_text(struct bridge *b, const char *text);
/* Ask lws to write to the clients that have frames waiting. */
void bridge_wake_writers(struct bridge *b);
/* A channel is going: drop the clients' subscriptions on it (the client is
 * told by the unadvertise that follows). */
void bridge_clients_drop_chan(struct bridge *b, uint32_t chan);
void bridge_frame_unref(struct bridge_frame *f);

/* The web monitor's files, embedded at build time (bridge_assets.c,
 * generated from tools/axon/web by cmake/embed_files.cmake). */
struct bridge_asset {
    const char *path; /* "/", "/monitor.js" */
    const char *mime;
    const unsigned char *data;
    size_t len;
};
extern const struct bridge_asset bridge_assets[];
extern const size_t bridge_nassets;

/* bridge_http.c (service thread) */
extern const struct lws_protocols bridge_http_protocol;
/* Take a sample of the publishers' counters (each sync) and end idle
 * echo subscriptions. */
void bridge_http_tick(struct bridge *b);
void bridge_http_free(struct bridge *b);
/* Does the request of @wsi carry the token (or is none needed)? */
bool bridge_token_ok(struct bridge *b, struct lws *wsi);
/* May the request of @wsi be answered? 0: yes; 403: bound to loopback and
 * addressed to another name (DNS rebinding); 401: no or a wrong token. */
unsigned bridge_request_check(struct bridge *b, struct lws *wsi);

#endif /* AXON_CLI_BRIDGE_H */
