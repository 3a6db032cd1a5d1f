/* SPDX-License-Identifier: Apache-2.0 */
/* axon doctor: what to do about each error a subscription met reaching a
 * publisher (its last_error), in words. */
#include "cli.h"

const char *cli_doctor_connect_fix(int err)
{
    switch (err) {
    case AX_ECONNREFUSED:
        return "nothing accepts connections at the publisher's TCP endpoint: check that its "
               "process is alive and that transport.listen_address / port_min..port_max give an "
               "address the subscriber's host can reach";
    case AX_ETIMEDOUT:
    case AX_EHOSTUNREACH:
    case AX_ENETUNREACH:
        return "the subscriber's host cannot reach the publisher's TCP endpoint: check routes "
               "and firewalls between the hosts, and set transport.listen_address on the "
               "publisher to an address the subscriber can reach";
    case AX_EVERSION:
        return "the two nodes run incompatible axon protocol versions: update them to one "
               "release";
    case AX_EDOMAIN:
        return "the nodes are in different domains: give both the same node.domain";
    case AX_EACCES:
        return "refused: either the handshake failed authentication (one node has no domain "
               "key or another one, or TLS settings differ: compare security.key_file "
               "fingerprints and security.tls on both), or an access policy "
               "(security.policy_file) does not let one node publish or subscribe to this "
               "topic: the refusing node's log names the rule";
    case AX_ETYPE:
        return "the types differ: build both from the same .proto";
    case AX_ENOTSUP:
        return "shared memory is required (transport.shm or the topic's qos shm: require) and "
               "the publisher on this host cannot be reached that way: turn shared memory on "
               "at the publisher, run both in one network namespace, or use shm: auto";
    default:
        return "check the publisher's log and the network between the two hosts; axon retries "
               "with back-off (transport.reconnect_min/max)";
    }
}
