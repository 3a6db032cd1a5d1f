/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: parameters (include/axon/param.h). param.c keeps a node's
 * parameters; param_service.c serves them as "/axon/param/<node name>" and
 * calls other nodes' (the ax_param_remote_*() functions); param_yaml.c
 * reads parameter files. param_service.c calls param.c and the service
 * API (and declares: the first declaration starts the service); param.c
 * calls neither.
 */
#ifndef AX__PARAM_H
#define AX__PARAM_H

#include "axon/param.h"
#include "axon/param.pb-c.h"
#include "axon/service.h"
#include "core/ax__node.h"

#define AX__PARAM_SERVICE_PREFIX "/axon/param/"

/* The service's request and reply types (registered on first use). */
int ax__param_types(const ax_type **req, const ax_type **rep);

/* Open node->params (idempotent): 0 or AX_ENOMEM. */
int ax__params_open(ax_node *node);
/* Set with every check and the callback; @from_outside for the log. */
int ax__param_set(ax_node *node, const char *name, const struct ax_param_value *v,
                  bool from_outside, char *why, size_t len);
size_t ax__params_count(ax_node *node);
/* The type of @name, 0 when there is none. */
enum ax_param_type ax__param_type_of(ax_node *node, const char *name);
/* Wire Info messages of the parameters named (all: @names NULL), at most
 * @cap, their memory from @alloc(@ctx, size). Returns how many. */
size_t ax__params_snapshot(ax_node *node, char **names, size_t nnames, Axon__Param__Info **out,
                           size_t cap, void *(*alloc)(void *ctx, size_t size), void *ctx);

/* Declare (ax_param_declare() without the service): *@need_service when
 * this is the node's first parameter, for the caller to start it. */
int ax__param_declare(ax_node *node, const struct ax_param_desc *d, bool *need_service);

#endif /* AX__PARAM_H */
