/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/msgs.h: axon's standard messages (libaxon_msgs; link axon::msgs, or
 * pkg-config axon-msgs). The message types themselves are in
 * <axon/msgs/<area>.pb-c.h> (docs/messages.md).
 *
 * Linking libaxon_msgs registers every standard message in the type
 * registry before main() runs: ax_type_find("axon.sensor.PointCloud")
 * works without any call. A node that uses only its own types need not
 * link it.
 */
#ifndef AXON_MSGS_H
#define AXON_MSGS_H

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * ax_msgs_register() - register the standard messages (again: it is done
 * when the library loads, and repeating it is a no-op). Any thread.
 * Returns 0, or the first error of ax_type_register_set() (AX_EEXIST when
 * the application registered another type under a standard name,
 * AX_ENOMEM).
 */
AX_API int ax_msgs_register(void);

#ifdef __cplusplus
}
#endif

#endif /* AXON_MSGS_H */
