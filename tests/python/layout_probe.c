/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layout_probe: prints the size and the field offsets of every C struct
 * the Python bindings mirror with ctypes (python/axon/_lib.py), one line
 * each ("Qos sizeof 48", "Qos history 12"), for tests/python/test_layout.py
 * to compare: a header change that moves a field fails there instead of
 * corrupting memory at run time. The Python class names are printed, so
 * the comparison needs no table of its own.
 */
#include <stddef.h>
#include <stdio.h>

#include "axon/axon.h"

#define S(type, py) printf("%s sizeof %zu\n", py, sizeof(type))
#define F(type, field, py) printf("%s %s %zu\n", py, #field, offsetof(type, field))

int main(void)
{
    /* The bindings keep struct ax_config opaque in a buffer this big at
     * least (_lib.CONFIG_BUFFER_SIZE). */
    printf("config sizeof %zu\n", sizeof(struct ax_config));
    S(struct ax_qos, "Qos");
    F(struct ax_qos, reliability, "Qos");
    F(struct ax_qos, durability, "Qos");
    F(struct ax_qos, overload, "Qos");
    F(struct ax_qos, history, "Qos");
    F(struct ax_qos, deadline_ns, "Qos");
    F(struct ax_qos, lifespan_ns, "Qos");
    F(struct ax_qos, max_blocking_ns, "Qos");
    F(struct ax_qos, shm, "Qos");
    S(struct ax_node_info, "NodeInfo");
    F(struct ax_node_info, id, "NodeInfo");
    F(struct ax_node_info, incarnation, "NodeInfo");
    F(struct ax_node_info, name, "NodeInfo");
    F(struct ax_node_info, host, "NodeInfo");
    F(struct ax_node_info, pid, "NodeInfo");
    F(struct ax_node_info, domain, "NodeInfo");
    F(struct ax_node_info, tcp, "NodeInfo");
    F(struct ax_node_info, unicast, "NodeInfo");
    F(struct ax_node_info, mode, "NodeInfo");
    F(struct ax_node_info, version, "NodeInfo");
    F(struct ax_node_info, host_id, "NodeInfo");
    F(struct ax_node_info, shm, "NodeInfo");
    F(struct ax_node_info, lease_ns, "NodeInfo");
    F(struct ax_node_info, heartbeat_ns, "NodeInfo");
    F(struct ax_node_info, uptime_ns, "NodeInfo");
    F(struct ax_node_info, heard_age_ns, "NodeInfo");
    F(struct ax_node_info, generation, "NodeInfo");
    F(struct ax_node_info, complete, "NodeInfo");
    F(struct ax_node_info, is_self, "NodeInfo");
    F(struct ax_node_info, publishers, "NodeInfo");
    F(struct ax_node_info, subscribers, "NodeInfo");
    S(struct ax_link_info, "LinkInfo");
    F(struct ax_link_info, node_id, "LinkInfo");
    F(struct ax_link_info, endpoint_id, "LinkInfo");
    F(struct ax_link_info, transport, "LinkInfo");
    F(struct ax_link_info, reason, "LinkInfo");
    S(struct ax_endpoint_counters, "EndpointCounters");
    F(struct ax_endpoint_counters, messages, "EndpointCounters");
    F(struct ax_endpoint_counters, bytes, "EndpointCounters");
    F(struct ax_endpoint_counters, drops, "EndpointCounters");
    F(struct ax_endpoint_counters, gaps, "EndpointCounters");
    F(struct ax_endpoint_counters, restarts, "EndpointCounters");
    F(struct ax_endpoint_counters, connections, "EndpointCounters");
    F(struct ax_endpoint_counters, last_error, "EndpointCounters");
    F(struct ax_endpoint_counters, queued_messages, "EndpointCounters");
    F(struct ax_endpoint_counters, queued_bytes, "EndpointCounters");
    F(struct ax_endpoint_counters, direct, "EndpointCounters");
    F(struct ax_endpoint_counters, links, "EndpointCounters");
    F(struct ax_endpoint_counters, nlinks, "EndpointCounters");
    F(struct ax_endpoint_counters, links_total, "EndpointCounters");
    F(struct ax_endpoint_counters, stamp_ns, "EndpointCounters");
    F(struct ax_endpoint_counters, received_ns, "EndpointCounters");
    S(struct ax_endpoint_info, "EndpointInfo");
    F(struct ax_endpoint_info, node_id, "EndpointInfo");
    F(struct ax_endpoint_info, node_name, "EndpointInfo");
    F(struct ax_endpoint_info, id, "EndpointInfo");
    F(struct ax_endpoint_info, kind, "EndpointInfo");
    F(struct ax_endpoint_info, topic, "EndpointInfo");
    F(struct ax_endpoint_info, type_name, "EndpointInfo");
    F(struct ax_endpoint_info, type_hash, "EndpointInfo");
    F(struct ax_endpoint_info, qos, "EndpointInfo");
    F(struct ax_endpoint_info, counters, "EndpointInfo");
    F(struct ax_endpoint_info, port, "EndpointInfo");
    F(struct ax_endpoint_info, reply_type_name, "EndpointInfo");
    F(struct ax_endpoint_info, reply_type_hash, "EndpointInfo");
    F(struct ax_endpoint_info, max_request, "EndpointInfo");
    S(struct ax_pubsub_event, "PubsubEvent");
    F(struct ax_pubsub_event, kind, "PubsubEvent");
    F(struct ax_pubsub_event, node_id, "PubsubEvent");
    F(struct ax_pubsub_event, node_name, "PubsubEvent");
    F(struct ax_pubsub_event, endpoint_id, "PubsubEvent");
    F(struct ax_pubsub_event, intra_process, "PubsubEvent");
    F(struct ax_pubsub_event, type_name, "PubsubEvent");
    F(struct ax_pubsub_event, type_hash, "PubsubEvent");
    F(struct ax_pubsub_event, expected_seq, "PubsubEvent");
    F(struct ax_pubsub_event, received_seq, "PubsubEvent");
    F(struct ax_pubsub_event, missing, "PubsubEvent");
    F(struct ax_pubsub_event, restarted, "PubsubEvent");
    F(struct ax_pubsub_event, dropped, "PubsubEvent");
    F(struct ax_pubsub_event, reason, "PubsubEvent");
    F(struct ax_pubsub_event, text, "PubsubEvent");
    S(struct ax_pub_options, "PubOptions");
    F(struct ax_pub_options, qos, "PubOptions");
    F(struct ax_pub_options, on_event, "PubOptions");
    F(struct ax_pub_options, user, "PubOptions");
    F(struct ax_pub_options, drop, "PubOptions");
    S(struct ax_sub_options, "SubOptions");
    F(struct ax_sub_options, qos, "SubOptions");
    F(struct ax_sub_options, on_event, "SubOptions");
    F(struct ax_sub_options, drop, "SubOptions");
    S(struct ax_msg, "Msg");
    F(struct ax_msg, data, "Msg");
    F(struct ax_msg, len, "Msg");
    F(struct ax_msg, topic, "Msg");
    F(struct ax_msg, type_name, "Msg");
    F(struct ax_msg, seq, "Msg");
    F(struct ax_msg, source_ns, "Msg");
    F(struct ax_msg, received_ns, "Msg");
    F(struct ax_msg, publisher_node, "Msg");
    F(struct ax_msg, publisher_id, "Msg");
    F(struct ax_msg, intra_process, "Msg");
    F(struct ax_msg, priv_, "Msg");
    F(struct ax_msg, buf_, "Msg");
    S(struct ax_service_call, "ServiceCall");
    F(struct ax_service_call, node_id, "ServiceCall");
    F(struct ax_service_call, node_name, "ServiceCall");
    F(struct ax_service_call, identity, "ServiceCall");
    F(struct ax_service_call, call_id, "ServiceCall");
    F(struct ax_service_call, why, "ServiceCall");
    F(struct ax_service_call, why_size, "ServiceCall");
    F(struct ax_service_call, priv_, "ServiceCall");
    S(struct ax_service_options, "ServiceOptions");
    F(struct ax_service_options, max_request, "ServiceOptions");
    F(struct ax_service_options, max_pending, "ServiceOptions");
    F(struct ax_service_options, drop, "ServiceOptions");
    S(struct ax_call_result, "CallResult");
    F(struct ax_call_result, status, "CallResult");
    F(struct ax_call_result, handler_error, "CallResult");
    F(struct ax_call_result, reason, "CallResult");
    S(struct ax_client_options, "ClientOptions");
    F(struct ax_client_options, max_outstanding, "ClientOptions");
    S(struct ax_param_value, "ParamValue");
    F(struct ax_param_value, type, "ParamValue");
    F(struct ax_param_value, b, "ParamValue");
    F(struct ax_param_value, i, "ParamValue");
    F(struct ax_param_value, d, "ParamValue");
    F(struct ax_param_value, s, "ParamValue");
    S(struct ax_param_desc, "ParamDesc");
    F(struct ax_param_desc, name, "ParamDesc");
    F(struct ax_param_desc, def, "ParamDesc");
    F(struct ax_param_desc, description, "ParamDesc");
    F(struct ax_param_desc, has_range, "ParamDesc");
    F(struct ax_param_desc, min, "ParamDesc");
    F(struct ax_param_desc, max, "ParamDesc");
    F(struct ax_param_desc, choices, "ParamDesc");
    F(struct ax_param_desc, nchoices, "ParamDesc");
    F(struct ax_param_desc, read_only, "ParamDesc");
    S(struct ax_param_info, "ParamInfo");
    F(struct ax_param_info, name, "ParamInfo");
    F(struct ax_param_info, type, "ParamInfo");
    F(struct ax_param_info, value, "ParamInfo");
    F(struct ax_param_info, default_value, "ParamInfo");
    F(struct ax_param_info, description, "ParamInfo");
    F(struct ax_param_info, has_range, "ParamInfo");
    F(struct ax_param_info, min, "ParamInfo");
    F(struct ax_param_info, max, "ParamInfo");
    F(struct ax_param_info, choices, "ParamInfo");
    F(struct ax_param_info, read_only, "ParamInfo");
    S(struct ax_param_result, "ParamResult");
    F(struct ax_param_result, name, "ParamResult");
    F(struct ax_param_result, error, "ParamResult");
    F(struct ax_param_result, reason, "ParamResult");
    S(struct ax_config_error, "ConfigError");
    F(struct ax_config_error, file, "ConfigError");
    F(struct ax_config_error, line, "ConfigError");
    F(struct ax_config_error, column, "ConfigError");
    F(struct ax_config_error, key, "ConfigError");
    F(struct ax_config_error, message, "ConfigError");
    F(ProtobufCMessageDescriptor, magic, "PbcMessageDescriptorHead");
    F(ProtobufCMessageDescriptor, name, "PbcMessageDescriptorHead");
    F(ProtobufCMessageDescriptor, short_name, "PbcMessageDescriptorHead");
    F(ProtobufCMessageDescriptor, c_name, "PbcMessageDescriptorHead");
    F(ProtobufCMessageDescriptor, package_name, "PbcMessageDescriptorHead");
    F(ProtobufCMessageDescriptor, sizeof_message, "PbcMessageDescriptorHead");
    S(ProtobufCAllocator, "PbcAllocator");
    F(ProtobufCAllocator, alloc, "PbcAllocator");
    F(ProtobufCAllocator, free, "PbcAllocator");
    F(ProtobufCAllocator, allocator_data, "PbcAllocator");
    return 0;
}
