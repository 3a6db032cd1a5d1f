/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base64 (RFC 4648, the standard alphabet, with padding) for the schemas
 * the bridge advertises: Foxglove wants a protobuf schema, a binary
 * FileDescriptorSet, as base64 text in the advertise message's JSON.
 */
#include <stdint.h>
#include <stdlib.h>

#include "bridge.h"

static const char b64_abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *bridge_b64(const uint8_t *data, size_t len)
{
    /* Four characters per three bytes or part of them, and the NUL; the
     * size is checked before it is computed, so it cannot wrap. */
    size_t groups = len / 3 + (len % 3 != 0);
    if (groups > (SIZE_MAX - 1) / 4)
        return NULL;
    char *out = malloc(groups * 4 + 1);
    if (!out)
        return NULL;
    char *o = out;
    size_t i = 0;
    for (; len - i >= 3; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *o++ = b64_abc[v >> 18];
        *o++ = b64_abc[v >> 12 & 63];
        *o++ = b64_abc[v >> 6 & 63];
        *o++ = b64_abc[v & 63];
    }
    if (len - i) {
        /* One or two bytes left: two or three characters, then '=' padding. */
        uint32_t v = (uint32_t)data[i] << 16 | (len - i == 2 ? (uint32_t)data[i + 1] << 8 : 0);
        *o++ = b64_abc[v >> 18];
        *o++ = b64_abc[v >> 12 & 63];
        *o++ = len - i == 2 ? b64_abc[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return out;
}
