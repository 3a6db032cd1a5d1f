/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retained messages: a message kept past its callback (ax_msg_retain()),
 * by the application or by a subscription's own queue (sub_queue.c). A
 * message whose buffer is its own bytes keeps that buffer (zero copy: a
 * shared-memory chunk stays mapped and counted against its publisher's
 * quota until released); any other is copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ax__pubsub.h"

struct retained {
    struct ax_msg msg; /* first: what the application holds */
    ax__buf *buf;      /* held, or NULL: the bytes follow the strings */
    char topic[AX_TOPIC_MAX];
    char type_name[AX_TYPE_NAME_MAX];
};

int ax_msg_retain(const struct ax_msg *msg, struct ax_msg **out)
{
    if (!msg || !out)
        return AX_EINVAL;
    ax__buf *buf = msg->buf_;
    /* A buffer whose bytes are not this message's (a view into a larger
     * one) would be kept whole for nothing: copy then. */
    if (buf && (buf->data != msg->data || buf->len != msg->len))
        buf = NULL;
    struct retained *r = malloc(sizeof *r + (buf ? 0 : msg->len));
    if (!r)
        return AX_ENOMEM;
    r->msg = *msg;
    r->msg.priv_ = NULL;
    snprintf(r->topic, sizeof r->topic, "%s", msg->topic ? msg->topic : "");
    snprintf(r->type_name, sizeof r->type_name, "%s", msg->type_name ? msg->type_name : "");
    r->msg.topic = r->topic;
    r->msg.type_name = r->type_name;
    r->buf = buf;
    if (buf) {
        ax__buf_hold(buf); /* zero copy: the chunk (or payload) stays */
    } else {
        uint8_t *copy = (uint8_t *)(r + 1);
        if (msg->len)
            memcpy(copy, msg->data, msg->len);
        r->msg.data = copy;
    }
    r->msg.buf_ = buf; /* retained again: the same buffer, held once more */
    *out = &r->msg;
    return 0;
}

void ax_msg_release(struct ax_msg *msg)
{
    if (!msg)
        return;
    struct retained *r = (struct retained *)msg;
    if (r->buf)
        ax__buf_release(r->buf);
    free(r);
}
