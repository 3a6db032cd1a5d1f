/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers over a node's internals: a quiet node that runs only when
 * the test spins it, and a remote publisher made up from one discovery
 * datagram. For unit tests and fuzz targets, which link the static library
 * (internal symbols reachable) and have the source root and the generated
 * nanopb headers on their include path.
 */
#ifndef AXT_NODE_H
#define AXT_NODE_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>

#include "axon/axon.h"
#include "control.pb.h"
#include "core/ax__disc.h"
#include "core/ax__endpoint.h"

/* No threads (the caller spins it), discovery off (datagrams come only
 * from axt_announce_publisher()), in @domain, logging at @log_level.
 * Aborts on failure: a harness has nothing better to do. */
static inline ax_node *axt_quiet_node(uint32_t domain, int log_level)
{
    struct ax_config cfg;
    ax_config_init(&cfg);
    cfg.threads = 0;
    cfg.domain = domain;
    cfg.discovery.mode = AX_DISCOVERY_OFF;
    cfg.log_level = log_level;
    ax_node *node;
    if (ax_node_new(&node, &cfg) < 0)
        abort();
    ax_config_fini(&cfg);
    return node;
}

/* What node @node_id would announce of its raw publisher (endpoint 1) of
 * @topic and @type_name, reachable at @tcp ("host:port") and @port, fed to
 * @node's discovery as if it had arrived from 127.0.0.1. */
static inline void axt_announce_publisher(ax_node *node, uint64_t node_id, const char *tcp,
                                          uint16_t port, const char *topic, const char *type_name)
{
    static axon_ctl_Discovery m; /* large: not on the stack */
    static uint8_t buf[2048];
    memset(&m, 0, sizeof m);
    m.protocol_version = 1;
    m.domain = ax_node_config(node)->domain;
    m.node_id = node_id;
    m.incarnation = 9;
    m.which_body = axon_ctl_Discovery_announce_tag;
    axon_ctl_Announce *a = &m.body.announce;
    a->generation = 1;
    a->pages = 1;
    a->has_node = true;
    snprintf(a->node.name, sizeof a->node.name, "remote-%llx", (unsigned long long)node_id);
    a->node.tcp_count = 1;
    snprintf(a->node.tcp[0], sizeof a->node.tcp[0], "%s", tcp);
    a->node.lease_ms = 60000;
    a->node.heartbeat_ms = 100;
    a->endpoints_count = 1;
    axon_ctl_Endpoint *e = &a->endpoints[0];
    e->id = 1;
    e->kind = axon_ctl_EndpointKind_ENDPOINT_PUBLISHER;
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    snprintf(e->type_name, sizeof e->type_name, "%s", type_name);
    e->type_hash.size = AX_TYPE_HASH_SIZE;
    ax__raw_type_hash(type_name, e->type_hash.bytes);
    e->port = port;
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&os, axon_ctl_Discovery_fields, &m))
        abort();
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(7400)};
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ax__disc_receive(node->disc, buf, os.bytes_written, &from, false);
}

#endif /* AXT_NODE_H */
