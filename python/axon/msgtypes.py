# SPDX-License-Identifier: Apache-2.0
"""axon message types built from Python protobuf message classes.

A class's descriptor knows the .proto file it comes from and that file's
imports; their serialized FileDescriptorProtos (exactly what protoc wrote
into the generated module) make a FileDescriptorSet, from which the library
builds a dynamic type (ax_type_from_fds). The type hash is therefore
computed by the C code from the same schema a C program is built from, and
equals the C type's hash; nothing about hashing lives in Python.

Types are cached per class for the life of the process and never freed: a
type must outlive every publisher, subscription, service and message that
uses it, and there are few types per program.
"""
import ctypes
import threading

from . import _lib
from .errors import check

_cache = {}
_lock = threading.Lock()


class MessageType:
    """The axon type of a protobuf message class (see message_type())."""

    def __init__(self, cls, ptr):
        self.cls = cls
        self.ptr = ptr  # ax_type *
        self.full_name = cls.DESCRIPTOR.full_name
        self.descriptor = _lib.lib.ax_type_descriptor(ptr)  # ProtobufCMessageDescriptor *
        head = _lib.PbcMessageDescriptorHead.from_address(self.descriptor)
        self.sizeof_message = head.sizeof_message
        buf = ctypes.create_string_buffer(_lib.TYPE_HASH_STRLEN)
        _lib.lib.ax_type_hash_format(_lib.lib.ax_type_hash(ptr), buf)
        self.hash = buf.value.decode()

    def to_c(self, msg):
        """@msg as a protobuf-c message (malloc'd; free with free_c())."""
        if not isinstance(msg, self.cls):
            raise TypeError("expected a %s, got %s" % (self.full_name, type(msg).__name__))
        data = msg.SerializeToString()
        m = _lib.pbc.protobuf_c_message_unpack(self.descriptor, None, len(data), data)
        if not m:
            raise ValueError("%s: protobuf-c cannot read what Python serialized" % self.full_name)
        return m

    def from_c(self, m):
        """The protobuf-c message at address @m as an instance of the class."""
        return self.cls.FromString(pack(m))


def pack(m):
    """The wire bytes of the protobuf-c message at address @m."""
    n = _lib.pbc.protobuf_c_message_get_packed_size(m)
    buf = ctypes.create_string_buffer(n or 1)
    _lib.pbc.protobuf_c_message_pack(m, buf)
    return buf.raw[:n]


def free_c(m):
    """Free a message made by MessageType.to_c() or unpacked by the library."""
    if m:
        _lib.pbc.protobuf_c_message_free_unpacked(m, None)


def file_descriptor_set(cls):
    """The serialized FileDescriptorSet of @cls's file and all its imports,
    imports first (what `protoc --include_imports --descriptor_set_out`
    writes)."""
    from google.protobuf import descriptor_pb2
    files, seen = [], set()

    def visit(fd):
        if fd.name in seen:
            return
        seen.add(fd.name)
        for dep in fd.dependencies:
            visit(dep)
        files.append(fd)

    visit(cls.DESCRIPTOR.file)
    fds = descriptor_pb2.FileDescriptorSet()
    for fd in files:
        fds.file.add().ParseFromString(fd.serialized_pb)
    return fds.SerializeToString()


def message_type(cls):
    """The axon type of the protobuf message class @cls (cached).

    Raises TypeError when @cls is not a message class, or axon.Error from
    ax_type_from_fds() (AX_EPROTO: a schema the library refuses; AX_ENOTSUP:
    groups). Any thread.
    """
    desc = getattr(cls, "DESCRIPTOR", None)
    if desc is None or not hasattr(desc, "file") or not hasattr(cls, "FromString"):
        raise TypeError("%r is not a protobuf message class" % (cls,))
    with _lock:
        t = _cache.get(cls)
        if t is None:
            fds = file_descriptor_set(cls)
            ptr = ctypes.c_void_p()
            check(_lib.lib.ax_type_from_fds(fds, len(fds), desc.full_name.encode(),
                                            ctypes.byref(ptr)),
                  "cannot build type %s from its descriptors" % desc.full_name)
            t = _cache[cls] = MessageType(cls, ptr.value)
        return t


def type_hash(cls):
    """The type hash of the message class @cls, "AXH1-" and 64 hex digits:
    equal to the hash C computes for the same .proto."""
    return message_type(cls).hash
