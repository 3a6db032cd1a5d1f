/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for ax_type_from_fds(): the FileDescriptorSet a tool
 * receives from the network. Every input must give a type or an error,
 * never a crash, a hang or a leak; a type that is built must then work with
 * protobuf-c and the printer and parser.
 *
 * The root type is the first message of the input's first file (found with
 * the library's own descriptor.proto code), so mutations that keep the set
 * parseable reach the type builder; a fixed name is tried as well.
 *
 * Build (clang only): cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang
 *   -DAXON_BUILD_FUZZ=ON && cmake --build build/fuzz --target fuzz_fds fuzz_fds_corpus
 * Run: ./build/fuzz/tests/fuzz/fuzz_fds build/fuzz/tests/fuzz/corpus_fds
 *   -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/axon.h"
#include "ax__descriptor.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const ax_type *t, const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *d = ax_type_descriptor(t);
    /* Decode the input itself as a message of the type, print it, parse
     * the text back, pack the result. */
    if (ax_msg_wire_check(d, data, size, 64) != 0)
        return; /* as every reader of untrusted data of a recursive type must */
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size, data);
    if (!m)
        return;
    struct ax_print_options o;
    ax_print_options_init(&o);
    o.format = AX_TEXT_JSON;
    o.max_bytes = SIZE_MAX;
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    if (ax_msg_print(m, &o, &sb) == 0) {
        ProtobufCMessage *back = NULL;
        if (ax_msg_parse(d, sb.data, sb.len, &back, NULL) == 0) {
            size_t n = protobuf_c_message_get_packed_size(back);
            uint8_t *buf = malloc(n ? n : 1);
            protobuf_c_message_pack(back, buf);
            free(buf);
            protobuf_c_message_free_unpacked(back, NULL);
        }
    }
    ax_strbuf_fini(&sb);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void try_name(const uint8_t *data, size_t size, const char *name)
{
    ax_type *t;
    if (ax_type_from_fds(data, size, name, &t) == 0) {
        exercise(t, data, size);
        ax_type_free(t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        ax_log_set_level(AX_LOG_OFF);
        quiet = true;
    }
    Axon__Pbdesc__FileDescriptorSet *set =
        axon__pbdesc__file_descriptor_set__unpack(NULL, size, data);
    if (set && set->n_file > 0 && set->file[set->n_file - 1]->n_message_type > 0) {
        /* protoc puts the requested file last, after its imports. */
        const Axon__Pbdesc__FileDescriptorProto *f = set->file[set->n_file - 1];
        const char *pkg = f->package ? f->package : "";
        const char *msg = f->message_type[0]->name ? f->message_type[0]->name : "";
        char name[512];
        snprintf(name, sizeof name, "%s%s%s", pkg, *pkg ? "." : "", msg);
        try_name(data, size, name);
    }
    if (set)
        axon__pbdesc__file_descriptor_set__free_unpacked(set, NULL);
    try_name(data, size, "axon.sensor.PointCloud");
    return 0;
}
