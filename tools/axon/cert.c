/* SPDX-License-Identifier: Apache-2.0 */
/* axon cert ca DIR, axon cert node DIR NAME: certificates for
 * security.tls: cert (docs/security.md). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int days_of(const struct cli_args *a, int def, int *out)
{
    const char *v = cli_opt(a, "days");
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    long d = strtol(v, &end, 10);
    if (*v == '\0' || *end || d <= 0 || d > 36500)
        return cli_usage_error(a->verb, "--days: a number of days from 1 to 36500, not '%s'", v);
    *out = (int)d;
    return 0;
}

int cli_verb_cert_ca(struct cli *c, const struct cli_args *a)
{
    (void)c;
    const char *dir = a->pos[0];
    int days;
    if (days_of(a, 3650, &days) != 0)
        return CLI_EXIT_USAGE;
    char crt[PATH_MAX], key[PATH_MAX], why[400] = "";
    snprintf(crt, sizeof crt, "%s/ca.crt", dir);
    snprintf(key, sizeof key, "%s/ca.key", dir);
    const char *name = cli_opt(a, "name") ? cli_opt(a, "name") : "axon fleet CA";
    int rc = ax_cert_make_ca(name, days, crt, key, why, sizeof why);
    if (rc < 0)
        return cli_error("%s", why[0] ? why : ax_strerror(rc));
    printf("wrote %s (every node's security.ca_file) and %s (mode 600: keep it off the\n"
           "vehicles; `axon cert node %s NAME` needs it), valid %d days\n",
           crt, key, dir, days);
    return CLI_EXIT_OK;
}

int cli_verb_cert_node(struct cli *c, const struct cli_args *a)
{
    (void)c;
    const char *dir = a->pos[0], *name = a->pos[1];
    int days;
    if (days_of(a, 825, &days) != 0)
        return CLI_EXIT_USAGE;
    char ca_crt[PATH_MAX], ca_key[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], why[400] = "";
    snprintf(ca_crt, sizeof ca_crt, "%s/ca.crt", dir);
    snprintf(ca_key, sizeof ca_key, "%s/ca.key", dir);
    snprintf(crt, sizeof crt, "%s/%s.crt", dir, name);
    snprintf(key, sizeof key, "%s/%s.key", dir, name);
    int rc = ax_cert_make_node(ca_crt, ca_key, name, days, crt, key, why, sizeof why);
    if (rc < 0)
        return cli_error("%s", why[0] ? why : ax_strerror(rc));
    printf("wrote %s and %s (mode 600) for node '%s', valid %d days; on that node set\n"
           "  security.tls: cert\n  security.ca_file: %s\n  security.cert_file: %s\n"
           "  security.cert_key_file: %s\n  node.name: %s\n",
           crt, key, name, days, ca_crt, crt, key, name);
    return CLI_EXIT_OK;
}
