/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libaxon_msgs: registers axon's standard messages when the library is
 * loaded (a constructor), so that a program linked with it finds
 * "axon.sensor.PointCloud" in the registry without a set-up call.
 * ax_msgs_register() is the same, for whoever prefers to say so, and the
 * symbol the link keeps referenced (msgs/std/CMakeLists.txt).
 */
#include "axon/log.h"
#include "axon/msgs.h"
#include "axon_std_types.h" /* generated: ax_types_axon_std_register() */

int ax_msgs_register(void)
{
    /* Registering the same descriptors again is a no-op in the registry. */
    return ax_types_axon_std_register();
}

__attribute__((constructor)) static void register_at_load(void)
{
    int rc = ax_msgs_register();
    if (rc < 0)
        AX_LOG_E("types", "registering the standard messages failed: %s", ax_strerror(rc));
}
