/* SPDX-License-Identifier: Apache-2.0 */
/* The error table's strings, and the explicit errno → AX_E* map. */
#include <errno.h>

#include "axon/common.h"

static const char *const err_msgs[] = {
#define AX__ERR_MSG(name, msg) [AX__ERR_##name] = msg,
    AX_ERROR_TABLE(AX__ERR_MSG)
#undef AX__ERR_MSG
};

static const char *const err_names[] = {
#define AX__ERR_NAME(name, msg) [AX__ERR_##name] = "AX_" #name,
    AX_ERROR_TABLE(AX__ERR_NAME)
#undef AX__ERR_NAME
};

const char *ax_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err < 0 && -err < AX__ERR_COUNT_)
        return err_msgs[-err];
    return "unknown error";
}

const char *ax_err_name(int err)
{
    if (err == 0)
        return "AX_OK";
    if (err < 0 && -err < AX__ERR_COUNT_)
        return err_names[-err];
    return "AX_EUNKNOWN";
}

int ax_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return 0;
    case EINVAL:
    case EBADF:
    case ENOTSOCK:
    case EFAULT:
        return AX_EINVAL;
    case ENOMEM:
        return AX_ENOMEM;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case EINPROGRESS:
        return AX_EAGAIN;
    case ETIMEDOUT:
        return AX_ETIMEDOUT;
    case ECONNREFUSED:
        return AX_ECONNREFUSED;
    case ECONNRESET:
        return AX_ECONNRESET;
    case ECONNABORTED:
        return AX_ECONNABORTED;
    case EPIPE:
        return AX_EPIPE;
    case ENOTCONN:
        return AX_ENOTCONN;
    case EADDRINUSE:
        return AX_EADDRINUSE;
    case EADDRNOTAVAIL:
        return AX_EADDRNOTAVAIL;
    case ENETUNREACH:
    case ENETDOWN:
        return AX_ENETUNREACH;
    case EHOSTUNREACH:
    case EHOSTDOWN:
        return AX_EHOSTUNREACH;
    case EMFILE:
        return AX_EMFILE;
    case ENFILE:
        return AX_ENFILE;
    case ENOBUFS:
        return AX_ENOBUFS;
    case EACCES:
    case EPERM:
        return AX_EACCES;
    case ENOENT:
        return AX_ENOENT;
    case EEXIST:
        return AX_EEXIST;
    case EIO:
        return AX_EIO;
    case EPROTO:
        return AX_EPROTO;
    case EMSGSIZE:
        return AX_EMSGSIZE;
    case EOVERFLOW:
        return AX_EOVERFLOW;
    case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
    case ENOPROTOOPT:
    case EPROTONOSUPPORT:
    case EAFNOSUPPORT:
        return AX_ENOTSUP;
    default:
        return AX_ESYS;
    }
}
