/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schemas the bridge does not have, fetched off the service thread.
 *
 * A type axon was not built with is asked of a publisher's node
 * (cli_type_resolve), which may take seconds when that node does not
 * answer. On the service thread that would stop every client's writes and
 * the monitor meanwhile, so one worker thread does the asking: the service
 * thread queues a job per channel (bridge_schema_ask) and takes the
 * answers at its next sync (bridge_schema_take); lws_cancel_service()
 * wakes it when one is ready.
 */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

static void *worker(void *arg)
{
    struct bridge *b = arg;
    struct bridge_schema_queue *q = &b->schemas;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->todo && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop)
            break;
        struct bridge_schema_job *j = q->todo;
        q->todo = j->next;
        pthread_mutex_unlock(&q->mu);

        struct cli_snap s;
        bool snap = cli_snap_take(b->c, NULL, &s) == 0;
        j->rc =
            cli_type_resolve(b->c, j->type_name, j->hash, snap ? &s : NULL, j->node_id, &j->type);
        if (snap)
            cli_snap_free(&s);
        if (j->rc == 0 && !j->type.fds) { /* raw: no node has a schema */
            cli_type_fini(&j->type);
            j->rc = AX_ENOTFOUND;
        }

        pthread_mutex_lock(&q->mu);
        j->next = q->done;
        q->done = j;
        lws_cancel_service(b->ctx);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int bridge_schema_start(struct bridge *b)
{
    struct bridge_schema_queue *q = &b->schemas;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    int rc = pthread_create(&q->thread, NULL, worker, b);
    if (rc != 0) {
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        return AX_ENOMEM;
    }
    q->running = true;
    return 0;
}

static void free_jobs(struct bridge_schema_job *j)
{
    while (j) {
        struct bridge_schema_job *next = j->next;
        if (j->rc == 0)
            cli_type_fini(&j->type);
        free(j);
        j = next;
    }
}

void bridge_schema_stop(struct bridge *b)
{
    struct bridge_schema_queue *q = &b->schemas;
    if (!q->running)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    /* A request in flight ends by its own timeout. */
    pthread_join(q->thread, NULL);
    q->running = false;
    for (struct bridge_schema_job *j = q->todo; j; j = j->next)
        j->rc = AX_ECLOSED;
    free_jobs(q->todo);
    free_jobs(q->done);
    q->todo = q->done = NULL;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

bool bridge_schema_ask(struct bridge *b, const struct bridge_chan *ch)
{
    struct bridge_schema_queue *q = &b->schemas;
    struct bridge_schema_job *j = calloc(1, sizeof *j);
    if (!j)
        return false;
    j->chan = ch->id;
    snprintf(j->type_name, sizeof j->type_name, "%s", ch->type_name);
    memcpy(j->hash, ch->hash, AX_TYPE_HASH_SIZE);
    j->node_id = ch->node_id;
    pthread_mutex_lock(&q->mu);
    /* Oldest first: appended at the tail. */
    struct bridge_schema_job **pp = &q->todo;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return true;
}

struct bridge_schema_job *bridge_schema_take(struct bridge *b)
{
    struct bridge_schema_queue *q = &b->schemas;
    pthread_mutex_lock(&q->mu);
    struct bridge_schema_job *j = q->done;
    q->done = NULL;
    pthread_mutex_unlock(&q->mu);
    return j;
}

void bridge_schema_job_free(struct bridge_schema_job *j)
{
    free(j);
}
