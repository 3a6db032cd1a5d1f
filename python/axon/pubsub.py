# SPDX-License-Identifier: Apache-2.0
"""Publishers and subscriptions (include/axon/pubsub.h).

A topic's type is either a protobuf message class (its axon type is built
from the class's descriptors: msgtypes.py) or a str naming raw bytes of any
serialization ("image/jpeg"), matched by topic and name only.

Callbacks run on the node's loop thread for the topic, in order, one at a
time per topic. An exception raised by a callback is printed (traceback on
stderr) and the subscription goes on: it never reaches the C side.
"""
import ctypes
import dataclasses
import sys
import traceback

from . import _lib
from .errors import Closed, ECLOSED, ETIMEDOUT, check
from .msgtypes import message_type
from .qos import QoS, to_c as qos_to_c


@dataclasses.dataclass
class Event:
    """A publisher's or subscription's event (struct ax_pubsub_event).

    kind: "matched", "unmatched", "type_mismatch", "gap", "deadline_missed",
    "dropped", "qos_incompatible" or "writable" (ax_pubsub_event_name());
    node_name/node_id/endpoint_id: the counterpart; missing (gap), dropped
    and text (a readable summary)."""
    kind: str
    node_name: str
    node_id: int
    endpoint_id: int
    intra_process: bool
    type_name: str
    missing: int
    dropped: int
    restarted: bool
    text: str


@dataclasses.dataclass
class MessageInfo:
    """What a subscription knows about a message besides its bytes."""
    topic: str
    type_name: str
    seq: int  # the publisher's sequence number (1, 2, ...)
    source_ns: int  # CLOCK_REALTIME at the publisher when published
    received_ns: int  # CLOCK_REALTIME here when received
    publisher_node: int
    publisher_id: int
    intra_process: bool


def _print_exception(where):
    # Never let a Python exception unwind into C: print it and go on.
    try:
        sys.stderr.write("axon: exception in %s:\n" % where)
        traceback.print_exc()
    except Exception:
        pass


def _event_thunk(on_event, where):
    if on_event is None:
        return None

    def cb(self_ptr, ev, user):
        try:
            e = ev.contents
            on_event(Event(_lib.text(_lib.lib.ax_pubsub_event_name(e.kind)), _lib.text(e.node_name),
                           e.node_id, e.endpoint_id, e.intra_process, _lib.text(e.type_name),
                           e.missing, e.dropped, e.restarted, _lib.text(e.text)))
        except BaseException:
            _print_exception(where)

    return _lib.EVENT_FN(cb)


def _resolve(msg_type):
    if isinstance(msg_type, str):
        return None, _lib.cstr(msg_type, "type name")
    return message_type(msg_type), None


class _Endpoint:
    _free = None

    def _forget(self):
        # The node frees its endpoints when it is destroyed.
        self._ptr = None

    def _handle(self):
        p = self._ptr
        if p is None:
            raise Closed(ECLOSED, "%s is closed" % type(self).__name__)
        return p

    def close(self):
        """Free the endpoint. Idempotent; any thread, also from its own
        callback (which then finishes first)."""
        p, self._ptr = self._ptr, None
        if p is not None:
            self._free(p)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Publisher(_Endpoint):
    """Publisher(node, topic, msg_type, qos=None, on_event=None)

    Advertise @topic with @msg_type, a protobuf message class or a str (raw
    bytes of that type name). @qos: an axon.QoS, a preset name or None
    ("default"); a per-topic override in the node's configuration wins.
    @on_event(Event), optional, runs on the topic's loop thread.

    Raises axon.Error: AX_EINVAL (bad topic), AX_EACCES (access policy),
    AX_ECLOSED (node closed). Any thread.
    """
    _free = staticmethod(_lib.lib.ax_pub_free)

    def __init__(self, node, topic, msg_type, qos=None, on_event=None):
        self._ptr = None
        self.topic = topic
        self.type, raw_name = _resolve(msg_type)
        opt = _lib.PubOptions()
        _lib.lib.ax_pub_options_init(ctypes.byref(opt))
        opt.qos = qos_to_c(qos)
        ev = _event_thunk(on_event, "publisher event callback of %s" % topic)
        if ev:
            opt.on_event = ev
            node._hold(ev)
        ptr = ctypes.c_void_p()
        t = _lib.cstr(topic, "topic")
        if self.type is None:
            rc = _lib.lib.ax_pub_new_raw(ctypes.byref(ptr), node._handle(), t, raw_name,
                                         ctypes.byref(opt))
        else:
            rc = _lib.lib.ax_pub_new(ctypes.byref(ptr), node._handle(), t, self.type.ptr,
                                     ctypes.byref(opt))
        check(rc, "cannot publish %s" % topic)
        self._ptr = ptr.value
        node._endpoints.add(self)

    def publish(self, msg):
        """Send @msg to every matched subscription.

        @msg: an instance of the publisher's message class (serialized with
        SerializeToString), or for a raw publisher any bytes-like object.
        The bytes are copied once; @msg may be reused at once.

        Raises axon.Again (AX_EAGAIN: the topic's thread is behind, or a
        subscriber with overload "block" has no room; nothing was sent),
        axon.Timeout (a "block" subscriber stayed full for max_blocking),
        axon.Error AX_EMSGSIZE (over transport.max_frame), TypeError (a
        message of another class). Any thread, concurrently.
        """
        if self.type is not None:
            if not isinstance(msg, self.type.cls):
                raise TypeError("%s publishes %s, not %s" % (self.topic, self.type.full_name,
                                                             type(msg).__name__))
            data = msg.SerializeToString()
        else:
            data = msg if isinstance(msg, bytes) else bytes(msg)
        check(_lib.lib.ax_pub_publish_bytes(self._handle(), data, len(data)))

    @property
    def qos(self):
        """The QoS it runs with (after configuration overrides)."""
        return QoS._from_c(_lib.lib.ax_pub_qos(self._handle()).contents)

    @property
    def type_hash(self):
        """"AXH1-..." of its type (None for raw publishers)."""
        return self.type.hash if self.type else None

    def counters(self):
        """(messages, bytes, subscriber connections) sent so far."""
        c = _lib.EndpointCounters()
        check(_lib.lib.ax_pub_counters(self._handle(), ctypes.byref(c)))
        return c.messages, c.bytes, c.connections


class Subscriber(_Endpoint):
    """Subscriber(node, topic, msg_type, callback, qos=None, on_event=None, info=False)

    Receive @topic's messages of @msg_type (a protobuf message class, or a
    str for raw bytes of that type name).

    @callback(msg) runs on the node's loop thread for the topic, once per
    message, in order. For a message class, msg is a new instance of it.
    For raw bytes, msg is a read-only, zero-copy memoryview of the
    library's buffer, valid during the callback only: it is released when
    the callback returns (use after that raises ValueError); keep a copy
    with bytes(msg). With @info=True the callback is called as
    callback(msg, MessageInfo).

    The callback must not block; an exception it raises is printed and the
    subscription goes on. Raises axon.Error as Publisher. Any thread.
    """
    _free = staticmethod(_lib.lib.ax_sub_free)

    def __init__(self, node, topic, msg_type, callback, qos=None, on_event=None, info=False):
        self._ptr = None
        self.topic = topic
        self.type, raw_name = _resolve(msg_type)
        opt = _lib.SubOptions()
        _lib.lib.ax_sub_options_init(ctypes.byref(opt))
        opt.qos = qos_to_c(qos)
        ev = _event_thunk(on_event, "subscriber event callback of %s" % topic)
        if ev:
            opt.on_event = ev
        cb = _lib.SUB_CB(self._make_cb(callback, info))
        node._hold(cb, ev)
        ptr = ctypes.c_void_p()
        t = _lib.cstr(topic, "topic")
        if self.type is None:
            rc = _lib.lib.ax_sub_new_raw(ctypes.byref(ptr), node._handle(), t, raw_name, cb, None,
                                         ctypes.byref(opt))
        else:
            rc = _lib.lib.ax_sub_new(ctypes.byref(ptr), node._handle(), t, self.type.ptr, cb,
                                     None, ctypes.byref(opt))
        check(rc, "cannot subscribe to %s" % topic)
        self._ptr = ptr.value
        node._endpoints.add(self)

    def _make_cb(self, callback, want_info):
        mtype = self.type
        where = "subscriber callback of %s" % self.topic

        def on_msg(sub, m, user):
            mv = None
            try:
                msg = m.contents
                if mtype is not None:
                    # An all-default message is 0 bytes, maybe with no buffer.
                    data = ctypes.string_at(msg.data, msg.len) if msg.len else b""
                    arg = mtype.cls.FromString(data)
                elif msg.len:
                    arr = (ctypes.c_ubyte * msg.len).from_address(msg.data)
                    arg = mv = memoryview(arr).cast("B").toreadonly()
                else:
                    arg = memoryview(b"")
                if want_info:
                    callback(arg, MessageInfo(_lib.text(msg.topic), _lib.text(msg.type_name),
                                              msg.seq, msg.source_ns, msg.received_ns,
                                              msg.publisher_node, msg.publisher_id,
                                              msg.intra_process))
                else:
                    callback(arg)
            except BaseException:
                _print_exception(where)
            finally:
                if mv is not None:
                    try:
                        mv.release()
                    except BufferError:  # the callback exported it further
                        pass

        return on_msg

    def wait(self, timeout=None):
        """Wait in this thread for the callbacks (ax_sub_wait): when the
        topic's loop is idle, this thread serves it for one round and runs
        the callbacks itself (one wake-up per message instead of two);
        otherwise it waits for the loop thread's round to end. Returns True
        when a round ended (look at what the callbacks did), False when
        @timeout seconds (None: no limit) passed with nothing. Not from a
        callback (axon.Busy). The GIL is released while it waits.

            while not state.done:
                sub.wait(0.1)
        """
        ms = -1 if timeout is None else max(0, int(timeout * 1000 + 0.999))
        rc = _lib.lib.ax_sub_wait(self._handle(), ms)
        if rc == ETIMEDOUT:
            return False
        check(rc, "wait on %s" % self.topic)
        return True

    @property
    def qos(self):
        """The QoS it runs with (after configuration overrides)."""
        return QoS._from_c(_lib.lib.ax_sub_qos(self._handle()).contents)

    @property
    def type_hash(self):
        """"AXH1-..." of its type (None for raw subscriptions)."""
        return self.type.hash if self.type else None

    def counters(self):
        """(messages, bytes, gaps, publisher connections) received so far."""
        c = _lib.EndpointCounters()
        check(_lib.lib.ax_sub_counters(self._handle(), ctypes.byref(c)))
        return c.messages, c.bytes, c.gaps, c.connections
