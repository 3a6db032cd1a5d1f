# SPDX-License-Identifier: Apache-2.0
"""Services between Python and C: tests/integration/service_probe offers
"/add" (Point -> Point, z = x + y) and is a client of any name."""
import threading

import pytest

from conftest import env


def _point():
    from axon.msgs import geometry_pb2
    return geometry_pb2.Point


def test_python_client_c_server_and_the_table(domain, procs):
    import axon
    Point = _point()
    server = procs([env("AXON_TEST_SERVICE_PROBE"), "--role", "server", "--domain", str(domain)],
                   domain)
    server.expect("READY")
    with axon.Node(name="py-caller", domain=domain) as node:
        c = node.client("/add", Point, Point)
        assert c.wait_for_server(15)
        rep = c.call(Point(x=1.25, y=2), timeout=5)
        assert (rep.x, rep.y, rep.z) == (1.25, 2.0, 3.25)
        # The discovery table: the C server and our client, with their types.
        eps = node.endpoints("/add")
        (srv,) = [e for e in eps if e.kind == "service"]
        assert (srv.name, srv.pid) == ("svc-server", server.pid)
        assert srv.type_name == srv.reply_type_name == "axon.geometry.Point"
        assert srv.type_hash == axon.type_hash(Point)
        (cl,) = [e for e in eps if e.kind == "client"]
        assert cl.name == "py-caller" and cl.node_id == node.id
        (n,) = [n for n in node.nodes() if n.name == "svc-server"]
        assert n.pid == server.pid and not n.is_self and n.host == srv.host


def test_c_client_python_server(domain, procs):
    import axon
    Point = _point()
    threads = []

    def add(req, info):
        threads.append(threading.current_thread())
        if req.x < 0:
            raise axon.Refused("x must not be negative")
        assert info.node_name == "svc-client"
        return Point(x=req.x, y=req.y, z=req.x + req.y)

    with axon.Node(name="py-server", domain=domain) as node:
        node.service("/pyadd", Point, Point, add)
        probe = [env("AXON_TEST_SERVICE_PROBE"), "--role", "client", "--name", "/pyadd",
                 "--domain", str(domain), "--timeout", "5000"]
        ok = procs(probe + ["--x", "2", "--y", "3"], domain)
        ok.expect("WAITED rc=AX_OK")
        ok.send("call")
        m = ok.expect(r"RESULT rc=(\S+) z=(\S+)")
        assert m.groups() == ("AX_OK", "5")
        bad = procs(probe + ["--x", "-1", "--y", "3"], domain)
        bad.expect("WAITED rc=AX_OK")
        bad.send("call")
        m = bad.expect(r"RESULT rc=(\S+) z=\S+ reason=(.*)")
        assert m.groups() == ("AX_EREFUSED", "x must not be negative")
    # The handler ran on the node's loop thread, not on this one.
    assert threads and threading.main_thread() not in threads


def test_errors_of_a_call(domain, capfd):
    import axon
    Point = _point()
    release = threading.Event()

    def handler(req):
        if req.x == 1:
            raise ValueError("boom in a handler")
        if req.x == 2:
            release.wait(10)  # blocks the loop on purpose: the client times out first
        if req.x == 3:
            return "not a Point"
        return req

    with axon.Node(name="py-srv", domain=domain) as a, axon.Node(name="py-cli", domain=domain) as b:
        a.service("/py/echo", Point, Point, handler)
        c = b.client("/py/echo", Point, Point)
        assert c.wait_for_server(15)
        assert c.call(Point(x=7)).x == 7
        with pytest.raises(axon.Refused) as e:
            c.call(Point(x=1))
        assert e.value.reason == "ValueError: boom in a handler"
        assert e.value.name == "AX_EREFUSED" and e.value.handler_error == axon.errors.EIO
        assert "ValueError: boom in a handler" in capfd.readouterr().err
        with pytest.raises(axon.Refused) as e:
            c.call(Point(x=3))
        assert e.value.handler_error == axon.errors.EPROTO
        assert e.value.reason == "the handler returned str, not axon.geometry.Point"
        try:
            with pytest.raises(axon.Timeout) as e:
                c.call(Point(x=2), timeout=0.3)
            assert isinstance(e.value, TimeoutError) and e.value.name == "AX_ETIMEDOUT"
        finally:
            release.set()
        with pytest.raises(TypeError):
            c.call("not a Point")
        nobody = b.client("/py/nobody", Point, Point)
        assert nobody.wait_for_server(0.3) is False
        with pytest.raises(axon.NotFound):
            nobody.call(Point(), timeout=2)
        nobody.close()
        with pytest.raises(axon.Closed):
            nobody.call(Point())


def test_call_from_a_callback_is_busy(domain):
    import axon
    from axon.msgs import std_pb2
    Point = _point()
    seen = []
    done = threading.Event()
    with axon.Node(name="py-busy", domain=domain) as node, \
            axon.Node(name="py-busy-srv", domain=domain) as srv:
        srv.service("/py/id", Point, Point, lambda req: req)
        c = node.client("/py/id", Point, Point)
        assert c.wait_for_server(15)

        def on_msg(m):
            try:
                c.call(Point())
            except axon.Error as e:
                seen.append(type(e))
            done.set()

        node.subscribe("/py/trigger", std_pb2.KeyValue, on_msg)
        node.publisher("/py/trigger", std_pb2.KeyValue).publish(std_pb2.KeyValue(key="go"))
        assert done.wait(10)
    assert seen == [axon.Busy]


def test_client_and_server_in_one_node(domain):
    import axon
    Point = _point()
    with axon.Node(name="py-one", domain=domain) as node:
        node.service("/py/self", Point, Point, lambda req: req)
        (srv,) = [e for e in node.endpoints("/py/self") if e.kind == "service"]
        assert srv.reply_type_name == "axon.geometry.Point"
        client = node.client("/py/self", Point, Point)
        assert client.wait_for_server(10)
        assert client.call(Point(x=1.5), timeout=5).x == 1.5


def test_deferred_replies(domain):
    """A Python handler defers; a worker thread answers later, the second
    call first; a deferred refusal reaches the caller with its reason."""
    import queue

    import axon
    Point = _point()
    jobs = queue.Queue()

    def handler(req, info):
        d = info.defer()
        jobs.put((req.x, d))
        return d

    with axon.Node(name="py-later", domain=domain) as node:
        node.service("/py/later", Point, Point, handler)
        client = node.client("/py/later", Point, Point)
        assert client.wait_for_server(10)
        results = {}

        def call(x):
            try:
                results[x] = client.call(Point(x=x), timeout=10).z
            except axon.Refused as e:
                results[x] = e.reason

        callers = [threading.Thread(target=call, args=(x,)) for x in (1.0, 2.0, -1.0)]
        for t in callers:
            t.start()
        taken = [jobs.get(timeout=10) for _ in callers]
        for x, d in sorted(taken, key=lambda j: -j[0]):
            assert not d.gone
            if x < 0:
                d.refuse("x is negative", code=axon.errors.EINVAL)
            else:
                d.reply(Point(x=x, z=x * 10))
            with pytest.raises(ValueError):
                d.refuse("twice")
        for t in callers:
            t.join(10)
        assert results == {1.0: 10.0, 2.0: 20.0, -1.0: "x is negative"}
