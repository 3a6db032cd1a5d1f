/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TCP transport's entry points (struct ax__transport): addresses as
 * "ip:port" text, a listener whose accepted sockets become links, and
 * connect(). Everything else is conn.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/log.h"
#include "transport/stream/ax__stream.h"
#include "transport/tcp/ax__tcp.h"

#define LOG_MODULE "tcp"

struct tcp_listener {
    ax__listener base; /* first */
    ax__stream_listener *l;
    ax_loop *loop;
    struct ax__listen_options opt;
    char address[AX__LINK_ADDR_MAX];
};

static void on_accept(ax__stream_listener *tl, int fd, const struct ax__addr *peer, void *user)
{
    struct tcp_listener *ln = user;
    (void)tl;
    (void)peer;
    ax__link *link;
    int rc = ax__stream_conn_new(ln->loop, fd, &ln->opt.link, NULL, NULL, &link);
    if (rc < 0) {
        AX_LOG_W(LOG_MODULE, "cannot take a connection on %s: %s", ln->address, ax_strerror(rc));
        close(fd);
        return;
    }
    link->transport = &ax__tcp_transport;
    /* No event of the link can come before this returns: the owner binds
     * it here or refuses it. */
    rc = ln->opt.on_accept(&ln->base, link, ln->opt.user);
    if (rc < 0)
        ax__link_close(link, AX__LINK_ABORT, rc);
}

static const char *listener_address(const ax__listener *base)
{
    return ((const struct tcp_listener *)base)->address;
}

static uint64_t listener_rejected(const ax__listener *base)
{
    return ax__stream_listener_rejected(((const struct tcp_listener *)base)->l);
}

static void listener_close(ax__listener *base)
{
    struct tcp_listener *ln = (struct tcp_listener *)base;
    /* The TCP listener's memory goes in the closes phase; ours now: no
     * accept can come after its close. */
    ax__stream_listener_close(ln->l);
    free(ln);
}

static const struct ax__listener_ops listener_ops = {
    .address = listener_address,
    .rejected = listener_rejected,
    .close = listener_close,
};

static int tcp_listen(ax_loop *loop, const char *address, const struct ax__listen_options *opt,
                      ax__listener **out)
{
    struct ax__addr a;
    if (!loop || !address || !opt || !opt->on_accept || !out || ax__addr_parse(&a, address, 0) < 0)
        return AX_EINVAL;
    struct tcp_listener *ln = calloc(1, sizeof *ln);
    if (!ln)
        return AX_ENOMEM;
    ln->base.ops = &listener_ops;
    ln->base.transport = &ax__tcp_transport;
    ln->loop = loop;
    ln->opt = *opt;
    int rc = ax__stream_listen(loop, &a, opt->backlog, on_accept, ln, &ln->l);
    if (rc < 0) {
        free(ln);
        return rc;
    }
    /* The host as given, the port as bound (port 0 asks the kernel). */
    char host[AX__LINK_ADDR_MAX];
    ax__addr_format(&a, host, sizeof host);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    snprintf(ln->address, sizeof ln->address, "%.48s:%u", host, ax__stream_listener_port(ln->l));
    *out = &ln->base;
    return 0;
}

static int tcp_connect(ax_loop *loop, const char *address, const struct ax__link_options *opt,
                       const struct ax__link_callbacks *cb, void *user, ax__link **out)
{
    struct ax__addr a;
    if (!address || ax__addr_parse(&a, address, 0) < 0 || ax__addr_port(&a) == 0)
        return AX_EINVAL;
    int rc = ax__stream_conn_connect(loop, &a, opt, cb, user, out);
    if (rc == 0)
        (*out)->transport = &ax__tcp_transport;
    return rc;
}

const struct ax__transport ax__tcp_transport = {
    .name = "tcp",
    .caps = AX__TP_NETWORK,
    .listen = tcp_listen,
    .connect = tcp_connect,
    .any_address = "127.0.0.1:0",
};
