# SPDX-License-Identifier: Apache-2.0
"""The C side: finding libaxon.so, the ctypes mirrors of the public structs
(include/axon/*.h) and the prototypes of the functions the bindings call.

Nothing here implements protocol: every operation is a call into libaxon.
The struct mirrors must match the C layouts exactly; tests/python/
test_layout.py compares every size and field offset below with what a C
program built from the public headers prints (tests/python/layout_probe.c).

Library search order (the first that loads wins):
  1. the file named by the environment variable AXON_LIB;
  2. the library directory recorded at installation (_paths.py, written by
     `cmake --install` next to this file);
  3. ctypes.util.find_library("axon") (ldconfig's cache, LD_LIBRARY_PATH);
  4. a build tree next to the source tree (<repo>/build/*/libaxon.so),
     so that `import axon` works from a checkout after `cmake --build`.

Every foreign call goes through ctypes.CDLL, which releases the GIL for the
duration of the call: a call that waits (ax_client_call, ax_node_destroy)
lets the node's threads run Python callbacks meanwhile.
"""
import ctypes
import ctypes.util
import glob
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_int,
                    c_int64, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p)

NODE_NAME_MAX = 64
TOPIC_MAX = 256
TYPE_NAME_MAX = 128
TYPE_HASH_SIZE = 32
TYPE_HASH_STRLEN = 70
LINKS_SHOWN = 4
DROP_REASON_COUNT = 6
CALL_REASON_MAX = 256
PARAM_NAME_MAX = 128
PARAM_STRING_MAX = 1024

# struct ax_config is large and has nested pointers the bindings never read:
# it is kept opaque, in a buffer at least this big (test_layout.py checks it
# against sizeof(struct ax_config)), and set through ax_config_load_string().
CONFIG_BUFFER_SIZE = 16384


def _candidates():
    env = os.environ.get("AXON_LIB")
    if env:
        yield env
    try:
        from . import _paths  # written at installation only
        yield os.path.join(_paths.LIBDIR, "libaxon.so")
    except ImportError:
        pass
    found = ctypes.util.find_library("axon")
    if found:
        yield found
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    builds = sorted(glob.glob(os.path.join(repo, "build", "*", "libaxon.so")),
                    key=lambda p: (os.path.basename(os.path.dirname(p)) != "dev", p))
    yield from builds


def _load():
    errors = []
    for path in _candidates():
        try:
            # RTLD_GLOBAL: libprotobuf-c, which libaxon links, is then found
            # by name below as the very copy libaxon uses.
            return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL), path
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise ImportError("axon: cannot load libaxon.so (set AXON_LIB to its path); tried: "
                      + ("; ".join(errors) or "nothing found"))


lib, LIB_PATH = _load()
_pbc_name = ctypes.util.find_library("protobuf-c") or "libprotobuf-c.so.1"
pbc = ctypes.CDLL(_pbc_name)

# ---- structs (include/axon/*.h) ----


class Qos(Structure):
    _fields_ = [("reliability", c_int), ("durability", c_int), ("overload", c_int),
                ("history", c_uint32), ("deadline_ns", c_int64), ("lifespan_ns", c_int64),
                ("max_blocking_ns", c_int64), ("shm", c_int)]


class NodeInfo(Structure):
    _fields_ = [("id", c_uint64), ("incarnation", c_uint64), ("name", c_char * NODE_NAME_MAX),
                ("host", c_char * 64), ("pid", c_uint32), ("domain", c_uint32),
                ("tcp", c_char * 64), ("unicast", c_char * 64), ("mode", c_int),
                ("version", c_char * 16), ("host_id", c_char * 40), ("shm", c_bool),
                ("lease_ns", c_int64), ("heartbeat_ns", c_int64), ("uptime_ns", c_int64),
                ("heard_age_ns", c_int64), ("generation", c_uint64), ("complete", c_bool),
                ("is_self", c_bool), ("publishers", c_uint32), ("subscribers", c_uint32)]


class LinkInfo(Structure):
    _fields_ = [("node_id", c_uint64), ("endpoint_id", c_uint32), ("transport", c_int),
                ("reason", c_int)]


class EndpointCounters(Structure):
    _fields_ = [("messages", c_uint64), ("bytes", c_uint64),
                ("drops", c_uint64 * DROP_REASON_COUNT), ("gaps", c_uint64),
                ("restarts", c_uint64), ("connections", c_uint32), ("last_error", c_int),
                ("queued_messages", c_uint64), ("queued_bytes", c_uint64), ("direct", c_uint64),
                ("links", LinkInfo * LINKS_SHOWN), ("nlinks", c_uint32),
                ("links_total", c_uint32), ("stamp_ns", c_int64), ("received_ns", c_int64)]


class EndpointInfo(Structure):
    _fields_ = [("node_id", c_uint64), ("node_name", c_char * NODE_NAME_MAX), ("id", c_uint32),
                ("kind", c_int), ("topic", c_char * TOPIC_MAX),
                ("type_name", c_char * TYPE_NAME_MAX), ("type_hash", c_uint8 * TYPE_HASH_SIZE),
                ("qos", Qos), ("counters", EndpointCounters), ("port", c_uint16),
                ("reply_type_name", c_char * TYPE_NAME_MAX),
                ("reply_type_hash", c_uint8 * TYPE_HASH_SIZE), ("max_request", c_uint32)]


class PubsubEvent(Structure):
    _fields_ = [("kind", c_int), ("node_id", c_uint64), ("node_name", c_char * NODE_NAME_MAX),
                ("endpoint_id", c_uint32), ("intra_process", c_bool),
                ("type_name", c_char * TYPE_NAME_MAX), ("type_hash", c_uint8 * TYPE_HASH_SIZE),
                ("expected_seq", c_uint64), ("received_seq", c_uint64), ("missing", c_uint64),
                ("restarted", c_bool), ("dropped", c_uint64), ("reason", c_int),
                ("text", c_char * 256)]


EVENT_FN = CFUNCTYPE(None, c_void_p, POINTER(PubsubEvent), c_void_p)
DROP_FN = CFUNCTYPE(None, c_void_p)


class PubOptions(Structure):
    _fields_ = [("qos", Qos), ("on_event", EVENT_FN), ("user", c_void_p), ("drop", DROP_FN)]


class SubOptions(Structure):
    _fields_ = [("qos", Qos), ("on_event", EVENT_FN), ("drop", DROP_FN)]


class Msg(Structure):
    _fields_ = [("data", c_void_p), ("len", c_size_t), ("topic", c_char_p),
                ("type_name", c_char_p), ("seq", c_uint64), ("source_ns", c_int64),
                ("received_ns", c_int64), ("publisher_node", c_uint64),
                ("publisher_id", c_uint32), ("intra_process", c_bool), ("priv_", c_void_p),
                ("buf_", c_void_p)]


SUB_CB = CFUNCTYPE(None, c_void_p, POINTER(Msg), c_void_p)


class ServiceCall(Structure):
    _fields_ = [("node_id", c_uint64), ("node_name", c_char_p), ("identity", c_char_p),
                ("call_id", c_uint64), ("why", c_void_p), ("why_size", c_size_t),
                ("priv_", c_void_p)]


SERVICE_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, POINTER(ServiceCall), c_void_p)


class ServiceOptions(Structure):
    _fields_ = [("max_request", c_uint32), ("max_pending", c_uint32), ("drop", DROP_FN)]


class CallResult(Structure):
    _fields_ = [("status", c_int), ("handler_error", c_int),
                ("reason", c_char * CALL_REASON_MAX)]


class ClientOptions(Structure):
    _fields_ = [("max_outstanding", c_uint32)]


class ParamValue(Structure):
    _fields_ = [("type", c_int), ("b", c_bool), ("i", c_int64), ("d", c_double), ("s", c_char_p)]


class ParamDesc(Structure):
    _fields_ = [("name", c_char_p), ("def", ParamValue), ("description", c_char_p),
                ("has_range", c_bool), ("min", c_double), ("max", c_double),
                ("choices", POINTER(c_char_p)), ("nchoices", c_size_t), ("read_only", c_bool)]


PARAM_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, POINTER(ParamValue), c_void_p, c_size_t, c_void_p)


class ParamInfo(Structure):
    _fields_ = [("name", c_char * PARAM_NAME_MAX), ("type", c_int),
                ("value", c_char * PARAM_STRING_MAX), ("default_value", c_char * PARAM_STRING_MAX),
                ("description", c_char * 256), ("has_range", c_bool), ("min", c_double),
                ("max", c_double), ("choices", c_char * 512), ("read_only", c_bool)]


class ParamResult(Structure):
    _fields_ = [("name", c_char * PARAM_NAME_MAX), ("error", c_int), ("reason", c_char * 256)]


class ConfigError(Structure):
    _fields_ = [("file", c_char * 256), ("line", c_int), ("column", c_int), ("key", c_char * 128),
                ("message", c_char * 256)]


# protobuf-c (<protobuf-c/protobuf-c.h>): only the head of a message
# descriptor is read (the size of the C struct of a message).
class PbcMessageDescriptorHead(Structure):
    _fields_ = [("magic", c_uint32), ("name", c_char_p), ("short_name", c_char_p),
                ("c_name", c_char_p), ("package_name", c_char_p), ("sizeof_message", c_size_t)]


# Function pointers kept as plain addresses: alloc may be a C function
# (ax_service_scratch has the very signature of an allocator's alloc).
class PbcAllocator(Structure):
    _fields_ = [("alloc", c_void_p), ("free", c_void_p), ("allocator_data", c_void_p)]


# ---- prototypes ----

def _proto(name, restype, *argtypes, where=None):
    f = getattr(where or lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


P = c_void_p
_proto("ax_strerror", c_char_p, c_int)
_proto("ax_err_name", c_char_p, c_int)
_proto("ax_config_init", None, P)
_proto("ax_config_fini", None, P)
_proto("ax_config_load_file", c_int, P, c_char_p, POINTER(ConfigError))
_proto("ax_config_load_string", c_int, P, c_char_p, c_char_p, POINTER(ConfigError))
_proto("ax_config_apply_env", c_int, P, POINTER(ConfigError))
_proto("ax_config_error_str", c_char_p, POINTER(ConfigError), c_char_p, c_size_t)
_proto("ax_node_new", c_int, POINTER(P), P)
_proto("ax_node_destroy", None, P)
_proto("ax_node_spin_once", c_int, P, c_int)
_proto("ax_node_id", c_uint64, P)
_proto("ax_node_name", c_char_p, P)
_proto("ax_node_now", c_int64, P)
_proto("ax_node_list_nodes", c_int, P, POINTER(NodeInfo), c_size_t, POINTER(c_size_t))
_proto("ax_node_list_endpoints", c_int, P, c_char_p, POINTER(EndpointInfo), c_size_t,
       POINTER(c_size_t))
_proto("ax_qos_preset", c_int, c_char_p, POINTER(Qos))
_proto("ax_type_from_fds", c_int, c_char_p, c_size_t, c_char_p, POINTER(P))
_proto("ax_type_descriptor", P, P)
_proto("ax_type_hash", P, P)
_proto("ax_type_hash_format", None, P, c_char_p)
_proto("ax_pub_options_init", None, POINTER(PubOptions))
_proto("ax_pub_new", c_int, POINTER(P), P, c_char_p, P, POINTER(PubOptions))
_proto("ax_pub_new_raw", c_int, POINTER(P), P, c_char_p, c_char_p, POINTER(PubOptions))
_proto("ax_pub_publish_bytes", c_int, P, c_char_p, c_size_t)
_proto("ax_pub_free", None, P)
_proto("ax_pub_counters", c_int, P, POINTER(EndpointCounters))
_proto("ax_pub_qos", POINTER(Qos), P)
_proto("ax_sub_options_init", None, POINTER(SubOptions))
_proto("ax_sub_new", c_int, POINTER(P), P, c_char_p, P, SUB_CB, P, POINTER(SubOptions))
_proto("ax_sub_new_raw", c_int, POINTER(P), P, c_char_p, c_char_p, SUB_CB, P, POINTER(SubOptions))
_proto("ax_sub_free", None, P)
_proto("ax_sub_wait", c_int, P, c_int)
_proto("ax_sub_counters", c_int, P, POINTER(EndpointCounters))
_proto("ax_sub_qos", POINTER(Qos), P)
_proto("ax_pubsub_event_name", c_char_p, c_int)
_proto("ax_service_options_init", None, POINTER(ServiceOptions))
_proto("ax_service_new", c_int, POINTER(P), P, c_char_p, P, P, SERVICE_FN, P,
       POINTER(ServiceOptions))
_proto("ax_service_free", None, P)
_proto("ax_service_scratch", P, POINTER(ServiceCall), c_size_t)
_proto("ax_service_defer", P, POINTER(ServiceCall))
_proto("ax_service_reply", c_int, P, P)
_proto("ax_service_refuse", c_int, P, c_int, c_char_p)
_proto("ax_service_deferred_gone", c_bool, P)
_proto("ax_client_new", c_int, POINTER(P), P, c_char_p, P, P, POINTER(ClientOptions))
_proto("ax_client_wait_server", c_int, P, c_int64)
_proto("ax_client_call", c_int, P, P, POINTER(P), c_int64, POINTER(CallResult))
_proto("ax_client_free", None, P)
_proto("ax_param_declare", c_int, P, POINTER(ParamDesc))
_proto("ax_param_on_change", c_int, P, PARAM_FN, P)
_proto("ax_param_set", c_int, P, c_char_p, POINTER(ParamValue), c_char_p, c_size_t)
_proto("ax_param_get_bool", c_int, P, c_char_p, POINTER(c_bool))
_proto("ax_param_get_int", c_int, P, c_char_p, POINTER(c_int64))
_proto("ax_param_get_double", c_int, P, c_char_p, POINTER(c_double))
_proto("ax_param_get_string", c_int, P, c_char_p, c_char_p, c_size_t)
_proto("ax_param_remote_list", c_int, P, c_char_p, c_int64, POINTER(POINTER(ParamInfo)),
       POINTER(c_size_t), c_char_p, c_size_t)
_proto("ax_param_remote_set", c_int, P, c_char_p, POINTER(c_char_p), POINTER(c_char_p), c_size_t,
       c_int64, POINTER(ParamResult), c_char_p, c_size_t)

_proto("protobuf_c_message_get_packed_size", c_size_t, P, where=pbc)
_proto("protobuf_c_message_pack", c_size_t, P, c_char_p, where=pbc)
_proto("protobuf_c_message_unpack", P, P, P, c_size_t, c_char_p, where=pbc)
_proto("protobuf_c_message_free_unpacked", None, P, P, where=pbc)

libc = ctypes.CDLL(None)
libc.free.restype = None
libc.free.argtypes = [c_void_p]


def text(b):
    """A char array or char * from C as str (undecodable bytes replaced)."""
    return b.decode("utf-8", "replace") if b else ""


def cstr(s, what="string"):
    """A str as NUL-terminated UTF-8 bytes for C; ValueError on a NUL."""
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    if b"\0" in b:
        raise ValueError("%s contains a NUL byte" % what)
    return b


def write_why(ptr, size, reason):
    """Write @reason NUL-terminated into a C buffer of @size bytes (truncated)."""
    if not ptr or not size:
        return
    b = reason.encode("utf-8", "replace")[:size - 1] + b"\0"
    ctypes.memmove(ptr, b, len(b))
