/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TCP transport's entry points (struct ax__transport): addresses as
 * "ip:port" text; its links are plain stream links (transport/stream) on
 * TCP sockets.
 */
#include <stdlib.h>

#include "transport/stream/ax__stream.h"
#include "transport/tcp/ax__tcp.h"

static int tcp_link(ax_loop *loop, int fd, const struct ax__link_options *opt, ax__link **out)
{
    int rc = ax__stream_conn_new(loop, fd, opt, NULL, NULL, out);
    if (rc == 0)
        (*out)->transport = &ax__tcp_transport;
    return rc;
}

static int tcp_listen(ax_loop *loop, const char *address, const struct ax__listen_options *opt,
                      ax__listener **out)
{
    struct ax__addr a;
    if (!address || ax__addr_parse(&a, address, 0) < 0 || a.ss.ss_family == AF_UNIX)
        return AX_EINVAL;
    return ax__stream_serve(loop, &a, opt, &ax__tcp_transport, tcp_link, out);
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
