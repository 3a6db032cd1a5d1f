/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/axon.h: the umbrella header. Include this one.
 */
#ifndef AXON_AXON_H
#define AXON_AXON_H

#include "axon/common.h"
#include "axon/log.h"
#include "axon/clock.h"
#include "axon/units.h"
#include "axon/version.h"
#include "axon/loop.h"
#include "axon/qos.h"
#include "axon/node.h"
#include "axon/config.h"
#include "axon/types.h"
#include "axon/msgtext.h"
#include "axon/pubsub.h"
#include "axon/service.h"
#include "axon/param.h"
#include "axon/security.h"

#endif /* AXON_AXON_H */
