/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/msgtext.h: any protobuf-c message as text, and text as a message.
 *
 * The printer and the parser are driven by the message descriptor, so they
 * work for every compiled type and for dynamic types (axon/types.h) alike.
 *
 * ## Text forms
 *
 * - YAML-style (the default for humans, like `ros2 topic echo`): one field
 *   per line, nested messages indented, repeated fields as "- " lists.
 * - JSON, on one line or pretty-printed.
 *
 * Field names are the .proto names (snake_case). Enums print by name (the
 * number when the value has no name). 64-bit integers print as JSON numbers,
 * not strings as in protobuf's canonical JSON mapping: exact in this parser
 * and in most tools, but a JavaScript reader loses precision above 2^53.
 * Floats print with the fewest digits that read back to the same value;
 * NaN and infinities as "NaN", "Infinity", "-Infinity" in JSON and .nan,
 * .inf, -.inf in YAML. Bytes print as base64; a bytes field longer than
 * max_bytes prints as the base64 of its first max_bytes bytes followed by
 * "... (N bytes)". Every field is printed, defaults included, except the
 * members of a oneof that are not set; an unset message field prints as
 * null. Map fields print as lists of {key, value} entries.
 *
 * The parser reads what the printer writes (YAML or JSON; libyaml reads
 * JSON as YAML flow style), and more: field names as in the .proto or in
 * lowerCamelCase (JSON names), enums by name or number, integers as numbers
 * or quoted numbers, bytes as base64 (standard or URL-safe alphabet, padding
 * optional) or as "hex:" followed by hex digits. Fields left out keep their
 * defaults; null leaves a field at its default. Sizes are bounded: at most
 * 64 MiB of input, 64 MiB per bytes or string field, 16 Mi elements per
 * repeated field, nesting 64 deep.
 *
 * ## Thread rules
 *
 * Every function may be called from any thread; calls share no state.
 */
#ifndef AXON_MSGTEXT_H
#define AXON_MSGTEXT_H

#include <stdarg.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

#include "axon/common.h"
#include "axon/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ax_text_format {
    AX_TEXT_YAML = 0,       /* YAML-style block text */
    AX_TEXT_JSON = 1,       /* JSON on one line */
    AX_TEXT_JSON_PRETTY = 2 /* JSON, indented, one field per line */
};

/* Options for the printer; fill with ax_print_options_init() first. */
struct ax_print_options {
    enum ax_text_format format; /* default AX_TEXT_YAML */
    /* Bytes of a bytes field shown before "... (N bytes)" (default 16;
     * SIZE_MAX shows everything, which the parser can read back). */
    size_t max_bytes;
    /* Elements of a repeated field shown before "... (N elements)" (default
     * SIZE_MAX: all). */
    size_t max_elems;
    /* Print only this field: a dot-separated path of field names,
     * "header.stamp_ns", "obstacles.0.pose" (a number selects an element of
     * a repeated field). NULL or "" prints the whole message. */
    const char *path;
    /* Spaces per nesting level for YAML and pretty JSON (default 2, at most
     * 16). */
    unsigned indent;
};

/** ax_print_options_init() - fill @opt with the defaults. */
AX_API void ax_print_options_init(struct ax_print_options *opt);

/**
 * ax_msg_print() - append @msg as text to @out.
 * @msg: any message (compiled or dynamic type); borrowed.
 * @opt: options, or NULL for the defaults.
 * @out: an initialised buffer; the text is appended, ending with a newline.
 *
 * Returns 0; AX_EINVAL (NULL @msg or @out, bad descriptor); AX_ENOTFOUND
 * (opt->path names no field, or an element index out of range); AX_ENOMEM or
 * AX_EMSGSIZE from the buffer (then @out holds a partial text).
 */
AX_API int ax_msg_print(const ProtobufCMessage *msg, const struct ax_print_options *opt,
                        struct ax_strbuf *out);

/**
 * ax_msg_fprint() - as ax_msg_print(), writing to @f.
 *
 * Returns the errors of ax_msg_print(), or AX_EIO when writing fails.
 */
AX_API int ax_msg_fprint(const ProtobufCMessage *msg, const struct ax_print_options *opt, FILE *f);

/* Where and why parsing failed. */
struct ax_parse_error {
    /* 1-based position in the text of the offending value (0 when the
     * error has no position, e.g. out of memory). */
    unsigned line;
    unsigned column;
    /* Dot-separated path of the field being parsed ("header.stamp_ns",
     * "obstacles.2.id"); empty at the top level. */
    char path[192];
    /* The whole message, path and position included:
     * "header.stamp_ns: expected an integer at line 1 column 12". */
    char message[512];
};

/**
 * ax_msg_parse() - parse YAML or JSON text into a new message.
 * @desc: the message type (compiled or dynamic).
 * @text: the text; need not be NUL-terminated. One YAML document (or JSON
 *        value) holding a mapping; an empty text gives an empty message.
 * @len: its length in bytes; at most 64 MiB.
 * @out: receives the message, allocated with protobuf-c's default allocator
 *       (malloc); free it with protobuf_c_message_free_unpacked(msg, NULL).
 * @err: receives the error's position, field path and message; may be NULL.
 *
 * Returns 0; AX_EINVAL (NULL @desc, @text or @out); AX_EPROTO (bad text:
 * syntax error, unknown field, value of the wrong kind or out of range,
 * duplicate field, YAML aliases): @err says which and where; AX_EMSGSIZE
 * (input or a value beyond the limits above); AX_ENOMEM. On error *@out is
 * left NULL and nothing is leaked.
 */
AX_API int ax_msg_parse(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                        ProtobufCMessage **out, struct ax_parse_error *err);

#ifdef __cplusplus
}
#endif

#endif /* AXON_MSGTEXT_H */
