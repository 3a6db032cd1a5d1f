/* SPDX-License-Identifier: Apache-2.0 */
/* axon config [--defaults]: every configuration key with its value. */
#include <string.h>

#include "cli.h"

int cli_verb_config(struct cli *c, const struct cli_args *a)
{
    if (c->json)
        return cli_usage_error(a->verb, "--json: the configuration is printed as YAML only");
    struct ax_config def;
    ax_config_init(&def);
    const struct ax_config *cfg = cli_flag(a, "defaults") ? &def : &c->cfg;
    unsigned flags = cli_flag(a, "no-comments") ? 0 : AX_CONFIG_DUMP_COMMENTS;
    int rc = ax_config_dump(cfg, stdout, flags);
    ax_config_fini(&def);
    if (rc < 0)
        return cli_error("writing the configuration: %s", ax_strerror(rc));
    return CLI_EXIT_OK;
}
