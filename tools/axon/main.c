/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon: the command-line tool. main() sets up what every verb relies on
 * (signals, the context with the default configuration) and runs the verb
 * table (verbs.c); the verbs live in one file per group.
 *
 * Exit codes: 0 success (also after Ctrl-C ends a streaming verb), 1 an
 * error (or, for `doctor`, findings), 2 a usage error.
 */
#include <errno.h>
#include <string.h>

#include "axon/msgs.h"
#include "cli.h"

int main(int argc, char **argv)
{
    /* Before any thread exists, so every thread inherits the mask (wait.c). */
    cli_signals_init();

    struct cli c;
    memset(&c, 0, sizeof c);
    c.wait_ns = 1500 * AX_NS_PER_MS;
    ax_config_init(&c.cfg);
    ax_log_set_level(AX_LOG_ERROR);
    /* The standard messages, for echo, pub and record by type name. The
     * library registers them when it loads; calling it here also keeps it
     * linked under --as-needed, since no verb names a symbol of it. */
    int reg = ax_msgs_register();
    if (reg < 0)
        cli_warn("the standard messages are not available: %s", ax_strerror(reg));
    int rc = cli_run(&c, argc - 1, argv + 1);
    if (rc == CLI_HELP_SHOWN)
        rc = CLI_EXIT_OK;
    cli_node_close(&c);
    ax_config_fini(&c.cfg);
    if (fflush(stdout) != 0 && errno != EPIPE && rc == CLI_EXIT_OK)
        rc = CLI_EXIT_ERR;
    return rc;
}
