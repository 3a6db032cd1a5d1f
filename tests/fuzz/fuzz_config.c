/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the YAML configuration loader.
 *
 * Properties checked on every input, beyond "no crash, no leak, no UB":
 * - a load that fails leaves the config unchanged and says why;
 * - a load that succeeds gives a config that passes ax_config_validate(),
 *   and whose dump loads back to a config with the same dump.
 *
 * Build and run (clang only; CI runs it for a bounded time):
 *   bash tools/dev.sh fuzz        (or FUZZ_SECONDS=300 bash tools/dev.sh fuzz)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/axon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump(const struct ax_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || ax_config_dump(cfg, f, 0) != 0)
        abort();
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > AX_CONFIG_FILE_MAX)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;

    struct ax_config cfg, back;
    struct ax_config_error err;
    ax_config_init(&cfg);
    char *before = dump(&cfg);
    int rc = ax_config_load_string(&cfg, text, "fuzz", &err);
    char *after = dump(&cfg);
    if (rc != 0) {
        if (rc != AX_ECONFIG && rc != AX_ENOMEM)
            abort();
        if (!err.message[0] || err.line < 0 || strcmp(before, after) != 0)
            abort(); /* an error without a reason, or a config changed by a failed load */
    } else {
        if (ax_config_validate(&cfg, &err) != 0)
            abort(); /* the loader accepted what validation refuses */
        ax_config_init(&back);
        if (ax_config_load_string(&back, after, "dump", &err) != 0)
            abort(); /* the dump of a valid config does not load */
        char *again = dump(&back);
        if (strcmp(after, again) != 0)
            abort(); /* the round trip changed something */
        free(again);
        ax_config_fini(&back);
    }
    free(before);
    free(after);
    ax_config_fini(&cfg);
    free(text);
    return 0;
}
