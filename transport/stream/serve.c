/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A transport's listener (struct ax__listener) over a stream listener:
 * every accepted socket becomes a link, made by the transport's own
 * function (a plain stream link for TCP, a shared-memory link wrapping one
 * for Unix sockets), and goes to the owner's on_accept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axon/log.h"
#include "transport/stream/ax__stream.h"

#define LOG_MODULE "link"

struct serving {
    ax__listener base; /* first */
    ax__stream_listener *l;
    ax_loop *loop;
    struct ax__listen_options opt;
    ax__stream_link_fn make_link;
    char address[AX__LINK_ADDR_MAX];
};

static void on_accept(ax__stream_listener *sl, int fd, const struct ax__addr *peer, void *user)
{
    struct serving *ln = user;
    (void)sl;
    (void)peer;
    ax__link *link;
    int rc = ln->make_link(ln->loop, fd, &ln->opt.link, &link);
    if (rc < 0) {
        AX_LOG_W(LOG_MODULE, "cannot take a connection on %s: %s", ln->address, ax_strerror(rc));
        close(fd);
        return;
    }
    /* No event of the link can come before this returns: the owner binds
     * it here or refuses it. */
    rc = ln->opt.on_accept(&ln->base, link, ln->opt.user);
    if (rc < 0)
        ax__link_close(link, AX__LINK_ABORT, rc);
}

static const char *serving_address(const ax__listener *base)
{
    return ((const struct serving *)base)->address;
}

static uint64_t serving_rejected(const ax__listener *base)
{
    return ax__stream_listener_rejected(((const struct serving *)base)->l);
}

static void serving_close(ax__listener *base)
{
    struct serving *ln = (struct serving *)base;
    /* The stream listener's memory goes in the closes phase; ours now: no
     * accept can come after its close. */
    ax__stream_listener_close(ln->l);
    free(ln);
}

static const struct ax__listener_ops serving_ops = {
    .address = serving_address,
    .rejected = serving_rejected,
    .close = serving_close,
};

int ax__stream_serve(ax_loop *loop, const struct ax__addr *a, const struct ax__listen_options *opt,
                     const struct ax__transport *tp, ax__stream_link_fn make_link,
                     ax__listener **out)
{
    if (!loop || !a || !opt || !opt->on_accept || !tp || !make_link || !out)
        return AX_EINVAL;
    struct serving *ln = calloc(1, sizeof *ln);
    if (!ln)
        return AX_ENOMEM;
    ln->base.ops = &serving_ops;
    ln->base.transport = tp;
    ln->loop = loop;
    ln->opt = *opt;
    ln->make_link = make_link;
    int rc = ax__stream_listen(loop, a, opt->backlog, on_accept, ln, &ln->l);
    if (rc < 0) {
        free(ln);
        return rc;
    }
    if (a->ss.ss_family == AF_INET || a->ss.ss_family == AF_INET6) {
        /* The host as given, the port as bound (port 0 asks the kernel). */
        char host[AX__LINK_ADDR_MAX];
        ax__addr_format(a, host, sizeof host);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        snprintf(ln->address, sizeof ln->address, "%.48s:%u", host,
                 ax__stream_listener_port(ln->l));
    } else {
        ax__addr_format(ax__stream_listener_addr(ln->l), ln->address, sizeof ln->address);
    }
    *out = &ln->base;
    return 0;
}
