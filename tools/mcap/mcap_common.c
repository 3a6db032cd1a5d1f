/* SPDX-License-Identifier: Apache-2.0 */
/* Compression names and the errno map shared by the writer and the reader. */
#include <errno.h>
#include <string.h>

#include "ax__mcap.h"

bool ax_mcap_compression_supported(enum ax_mcap_compression c)
{
    switch (c) {
    case AX_MCAP_COMPRESSION_NONE:
        return true;
    case AX_MCAP_COMPRESSION_LZ4:
#ifdef AXON_MCAP_HAVE_LZ4
        return true;
#else
        return false;
#endif
    case AX_MCAP_COMPRESSION_ZSTD:
#ifdef AXON_MCAP_HAVE_ZSTD
        return true;
#else
        return false;
#endif
    }
    return false;
}

const char *ax_mcap_compression_name(enum ax_mcap_compression c)
{
    switch (c) {
    case AX_MCAP_COMPRESSION_NONE:
        return "";
    case AX_MCAP_COMPRESSION_LZ4:
        return "lz4";
    case AX_MCAP_COMPRESSION_ZSTD:
        return "zstd";
    }
    return NULL;
}

int ax_mcap_compression_parse(const char *name, enum ax_mcap_compression *out)
{
    enum ax_mcap_compression c;
    if (!name || !out)
        return AX_EINVAL;
    if (strcmp(name, "") == 0 || strcmp(name, "none") == 0)
        c = AX_MCAP_COMPRESSION_NONE;
    else if (strcmp(name, "lz4") == 0)
        c = AX_MCAP_COMPRESSION_LZ4;
    else if (strcmp(name, "zstd") == 0)
        c = AX_MCAP_COMPRESSION_ZSTD;
    else
        return AX_EINVAL;
    if (!ax_mcap_compression_supported(c))
        return AX_ENOTSUP;
    *out = c;
    return 0;
}

/* Explicit on purpose: a recorder must tell "disk full" apart from "bad
 * path", and every storage failure is one code (AX_EIO) it can act on. */
int ax__mcap_err_from_errno(int errnum)
{
    switch (errnum) {
    case ENOENT:
    case ENOTDIR:
        return AX_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return AX_EACCES;
    case ENOMEM:
        return AX_ENOMEM;
    case EMFILE:
        return AX_EMFILE;
    case ENFILE:
        return AX_ENFILE;
    default:
        return AX_EIO;
    }
}
