/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transports built into this library, in order of preference. Adding
 * a transport is adding its folder and one line here; core picks by
 * capability and never by name.
 */
#include "transport/ax__link.h"
#include "transport/shm/ax__shm.h"
#include "transport/tcp/ax__tcp.h"

static const struct ax__transport *const all[] = {
    &ax__tcp_transport,
    &ax__shm_transport,
};

const struct ax__transport *const *ax__transports(size_t *n)
{
    *n = sizeof all / sizeof all[0];
    return all;
}

const struct ax__transport *ax__transport_with(unsigned caps)
{
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if ((all[i]->caps & caps) == caps)
            return all[i];
    return NULL;
}
