# SPDX-License-Identifier: Apache-2.0
"""axon's errors as Python exceptions.

Every failing C call becomes an axon.Error (or a subclass) carrying the
AX_E* code (`code`, a negative int), its symbolic name (`name`,
"AX_ETIMEDOUT") and a reason (`reason`: the peer's or the library's text,
or the code's message). The subclasses also derive from the built-in
exception that fits, so `except TimeoutError` catches axon.Timeout.
"""
from . import _lib


class Error(Exception):
    """An axon error.

    Attributes: code (negative AX_E* int), name ("AX_EINVAL"), reason (str).
    """

    def __init__(self, code, reason=None):
        self.code = code
        self.name = _lib.text(_lib.lib.ax_err_name(code))
        self.reason = reason or _lib.text(_lib.lib.ax_strerror(code))
        super().__init__("%s: %s" % (self.name, self.reason))


class InvalidArgument(Error, ValueError):
    """AX_EINVAL: a bad argument, value, range or choice."""


class NotFound(Error, LookupError):
    """AX_ENOTFOUND: no such parameter, service server, preset, node..."""


class Timeout(Error, TimeoutError):
    """AX_ETIMEDOUT: no answer in time."""


class Closed(Error):
    """AX_ECLOSED: the object (or its node) was closed first."""


class Busy(Error):
    """AX_EBUSY: not allowed here (a waiting call on a node's loop thread)."""


class Again(Error):
    """AX_EAGAIN: no room now (publish backpressure, too many calls in flight)."""


class ConnectionReset(Error, ConnectionError):
    """AX_ECONNRESET: the peer went away during the call."""


class TypeMismatch(Error, TypeError):
    """AX_ETYPE: the peer's message types differ from ours."""


class AccessDenied(Error, PermissionError):
    """AX_EACCES: the access policy forbids it."""


class Refused(Error):
    """A refusal with a reason.

    Raise it from a service handler or a parameter-change callback to
    refuse: `raise axon.Refused("x must not be negative")`. The caller then
    gets AX_EREFUSED with that reason; `code` (default AX_EREFUSED) is what
    the handler returns to the library (a caller sees it as
    `handler_error`).

    A service client raises it when the server refused: `reason` is the
    server's text and `handler_error` the code its handler returned.
    """

    def __init__(self, reason="refused", code=None, handler_error=None):
        super().__init__(code if code is not None else EREFUSED, reason)
        self.handler_error = handler_error


def _code(name):
    # The numbers come from the library itself (append-only table).
    for c in range(-1, -64, -1):
        if _lib.text(_lib.lib.ax_err_name(c)) == name:
            return c
    raise ImportError("axon: libaxon has no error %s" % name)


EINVAL = _code("AX_EINVAL")
EAGAIN = _code("AX_EAGAIN")
ECLOSED = _code("AX_ECLOSED")
EBUSY = _code("AX_EBUSY")
ETIMEDOUT = _code("AX_ETIMEDOUT")
ECONNRESET = _code("AX_ECONNRESET")
EACCES = _code("AX_EACCES")
ENOTFOUND = _code("AX_ENOTFOUND")
EIO = _code("AX_EIO")
EPROTO = _code("AX_EPROTO")
ETYPE = _code("AX_ETYPE")
ENOTSUP = _code("AX_ENOTSUP")
EREFUSED = _code("AX_EREFUSED")
ENOMEM = _code("AX_ENOMEM")

_BY_CODE = {EINVAL: InvalidArgument, ENOTFOUND: NotFound, ETIMEDOUT: Timeout, ECLOSED: Closed,
            EBUSY: Busy, EAGAIN: Again, ECONNRESET: ConnectionReset, ETYPE: TypeMismatch,
            EACCES: AccessDenied}


def error(code, reason=None, handler_error=None):
    """The exception for the AX_E* @code (not raised)."""
    if code == EREFUSED:
        return Refused(reason or "refused", handler_error=handler_error)
    return _BY_CODE.get(code, Error)(code, reason)


def check(rc, context=None):
    """Raise the exception for @rc when it is negative, its reason @context
    (what was being done) and the code's message; else return @rc."""
    if rc < 0:
        msg = _lib.text(_lib.lib.ax_strerror(rc))
        raise error(rc, "%s: %s" % (context, msg) if context else msg)
    return rc
