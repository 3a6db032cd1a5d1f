/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared-memory transport's entry points (struct ax__transport).
 *
 * Addresses are Unix sockets in the abstract namespace ("@name"): nothing
 * in the file system to clean up after a crash, and reachable exactly by
 * the processes of the same network namespace. A node's address is made
 * from what discovery already says of it (domain, node id, the port of
 * the loop serving the topic), so nothing new is announced but a flag and
 * the host's boot id.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/shm/ax__shm.h"
#include "transport/stream/ax__stream.h"

static int parse(const char *address, struct ax__addr *a)
{
    if (!address || address[0] != '@' || ax__addr_parse(a, address, 0) < 0)
        return AX_EINVAL;
    return 0;
}

/* The link and its stream say which transport they are (the other files
 * of the folder do not name it: they come first). */
static ax__link *own(ax__link *l, ax__link *stream)
{
    l->transport = &ax__shm_transport;
    stream->transport = &ax__shm_transport;
    return l;
}

/* An accepted socket: a shared-memory link around its stream link. */
static int shm_link(ax_loop *loop, int fd, const struct ax__link_options *opt, ax__link **out)
{
    struct ax__shm_link *s = ax__shm_link_alloc(loop, opt, NULL, NULL);
    if (!s)
        return AX_ENOMEM;
    struct ax__link_options o = *opt;
    o.pass_fds = true;
    o.tls = NULL; /* a Unix socket: the peer's credentials are the kernel's */
    o.self.capabilities |= AX__STREAM_CAP_SHM_CHANNEL;
    ax__link *stream;
    int rc = ax__stream_conn_new(loop, fd, &o, ax__shm_link_stream_cbs(), s, &stream);
    if (rc < 0) {
        ax__shm_link_abandon(s);
        return rc;
    }
    *out = own(ax__shm_link_attach(s, stream), stream);
    return 0;
}

static int shm_listen(ax_loop *loop, const char *address, const struct ax__listen_options *opt,
                      ax__listener **out)
{
    struct ax__addr a;
    if (parse(address, &a) < 0)
        return AX_EINVAL;
    return ax__stream_serve(loop, &a, opt, &ax__shm_transport, shm_link, out);
}

static int shm_connect(ax_loop *loop, const char *address, const struct ax__link_options *opt,
                       const struct ax__link_callbacks *cb, void *user, ax__link **out)
{
    struct ax__addr a;
    if (!loop || !opt || !out || parse(address, &a) < 0 || strcmp(address, "@") == 0)
        return AX_EINVAL;
    struct ax__shm_link *s = ax__shm_link_alloc(loop, opt, cb, user);
    if (!s)
        return AX_ENOMEM;
    struct ax__link_options o = *opt;
    o.pass_fds = true;
    o.tls = NULL; /* a Unix socket: the peer's credentials are the kernel's */
    o.self.capabilities |= AX__STREAM_CAP_SHM_CHANNEL;
    ax__link *stream;
    int rc = ax__stream_conn_connect(loop, &a, &o, ax__shm_link_stream_cbs(), s, &stream);
    if (rc < 0) {
        ax__shm_link_abandon(s);
        return rc;
    }
    *out = own(ax__shm_link_attach(s, stream), stream);
    return 0;
}

static int shm_pool_new(const struct ax__pool_options *opt, ax__pool **out)
{
    int rc = ax__shm_pool_new(opt, out);
    if (rc == 0)
        (*out)->transport = &ax__shm_transport;
    return rc;
}

static int shm_host_address(uint32_t domain, uint64_t node_id, uint16_t port, char *out, size_t len)
{
    int n = snprintf(out, len, "@axon/%u/%016llx/%u", (unsigned)domain, (unsigned long long)node_id,
                     (unsigned)port);
    return n < 0 || (size_t)n >= len ? AX_EINVAL : 0;
}

static char boot_id[40];
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

static void read_boot_id(void)
{
    /* Two processes share memory only under one kernel: the boot id says
     * which (a container sees its host's). */
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (!f)
        return;
    if (!fgets(boot_id, sizeof boot_id, f))
        boot_id[0] = '\0';
    fclose(f);
    boot_id[strcspn(boot_id, "\n")] = '\0';
}

static const char *shm_host_id(void)
{
    pthread_once(&boot_once, read_boot_id);
    return boot_id;
}

const struct ax__transport ax__shm_transport = {
    .name = "shm",
    .caps = AX__TP_HOST | AX__TP_LOANS,
    .listen = shm_listen,
    .connect = shm_connect,
    .host_address = shm_host_address,
    .host_id = shm_host_id,
    .pool_new = shm_pool_new,
    .reclaim = ax__stream_reclaim,
    .any_address = "@",
};
