/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration values: how a value of each key type is parsed from text,
 * checked against its row, stored into and read back from its field,
 * formatted as YAML and described for the docs. The rows themselves are in
 * config_table.c; durations and sizes use the grammar of base/units.c.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "axon/units.h"
#include "core/ax__config.h"

const char *ax__cfg_type_name(enum ax__cfg_type type)
{
    switch (type) {
    case AX__CFG_STRING:
        return "string";
    case AX__CFG_UINT:
        return "integer";
    case AX__CFG_BOOL:
        return "bool";
    case AX__CFG_DURATION:
        return "duration";
    case AX__CFG_SIZE:
        return "size";
    case AX__CFG_ENUM:
        return "enum";
    case AX__CFG_IPV4:
        return "IPv4 address";
    case AX__CFG_MCAST:
        return "IPv4 multicast group";
    case AX__CFG_LIST:
        return "list of strings";
    case AX__CFG_QOSMAP:
        return "map of topic to QoS";
    }
    return "?";
}

/* ---- value syntaxes (durations and sizes: base/units.c) ---- */

int ax__cfg_parse_bool(const char *text, bool *b)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *b = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *b = false;
            return 0;
        }
    }
    return -1;
}

int ax__cfg_quote(const char *s, char *buf, size_t size)
{
    size_t o = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (o + 1 < size)                                                                          \
            buf[o] = (c);                                                                          \
        o++;                                                                                       \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            PUT('\\');
            PUT((char)*p);
        } else if (*p < 0x20 || *p == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            PUT('\\');
            PUT('x');
            PUT(hex[*p >> 4]);
            PUT(hex[*p & 15]);
        } else {
            PUT((char)*p);
        }
    }
    PUT('"');
#undef PUT
    if (size)
        buf[o < size ? o : size - 1] = 0;
    return (int)o;
}

/* ---- parse, check, store, load, format ---- */

static int parse_uint(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    if (!*text)
        return -1;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

static void names_list(const char *const *names, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; names[i] && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", names[i]);
}

int ax__cfg_check(const struct ax__cfg_key *k, const union ax__cfg_val *v, char *msg, size_t msglen)
{
    char lo[32], hi[32];
    struct in_addr a;
    switch (k->type) {
    case AX__CFG_UINT:
        if (v->u < k->min || v->u > k->max) {
            snprintf(msg, msglen, "%" PRIu64 " is out of range %" PRIu64 "..%" PRIu64, v->u, k->min,
                     k->max);
            return -1;
        }
        return 0;
    case AX__CFG_SIZE:
        if (v->u < k->min || v->u > k->max) {
            ax_size_format(k->min, lo, sizeof lo);
            ax_size_format(k->max, hi, sizeof hi);
            snprintf(msg, msglen, "%" PRIu64 " bytes is out of range %s..%s", v->u, lo, hi);
            return -1;
        }
        return 0;
    case AX__CFG_DURATION:
        if (v->ns < 0 || (uint64_t)v->ns < k->min || (uint64_t)v->ns > k->max) {
            char val[32];
            ax_duration_format(v->ns, val, sizeof val);
            ax_duration_format((int64_t)k->min, lo, sizeof lo);
            ax_duration_format((int64_t)k->max, hi, sizeof hi);
            snprintf(msg, msglen, "%s is out of range %s..%s", v->ns < 0 ? "a negative value" : val,
                     lo, hi);
            return -1;
        }
        return 0;
    case AX__CFG_BOOL:
        return 0;
    case AX__CFG_ENUM: {
        size_t n = 0;
        while (k->names[n])
            n++;
        if (v->e < 0 || (size_t)v->e >= n) {
            snprintf(msg, msglen, "%d is not a valid value", v->e);
            return -1;
        }
        return 0;
    }
    case AX__CFG_STRING:
    case AX__CFG_IPV4:
    case AX__CFG_MCAST:
    case AX__CFG_LIST:
    case AX__CFG_QOSMAP: { /* a LIST item; a QOSMAP topic name */
        size_t len = strlen(v->s);
        if (len >= k->size) {
            snprintf(msg, msglen, "too long: %zu bytes, at most %zu", len, k->size - 1);
            return -1;
        }
        if (len == 0 && !(k->flags & AX__CFG_F_EMPTY)) {
            snprintf(msg, msglen, "must not be empty");
            return -1;
        }
        if (len == 0)
            return 0;
        if (k->type == AX__CFG_IPV4 && inet_pton(AF_INET, v->s, &a) != 1) {
            snprintf(msg, msglen, "\"%s\" is not an IPv4 address (a.b.c.d)", v->s);
            return -1;
        }
        if (k->type == AX__CFG_MCAST &&
            (inet_pton(AF_INET, v->s, &a) != 1 || (ntohl(a.s_addr) >> 28) != 14)) {
            snprintf(msg, msglen,
                     "\"%s\" is not an IPv4 multicast group (224.0.0.0 to 239.255.255.255)", v->s);
            return -1;
        }
        return k->check ? k->check(v->s, msg, msglen) : 0;
    }
    }
    snprintf(msg, msglen, "unknown type");
    return -1;
}

int ax__cfg_parse(const struct ax__cfg_key *k, const char *text, union ax__cfg_val *v, char *msg,
                  size_t msglen)
{
    char buf[160];
    switch (k->type) {
    case AX__CFG_UINT:
        if (parse_uint(text, &v->u) != 0) {
            snprintf(msg, msglen, "\"%s\" is not a non-negative integer (%" PRIu64 "..%" PRIu64 ")",
                     text, k->min, k->max);
            return -1;
        }
        break;
    case AX__CFG_SIZE:
        if (ax_size_parse(text, &v->u, msg, msglen) != 0)
            return -1;
        break;
    case AX__CFG_DURATION:
        if (ax_duration_parse(text, 0, &v->ns, msg, msglen) != 0)
            return -1;
        break;
    case AX__CFG_BOOL:
        if (ax__cfg_parse_bool(text, &v->b) != 0) {
            snprintf(msg, msglen, "\"%s\" is not a bool (true/false, yes/no, on/off)", text);
            return -1;
        }
        break;
    case AX__CFG_ENUM:
        for (int i = 0; k->names[i]; i++) {
            if (strcasecmp(text, k->names[i]) == 0) {
                v->e = i;
                return 0;
            }
        }
        names_list(k->names, buf, sizeof buf);
        snprintf(msg, msglen, "unknown value \"%s\": expected one of %s", text, buf);
        return -1;
    case AX__CFG_STRING:
    case AX__CFG_IPV4:
    case AX__CFG_MCAST:
    case AX__CFG_LIST:
        v->s = text;
        break;
    case AX__CFG_QOSMAP:
        snprintf(msg, msglen, "not a scalar key");
        return -1;
    }
    return ax__cfg_check(k, v, msg, msglen);
}

void ax__cfg_store(const struct ax__cfg_key *k, void *base, const union ax__cfg_val *v)
{
    char *f = (char *)base + k->offset;
    switch (k->type) {
    case AX__CFG_UINT:
    case AX__CFG_SIZE:
        switch (k->size) {
        case 1:
            *(uint8_t *)f = (uint8_t)v->u;
            break;
        case 2:
            *(uint16_t *)f = (uint16_t)v->u;
            break;
        case 4:
            *(uint32_t *)f = (uint32_t)v->u;
            break;
        default:
            *(uint64_t *)f = v->u;
            break;
        }
        break;
    case AX__CFG_DURATION:
        *(int64_t *)f = v->ns;
        break;
    case AX__CFG_BOOL:
        *(bool *)f = v->b;
        break;
    case AX__CFG_ENUM:
        *(int *)f = v->e;
        break;
    case AX__CFG_STRING:
    case AX__CFG_IPV4:
    case AX__CFG_MCAST:
        snprintf(f, k->size, "%s", v->s);
        break;
    case AX__CFG_LIST:
    case AX__CFG_QOSMAP:
        break; /* handled by the loader */
    }
}

int ax__cfg_load(const struct ax__cfg_key *k, const void *base, union ax__cfg_val *v, char *msg,
                 size_t msglen)
{
    const char *f = (const char *)base + k->offset;
    switch (k->type) {
    case AX__CFG_UINT:
    case AX__CFG_SIZE:
        switch (k->size) {
        case 1:
            v->u = *(const uint8_t *)f;
            break;
        case 2:
            v->u = *(const uint16_t *)f;
            break;
        case 4:
            v->u = *(const uint32_t *)f;
            break;
        default:
            v->u = *(const uint64_t *)f;
            break;
        }
        return 0;
    case AX__CFG_DURATION:
        v->ns = *(const int64_t *)f;
        return 0;
    case AX__CFG_BOOL:
        v->b = *(const bool *)f;
        return 0;
    case AX__CFG_ENUM:
        v->e = *(const int *)f;
        return 0;
    case AX__CFG_STRING:
    case AX__CFG_IPV4:
    case AX__CFG_MCAST:
        if (!memchr(f, 0, k->size)) {
            snprintf(msg, msglen, "not NUL-terminated within its %zu bytes", k->size);
            return -1;
        }
        v->s = f;
        return 0;
    case AX__CFG_LIST:
    case AX__CFG_QOSMAP:
        break;
    }
    snprintf(msg, msglen, "not a scalar key");
    return -1;
}

int ax__cfg_format(const struct ax__cfg_key *k, const union ax__cfg_val *v, char *buf, size_t size)
{
    switch (k->type) {
    case AX__CFG_UINT:
        return snprintf(buf, size, "%" PRIu64, v->u);
    case AX__CFG_SIZE:
        ax_size_format(v->u, buf, size);
        return (int)strlen(buf);
    case AX__CFG_DURATION:
        ax_duration_format(v->ns, buf, size);
        return (int)strlen(buf);
    case AX__CFG_BOOL:
        return snprintf(buf, size, "%s", v->b ? "true" : "false");
    case AX__CFG_ENUM: {
        size_t n = 0;
        while (k->names[n])
            n++;
        return snprintf(buf, size, "%s", v->e >= 0 && (size_t)v->e < n ? k->names[v->e] : "?");
    }
    case AX__CFG_STRING:
    case AX__CFG_IPV4:
    case AX__CFG_MCAST:
    case AX__CFG_LIST:
        return ax__cfg_quote(v->s, buf, size);
    case AX__CFG_QOSMAP:
        break;
    }
    return snprintf(buf, size, "?");
}

void ax__cfg_describe_range(const struct ax__cfg_key *k, char *buf, size_t size)
{
    char lo[32], hi[32];
    switch (k->type) {
    case AX__CFG_UINT:
        snprintf(buf, size, "%" PRIu64 "..%" PRIu64, k->min, k->max);
        return;
    case AX__CFG_SIZE:
        ax_size_format(k->min, lo, sizeof lo);
        ax_size_format(k->max, hi, sizeof hi);
        snprintf(buf, size, "%s..%s", lo, hi);
        return;
    case AX__CFG_DURATION:
        ax_duration_format((int64_t)k->min, lo, sizeof lo);
        ax_duration_format((int64_t)k->max, hi, sizeof hi);
        snprintf(buf, size, "%s..%s", lo, hi);
        return;
    case AX__CFG_BOOL:
        snprintf(buf, size, "true/false, yes/no, on/off");
        return;
    case AX__CFG_ENUM: {
        char names[160];
        names_list(k->names, names, sizeof names);
        snprintf(buf, size, "one of %s", names);
        return;
    }
    case AX__CFG_STRING:
        snprintf(buf, size, "at most %zu bytes", k->size - 1);
        return;
    case AX__CFG_IPV4:
        snprintf(buf, size, "a.b.c.d%s", k->flags & AX__CFG_F_EMPTY ? " or empty" : "");
        return;
    case AX__CFG_MCAST:
        snprintf(buf, size, "224.0.0.0..239.255.255.255");
        return;
    case AX__CFG_LIST:
        snprintf(buf, size, "at most %" PRIu64 " entries of %zu bytes", k->max, k->size - 1);
        return;
    case AX__CFG_QOSMAP:
        snprintf(buf, size, "at most %" PRIu64 " topics of %zu bytes", k->max, k->size - 1);
        return;
    }
    snprintf(buf, size, "?");
}
