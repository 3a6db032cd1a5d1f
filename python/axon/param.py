# SPDX-License-Identifier: Apache-2.0
"""Parameters (include/axon/param.h, docs/parameters.md).

A parameter's type is its default's Python type: bool, int (int64), float
(double) or str. Declaring the first one starts the node's parameter
service, through which other nodes (RemoteParams, `axon param`) list and
set them.
"""
import ctypes
import dataclasses

from . import _lib
from .errors import EIO, ENOTFOUND, EREFUSED, ETYPE, Refused, check, error
from .pubsub import _print_exception

BOOL, INT, DOUBLE, STRING = 1, 2, 3, 4
_TYPE_NAMES = {BOOL: "bool", INT: "int", DOUBLE: "double", STRING: "string"}


def _type_of(value):
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    raise TypeError("a parameter is a bool, int, float or str, not %s" % type(value).__name__)


def _to_c(t, value, keep):
    v = _lib.ParamValue()
    v.type = t
    if t == BOOL:
        if not isinstance(value, bool):
            raise TypeError("expected a bool, got %r" % (value,))
        v.b = value
    elif t == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("expected an int, got %r" % (value,))
        v.i = value
    elif t == DOUBLE:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("expected a float, got %r" % (value,))
        v.d = float(value)
    else:
        if not isinstance(value, str):
            raise TypeError("expected a str, got %r" % (value,))
        b = _lib.cstr(value, "parameter value")
        keep.append(b)
        v.s = b
    return v


def _from_c(v):
    if v.type == BOOL:
        return bool(v.b)
    if v.type == INT:
        return v.i
    if v.type == DOUBLE:
        return v.d
    return _lib.text(v.s)


def declare_param(node, name, default, description=None, range=None, choices=None,
                  read_only=False):
    """Declare the parameter @name of @node with its @default, whose type
    (bool, int, float, str) is the parameter's.

    @range: (lo, hi) for int and float parameters; @choices: the str values
    allowed (at most 32); @read_only: nobody changes it afterwards.
    Raises axon.InvalidArgument (bad name, a default outside its range or
    choices), axon.Error AX_EEXIST (declared already), TypeError. Any thread.
    """
    t = _type_of(default)
    keep = []
    d = _lib.ParamDesc()
    n = _lib.cstr(name, "parameter name")
    d.name = n
    setattr(d, "def", _to_c(t, default, keep))
    if description is not None:
        desc = _lib.cstr(description)
        keep.append(desc)
        d.description = desc
    if range is not None:
        d.has_range = True
        d.min, d.max = float(range[0]), float(range[1])
    if choices is not None:
        arr = (ctypes.c_char_p * max(len(choices), 1))(*[_lib.cstr(c) for c in choices])
        keep.append(arr)
        d.choices = arr
        d.nchoices = len(choices)
    d.read_only = bool(read_only)
    check(_lib.lib.ax_param_declare(node._handle(), ctypes.byref(d)),
          "cannot declare parameter %s" % name)
    node._param_types[name] = t


def get_param(node, name):
    """The value of @node's parameter @name now (bool, int, float or str).
    Raises axon.NotFound. Any thread."""
    h, n = node._handle(), _lib.cstr(name)
    t = node._param_types.get(name)
    order = [t] if t else [BOOL, INT, DOUBLE, STRING]
    rc = 0
    for t in order:
        if t == BOOL:
            out = ctypes.c_bool()
            rc = _lib.lib.ax_param_get_bool(h, n, ctypes.byref(out))
        elif t == INT:
            out = ctypes.c_int64()
            rc = _lib.lib.ax_param_get_int(h, n, ctypes.byref(out))
        elif t == DOUBLE:
            out = ctypes.c_double()
            rc = _lib.lib.ax_param_get_double(h, n, ctypes.byref(out))
        else:
            buf = ctypes.create_string_buffer(_lib.PARAM_STRING_MAX)
            rc = _lib.lib.ax_param_get_string(h, n, buf, len(buf))
            if rc == 0:
                return _lib.text(buf.value)
        if rc == 0:
            return out.value
        if rc != ETYPE:
            break
    raise error(rc, "parameter %s" % name)



def set_param(node, name, value):
    """Change @node's parameter @name to @value, through the same checks
    (type, range, choices, read-only) and change callback as a change from
    outside. An int is taken for a float parameter.

    Raises axon.NotFound, axon.InvalidArgument (type, range, choice,
    read-only; .reason says which), axon.Refused (the change callback
    refused: .reason), axon.Busy (from inside the change callback),
    TypeError. Any thread; the change callback runs on this thread.
    """
    t = node._param_types.get(name) or _type_of(value)
    if t == DOUBLE and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    keep = []
    v = _to_c(t, value, keep)
    why = ctypes.create_string_buffer(256)
    rc = _lib.lib.ax_param_set(node._handle(), _lib.cstr(name), ctypes.byref(v), why, len(why))
    if rc < 0:
        raise error(rc, _lib.text(why.value) or "parameter %s" % name)


def on_param_change(node, fn):
    """Set @node's one change callback (None: none; replaces the previous).

    @fn(name, value) is called before a parameter takes a new value (checked
    already against its type, range and choices): return None to let it, or
    raise axon.Refused(reason) to refuse (the setter gets AX_EREFUSED and
    the reason). Another exception is printed and refuses the change too.
    It runs on the thread that sets the value: the caller of set_param(),
    or the node's loop thread for a change from outside. It must not block
    and must not set parameters itself (axon.Busy).
    """
    if fn is None:
        thunk = _lib.PARAM_FN()
    else:
        def cb(node_p, name, value, why, why_size, user):
            try:
                fn(_lib.text(name), _from_c(value.contents))
                return 0
            except Refused as e:
                _lib.write_why(why, why_size, e.reason)
                return e.code if e.code < 0 else EREFUSED
            except BaseException as e:
                _print_exception("parameter change callback")
                _lib.write_why(why, why_size, "%s: %s" % (type(e).__name__, e))
                return EIO
        thunk = _lib.PARAM_FN(cb)
    node._hold(thunk)
    check(_lib.lib.ax_param_on_change(node._handle(), thunk, None))


@dataclasses.dataclass
class ParamInfo:
    """Another node's parameter: its value and default as Python values."""
    name: str
    type: str  # "bool", "int", "double", "string"
    value: object
    default: object
    description: str
    range: tuple  # (lo, hi) or None
    choices: list  # [] for any
    read_only: bool


def _parse(t, s):
    if t == BOOL:
        return s.lower() in ("true", "yes", "on", "1")
    if t == INT:
        return int(s, 0)
    if t == DOUBLE:
        return float(s)
    return s


def _as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


class RemoteParams:
    """The parameters of another node, by its name, through @node (a node
    of the same domain): what `axon param list/set` do.

    @timeout: seconds each list() or set() may take. Not from a callback
    (the calls wait: axon.Busy).
    """

    def __init__(self, node, node_name, timeout=2.0):
        self.node = node
        self.node_name = node_name
        self.timeout = timeout

    def list(self):
        """Every parameter of the node, as a list of ParamInfo.
        Raises axon.NotFound (no node of that name has parameters),
        axon.Timeout, and the other errors of a service call."""
        out = ctypes.POINTER(_lib.ParamInfo)()
        n = ctypes.c_size_t()
        why = ctypes.create_string_buffer(256)
        rc = _lib.lib.ax_param_remote_list(self.node._handle(), _lib.cstr(self.node_name),
                                           int(self.timeout * 1e9), ctypes.byref(out),
                                           ctypes.byref(n), why, len(why))
        if rc < 0:
            raise error(rc, _lib.text(why.value) or None)
        try:
            res = []
            for i in range(n.value):
                p = out[i]
                t = p.type
                res.append(ParamInfo(_lib.text(p.name), _TYPE_NAMES.get(t, str(t)),
                                     _parse(t, _lib.text(p.value)),
                                     _parse(t, _lib.text(p.default_value)),
                                     _lib.text(p.description),
                                     (p.min, p.max) if p.has_range else None,
                                     _lib.text(p.choices).split("|") if p.choices else [],
                                     p.read_only))
            return res
        finally:
            _lib.libc.free(ctypes.cast(out, ctypes.c_void_p))

    def get(self, name):
        """One parameter's value (from list()). Raises axon.NotFound."""
        for p in self.list():
            if p.name == name:
                return p.value
        raise error(ENOTFOUND, "%s has no parameter %s" % (self.node_name, name))

    def set(self, name, value):
        """Set one parameter (the value is sent as text and converted by the
        node to the declared type). Raises what the node's set raises:
        axon.NotFound, axon.InvalidArgument, axon.Refused (with the node's
        reason), axon.AccessDenied; or a call error (axon.Timeout, ...)."""
        err, reason = self.set_many({name: value})[name]
        if err:
            raise error(err, reason or None)

    def set_many(self, values):
        """Set several parameters, each on its own: @values maps names to
        values. Returns {name: (code, reason)}, code 0 for those set.
        Raises only when the call itself fails."""
        names = list(values)
        cn = (ctypes.c_char_p * len(names))(*[_lib.cstr(n) for n in names])
        cv = (ctypes.c_char_p * len(names))(*[_lib.cstr(_as_text(values[n])) for n in names])
        results = (_lib.ParamResult * len(names))()
        why = ctypes.create_string_buffer(256)
        rc = _lib.lib.ax_param_remote_set(self.node._handle(), _lib.cstr(self.node_name), cn, cv,
                                          len(names), int(self.timeout * 1e9), results, why,
                                          len(why))
        if rc < 0:
            raise error(rc, _lib.text(why.value) or None)
        return {names[i]: (results[i].error, _lib.text(results[i].reason))
                for i in range(len(names))}


def remote_params(node, node_name, timeout=2.0):
    """RemoteParams(@node, @node_name, @timeout): another node's parameters."""
    return RemoteParams(node, node_name, timeout)
