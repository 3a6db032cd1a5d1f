/* SPDX-License-Identifier: Apache-2.0 */
/* base/version.c: the version the library was built as (axon/version.h). */
#include "axon/version.h"

const char *ax_version(void)
{
    return AXON_VERSION_STRING;
}

int ax_version_number(void)
{
    return AXON_VERSION_NUMBER;
}
