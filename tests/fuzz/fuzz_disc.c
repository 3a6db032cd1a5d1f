/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for discovery datagrams: the whole receive path of
 * core/disc.c (nanopb decode, the checks, the table, the graph events
 * that publish/subscribe matching hears), on a real node.
 *
 * The node runs without threads and with discovery off (no sockets; the
 * datagrams come only from here), so everything happens inside the call.
 * Each input is a sequence of datagrams: a flags byte (bit 0: it came on
 * the unicast socket; bit 1: sign it with the domain key), 2 length bytes
 * (little-endian) and that many bytes. When the first flags byte has bit 7
 * set, the node has a domain key (security.key_file): unsigned datagrams
 * are dropped at the MAC, signed ones reach the replay windows and the
 * table of a keyed node. A fresh node per input
 * keeps inputs independent (the table of one cannot grow into the next).
 *
 * Properties, besides "no crash, no leak, no undefined behaviour": the
 * table stays within its bounds (nodes listed at most the datagrams given,
 * plus this node) and every listed name is NUL-terminated.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/axon.h"
#include "axt_node.h"
#include "core/ax__disc.h"
#include "core/ax__keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct ax__keyring key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ax_log_set_level(AX_LOG_OFF); /* rejections are logged; the fuzzer need not read them */
    char path[] = "/tmp/axon_fuzz_key_XXXXXX";
    int fd = mkstemp(path); /* mode 600 */
    static const char line[] =
        "axon-key-1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    char why[300];
    if (fd < 0 || write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1) ||
        ax__keyring_load(&key, path, why, sizeof why) < 0)
        abort();
    close(fd);
    unlink(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ax_node *node = axt_quiet_node(7, AX_LOG_OFF);
    bool keyed = size > 0 && (data[0] & 0x80);
    if (keyed)
        node->keyring = key; /* discovery is off: only the receive path reads it */
    static uint8_t sealed[65536 + AX__DGRAM_MAC_TRAILER];
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(7400)};
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t off = 0, datagrams = 0;
    while (size - off >= 3) {
        bool unicast = data[off] & 1;
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off)
            len = size - off;
        if (keyed && (data[off - 3] & 2)) {
            memcpy(sealed, data + off, len);
            size_t n = ax__keyring_seal(&key, sealed, len, sizeof sealed);
            ax__disc_receive(node->disc, sealed, n, &from, unicast);
        } else {
            ax__disc_receive(node->disc, data + off, len, &from, unicast);
        }
        datagrams++;
        off += len;
    }
    size_t n = 0;
    ax_node_list_nodes(node, NULL, 0, &n);
    if (n > datagrams + 1)
        abort();
    struct ax_node_info *infos = calloc(n ? n : 1, sizeof *infos);
    size_t got = 0;
    if (infos && ax_node_list_nodes(node, infos, n, &got) == 0)
        for (size_t i = 0; i < got && i < n; i++)
            if (!memchr(infos[i].name, 0, sizeof infos[i].name))
                abort();
    free(infos);
    ax_node_destroy(node);
    return 0;
}
