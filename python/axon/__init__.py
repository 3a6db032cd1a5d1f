# SPDX-License-Identifier: Apache-2.0
"""axon for Python: ctypes bindings over libaxon's public C API.

    import axon
    from axon.msgs import geometry_pb2     # protoc --python_out of msgs/proto

    with axon.Node(name="talker") as node:
        pub = node.publisher("/chatter", geometry_pb2.Point)
        pub.publish(geometry_pb2.Point(x=1.0))

Every operation is a call into libaxon.so (found as _lib.py says: AXON_LIB,
the installation, ldconfig, a build tree); messages are protobuf classes
(python3-protobuf), whose axon types the library builds from their
descriptors, so type hashes equal C's. docs/python.md is the guide.

The package's path is extended over sys.path (pkgutil.extend_path) so that
Python code generated from axon's own .proto files, whose package is
axon.msgs (axon/msgs/geometry_pb2.py), imports as axon.msgs.geometry_pb2
from wherever it was generated, as long as that directory is on sys.path
when axon is first imported.
"""
import pkgutil

__path__ = pkgutil.extend_path(__path__, __name__)

from .errors import (AccessDenied, Again, Busy, Closed, ConnectionReset, Error,  # noqa: E402
                     InvalidArgument, NotFound, Refused, Timeout, TypeMismatch)
from .msgtypes import message_type, type_hash  # noqa: E402
from .node import Counters, EndpointInfo, Node, NodeInfo  # noqa: E402
from .param import ParamInfo, RemoteParams, remote_params  # noqa: E402
from .pubsub import Event, MessageInfo, Publisher, Subscriber  # noqa: E402
from .qos import QoS  # noqa: E402
from .service import CallInfo, Client, Service  # noqa: E402
from ._lib import LIB_PATH  # noqa: E402

CLOCK_TYPE = "axon.Clock"  # AX_CLOCK_TYPE: 8 bytes, little-endian int64 ns

__all__ = ["AccessDenied", "Again", "Busy", "CallInfo", "Client", "Closed", "ConnectionReset",
           "Counters", "EndpointInfo", "Error", "Event", "InvalidArgument", "LIB_PATH",
           "MessageInfo", "Node", "NodeInfo", "NotFound", "ParamInfo", "Publisher", "QoS",
           "Refused", "RemoteParams", "Service", "Subscriber", "Timeout", "TypeMismatch",
           "CLOCK_TYPE", "message_type", "remote_params", "type_hash"]
