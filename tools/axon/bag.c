/* SPDX-License-Identifier: Apache-2.0 */
/* axon bag info FILE: what an MCAP recording holds, and what the recovery
 * notices of bag info and play say. */
#include <string.h>

#include "cli.h"
#include "mcap.h"

const char *cli_channel_type(const struct ax_mcap_reader *r, const struct ax_mcap_channel *ch)
{
    const struct ax_mcap_schema *s;
    if (ch->schema_id && ax_mcap_reader_schema(r, ch->schema_id, &s) == 0)
        return s->name;
    for (size_t i = 0; i < ch->n_metadata; i++)
        if (strcmp(ch->metadata[i].key, "type_name") == 0)
            return ch->metadata[i].value;
    return "";
}

const char *cli_bag_damage(const struct ax_mcap_info *in)
{
    switch (in->summary) {
    case AX_MCAP_SUMMARY_UNCLOSED:
        return "the file was not closed properly";
    case AX_MCAP_SUMMARY_CRC:
        /* The footer is there: the file was closed, and then damaged. */
        return "summary CRC mismatch";
    case AX_MCAP_SUMMARY_DAMAGED:
        return "its summary section is damaged";
    default:
        return "a record of the file is damaged";
    }
}

static const char *damage_key(const struct ax_mcap_info *in)
{
    static const char *const keys[] = {
        [AX_MCAP_SUMMARY_UNCLOSED] = "unclosed",
        [AX_MCAP_SUMMARY_CRC] = "summary_crc",
        [AX_MCAP_SUMMARY_DAMAGED] = "summary_damaged",
    };
    if (!in->recovered)
        return "";
    if ((size_t)in->summary < sizeof keys / sizeof keys[0] && keys[in->summary])
        return keys[in->summary];
    return "record_damaged";
}

struct meta_count {
    const char *name;
    size_t n;
};

int cli_verb_bag_info(struct cli *c, const struct cli_args *a)
{
    const char *path = a->pos[0];
    ax_mcap_reader *r;
    int rc = ax_mcap_reader_open(&r, path, NULL);
    if (rc == AX_EPROTO)
        return cli_error("%s is not an MCAP file (or its header is damaged)", path);
    if (rc < 0)
        return cli_error("cannot open %s: %s", path, ax_strerror(rc));
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    struct meta_count mc[64];
    size_t nmc = 0;
    for (size_t i = 0; i < in->n_metadata; i++) {
        size_t k;
        for (k = 0; k < nmc; k++)
            if (strcmp(mc[k].name, in->metadata[i].name) == 0)
                break;
        if (k == nmc && nmc < 64)
            mc[nmc++] = (struct meta_count){in->metadata[i].name, 0};
        if (k < 64)
            mc[k].n++;
    }
    int64_t dur = in->message_count ? (int64_t)(in->message_end_time - in->message_start_time) : 0;
    char b1[48], b2[48], b3[48];
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "file", path);
        cj_uint(&j, "file_size", in->file_size);
        cj_str(&j, "library", in->library);
        cj_str(&j, "profile", in->profile);
        cj_bool(&j, "recovered", in->recovered);
        cj_str(&j, "recovery_cause", damage_key(in));
        cj_str(&j, "recovery_reason", in->recovery_reason);
        cj_uint(&j, "valid_end", in->valid_end);
        cj_uint(&j, "message_count", in->message_count);
        cj_uint(&j, "start_time_ns", in->message_start_time);
        cj_uint(&j, "end_time_ns", in->message_end_time);
        cj_num(&j, "duration_s", (double)dur / 1e9);
        cj_str(&j, "compression", in->compression);
        cj_uint(&j, "chunks", in->n_chunks);
        cj_uint(&j, "compressed_bytes", in->compressed_bytes);
        cj_uint(&j, "uncompressed_bytes", in->uncompressed_bytes);
        cj_arr(&j, "channels");
        for (size_t i = 0; i < in->n_channels; i++) {
            const struct ax_mcap_channel *ch = &in->channels[i];
            cj_obj(&j, NULL);
            cj_uint(&j, "id", ch->id);
            cj_str(&j, "topic", ch->topic);
            cj_str(&j, "type", cli_channel_type(r, ch));
            cj_str(&j, "message_encoding", ch->message_encoding);
            cj_uint(&j, "schema_id", ch->schema_id);
            cj_uint(&j, "message_count", ch->message_count);
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_arr(&j, "schemas");
        for (size_t i = 0; i < in->n_schemas; i++) {
            cj_obj(&j, NULL);
            cj_uint(&j, "id", in->schemas[i].id);
            cj_str(&j, "name", in->schemas[i].name);
            cj_str(&j, "encoding", in->schemas[i].encoding);
            cj_uint(&j, "size", in->schemas[i].data_len);
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_obj(&j, "metadata");
        for (size_t k = 0; k < nmc; k++)
            cj_uint(&j, mc[k].name, mc[k].n);
        cj_end_obj(&j);
        cj_end_obj(&j);
        cj_done(&j);
    } else {
        printf("File:         %s (%s)\n", path, cli_fmt_size((double)in->file_size, b1, sizeof b1));
        if (in->recovered)
            printf("Recovered:    YES: %s; readable up to byte %llu of %llu\n"
                   "              (%s)\n",
                   cli_bag_damage(in), (unsigned long long)in->valid_end,
                   (unsigned long long)in->file_size, in->recovery_reason);
        else
            printf("Recovered:    no (complete file%s)\n",
                   in->from_summary ? ", read from its summary" : "");
        printf("Library:      %s\n", in->library[0] ? in->library : "-");
        printf("Duration:     %s\n", cli_fmt_dur(dur, b1, sizeof b1));
        if (in->message_count) {
            printf("Start:        %s (%llu)\n",
                   cli_fmt_time((int64_t)in->message_start_time, b2, sizeof b2),
                   (unsigned long long)in->message_start_time);
            printf("End:          %s (%llu)\n",
                   cli_fmt_time((int64_t)in->message_end_time, b3, sizeof b3),
                   (unsigned long long)in->message_end_time);
        }
        printf("Messages:     %llu\n", (unsigned long long)in->message_count);
        printf("Chunks:       %zu, compression %s, %s -> %s\n", in->n_chunks,
               in->compression[0] ? in->compression : "none",
               cli_fmt_size((double)in->uncompressed_bytes, b1, sizeof b1),
               cli_fmt_size((double)in->compressed_bytes, b2, sizeof b2));
        printf("Channels:     %zu\n", in->n_channels);
        if (in->n_channels) {
            static const char *const cols[] = {">ID",      "TOPIC",     "TYPE",
                                               "ENCODING", ">MESSAGES", ">RATE"};
            struct cli_table *t = cli_table_new(cols, 6);
            for (size_t i = 0; i < in->n_channels; i++) {
                const struct ax_mcap_channel *ch = &in->channels[i];
                cli_table_row(t);
                cli_table_cell(t, "%u", ch->id);
                cli_table_cell(t, "%s", ch->topic);
                cli_table_cell(t, "%s", cli_channel_type(r, ch));
                cli_table_cell(t, "%s", ch->message_encoding[0] ? ch->message_encoding : "(raw)");
                cli_table_cell(t, "%llu", (unsigned long long)ch->message_count);
                cli_table_cell(t, "%s",
                               dur > 0 ? cli_fmt_rate((double)ch->message_count * 1e9 / (double)dur,
                                                      b1, sizeof b1)
                                       : "-");
            }
            cli_table_print(t, stdout, "  ");
            cli_table_free(t);
        }
        printf("Metadata:     %zu record%s\n", in->n_metadata, in->n_metadata == 1 ? "" : "s");
        for (size_t k = 0; k < nmc; k++)
            printf("  %-22s %zu\n", mc[k].name, mc[k].n);
    }
    ax_mcap_reader_free(r);
    return CLI_EXIT_OK;
}
