/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mcap_read_check: reads files written by the reference writer
 * (write_reference.mjs) with axon's reader and checks that it finds exactly
 * what that script wrote (its header comment says what).
 *
 *   mcap_read_check FILE.mcap...
 *
 * Prints one line per file; exits 1 if any file differs.
 */
#include <stdio.h>
#include <string.h>

#include "mcap.h"

static int check_file(const char *path)
{
    ax_mcap_reader *r;
    int rc = ax_mcap_reader_open(&r, path, NULL);
    if (rc != 0) {
        printf("FAIL %s: open: error %d\n", path, rc);
        return 1;
    }
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    const char *why = NULL;
    if (in->recovered)
        why = "flagged as damaged";
    else if (in->message_count != 500)
        why = "info: message count is not 500";
    else if (in->n_channels != 2 || in->n_schemas != 1 || in->n_metadata != 1)
        why = "info: channels, schemas or metadata";
    else if (strcmp(in->channels[0].topic, "/ref/a") != 0 || in->channels[0].n_metadata != 1 ||
             strcmp(in->channels[0].metadata[0].value, "v") != 0 ||
             in->channels[0].message_count != 333 || in->channels[1].message_count != 167 ||
             in->channels[1].schema_id != 0)
        why = "info: channel details or per-channel counts";
    else if (strcmp(in->schemas[0].name, "axon.ref.Sample") != 0 ||
             strcmp(in->metadata[0].name, "ref.meta") != 0)
        why = "info: schema or metadata names";

    ax_mcap_iter *it = NULL;
    struct ax_mcap_message m;
    unsigned n = 0;
    unsigned char seen[500] = {0};
    uint64_t last = 0;
    if (!why && ax_mcap_iter_new(r, NULL, &it) != 0)
        why = "iter_new";
    while (!why && (rc = ax_mcap_iter_next(it, &m)) == 1) {
        uint32_t i = m.sequence;
        uint64_t t = 1000 + 10 * (uint64_t)i - (i % 7 == 3 ? 25 : 0);
        if (i >= 500 || seen[i]++)
            why = "a sequence number out of range or twice";
        else if (m.log_time != t || m.log_time < last)
            why = "log time wrong or out of order";
        else if (m.len != 10 + i % 50 || m.data[0] != (i & 255) || m.data[m.len - 1] != (i & 255))
            why = "message data";
        else if (strcmp(m.channel->topic, i % 3 == 0 ? "/ref/b" : "/ref/a") != 0)
            why = "message channel";
        last = m.log_time;
        n++;
    }
    if (!why && (rc != 0 || n != 500))
        why = "iteration did not give all 500 messages";
    printf("%s %s: %u messages, %s%s%s\n", why ? "FAIL" : "ok  ", path, n,
           in->from_summary ? "from the summary" : "by scanning: ", in->recovery_reason,
           why ? "" : "");
    if (why)
        printf("     %s\n", why);
    ax_mcap_iter_free(it);
    ax_mcap_reader_free(r);
    return why ? 1 : 0;
}

int main(int argc, char **argv)
{
    int bad = 0;
    for (int i = 1; i < argc; i++)
        bad |= check_file(argv[i]);
    if (argc < 2) {
        fprintf(stderr, "usage: mcap_read_check FILE.mcap...\n");
        return 2;
    }
    return bad;
}
