/* axon config [--defaults]: every configuration key with its value. */
#include <string.h>

#include "cli.h"

static const struct cli_cmd cmd_config = {
    .path = "config",
    .args = "[--defaults] [--no-comments] [options]",
    .summary = "Print every configuration key as a YAML document that loads back: with\n"
               "--defaults the built-in defaults, otherwise the configuration this program\n"
               "would run with (--config FILE, then AXON_CONFIG, AXON_DOMAIN, AXON_PEERS,\n"
               "AXON_LOG_LEVEL, then --domain).",
    .details = "Each key is preceded by comments: what it does, its type, unit, range, default\n"
               "and environment variable. docs/configuration.md is generated from the same\n"
               "table.",
    .example = "  axon config --defaults > axon.yaml\n  AXON_DOMAIN=3 axon config --no-comments",
    .opts = (const struct cli_opt[]){{"defaults", 0, NULL,
                                      "the defaults, ignoring files and "
                                      "environment"},
                                     {"no-comments", 0, NULL, "keys and values only"},
                                     {0}},
    .min_pos = 0,
    .max_pos = 0,
};

int cli_cmd_config(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    int rc = cli_parse(c, &cmd_config, argc, argv, &a);
    if (rc)
        return rc;
    if (c->json)
        return cli_usage_error(&cmd_config, "--json: the configuration is printed as YAML only");
    struct ax_config def;
    ax_config_init(&def);
    const struct ax_config *cfg = cli_flag(&a, "defaults") ? &def : &c->cfg;
    unsigned flags = cli_flag(&a, "no-comments") ? 0 : AX_CONFIG_DUMP_COMMENTS;
    rc = ax_config_dump(cfg, stdout, flags);
    ax_config_fini(&def);
    if (rc < 0)
        return cli_error("writing the configuration: %s", ax_strerror(rc));
    return CLI_EXIT_OK;
}
