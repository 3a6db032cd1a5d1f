/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the decoder of Foxglove WebSocket client messages
 * (tools/axon/bridge_json.c, compiled in alone): any browser that reaches
 * `axon bridge foxglove` sends these, so the decoder must refuse anything
 * malformed with a reason, never crash, leak, read past the text (libFuzzer
 * hands it in a heap block of exactly its size) or write past the reason's
 * buffer. Debian's libcjson is not instrumented: coverage guides through
 * bridge_json.c only, and ASan sees cJSON's accesses only where they go
 * through libc (memcpy, strlen, ...).
 *
 * Properties, besides "no crash, no leak, no UB": a refusal says why, in a
 * NUL-terminated reason however small the buffer; an accepted message has
 * at most BRIDGE_MAX_OP_ITEMS entries of a known kind, each string
 * NUL-terminated inside its array and every advertised topic non-empty; the
 * same text decodes the same way again.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

static void check_op(const struct bridge_op *op)
{
    if (op->n > BRIDGE_MAX_OP_ITEMS)
        abort();
    switch (op->kind) {
    case BRIDGE_OP_SUBSCRIBE:
    case BRIDGE_OP_UNSUBSCRIBE:
    case BRIDGE_OP_UNADVERTISE:
        break;
    case BRIDGE_OP_ADVERTISE:
        for (size_t i = 0; i < op->n; i++) {
            const struct bridge_chan_req *c = &op->u.chans[i];
            if (!terminated(c->topic, sizeof c->topic) || !c->topic[0] ||
                !terminated(c->encoding, sizeof c->encoding) ||
                !terminated(c->schema_name, sizeof c->schema_name))
                abort();
        }
        break;
    case BRIDGE_OP_GET_PARAMS:
    case BRIDGE_OP_SET_PARAMS:
        if (op->n > BRIDGE_MAX_PARAM_ITEMS || !terminated(op->id, sizeof op->id))
            abort();
        for (size_t i = 0; i < op->n; i++)
            if (!terminated(op->u.params[i].name, sizeof op->u.params[i].name) ||
                (op->kind == BRIDGE_OP_SET_PARAMS &&
                 !terminated(op->u.params[i].value, sizeof op->u.params[i].value)))
                abort();
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Two decodings of 100 kB each: static, not on the stack. */
    static struct bridge_op a, b;
    char err[256];
    err[0] = 0;
    int rc = bridge_json_decode((const char *)data, size, &a, err, sizeof err);
    if (rc != 0 && rc != -1)
        abort();
    if (rc == -1 && (!err[0] || !terminated(err, sizeof err)))
        abort(); /* a refusal without a reason */
    if (rc == 0)
        check_op(&a);

    /* Again, with a reason buffer of 5 bytes in a heap block of that size
     * (ASan: nothing written past it), then with none at all. */
    char *small = malloc(5);
    if (!small)
        return 0;
    int rc2 = bridge_json_decode((const char *)data, size, &b, small, 5);
    if (rc2 != rc || (rc == -1 && (!terminated(small, 5) || strncmp(small, err, 4) != 0)))
        abort();
    free(small);
    if (bridge_json_decode((const char *)data, size, &b, NULL, 0) != rc)
        abort();
    if (rc == 0) {
        if (b.kind != a.kind || b.n != a.n)
            abort();
        bool params = a.kind == BRIDGE_OP_GET_PARAMS || a.kind == BRIDGE_OP_SET_PARAMS;
        size_t bytes = a.kind == BRIDGE_OP_SUBSCRIBE             ? a.n * sizeof a.u.subs[0]
                       : a.kind == BRIDGE_OP_ADVERTISE || params ? 0
                                                                 : a.n * sizeof a.u.ids[0];
        for (size_t i = 0; params && i < a.n; i++)
            if (strcmp(a.u.params[i].name, b.u.params[i].name) != 0 ||
                (a.kind == BRIDGE_OP_SET_PARAMS &&
                 strcmp(a.u.params[i].value, b.u.params[i].value) != 0))
                abort();
        if (memcmp(&a.u, &b.u, bytes) != 0)
            abort(); /* the same text decoded two ways */
        for (size_t i = 0; a.kind == BRIDGE_OP_ADVERTISE && i < a.n; i++)
            if (a.u.chans[i].id != b.u.chans[i].id ||
                strcmp(a.u.chans[i].topic, b.u.chans[i].topic) != 0 ||
                strcmp(a.u.chans[i].encoding, b.u.chans[i].encoding) != 0 ||
                strcmp(a.u.chans[i].schema_name, b.u.chans[i].schema_name) != 0)
                abort();
    }
    return 0;
}
