/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deferred replies (axon/service.h): a call whose handler said it would
 * answer later, from any thread.
 *
 * A deferred call is on its service's list until it is answered. Who may
 * still be answered is decided on the service's shard (its link closing,
 * the service going), and the application answers from any thread, so the
 * two meet under one lock, process-wide: deferred replies are a few per
 * call, never a data path, and one lock keeps the service's lifetime out
 * of the question. Answering packs the reply on the caller's thread and
 * posts the sending to the shard, under that lock while the service is
 * there: a service is freed on its shard, which takes the lock to forget
 * its deferred calls, so the loop a reply is posted to is alive. The task
 * then sends on the client's link if it is still the one the call came
 * on, and frees the call.
 *
 * A client cannot make the server hold more than max_pending of them: its
 * link is not read while its queued replies and deferred calls together
 * reach max_pending (service.c), and is read again from here when they
 * come down to half.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>

#include "core/ax__service.h"

struct ax_service_deferred {
    struct ax_service *srv; /* NULL once the service went (under dlock) */
    struct ax__psub *ps;    /* the client's link; NULL once it went (under dlock) */
    uint32_t stream;
    uint64_t id;
    const ProtobufCMessageDescriptor *rep_desc;
    ax__buf *reply; /* the answer: a packed reply, */
    int handler;    /* or a refusal with this code */
    char why[AX_CALL_REASON_MAX];
    struct ax__qnode node; /* in srv->deferred */
};

static pthread_mutex_t dlock = PTHREAD_MUTEX_INITIALIZER;

void ax__service_send_error(ax__link *l, uint32_t stream, uint64_t id, int code, int handler_code,
                            const char *reason)
{
    axon_ctl_CallError e = axon_ctl_CallError_init_zero;
    e.error = (uint32_t)-code;
    e.handler_error = (uint32_t)-handler_code;
    snprintf(e.reason, sizeof e.reason, "%s", reason ? reason : "");
    uint8_t buf[AX__LINK_CONTROL_MAX];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&os, axon_ctl_CallError_fields, &e))
        return;
    struct ax__frame_hdr h = {
        .type = AX__FRAME_REPLY, .flags = AX__FRAME_F_ERROR, .stream = stream, .seq = id};
    ax__link_send_bytes(l, &h, buf, os.bytes_written);
}

void ax__service_send_reply(ax__link *l, const char *name, uint32_t stream, uint64_t id,
                            ax__buf *reply)
{
    uint64_t max = l->peer.max_frame;
    if (max && reply->len > max) {
        char why[AX_CALL_REASON_MAX];
        snprintf(why, sizeof why, "%s: the reply (%u bytes) is larger than the client takes", name,
                 (unsigned)reply->len);
        ax__service_send_error(l, stream, id, AX_EMSGSIZE, 0, why);
        return;
    }
    struct ax__frame_hdr h = {.type = AX__FRAME_REPLY, .stream = stream, .seq = id};
    ax__link_send(l, &h, reply);
}

void ax__service_maybe_resume(struct ax__psub *ps)
{
    if (!ps->svc_paused || !ps->svc)
        return;
    uint64_t frames, bytes;
    ax__link_queued(ps->link, &frames, &bytes);
    if (frames + ps->svc_deferred < ps->svc->max_pending / 2 + 1) {
        ps->svc_paused = false;
        ax__link_set_reading(ps->link, true);
    }
}

ax_service_deferred *ax_service_defer(struct ax_service_call *call)
{
    struct ax__call_state *st = call ? call->priv_ : NULL;
    if (!st || st->deferred)
        return NULL;
    struct ax_service_deferred *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->srv = st->srv;
    d->ps = st->ps;
    d->stream = st->srv->ep.id;
    d->id = st->id;
    d->rep_desc = ax_type_descriptor(st->srv->rep);
    pthread_mutex_lock(&dlock);
    ax__list_push_back(&st->srv->deferred, &d->node);
    pthread_mutex_unlock(&dlock);
    st->ps->svc_deferred++;
    st->deferred = d;
    return d;
}

/* On the shard: send @d's answer if its client is still there; free it. */
static void answer_task(void *arg)
{
    struct ax_service_deferred *d = arg;
    pthread_mutex_lock(&dlock);
    struct ax_service *srv = d->srv;
    struct ax__psub *ps = d->ps;
    if (srv)
        ax__list_remove(&d->node);
    pthread_mutex_unlock(&dlock);
    if (srv && ps && ps->svc == srv) {
        ps->svc_deferred--;
        if (d->reply) {
            ax__service_send_reply(ps->link, srv->ep.topic, d->stream, d->id, d->reply);
        } else {
            atomic_fetch_add(&srv->refused, 1);
            ax__service_send_error(ps->link, d->stream, d->id, AX_EREFUSED, d->handler, d->why);
        }
        ax__service_maybe_resume(ps);
    }
    if (d->reply)
        ax__buf_release(d->reply);
    free(d);
}

/* Hand @d (its answer set) to its shard, or free it: nobody to answer. */
static int answer(struct ax_service_deferred *d)
{
    pthread_mutex_lock(&dlock);
    int rc = d->srv && d->ps ? 0 : AX_ECLOSED;
    if (rc == 0)
        rc = ax_loop_post(d->srv->shard->loop, answer_task, d);
    if (rc < 0 && d->srv)
        ax__list_remove(&d->node); /* its call ends when its link does */
    pthread_mutex_unlock(&dlock);
    if (rc < 0) {
        if (d->reply)
            ax__buf_release(d->reply);
        free(d);
    }
    return rc;
}

int ax_service_reply(ax_service_deferred *d, const ProtobufCMessage *rep)
{
    if (!d || !rep || rep->descriptor != d->rep_desc)
        return AX_EINVAL;
    size_t len = protobuf_c_message_get_packed_size(rep);
    if (ax__buf_new(len, &d->reply) < 0) {
        d->reply = NULL; /* the client is told, if it can be */
        d->handler = AX_ENOMEM;
        snprintf(d->why, sizeof d->why, "server out of memory");
        (void)answer(d);
        return AX_ENOMEM;
    }
    protobuf_c_message_pack(rep, d->reply->data);
    return answer(d);
}

int ax_service_refuse(ax_service_deferred *d, int code, const char *why)
{
    if (!d || code >= 0)
        return AX_EINVAL;
    d->handler = code;
    snprintf(d->why, sizeof d->why, "%s", why && *why ? why : ax_strerror(code));
    return answer(d);
}

bool ax_service_deferred_gone(const ax_service_deferred *d)
{
    if (!d)
        return true;
    pthread_mutex_lock(&dlock);
    bool gone = !d->srv || !d->ps;
    pthread_mutex_unlock(&dlock);
    return gone;
}

void ax__deferred_link_gone(struct ax_service *srv, const struct ax__psub *ps)
{
    pthread_mutex_lock(&dlock);
    ax__qnode *n;
    ax__list_foreach(n, &srv->deferred)
    {
        struct ax_service_deferred *d = ax__container_of(n, struct ax_service_deferred, node);
        if (d->ps == ps)
            d->ps = NULL;
    }
    pthread_mutex_unlock(&dlock);
}

void ax__deferred_service_gone(struct ax_service *srv)
{
    pthread_mutex_lock(&dlock);
    while (!ax__list_empty(&srv->deferred)) {
        struct ax_service_deferred *d =
            ax__container_of(srv->deferred.next, struct ax_service_deferred, node);
        ax__list_remove(&d->node);
        d->srv = NULL; /* answered later: freed there (or by its task) */
    }
    pthread_mutex_unlock(&dlock);
}
