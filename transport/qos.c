/* SPDX-License-Identifier: Apache-2.0 */
/* QoS presets and names. */
#include <string.h>

#include "axon/qos.h"

int ax_qos_preset(const char *name, struct ax_qos *out)
{
    if (!name || !out)
        return AX_EINVAL;
    if (strcmp(name, "default") == 0)
        *out = AX_QOS_DEFAULT;
    else if (strcmp(name, "sensor_data") == 0)
        *out = AX_QOS_SENSOR_DATA;
    else if (strcmp(name, "control") == 0)
        *out = AX_QOS_CONTROL;
    else if (strcmp(name, "latched") == 0)
        *out = AX_QOS_LATCHED;
    else
        return AX_ENOTFOUND;
    return 0;
}

const char *ax_overload_name(enum ax_overload o)
{
    static const char *const names[] = {"drop_oldest", "drop_newest", "latest_only", "disconnect",
                                        "block"};
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

const char *ax_drop_reason_name(enum ax_drop_reason r)
{
    static const char *const names[] = {"queue_oldest", "queue_newest", "queue_latest",
                                        "disconnect",   "lifespan",     "closed"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

const char *ax_shm_use_name(enum ax_shm_use u)
{
    static const char *const names[] = {"default", "auto", "off", "require"};
    return (unsigned)u < sizeof names / sizeof names[0] ? names[u] : "?";
}
