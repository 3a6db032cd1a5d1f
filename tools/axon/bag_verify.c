/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon bag verify FILE: every CRC of a recording and its structure
 * (ax_mcap_verify()). bag info and play read a whole file from its summary
 * and only check what they read; this reads every byte, so it is what to
 * run on a recording that was copied, archived or is suspect.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mcap.h"

struct found {
    struct cli_json *j; /* --json: each problem into the "problems" array */
};

static void on_problem(const struct ax_mcap_problem *p, void *user)
{
    struct found *f = user;
    if (f->j) {
        cj_obj(f->j, NULL);
        cj_uint(f->j, "offset", p->offset);
        cj_str(f->j, "record", p->record);
        cj_str(f->j, "problem", p->what);
        cj_end_obj(f->j);
    } else {
        printf("  %s record at %llu: %s\n", p->record, (unsigned long long)p->offset, p->what);
    }
}

/* "12 of 12", or "none (the file has none)" for a count of CRCs checked. */
static const char *crc_count(uint64_t checked, uint64_t of, char *buf, size_t size)
{
    if (checked == of)
        snprintf(buf, size, "%llu", (unsigned long long)of);
    else
        snprintf(buf, size, "%llu of %llu (the others carry none)", (unsigned long long)checked,
                 (unsigned long long)of);
    return buf;
}

int cli_verb_bag_verify(struct cli *c, const struct cli_args *a)
{
    const char *path = a->pos[0];
    struct ax_mcap_verify_report rep;
    struct cli_json j;
    struct found f = {0};
    if (c->json) {
        f.j = &j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "file", path);
        cj_arr(&j, "problems");
    } else {
        printf("Verifying %s\n", path);
    }
    int rc = ax_mcap_verify(path, NULL, on_problem, &f, &rep);
    if (rc < 0) {
        if (c->json) {
            cj_end_arr(&j);
            cj_str(&j, "error", ax_strerror(rc));
            cj_end_obj(&j);
            cj_done(&j);
        }
        return cli_error("cannot verify %s: %s", path, ax_strerror(rc));
    }
    char b1[64], b2[48];
    if (c->json) {
        cj_end_arr(&j);
        cj_uint(&j, "file_size", rep.file_size);
        cj_uint(&j, "records", rep.records);
        cj_uint(&j, "chunks", rep.chunks);
        cj_uint(&j, "chunk_crcs_checked", rep.chunk_crcs);
        cj_uint(&j, "messages", rep.messages);
        cj_uint(&j, "metadata", rep.metadata);
        cj_uint(&j, "message_indexes", rep.message_indexes);
        cj_bool(&j, "data_end", rep.data_end);
        cj_bool(&j, "data_crc_checked", rep.data_crc);
        cj_bool(&j, "footer", rep.footer);
        cj_bool(&j, "summary", rep.summary);
        cj_bool(&j, "summary_crc_checked", rep.summary_crc);
        cj_uint(&j, "summary_records", rep.summary_records);
        cj_uint(&j, "problems_found", rep.problems);
        cj_bool(&j, "ok", rep.problems == 0);
        cj_end_obj(&j);
        cj_done(&j);
    } else {
        printf("Checked:\n");
        printf("  file:          %s (%llu bytes)\n",
               cli_fmt_size((double)rep.file_size, b2, sizeof b2),
               (unsigned long long)rep.file_size);
        printf("  data section:  %llu records (%llu messages, %llu metadata, %llu message "
               "indexes)\n",
               (unsigned long long)rep.records, (unsigned long long)rep.messages,
               (unsigned long long)rep.metadata, (unsigned long long)rep.message_indexes);
        printf("  chunk CRCs:    %s\n", crc_count(rep.chunk_crcs, rep.chunks, b1, sizeof b1));
        printf("  data CRC:      %s\n", !rep.data_end  ? "no Data End record"
                                        : rep.data_crc ? "checked (Data End record)"
                                                       : "none in the file (0)");
        printf("  summary CRC:   %s\n", !rep.footer       ? "no footer"
                                        : !rep.summary    ? "no summary section"
                                        : rep.summary_crc ? "checked (footer)"
                                                          : "none in the file (0)");
        printf("  summary:       %llu records, offsets and counts\n",
               (unsigned long long)rep.summary_records);
        if (rep.problems)
            printf("FAILED: %llu problem%s (listed above)\n", (unsigned long long)rep.problems,
                   rep.problems == 1 ? "" : "s");
        else
            printf("OK: no problems\n");
    }
    return rep.problems ? CLI_EXIT_ERR : CLI_EXIT_OK;
}
