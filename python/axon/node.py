# SPDX-License-Identifier: Apache-2.0
"""Nodes (include/axon/node.h) and their discovery table.

Threads: a node runs on threads of its own (threads >= 1); every callback
(messages, events, service handlers, changes of parameters from outside)
runs on one of them. ctypes callbacks take the GIL themselves, so Python
code runs there like on any other thread; a callback must not block (it
holds up every topic of its loop thread, and with threads=1 the node's
heartbeats). With threads=0 the caller runs the node: spin_once().
"""
import atexit
import ctypes
import dataclasses
import json
import threading
import weakref

from . import _lib
from .errors import Closed, ECLOSED, error, check
from .qos import QoS

KINDS = ("publisher", "subscriber", "service", "client")
# Open nodes, held strongly: a node runs until closed, like a thread, and
# its callback objects (Node._keep) must not be collected while its loop
# threads may call them, even when the program drops its last reference.
_live = set()
_live_lock = threading.Lock()


@dataclasses.dataclass
class NodeInfo:
    """A node as the discovery table knows it (struct ax_node_info)."""
    name: str
    id: int
    host: str
    pid: int
    domain: int
    tcp: str
    version: str
    is_self: bool
    publishers: int
    subscribers: int
    lease: float  # seconds
    heard_age: float  # seconds since its last datagram (0 for this node)


@dataclasses.dataclass
class Counters:
    """An endpoint's live counters (struct ax_endpoint_counters)."""
    messages: int
    bytes: int
    drops: dict  # reason name -> count
    gaps: int
    restarts: int
    connections: int
    last_error: str  # "AX_OK" or an AX_E* name


@dataclasses.dataclass
class EndpointInfo:
    """A publisher, subscription, service or client as the table knows it.

    kind: "publisher" | "subscriber" | "service" | "client"; topic is the
    service's name for services and clients, type_name their request type
    and reply_type_name their reply type ("" otherwise). host and pid are
    those of its node ("" and 0 when the node itself is not in the table).
    """
    name: str  # its node's name
    node_id: int
    id: int
    host: str
    pid: int
    kind: str
    topic: str
    type_name: str
    type_hash: str
    reply_type_name: str
    qos: QoS
    counters: Counters


_DROPS = ("queue_oldest", "queue_newest", "queue_latest", "disconnect", "lifespan", "closed")


def _hash_text(b):
    return "AXH1-" + bytes(b).hex()


class Node:
    """A participant in an axon domain.

    Node(name=None, domain=None, config_file=None, threads=None)

    The configuration is built as a C program builds it: the defaults
    (ax_config_init), then @config_file (a YAML file, ax_config_load_file),
    then the environment (AXON_CONFIG, AXON_DOMAIN, AXON_PEERS,
    AXON_LOG_LEVEL: ax_config_apply_env), then the arguments given here
    (@name, @domain 0..232, @threads 0..64), which win because the program
    asked for them explicitly. @threads None keeps the configuration's
    node.threads (default 1) rather than overriding a file's value.

    Raises axon.Error: AX_ECONFIG with file, line and key for a bad
    configuration, AX_EADDRINUSE and the like when the node cannot bind.
    Use it as a context manager or call close(). A node runs until closed
    (dropping the object does not stop it); nodes still open when the
    interpreter exits are closed then, before Python tears down what their
    callbacks would need.
    """

    def __init__(self, name=None, domain=None, config_file=None, threads=None):
        self._ptr = None
        self._lock = threading.Lock()
        # ctypes callback objects must live as long as C may call them: kept
        # here until the node is destroyed, also for closed endpoints (a
        # callback may still be running on a loop thread when its endpoint is
        # closed from another one).
        self._keep = []
        self._endpoints = weakref.WeakSet()
        self._param_types = {}
        self._param_fn = None
        cfg = ctypes.create_string_buffer(_lib.CONFIG_BUFFER_SIZE)
        _lib.lib.ax_config_init(cfg)
        err = _lib.ConfigError()
        try:
            if config_file is not None:
                self._config(_lib.lib.ax_config_load_file(cfg, _lib.cstr(str(config_file)),
                                                          ctypes.byref(err)), err)
            self._config(_lib.lib.ax_config_apply_env(cfg, ctypes.byref(err)), err)
            node = {}
            if name is not None:
                node["name"] = str(name)
            if domain is not None:
                node["domain"] = int(domain)
            if threads is not None:
                node["threads"] = int(threads)
            if node:
                # JSON is YAML: the keys are checked by the library's table.
                yaml = json.dumps({"node": node}).encode()
                self._config(_lib.lib.ax_config_load_string(cfg, yaml, b"axon.Node()",
                                                            ctypes.byref(err)), err)
            ptr = ctypes.c_void_p()
            check(_lib.lib.ax_node_new(ctypes.byref(ptr), cfg), "cannot create the node")
        finally:
            _lib.lib.ax_config_fini(cfg)
        self._ptr = ptr.value
        with _live_lock:
            _live.add(self)

    @staticmethod
    def _config(rc, err):
        if rc < 0:
            buf = ctypes.create_string_buffer(512)
            raise error(rc, _lib.text(_lib.lib.ax_config_error_str(ctypes.byref(err), buf, 512)))

    def _handle(self):
        p = self._ptr
        if p is None:
            raise Closed(ECLOSED, "the node is closed")
        return p

    def _hold(self, *objs):
        with self._lock:
            self._keep.extend(objs)

    # ---- lifecycle ----

    def close(self):
        """Leave the domain (peers drop this node at once) and free the node
        with all its endpoints. Idempotent. Any thread; from inside one of
        the node's callbacks the destruction completes after it returns."""
        with self._lock:
            p, self._ptr = self._ptr, None
        if p is None:
            return
        for ep in list(self._endpoints):
            ep._forget()
        _lib.lib.ax_node_destroy(p)
        with _live_lock:
            _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def spin_once(self, timeout=0.0):
        """For threads=0: run one round of the node's loop, waiting at most
        @timeout seconds (None: no limit) for work; callbacks run inside.
        Returns True when more work is ready at once."""
        ms = -1 if timeout is None else int(timeout * 1000)
        return check(_lib.lib.ax_node_spin_once(self._handle(), ms)) > 0

    # ---- identity and time ----

    @property
    def name(self):
        """The node's name (node.name, or "<program>-<pid>")."""
        return _lib.text(_lib.lib.ax_node_name(self._handle()))

    @property
    def id(self):
        """The node's random id, unique in the domain."""
        return _lib.lib.ax_node_id(self._handle())

    def now(self):
        """The node's time in nanoseconds since the Unix epoch (int): the wall
        clock, or with node.use_sim_time the last clock message received on
        node.clock_topic (0 before the first). Any thread."""
        return _lib.lib.ax_node_now(self._handle())

    # ---- the discovery table ----

    def nodes(self):
        """Every node of the table, this one included (is_self), as a list of
        NodeInfo. Any thread."""
        rows = self._list(_lib.NodeInfo, lambda out, cap, n: _lib.lib.ax_node_list_nodes(
            self._handle(), out, cap, n))
        return [NodeInfo(_lib.text(r.name), r.id, _lib.text(r.host), r.pid, r.domain,
                         _lib.text(r.tcp), _lib.text(r.version), r.is_self, r.publishers,
                         r.subscribers, r.lease_ns / 1e9, r.heard_age_ns / 1e9) for r in rows]

    def endpoints(self, topic=None):
        """The endpoints of every node in the table (this one's included), or
        only those of @topic (a topic or a service name), as a list of
        EndpointInfo. Counters of remote endpoints are as fresh as the last
        counter exchange (discovery.counters). Any thread."""
        t = None if topic is None else _lib.cstr(topic)
        rows = self._list(_lib.EndpointInfo, lambda out, cap, n: _lib.lib.ax_node_list_endpoints(
            self._handle(), t, out, cap, n))
        hosts = {n.id: (n.host, n.pid) for n in self.nodes()}
        res = []
        for r in rows:
            c = r.counters
            host, pid = hosts.get(r.node_id, ("", 0))
            counters = Counters(c.messages, c.bytes, dict(zip(_DROPS, c.drops)), c.gaps,
                                c.restarts, c.connections,
                                _lib.text(_lib.lib.ax_err_name(c.last_error)))
            res.append(EndpointInfo(_lib.text(r.node_name), r.node_id, r.id, host, pid,
                                    KINDS[r.kind] if 0 <= r.kind < len(KINDS) else str(r.kind),
                                    _lib.text(r.topic), _lib.text(r.type_name),
                                    _hash_text(r.type_hash), _lib.text(r.reply_type_name),
                                    QoS._from_c(r.qos), counters))
        return res

    @staticmethod
    def _list(row, call):
        # Count, then copy; again with more room if the table grew between.
        n = ctypes.c_size_t()
        check(call(None, 0, ctypes.byref(n)))
        while True:
            cap = n.value + 4
            out = (row * cap)()
            check(call(out, cap, ctypes.byref(n)))
            if n.value <= cap:
                return out[:n.value]

    # ---- endpoints (pubsub.py, service.py, param.py add the rest) ----

    def publisher(self, topic, msg_type, qos=None, on_event=None):
        """A Publisher of @topic; see axon.Publisher."""
        from .pubsub import Publisher
        return Publisher(self, topic, msg_type, qos=qos, on_event=on_event)

    def subscribe(self, topic, msg_type, callback, qos=None, on_event=None, info=False):
        """A Subscriber of @topic; see axon.Subscriber."""
        from .pubsub import Subscriber
        return Subscriber(self, topic, msg_type, callback, qos=qos, on_event=on_event, info=info)

    def service(self, name, req_class, rep_class, handler, max_request=None):
        """A Service offered under @name; see axon.Service."""
        from .service import Service
        return Service(self, name, req_class, rep_class, handler, max_request=max_request)

    def client(self, name, req_class, rep_class):
        """A Client of the service @name; see axon.Client."""
        from .service import Client
        return Client(self, name, req_class, rep_class)

    def declare_param(self, name, default, description=None, range=None, choices=None,
                      read_only=False):
        """Declare a parameter; see axon.param.declare_param."""
        from .param import declare_param
        declare_param(self, name, default, description, range, choices, read_only)

    def get_param(self, name):
        """A parameter's value; see axon.param.get_param."""
        from .param import get_param
        return get_param(self, name)

    def set_param(self, name, value):
        """Change a parameter; see axon.param.set_param."""
        from .param import set_param
        set_param(self, name, value)

    def on_param_change(self, fn):
        """Set the change callback; see axon.param.on_param_change."""
        from .param import on_param_change
        on_param_change(self, fn)


@atexit.register
def _close_all():
    # Loop threads calling into a finalizing interpreter would crash it.
    with _live_lock:
        nodes = list(_live)
    for n in nodes:
        n.close()
