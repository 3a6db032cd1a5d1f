/* SPDX-License-Identifier: Apache-2.0 */
/* axon keygen FILE: a new domain key (docs/security.md). */
#include <stdio.h>

#include "cli.h"

int cli_verb_keygen(struct cli *c, const struct cli_args *a)
{
    const char *path = a->pos[0];
    int rc = ax_key_generate(path);
    if (rc == AX_EEXIST)
        return cli_error("%s exists: a key is never overwritten (remove it first to replace it, "
                         "on every host of the domain)",
                         path);
    if (rc < 0)
        return cli_error("cannot write the key file %s: %s", path, ax_strerror(rc));
    char fp[17];
    rc = ax_key_fingerprint(path, fp, NULL, 0);
    if (rc < 0)
        return cli_error("wrote %s but cannot read it back: %s", path, ax_strerror(rc));
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "file", path);
        cj_str(&j, "fingerprint", fp);
        cj_end_obj(&j);
        putchar('\n');
        return CLI_EXIT_OK;
    }
    printf("wrote %s (mode 600), key fingerprint %s\n"
           "copy it to every host of the domain and set security.key_file to its path\n"
           "(or AXON_KEY_FILE); nodes without it can no longer join this domain or connect "
           "to its nodes\n",
           path, fp);
    return CLI_EXIT_OK;
}
