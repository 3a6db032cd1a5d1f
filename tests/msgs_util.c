/* SPDX-License-Identifier: Apache-2.0 */
/* See msgs_util.h. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "axon/types.h"
#include "msgs_util.h"

#define MEMBER(m, off)  ((void *)((char *)(m) + (off)))
#define CMEMBER(m, off) ((const void *)((const char *)(m) + (off)))

static size_t vsize(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static void fill_value(const ProtobufCFieldDescriptor *f, void *p, unsigned seed, unsigned k,
                       unsigned depth)
{
    unsigned v = seed * 1000 + f->id * 10 + k;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *(int32_t *)p = -(int32_t)v;
        break;
    case PROTOBUF_C_TYPE_SINT32:
        *(int32_t *)p = k == 1 ? INT32_MIN : -(int32_t)v;
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *(uint32_t *)p = k == 1 ? UINT32_MAX : v;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *)p = k == 1 ? INT64_MIN : -(INT64_C(1) << 60) - v;
        break;
    case PROTOBUF_C_TYPE_SINT64:
        *(int64_t *)p = k == 1 ? INT64_MAX : (INT64_C(1) << 61) + v;
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(uint64_t *)p = k == 1 ? UINT64_MAX : (UINT64_C(1) << 63) + v;
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *)p = (float)v / 7.0f;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)p = k == 1 ? -1e-300 : (double)v / 3.0;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = 1;
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        *(int32_t *)p = e->values[(k + e->n_values - 1) % e->n_values].value;
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        char buf[64];
        snprintf(buf, sizeof buf, "%s-%u caf\xc3\xa9 \"q\"\n\t\\", f->name, v);
        size_t n = strlen(buf) + 1;
        *(char **)p = memcpy(malloc(n), buf, n);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        b->len = 20 + k;
        b->data = malloc(b->len);
        for (size_t i = 0; i < b->len; i++)
            b->data[i] = (uint8_t)(i == 0 ? 0 : i == 1 ? 0xff : v + i * 37);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        *(ProtobufCMessage **)p = axt_fill_new(f->descriptor, seed + k + 1, depth - 1);
        break;
    }
}

ProtobufCMessage *axt_fill_new(const ProtobufCMessageDescriptor *d, unsigned seed, unsigned depth)
{
    ProtobufCMessage *m = malloc(d->sizeof_message);
    ax_msg_init(d, m);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        bool is_msg = f->type == PROTOBUF_C_TYPE_MESSAGE;
        if (is_msg && depth == 0)
            continue;
        void *p = MEMBER(m, f->offset);
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t *cs = MEMBER(m, f->quantifier_offset);
            if (*cs)
                continue; /* an earlier member of this oneof is set */
            *cs = f->id;
            memset(p, 0, vsize(f->type));
            fill_value(f, p, seed, 0, depth);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = 3;
            void *arr = calloc(n, vsize(f->type));
            for (unsigned k = 0; k < n; k++)
                fill_value(f, (char *)arr + k * vsize(f->type), seed, k, depth);
            *(size_t *)MEMBER(m, f->quantifier_offset) = n;
            *(void **)p = arr;
        } else {
            fill_value(f, p, seed, 0, depth);
            if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
                !is_msg)
                *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
        }
    }
    return m;
}

static bool value_equal(const ProtobufCFieldDescriptor *f, const void *a, const void *b,
                        char *where, size_t wl)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *x = *(char *const *)a, *y = *(char *const *)b;
        return strcmp(x ? x : "", y ? y : "") == 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *x = a, *y = b;
        return x->len == y->len && (x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *x = *(ProtobufCMessage *const *)a;
        const ProtobufCMessage *y = *(ProtobufCMessage *const *)b;
        if (!x || !y)
            return x == y;
        return axt_msg_equal(x, y, where, wl);
    }
    default:
        return memcmp(a, b, vsize(f->type)) == 0;
    }
}

bool axt_msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b, char *where, size_t wl)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    if (strcmp(d->name, b->descriptor->name) != 0 || d->n_fields != b->descriptor->n_fields) {
        if (where)
            snprintf(where, wl, "%s: different types", d->name);
        return false;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const ProtobufCFieldDescriptor *g = &b->descriptor->fields[i];
        bool same = true;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t ca = *(const uint32_t *)CMEMBER(a, f->quantifier_offset);
            uint32_t cb = *(const uint32_t *)CMEMBER(b, g->quantifier_offset);
            if (ca != cb)
                same = false;
            else if (ca == f->id)
                same = value_equal(f, CMEMBER(a, f->offset), CMEMBER(b, g->offset), where, wl);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na = *(const size_t *)CMEMBER(a, f->quantifier_offset);
            size_t nb = *(const size_t *)CMEMBER(b, g->quantifier_offset);
            const char *xa = *(void *const *)CMEMBER(a, f->offset);
            const char *xb = *(void *const *)CMEMBER(b, g->offset);
            same = na == nb;
            for (size_t k = 0; same && k < na; k++)
                same = value_equal(f, xa + k * vsize(f->type), xb + k * vsize(f->type), where, wl);
        } else {
            if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
                f->type != PROTOBUF_C_TYPE_MESSAGE) {
                protobuf_c_boolean ha =
                    *(const protobuf_c_boolean *)CMEMBER(a, f->quantifier_offset);
                protobuf_c_boolean hb =
                    *(const protobuf_c_boolean *)CMEMBER(b, g->quantifier_offset);
                if (ha != hb)
                    same = false;
            }
            if (same)
                same = value_equal(f, CMEMBER(a, f->offset), CMEMBER(b, g->offset), where, wl);
        }
        if (!same) {
            if (where && (!where[0] || f->type != PROTOBUF_C_TYPE_MESSAGE))
                snprintf(where, wl, "%s.%s", d->name, f->name);
            return false;
        }
    }
    return true;
}

unsigned char *axt_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    unsigned char *buf = malloc(*len ? *len : 1);
    size_t n = protobuf_c_message_pack(m, buf);
    if (n != *len) {
        free(buf);
        return NULL;
    }
    return buf;
}

unsigned char *axt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

int axt_protoc(const char *const *args, const void *in, size_t in_len, unsigned char **out,
               size_t *out_len, char *why, size_t why_len)
{
    char dir[] = "/tmp/axt-protoc-XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(why, why_len, "mkdtemp: %s", strerror(errno));
        return -1;
    }
    char inp[64], outp[64];
    snprintf(inp, sizeof inp, "%s/in", dir);
    snprintf(outp, sizeof outp, "%s/out", dir);
    FILE *f = fopen(inp, "wb");
    if (!f || (in_len && fwrite(in, 1, in_len, f) != in_len)) {
        snprintf(why, why_len, "cannot write %s", inp);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    const char *argv[32];
    size_t n = 0;
    argv[n++] = AXT_PROTOC;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    /* A clean environment: under qemu-user the test's own environment
     * (LD_LIBRARY_PATH of the target's libraries) must not reach the
     * host's protoc. */
    char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, inp, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, AXT_PROTOC, &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    int status = -1;
    if (rc != 0) {
        snprintf(why, why_len, "posix_spawn(%s): %s", AXT_PROTOC, strerror(rc));
    } else if (waitpid(pid, &status, 0) != pid) {
        snprintf(why, why_len, "waitpid: %s", strerror(errno));
        status = -1;
    } else if (WIFEXITED(status)) {
        status = WEXITSTATUS(status);
        /* 127: the child could not exec protoc (e.g. qemu-user refusing a
         * host binary). */
        if (status == 127)
            snprintf(why, why_len, "%s could not be executed", AXT_PROTOC);
    } else {
        snprintf(why, why_len, "protoc died (status 0x%x)", status);
        status = -1;
    }
    *out = NULL;
    *out_len = 0;
    if (status >= 0) {
        *out = axt_read_file(outp, out_len);
        if (*out) {
            *out = realloc(*out, *out_len + 1);
            (*out)[*out_len] = '\0';
        }
    }
    unlink(inp);
    unlink(outp);
    rmdir(dir);
    return status;
}
