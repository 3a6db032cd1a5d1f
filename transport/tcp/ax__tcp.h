/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: axon's TCP transport (transport/tcp/tcp.c): framed stream
 * connections (transport/stream/) over TCP sockets, addressed as
 * "ip:port". Core reaches it only through transport/transports.c.
 */
#ifndef AX__TCP_H
#define AX__TCP_H

#include "transport/ax__link.h"

extern const struct ax__transport ax__tcp_transport;

#endif /* AX__TCP_H */
