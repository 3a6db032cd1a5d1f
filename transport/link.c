/* SPDX-License-Identifier: Apache-2.0 */
/* The defaults of every link (transport/ax__link.h). */
#include <string.h>

#include "axon/clock.h"
#include "transport/ax__link.h"

/* Per thread: frame callbacks run on the thread that read the frame. 0
 * outside them. */
static _Thread_local int64_t rx_real_ns;

void ax__link_rx_stamp(int64_t real_ns)
{
    rx_real_ns = real_ns;
}

int64_t ax__link_received_ns(void)
{
    return rx_real_ns ? rx_real_ns : ax_clock_real_ns();
}

void ax__link_options_init(struct ax__link_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_frame = AX__FRAME_DEFAULT_MAX_PAYLOAD;
    o->queue_bytes = 64ull * 1024 * 1024;
    o->queue_frames = 65536;
    o->overload = AX_OVERLOAD_DROP_OLDEST;
    o->handshake = true;
    o->connect_timeout_ns = 5 * AX_NS_PER_S;
    o->handshake_timeout_ns = 5 * AX_NS_PER_S;
    o->linger_ns = 2 * AX_NS_PER_S;
}
