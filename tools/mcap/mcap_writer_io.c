/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every byte the MCAP writer writes goes through here: short writes and
 * EINTR are retried, the data section CRC is kept, and a failure is sticky
 * (see mcap.h): once a write failed the writer never writes again, so the
 * file stays a clean prefix that the reader's recovery can read.
 */
#include <errno.h>
#include <unistd.h>

#include "ax__mcap_writer.h"

int ax__mcap_fail_errno(ax_mcap_writer *w)
{
    w->sys_errno = errno;
    w->err = AX_EIO;
    return w->err;
}

int ax__mcap_write_all(ax_mcap_writer *w, struct iovec *iov, int n, bool data_section)
{
    if (data_section)
        for (int i = 0; i < n; i++)
            w->data_crc = ax_mcap_crc32(w->data_crc, iov[i].iov_base, iov[i].iov_len);
    while (n > 0) {
        ssize_t r = writev(w->fd, iov, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ax__mcap_fail_errno(w);
        }
        if (r == 0) {
            errno = EIO;
            return ax__mcap_fail_errno(w);
        }
        w->offset += (uint64_t)r;
        size_t done = (size_t)r;
        while (n > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

int ax__mcap_write_buf(ax_mcap_writer *w, const struct ax__mcap_buf *b, bool data_section)
{
    struct iovec iov = {.iov_base = b->p, .iov_len = b->len};
    return b->len ? ax__mcap_write_all(w, &iov, 1, data_section) : 0;
}
