/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BIO under a TLS session: the connection's socket, written with
 * MSG_NOSIGNAL.
 *
 * OpenSSL's own socket BIO writes with write(): to a peer that is gone
 * (killed, or its side closed while we still send, or a close_notify at
 * teardown) that raises SIGPIPE, whose default action ends the process. An
 * application should not have to ignore SIGPIPE for a secured node to
 * survive a dead peer, and every other socket write in axon already uses
 * MSG_NOSIGNAL (transport/sys.c): this BIO does the same, and is otherwise
 * what the socket BIO is for a non-blocking fd (EAGAIN and EINTR are
 * retries; a read of 0 is the peer's EOF, which BIO_eof() reports so that
 * a stream cut without close_notify is told apart from a clean end).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/bio.h>

#include "transport/tls/ax__tls.h"

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

static int fd_of(BIO *b)
{
    return (int)(intptr_t)BIO_get_data(b);
}

static bool retry(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static int sock_write(BIO *b, const char *in, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = send(fd_of(b), in, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && retry(errno))
        BIO_set_retry_write(b);
    return (int)n;
}

static int sock_read(BIO *b, char *out, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = recv(fd_of(b), out, (size_t)len, 0);
    if (n < 0 && retry(errno))
        BIO_set_retry_read(b);
    else if (n == 0 && len > 0)
        BIO_set_flags(b, BIO_FLAGS_IN_EOF);
    return (int)n;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH: /* nothing is buffered here */
        return 1;
    case BIO_CTRL_EOF:
        return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    default:
        return 0;
    }
}

static int sock_create(BIO *b)
{
    BIO_set_init(b, 0);
    return 1;
}

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "axon socket");
    if (!m)
        return;
    if (BIO_meth_set_write(m, sock_write) != 1 || BIO_meth_set_read(m, sock_read) != 1 ||
        BIO_meth_set_ctrl(m, sock_ctrl) != 1 || BIO_meth_set_create(m, sock_create) != 1) {
        BIO_meth_free(m);
        return;
    }
    method = m; /* kept for the process's life, like OpenSSL's own methods */
}

BIO *ax__tls_sock_bio(int fd)
{
    pthread_once(&method_once, make_method);
    if (!method)
        return NULL;
    BIO *b = BIO_new(method);
    if (!b)
        return NULL;
    BIO_set_data(b, (void *)(intptr_t)fd);
    BIO_set_init(b, 1);
    return b;
}
