/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon's parameters, offered to Foxglove clients (capability
 * "parameters"): getParameters and setParameters, by the name
 * "NODE:PARAM" (':' is not allowed in a parameter's name, so the last one
 * splits). A node's parameters are its own (no parameter server); they are
 * read and set through its parameter service (ax_param_remote_list/set),
 * which waits for the node's answer, so a worker thread does it: the
 * service thread queues the client's request (bridge_param_ask) and the
 * answer (parameterValues, and a status naming what was refused) is queued
 * for that client like a message frame, by its serial.
 *
 * getParameters with no names lists every parameter of every node that has
 * any (the nodes offering "/axon/param/<name>").
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

#define REMOTE_TIMEOUT_NS (2 * AX_NS_PER_S)
#define PARAM_SERVICE     "/axon/param/"

struct bridge_param_job {
    uint64_t serial;
    bool set;
    char id[128];
    size_t n;
    struct bridge_param_req *params;
    struct bridge_param_job *next;
};

/* "NODE:PARAM" split at its last ':'; false: no ':' there. */
static bool split(const char *full, char *node, size_t nodecap, const char **param)
{
    const char *colon = strrchr(full, ':');
    if (!colon || colon == full || !colon[1] || (size_t)(colon - full) >= nodecap)
        return false;
    memcpy(node, full, (size_t)(colon - full));
    node[colon - full] = '\0';
    *param = colon + 1;
    return true;
}

struct answer {
    FILE *f; /* parameterValues being written */
    char *text;
    size_t len;
    struct cli_json j;
    char problems[512];
    unsigned nproblems;
};

static void problem(struct answer *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct answer *a, const char *fmt, ...)
{
    if (a->nproblems++ > 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->problems, sizeof a->problems, fmt, ap);
    va_end(ap);
}

static void put_value(struct cli_json *j, const char *node, const struct ax_param_info *p)
{
    char name[BRIDGE_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s:%s", node, p->name);
    cj_obj(j, NULL);
    cj_str(j, "name", name);
    switch (p->type) {
    case AX_PARAM_BOOL:
        cj_bool(j, "value", strcmp(p->value, "true") == 0);
        break;
    case AX_PARAM_INT:
        cj_int(j, "value", strtoll(p->value, NULL, 10));
        break;
    case AX_PARAM_DOUBLE:
        cj_num(j, "value", strtod(p->value, NULL));
        cj_str(j, "type", "float64"); /* so 1.0 is not taken for an integer */
        break;
    default:
        cj_str(j, "value", p->value);
        break;
    }
    cj_end_obj(j);
}

/* The values of @node's parameters named in @want (all when @nwant is 0). */
static void list_node(struct bridge *b, struct answer *a, const char *node, const char *const *want,
                      size_t nwant)
{
    struct ax_param_info *ps = NULL;
    size_t n = 0;
    char why[256] = "";
    int rc = ax_param_remote_list(b->c->node, node, REMOTE_TIMEOUT_NS, &ps, &n, why, sizeof why);
    if (rc < 0) {
        problem(a, "parameters of node '%s': %s%s%s", node, ax_strerror(rc), why[0] ? ": " : "",
                why);
        return;
    }
    for (size_t w = 0; w < (nwant ? nwant : 1); w++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            if (!nwant || strcmp(ps[i].name, want[w]) == 0) {
                put_value(&a->j, node, &ps[i]);
                found = true;
            }
        if (nwant && !found)
            problem(a, "node '%s' has no parameter '%s'", node, want[w]);
    }
    free(ps);
}

/* The jobs' names grouped by node: each node asked once. */
static void get_named(struct bridge *b, struct answer *a, const struct bridge_param_job *job)
{
    bool *done = calloc(job->n + 1, sizeof *done);
    const char **want = calloc(job->n + 1, sizeof *want);
    if (!done || !want) {
        problem(a, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < job->n; i++) {
        char node[AX_NODE_NAME_MAX];
        const char *param;
        if (done[i])
            continue;
        if (!split(job->params[i].name, node, sizeof node, &param)) {
            problem(a, "'%s' is not NODE:PARAM", job->params[i].name);
            continue;
        }
        size_t nwant = 0;
        for (size_t k = i; k < job->n; k++) {
            char other[AX_NODE_NAME_MAX];
            const char *p;
            if (!done[k] && split(job->params[k].name, other, sizeof other, &p) &&
                strcmp(other, node) == 0) {
                want[nwant++] = p;
                done[k] = true;
            }
        }
        list_node(b, a, node, want, nwant);
    }
out:
    free(done);
    free(want);
}

static void get_all(struct bridge *b, struct answer *a)
{
    struct cli_snap s;
    if (cli_snap_take_kind(b->c, NULL, true, &s) < 0)
        return;
    for (size_t i = 0; i < s.neps; i++) {
        const char *name = s.eps[i].topic;
        if (s.eps[i].kind == AX_ENDPOINT_SERVICE &&
            strncmp(name, PARAM_SERVICE, strlen(PARAM_SERVICE)) == 0)
            list_node(b, a, name + strlen(PARAM_SERVICE), NULL, 0);
    }
    cli_snap_free(&s);
}

/* Each node's names of the set, set in one call per node. */
static void set_named(struct bridge *b, struct answer *a, const struct bridge_param_job *job)
{
    const char **names = calloc(job->n + 1, sizeof *names);
    const char **values = calloc(job->n + 1, sizeof *values);
    struct ax_param_result *res = calloc(job->n + 1, sizeof *res);
    bool *done = calloc(job->n + 1, sizeof *done);
    if (!names || !values || !res || !done) {
        problem(a, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < job->n; i++) {
        char node[AX_NODE_NAME_MAX];
        const char *param;
        if (done[i])
            continue;
        if (!split(job->params[i].name, node, sizeof node, &param)) {
            problem(a, "'%s' is not NODE:PARAM", job->params[i].name);
            continue;
        }
        size_t n = 0;
        for (size_t k = i; k < job->n; k++) {
            char other[AX_NODE_NAME_MAX];
            const char *p;
            if (!done[k] && split(job->params[k].name, other, sizeof other, &p) &&
                strcmp(other, node) == 0) {
                names[n] = p;
                values[n++] = job->params[k].value;
                done[k] = true;
            }
        }
        char why[256] = "";
        int rc = ax_param_remote_set(b->c->node, node, names, values, n, REMOTE_TIMEOUT_NS, res,
                                     why, sizeof why);
        if (rc < 0) {
            problem(a, "setting parameters of node '%s': %s%s%s", node, ax_strerror(rc),
                    why[0] ? ": " : "", why);
            continue;
        }
        for (size_t k = 0; k < n; k++)
            if (res[k].error)
                problem(a, "%s:%s refused: %s", node, res[k].name,
                        res[k].reason[0] ? res[k].reason : ax_strerror(res[k].error));
    }
out:
    free(names);
    free(values);
    free(res);
    free(done);
}

static void queue_text(struct bridge *b, uint64_t serial, const char *text, size_t len)
{
    struct bridge_frame *f = bridge_text_frame(text, len);
    if (!f)
        return;
    if (bridge_queue_frame(b, serial, f))
        lws_cancel_service(b->ctx);
    bridge_frame_unref(f);
}

static void run(struct bridge *b, const struct bridge_param_job *job)
{
    struct answer a = {0};
    a.f = open_memstream(&a.text, &a.len);
    if (!a.f)
        return;
    if (job->set)
        set_named(b, &a, job);
    cj_init(&a.j, a.f);
    cj_obj(&a.j, NULL);
    cj_str(&a.j, "op", "parameterValues");
    cj_arr(&a.j, "parameters");
    /* After a set: the values now (what was refused keeps its old one). */
    if (job->n == 0 && !job->set)
        get_all(b, &a);
    else
        get_named(b, &a, job);
    cj_end_arr(&a.j);
    if (job->id[0])
        cj_str(&a.j, "id", job->id);
    cj_end_obj(&a.j);
    if (fclose(a.f) == 0)
        queue_text(b, job->serial, a.text, a.len);
    free(a.text);
    if (a.nproblems) {
        char *st = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&st, &len);
        if (!f)
            return;
        char msg[600];
        snprintf(msg, sizeof msg, "%s%s", a.problems,
                 a.nproblems > 1 ? " (and more problems in that request)" : "");
        struct cli_json j;
        cj_init(&j, f);
        cj_obj(&j, NULL);
        cj_str(&j, "op", "status");
        cj_int(&j, "level", 2);
        cj_str(&j, "message", msg);
        cj_end_obj(&j);
        if (fclose(f) == 0)
            queue_text(b, job->serial, st, len);
        free(st);
    }
}

static void job_free(struct bridge_param_job *j)
{
    free(j->params);
    free(j);
}

static void *worker(void *arg)
{
    struct bridge *b = arg;
    struct bridge_param_queue *q = &b->params;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->todo && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop)
            break;
        struct bridge_param_job *j = q->todo;
        q->todo = j->next;
        q->queued--;
        pthread_mutex_unlock(&q->mu);
        run(b, j);
        job_free(j);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int bridge_param_start(struct bridge *b)
{
    struct bridge_param_queue *q = &b->params;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    if (pthread_create(&q->thread, NULL, worker, b) != 0) {
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        return AX_ENOMEM;
    }
    q->running = true;
    return 0;
}

void bridge_param_stop(struct bridge *b)
{
    struct bridge_param_queue *q = &b->params;
    if (!q->running)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL); /* a request in flight ends by its timeout */
    q->running = false;
    while (q->todo) {
        struct bridge_param_job *j = q->todo;
        q->todo = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

int bridge_param_ask(struct bridge *b, uint64_t serial, const struct bridge_op *op)
{
    struct bridge_param_queue *q = &b->params;
    struct bridge_param_job *j = calloc(1, sizeof *j);
    if (!j || (op->n && !(j->params = malloc(op->n * sizeof *j->params)))) {
        free(j);
        return AX_ENOMEM;
    }
    j->serial = serial;
    j->set = op->kind == BRIDGE_OP_SET_PARAMS;
    snprintf(j->id, sizeof j->id, "%s", op->id);
    j->n = op->n;
    if (op->n)
        memcpy(j->params, op->u.params, op->n * sizeof *j->params);
    pthread_mutex_lock(&q->mu);
    /* Each request may wait seconds for nodes: a client cannot pile up
     * more than a few (the whole bridge: BRIDGE_MAX_PARAM_JOBS). */
    if (q->queued >= BRIDGE_MAX_PARAM_JOBS) {
        pthread_mutex_unlock(&q->mu);
        job_free(j);
        return AX_EAGAIN;
    }
    struct bridge_param_job **pp = &q->todo;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    q->queued++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}
