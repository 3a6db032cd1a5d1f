/*
 * axon: the command-line tool. Verb dispatch, option parsing, help, exit
 * codes and signals; the verbs live in one file per group.
 *
 * Exit codes: 0 success (also after Ctrl-C ends a streaming verb), 1 an
 * error (or, for `doctor`, findings), 2 a usage error.
 *
 * Signals: SIGINT and SIGTERM are blocked before any thread starts, so every
 * thread inherits the mask and none is ever interrupted by them. The main
 * thread waits only in ppoll() with a mask that lets them in (cli_sleep,
 * cli_wait_fd): the handler runs there, sets a flag and ppoll returns. So a
 * Ctrl-C is acted on at the next wait, at a well-defined point of each
 * verb. (A signalfd would do the same natively, but under qemu-user a
 * signal is taken by the emulator's own handler and never reaches the
 * guest's signalfd; ppoll's mask is emulated faithfully.) A second signal
 * exits at once with 130. SIGPIPE is ignored: a closed stdout
 * (`axon topic echo /x | head`) ends the verb through EPIPE.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- messages ---- */

int cli_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("axon: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_ERR;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("axon: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("axon: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("axon: usage error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nUsage: axon %s %s\nRun 'axon %s --help' for the options and an example.\n",
            cmd->path, cmd->args, cmd->path);
    return CLI_EXIT_USAGE;
}

/* ---- options ---- */

static const struct cli_opt global_opts[] = {
    {"domain", 0, "N", "domain to join (0..232; default: node.domain, AXON_DOMAIN)"},
    {"config", 0, "FILE", "configuration file (YAML; see 'axon config --defaults')"},
    {"json", 0, NULL, "machine-readable output: JSON (one object per line when streaming)"},
    {"wait", 0, "S", "how long to wait for discovery to settle (default 1.5 s)"},
    {"log-level", 0, "LEVEL", "library log level: off, error (default), warn, info, debug"},
    {"help", 'h', NULL, "show this help"},
    {0},
};

static size_t nopts(const struct cli_opt *o)
{
    size_t n = 0;
    while (o && o[n].name)
        n++;
    return n;
}

static void print_opts(FILE *f, const struct cli_opt *o)
{
    for (; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%c%s--%s%s%s", o->short_name ? "-" : "",
                 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
                 o->arg ? " " : "", o->arg ? o->arg : "");
        if (!o->short_name)
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        /* The help wrapped at 79 columns, continuation lines under it. */
        fprintf(f, "  %-24s", left);
        const char *h = o->help;
        int col = 27;
        while (*h) {
            size_t w = strcspn(h, " ");
            if (col > 27 && col + 1 + (int)w > 79) {
                fprintf(f, "\n%26s", "");
                col = 27;
            }
            fprintf(f, " %.*s", (int)w, h);
            col += 1 + (int)w;
            h += w;
            while (*h == ' ')
                h++;
        }
        fputc('\n', f);
    }
}

static void print_help(const struct cli_cmd *cmd)
{
    printf("Usage: axon %s %s\n\n%s\n", cmd->path, cmd->args, cmd->summary);
    if (cmd->details)
        printf("\n%s\n", cmd->details);
    if (nopts(cmd->opts)) {
        printf("\nOptions:\n");
        print_opts(stdout, cmd->opts);
    }
    printf("\nGlobal options:\n");
    print_opts(stdout, global_opts);
    printf("\nExample:\n%s\n", cmd->example);
}

static int find_opt(const struct cli_cmd *cmd, const char *name, size_t len, char short_name,
                    const struct cli_opt **o)
{
    size_t n = nopts(cmd->opts);
    for (size_t i = 0; i < n + nopts(global_opts); i++) {
        const struct cli_opt *x = i < n ? &cmd->opts[i] : &global_opts[i - n];
        if ((name && strlen(x->name) == len && strncmp(x->name, name, len) == 0) ||
            (!name && short_name && x->short_name == short_name)) {
            *o = x;
            return (int)i;
        }
    }
    return -1;
}

static int index_of(const struct cli_args *a, const char *name)
{
    const struct cli_opt *o;
    return find_opt(a->cmd, name, strlen(name), 0, &o);
}

const char *cli_opt(const struct cli_args *a, const char *name)
{
    int i = index_of(a, name);
    return i >= 0 ? a->val[i] : NULL;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
    int i = index_of(a, name);
    return i >= 0 && a->count[i] > 0;
}

size_t cli_opt_all(const struct cli_args *a, const char *name, const char **out, size_t cap)
{
    int i = index_of(a, name);
    if (i < 0)
        return 0;
    size_t n = (size_t)a->count[i];
    if (n > 16)
        n = 16;
    for (size_t k = 0; k < n && k < cap; k++)
        out[k] = a->multi[i][k];
    return n < cap ? n : cap;
}

bool cli_opt_double(const struct cli_args *a, const char *name, double min, double max, double *out)
{
    const char *v = cli_opt(a, name);
    if (!v)
        return true;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= min && d <= max)) {
        cli_usage_error(a->cmd, "--%s %s: expected a number from %g to %g", name, v, min, max);
        return false;
    }
    *out = d;
    return true;
}

bool cli_opt_long(const struct cli_args *a, const char *name, long min, long max, long *out)
{
    const char *v = cli_opt(a, name);
    if (!v)
        return true;
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (errno || end == v || *end || l < min || l > max) {
        cli_usage_error(a->cmd, "--%s %s: expected a whole number from %ld to %ld", name, v, min,
                        max);
        return false;
    }
    *out = l;
    return true;
}

static bool parse_seconds(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || !(d >= 0) || d > 1e7)
        return false;
    double mul = 1e9;
    if (strcmp(end, "ms") == 0)
        mul = 1e6;
    else if (strcmp(end, "us") == 0)
        mul = 1e3;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mul = 60e9;
    else if (strcmp(end, "h") == 0)
        mul = 3600e9;
    else if (*end && strcmp(end, "s") != 0)
        return false;
    *out = (int64_t)(d * mul);
    return true;
}

bool cli_opt_seconds(const struct cli_args *a, const char *name, int64_t *out_ns)
{
    const char *v = cli_opt(a, name);
    if (!v)
        return true;
    if (!parse_seconds(v, out_ns)) {
        cli_usage_error(a->cmd, "--%s %s: expected a duration: seconds (1.5), or 250ms, 2s, 1m",
                        name, v);
        return false;
    }
    return true;
}

static int apply_globals(struct cli *c, const struct cli_args *a)
{
    c->json = cli_flag(a, "json");
    if (cli_opt(a, "wait") && !cli_opt_seconds(a, "wait", &c->wait_ns))
        return CLI_EXIT_USAGE;
    const char *lv = cli_opt(a, "log-level");
    int level = AX_LOG_WARN;
    if (lv && ax_log_level_parse(lv, &level) < 0)
        return cli_usage_error(a->cmd,
                               "--log-level %s: one of off, error, warn, info, debug, trace", lv);
    struct ax_config_error err;
    char buf[512];
    c->config_path = cli_opt(a, "config");
    if (c->config_path) {
        int rc = ax_config_load_file(&c->cfg, c->config_path, &err);
        if (rc < 0)
            return cli_error("cannot load the configuration: %s (%s)",
                             ax_config_error_str(&err, buf, sizeof buf), ax_strerror(rc));
    }
    int rc = ax_config_apply_env(&c->cfg, &err);
    if (rc < 0)
        return cli_error("bad configuration from the environment: %s",
                         ax_config_error_str(&err, buf, sizeof buf));
    if (!lv && !getenv("AXON_LOG_LEVEL") && !c->config_path)
        c->cfg.log_level = AX_LOG_ERROR;
    if (lv)
        c->cfg.log_level = level;
    ax_log_set_level(c->cfg.log_level);
    long domain = -1;
    if (!cli_opt_long(a, "domain", 0, 232, &domain))
        return CLI_EXIT_USAGE;
    if (domain >= 0) {
        c->cfg.domain = (uint32_t)domain;
        c->domain_set = true;
    }
    return 0;
}

int cli_parse(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (only_pos || s[0] != '-' || s[1] == '\0' ||
            ((s[1] >= '0' && s[1] <= '9') || s[1] == '.')) {
            if (a->npos >= CLI_MAX_POS)
                return cli_usage_error(cmd, "too many arguments");
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            only_pos = true;
            continue;
        }
        const struct cli_opt *o = NULL;
        const char *val = NULL;
        int idx;
        if (s[1] == '-') {
            const char *name = s + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            idx = find_opt(cmd, name, len, 0, &o);
            if (idx < 0)
                return cli_usage_error(cmd, "unknown option %s", s);
            if (eq) {
                if (!o->arg)
                    return cli_usage_error(cmd, "option --%s takes no value", o->name);
                val = eq + 1;
            }
        } else {
            if (s[2] != '\0')
                return cli_usage_error(cmd, "unknown option %s (long options start with --)", s);
            idx = find_opt(cmd, NULL, 0, s[1], &o);
            if (idx < 0)
                return cli_usage_error(cmd, "unknown option %s", s);
        }
        if (o->arg && !val) {
            if (i + 1 >= argc)
                return cli_usage_error(cmd, "option --%s needs a value (%s)", o->name, o->arg);
            val = argv[++i];
        }
        if (strcmp(o->name, "help") == 0) {
            print_help(cmd);
            return CLI_HELP_SHOWN;
        }
        a->val[idx] = o->arg ? val : "1";
        if (a->count[idx] < 16)
            a->multi[idx][a->count[idx]] = a->val[idx];
        a->count[idx]++;
    }
    if (a->npos < cmd->min_pos)
        return cli_usage_error(cmd, "missing argument%s", cmd->min_pos - a->npos > 1 ? "s" : "");
    if (cmd->max_pos >= 0 && a->npos > cmd->max_pos)
        return cli_usage_error(cmd, "unexpected argument '%s'", a->pos[cmd->max_pos]);
    return apply_globals(c, a);
}

/* ---- signals and waiting ---- */

static volatile sig_atomic_t got_signal;
static sigset_t wait_mask; /* the main thread's mask inside ppoll() */

static void on_signal(int sig)
{
    (void)sig;
    if (got_signal) {
        static const char msg[] = "\naxon: interrupted again: exiting now\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    got_signal = 1;
}

bool cli_wait_fd(struct cli *c, int fd, int64_t ns)
{
    if (got_signal)
        c->stop = true;
    if (c->stop)
        return true;
    int64_t end = ax_clock_mono_ns() + (ns > 0 ? ns : 0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = end - ax_clock_mono_ns();
        if (left < 0)
            left = 0;
        struct timespec ts = {.tv_sec = left / AX_NS_PER_S, .tv_nsec = left % AX_NS_PER_S};
        int n = ppoll(&p, fd >= 0 ? 1 : 0, &ts, &wait_mask);
        if (got_signal) {
            c->stop = true;
            return true;
        }
        if (n < 0 && errno != EINTR)
            return false;
        if (n > 0 && fd >= 0 && p.revents)
            return false;
        if (ax_clock_mono_ns() >= end)
            return false;
    }
}

bool cli_sleep(struct cli *c, int64_t ns)
{
    return cli_wait_fd(c, -1, ns);
}

/* ---- dispatch ---- */

static void print_top_help(FILE *f)
{
    fprintf(
        f, "Usage: axon VERB [ARGS] [options]\n"
           "\n"
           "Inspect and drive a running axon system, the way ros2 topic, cyber_channel\n"
           "and cyber_recorder do. Listing and rates read the discovery table only: the\n"
           "tool does not subscribe to payloads unless a verb says so.\n"
           "\n"
           "Verbs:\n"
           "  node list                     every node: host, pid, endpoint, uptime, heartbeat\n"
           "  node info NAME                one node with its publishers and subscribers\n"
           "  topic list [-v]               topics with type, publisher and subscriber counts\n"
           "  topic info TOPIC              each endpoint's QoS, connections, drops by reason\n"
           "  topic type TOPIC              the type of a topic\n"
           "  topic echo TOPIC              print messages (YAML or --json), any protobuf type\n"
           "  topic hz TOPIC                message rate (from the table; --subscribe to measure)\n"
           "  topic bw TOPIC                bandwidth (from the table; --subscribe to measure)\n"
           "  topic delay TOPIC             end-to-end delay from the source timestamp\n"
           "  topic pub TOPIC TYPE TEXT     publish a message written as YAML or JSON\n"
           "  doctor [TOPIC]                explain why publishers and subscribers do not talk\n"
           "  record -o FILE [TOPICS|--all] record to MCAP (Foxglove opens the files)\n"
           "  play FILE                     publish a recording with its original timing\n"
           "  bag info FILE                 what a recording holds\n"
           "  config [--defaults]           every configuration key with its value\n"
           "\n"
           "Run 'axon VERB --help' for a verb's options and an example.\n"
           "Exit status: 0 success, 1 error (doctor: problems found), 2 usage error.\n");
}

static int dispatch(struct cli *c, int argc, char **argv)
{
    const char *v = argv[0];
    if (strcmp(v, "node") == 0)
        return cli_cmd_node(c, argc - 1, argv + 1);
    if (strcmp(v, "topic") == 0) {
        if (argc >= 2) {
            const char *w = argv[1];
            if (strcmp(w, "echo") == 0)
                return cli_cmd_echo(c, argc - 2, argv + 2);
            if (strcmp(w, "hz") == 0 || strcmp(w, "bw") == 0 || strcmp(w, "delay") == 0)
                return cli_cmd_hz(c, argc - 2, argv + 2, w);
            if (strcmp(w, "pub") == 0)
                return cli_cmd_pub(c, argc - 2, argv + 2);
        }
        return cli_cmd_topic(c, argc - 1, argv + 1);
    }
    if (strcmp(v, "doctor") == 0)
        return cli_cmd_doctor(c, argc - 1, argv + 1);
    if (strcmp(v, "record") == 0)
        return cli_cmd_record(c, argc - 1, argv + 1);
    if (strcmp(v, "play") == 0)
        return cli_cmd_play(c, argc - 1, argv + 1);
    if (strcmp(v, "bag") == 0)
        return cli_cmd_bag(c, argc - 1, argv + 1);
    if (strcmp(v, "config") == 0)
        return cli_cmd_config(c, argc - 1, argv + 1);
    if (strcmp(v, "help") == 0 || strcmp(v, "--help") == 0 || strcmp(v, "-h") == 0) {
        if (argc >= 2 && strcmp(v, "help") == 0) {
            /* "axon help topic echo" == "axon topic echo --help" */
            char *args[8];
            int n = 0;
            for (int i = 1; i < argc && n < 6; i++)
                args[n++] = argv[i];
            args[n++] = (char *)"--help";
            args[n] = NULL;
            return dispatch(c, n, args);
        }
        print_top_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(v, "--version") == 0) {
        printf("axon (libaxon, protocol 1)\n");
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "axon: usage error: unknown verb '%s'\n\n", v);
    print_top_help(stderr);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Before any thread exists, so every thread inherits the mask. */
    pthread_sigmask(SIG_BLOCK, &set, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct cli c;
    memset(&c, 0, sizeof c);
    c.wait_ns = 1500 * AX_NS_PER_MS;
    ax_config_init(&c.cfg);
    ax_log_set_level(AX_LOG_ERROR);

    int rc;
    if (argc < 2) {
        print_top_help(stderr);
        rc = CLI_EXIT_USAGE;
    } else {
        rc = dispatch(&c, argc - 1, argv + 1);
    }
    if (rc == CLI_HELP_SHOWN)
        rc = CLI_EXIT_OK;
    cli_node_close(&c);
    ax_config_fini(&c.cfg);
    if (fflush(stdout) != 0 && errno != EPIPE && rc == CLI_EXIT_OK)
        rc = CLI_EXIT_ERR;
    return rc;
}
