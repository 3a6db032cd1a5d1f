# SPDX-License-Identifier: Apache-2.0
"""Services: request/reply (include/axon/service.h).

The library hands a handler protobuf-c messages of the dynamic types built
from the Python classes (msgtypes.py). The bindings convert with
protobuf-c's own functions: the request is packed to bytes and parsed by
the Python class; the handler's reply is serialized by Python and unpacked
by protobuf-c into the reply struct the library gave, with an allocator
whose memory is ax_service_scratch()'s (freed by the library once the
reply is packed), so nothing allocated for a reply outlives its call.
"""
import ctypes

from . import _lib
from .errors import EIO, ENOMEM, EPROTO, EREFUSED, ETIMEDOUT, Refused, check, error
from .msgtypes import free_c, message_type, pack
from .pubsub import _Endpoint, _print_exception

# protobuf-c calls an allocator's free only on the error paths of unpack;
# scratch memory goes with the call, so there is nothing to do.
_NOOP_FREE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(lambda data, ptr: None)
_SCRATCH = ctypes.cast(_lib.lib.ax_service_scratch, ctypes.c_void_p).value
_NOOP_FREE_ADDR = ctypes.cast(_NOOP_FREE, ctypes.c_void_p).value


class CallInfo:
    """Who is calling (struct ax_service_call): node_name, node_id, identity
    (for access control) and call_id; and defer() to answer later."""

    def __init__(self, c, call_p=None, rep_t=None):
        self.node_name = _lib.text(c.node_name)
        self.node_id = c.node_id
        self.identity = _lib.text(c.identity)
        self.call_id = c.call_id
        self._call_p, self._rep_t, self.deferred = call_p, rep_t, None

    def defer(self):
        """Answer this call later (ax_service_defer()): returns a Deferred,
        which the handler returns; reply() or refuse() it once, from any
        thread. Only inside the handler. Raises axon.Error (ENOMEM)."""
        if self.deferred is None:
            ptr = _lib.lib.ax_service_defer(self._call_p)
            if not ptr:
                raise error(ENOMEM, "cannot defer the call")
            self.deferred = Deferred(ptr, self._rep_t)
        return self.deferred


class Deferred:
    """A call answered later (CallInfo.defer()). reply(msg) or
    refuse(reason, code) exactly once, from any thread; `gone` turns True
    when nobody waits any more (the client left, the service was freed)."""

    def __init__(self, ptr, rep_t):
        self._ptr, self._rep_t = ptr, rep_t

    def _take(self):
        ptr, self._ptr = self._ptr, None
        if not ptr:
            raise ValueError("this call was answered already")
        return ptr

    def reply(self, msg):
        """Send @msg (of the reply class). Raises axon.Error: AX_ECLOSED
        (nobody to answer), AX_ENOMEM; TypeError for another class."""
        m = self._rep_t.to_c(msg)
        try:
            check(_lib.lib.ax_service_reply(self._take(), m), "cannot reply")
        finally:
            free_c(m)

    def refuse(self, reason="", code=EREFUSED):
        """End the call with AX_EREFUSED, @code (negative) and @reason."""
        check(_lib.lib.ax_service_refuse(self._take(), code if code < 0 else EREFUSED,
                                         _lib.cstr(reason)), "cannot refuse")

    @property
    def gone(self):
        return self._ptr is None or bool(_lib.lib.ax_service_deferred_gone(self._ptr))


class Service(_Endpoint):
    """Service(node, name, req_class, rep_class, handler, max_request=None)

    Offer the service @name ("/map/lookup") taking @req_class and answering
    @rep_class (protobuf message classes).

    @handler(req) runs on the node's loop thread for the name, for one call
    at a time; it returns an instance of @rep_class, or raises
    axon.Refused(reason) to refuse the call (the caller gets AX_EREFUSED
    with that reason; Refused(reason, code=axon.errors.EINVAL) chooses the
    code it sees as handler_error). Any other exception is printed and the
    call refused with AX_EIO and the exception as its reason; a reply of
    another class is refused with AX_EPROTO. A handler that accepts two
    parameters is called handler(req, CallInfo). It must not block: long
    work is deferred (info.defer() returns a Deferred, which the handler
    returns; another thread then calls its reply(msg) or refuse(reason)).

    @max_request: the largest request taken, in bytes (default 1 MiB).
    Raises axon.Error: AX_EEXIST (this node offers @name already),
    AX_EACCES, AX_EINVAL, AX_ECLOSED. Any thread.
    """
    _free = staticmethod(_lib.lib.ax_service_free)

    def __init__(self, node, name, req_class, rep_class, handler, max_request=None):
        self._ptr = None
        self.name = name
        self.req = message_type(req_class)
        self.rep = message_type(rep_class)
        opt = _lib.ServiceOptions()
        _lib.lib.ax_service_options_init(ctypes.byref(opt))
        if max_request is not None:
            opt.max_request = int(max_request)
        with_info = _arity(handler) >= 2
        fn = _lib.SERVICE_FN(self._make_fn(handler, with_info))
        node._hold(fn)
        ptr = ctypes.c_void_p()
        check(_lib.lib.ax_service_new(ctypes.byref(ptr), node._handle(), _lib.cstr(name),
                                      self.req.ptr, self.rep.ptr, fn, None, ctypes.byref(opt)),
              "cannot offer service %s" % name)
        self._ptr = ptr.value
        node._endpoints.add(self)

    def _make_fn(self, handler, with_info):
        req_t, rep_t = self.req, self.rep
        where = "service handler of %s" % self.name

        def on_call(req_p, rep_p, call_p, user):
            call = call_p.contents
            try:
                req = req_t.from_c(req_p)
                info = CallInfo(call, call_p, rep_t) if with_info else None
                rep = handler(req, info) if with_info else handler(req)
                if info is not None and info.deferred is not None:
                    return 0  # answered later, by the Deferred
                if not isinstance(rep, rep_t.cls):
                    _lib.write_why(call.why, call.why_size, "the handler returned %s, not %s"
                                   % (type(rep).__name__, rep_t.full_name))
                    return EPROTO
                data = rep.SerializeToString()
                alloc = _lib.PbcAllocator(_SCRATCH, _NOOP_FREE_ADDR, ctypes.addressof(call))
                m = _lib.pbc.protobuf_c_message_unpack(rep_t.descriptor, ctypes.byref(alloc),
                                                       len(data), data)
                if not m:
                    _lib.write_why(call.why, call.why_size, "the reply does not encode")
                    return EPROTO
                # A shallow copy: the fields point into scratch memory, which
                # the library frees after packing the reply.
                ctypes.memmove(rep_p, m, rep_t.sizeof_message)
                return 0
            except Refused as e:
                _lib.write_why(call.why, call.why_size, e.reason)
                return e.code if e.code < 0 else EREFUSED
            except BaseException as e:
                _print_exception(where)
                _lib.write_why(call.why, call.why_size, "%s: %s" % (type(e).__name__, e))
                return EIO

        return on_call


def _arity(fn):
    import inspect
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


class Client(_Endpoint):
    """Client(node, name, req_class, rep_class)

    A client of the service @name. It connects at the first call or at
    wait_for_server(); it is announced (kind "client") so that `axon
    doctor` can tell when it has no server or one of other types.
    Raises axon.Error: AX_EINVAL, AX_EACCES, AX_ECLOSED. Any thread.
    """
    _free = staticmethod(_lib.lib.ax_client_free)

    def __init__(self, node, name, req_class, rep_class):
        self._ptr = None
        self.name = name
        self.req = message_type(req_class)
        self.rep = message_type(rep_class)
        ptr = ctypes.c_void_p()
        check(_lib.lib.ax_client_new(ctypes.byref(ptr), node._handle(), _lib.cstr(name),
                                     self.req.ptr, self.rep.ptr, None),
              "cannot create a client of %s" % name)
        self._ptr = ptr.value
        node._endpoints.add(self)

    def wait_for_server(self, timeout=5.0):
        """Wait up to @timeout seconds for a server of the name with our types
        and a link to it. Returns True when there is one, False on timeout.
        Raises axon.TypeMismatch (only servers of other types), axon.Busy
        (on a loop thread: inside a callback). Not from a callback."""
        rc = _lib.lib.ax_client_wait_server(self._handle(), int(timeout * 1e9))
        if rc == ETIMEDOUT:
            return False
        check(rc, "waiting for a server of %s" % self.name)
        return True

    def call(self, req, timeout=1.0):
        """Call the service with @req (an instance of the request class) and
        wait at most @timeout seconds for the reply, returned as an instance
        of the reply class.

        Raises (each an axon.Error with .name and .reason):
        axon.Timeout (AX_ETIMEDOUT: no reply in time; the server may still
        run it), axon.NotFound (no server of the name), axon.ConnectionReset
        (the server went away), axon.Refused (its handler refused: .reason,
        .handler_error), axon.TypeMismatch, axon.AccessDenied, axon.Again
        (too many calls in flight), axon.Busy (called from a callback, on a
        loop thread), axon.Error AX_EPROTO / AX_EMSGSIZE. TypeError for a
        request of another class. Any thread but the node's, concurrently.
        """
        m = self.req.to_c(req)
        rep = ctypes.c_void_p()
        res = _lib.CallResult()
        try:
            rc = _lib.lib.ax_client_call(self._handle(), m, ctypes.byref(rep), int(timeout * 1e9),
                                         ctypes.byref(res))
        finally:
            free_c(m)
        if rc < 0:
            raise error(rc, _lib.text(res.reason) or None, handler_error=res.handler_error)
        try:
            return self.rep.cls.FromString(pack(rep.value))
        finally:
            free_c(rep.value)
