# SPDX-License-Identifier: Apache-2.0
"""Publish/subscribe between Python and C nodes: the examples' perception
and planning nodes (compiled protobuf-c types) and the axon CLI."""
import json
import threading
import time

import pytest

from conftest import env, run, wait_for


def test_c_publisher_python_subscriber_same_hash(domain, procs):
    """perception_node publishes ObstacleList with its compiled type: the
    hash in the table is the one Python computes for the class, and the
    messages arrive decoded."""
    import axon
    from axon.msgs import perception_pb2
    got = []
    done = threading.Event()

    def on_obstacles(msg):
        got.append(msg)
        if len(got) >= 3:
            done.set()

    with axon.Node(name="py-planner", domain=domain) as node:
        node.subscribe("/perception/obstacles", perception_pb2.ObstacleList, on_obstacles)
        procs([env("AXON_TEST_PERCEPTION"), "--duration", "60", "--rate", "20", "--points", "16"],
              domain)
        ep = wait_for(lambda: [e for e in node.endpoints("/perception/obstacles")
                               if e.kind == "publisher"], what="perception's publisher")[0]
        assert ep.type_name == "axon.perception.ObstacleList"
        assert ep.type_hash == axon.type_hash(perception_pb2.ObstacleList)
        assert done.wait(20), "3 ObstacleLists from perception_node"
        assert all(len(m.obstacles) > 0 for m in got)
        assert got[-1].header.stamp_ns > 0


def test_python_publisher_c_subscriber(domain, procs):
    """planning_node subscribes with its compiled types; it is matched with
    (same hash) and counts the obstacles of Python's ObstacleLists."""
    import axon
    from axon.msgs import geometry_pb2, perception_pb2
    matched = threading.Event()
    with axon.Node(name="py-perception", domain=domain) as node:
        pub = node.publisher("/perception/obstacles", perception_pb2.ObstacleList,
                             on_event=lambda ev: ev.kind == "matched" and matched.set())
        planner = procs([env("AXON_TEST_PLANNING"), "--duration", "60"], domain)
        assert matched.wait(20), "planning_node matched our publisher"
        msg = perception_pb2.ObstacleList()
        for i in range(3):
            o = msg.obstacles.add()
            o.id = i + 1
            o.confidence = 0.5
            o.pose.position.CopyFrom(geometry_pb2.Point(x=i, y=2.0 * i))
        stop = threading.Event()

        def talk():  # planning_node reports once a second what it received
            while not stop.wait(0.05):
                msg.header.stamp_ns = node.now()
                pub.publish(msg)

        t = threading.Thread(target=talk)
        t.start()
        try:
            planner.expect(r"/perception/obstacles.*\(3 obstacles\)", timeout=20)
        finally:
            stop.set()
            t.join()
        assert not [line for line in planner.seen if "type_mismatch" in line]


def test_cli_pub_to_python(domain):
    import axon
    from axon.msgs import geometry_pb2
    got = []
    arrived = threading.Event()
    with axon.Node(name="py-listener", domain=domain) as node:
        node.subscribe("/py/in", geometry_pb2.Point, lambda m, info: (got.append((m, info)),
                                                                     arrived.set()), info=True)
        r = run([env("AXON_TEST_CLI"), "topic", "pub", "/py/in", "axon.geometry.Point",
                 "{x: 1.5, y: -2, z: 3}", "--wait-subs", "1", "--timeout", "15",
                 "--domain", str(domain)], domain)
        assert r.returncode == 0, r.stdout + r.stderr
        assert arrived.wait(10)
        m, info = got[0]
        assert (m.x, m.y, m.z) == (1.5, -2.0, 3.0)
        assert info.topic == "/py/in" and info.seq == 1 and info.type_name == "axon.geometry.Point"


def test_python_pub_to_cli_echo(domain, procs):
    import axon
    from axon.msgs import geometry_pb2
    matched = threading.Event()
    with axon.Node(name="py-talker", domain=domain) as node:
        pub = node.publisher("/py/out", geometry_pb2.Point,
                             on_event=lambda ev: ev.kind == "matched" and matched.set())
        echo = procs([env("AXON_TEST_CLI"), "topic", "echo", "/py/out", "-n", "1", "--json",
                      "--timeout", "30", "--domain", str(domain)], domain, stdin=False)
        assert matched.wait(20), "axon topic echo matched our publisher"
        pub.publish(geometry_pb2.Point(x=4.25, y=0.5))
        line = echo.expect(r"^\{", timeout=15).string
        assert json.loads(line) == {"x": 4.25, "y": 0.5, "z": 0}
        assert echo.p.wait(timeout=15) == 0


def test_raw_bytes_zero_copy_view(domain):
    import axon
    kept, views = [], []
    arrived = threading.Event()

    def on_raw(mv):
        assert isinstance(mv, memoryview) and mv.readonly
        kept.append(bytes(mv))
        views.append(mv)
        arrived.set()

    with axon.Node(name="py-raw-a", domain=domain) as a, \
            axon.Node(name="py-raw-b", domain=domain) as b:
        matched = threading.Event()
        b.subscribe("/py/raw", "test/blob", on_raw)
        pub = a.publisher("/py/raw", "test/blob",
                          on_event=lambda ev: ev.kind == "matched" and matched.set())
        assert matched.wait(15)
        pub.publish(bytearray(b"\x00\x01hello"))
        assert arrived.wait(10)
    assert kept == [b"\x00\x01hello"]
    with pytest.raises(ValueError):  # released when the callback returned
        views[0].tobytes()


def test_callback_exception_is_printed_and_delivery_goes_on_empty_message_too(domain, capfd):
    import axon
    from axon.msgs import std_pb2
    got = []
    second = threading.Event()

    def on_msg(m):
        got.append(m.key)
        if len(got) == 1:
            raise RuntimeError("boom in a callback")
        if len(got) == 3:
            second.set()

    with axon.Node(name="py-exc", domain=domain) as node:
        node.subscribe("/py/exc", std_pb2.KeyValue, on_msg)
        pub = node.publisher("/py/exc", std_pb2.KeyValue)
        pub.publish(std_pb2.KeyValue(key="one"))
        pub.publish(std_pb2.KeyValue(key="two"))
        pub.publish(std_pb2.KeyValue())  # all defaults: 0 bytes on the wire
        assert second.wait(10)
    assert got == ["one", "two", ""]
    err = capfd.readouterr().err
    assert "exception in subscriber callback of /py/exc" in err
    assert "RuntimeError: boom in a callback" in err


def test_qos_presets_and_fields_in_the_table(domain):
    import axon
    from axon.msgs import geometry_pb2
    q = axon.QoS.preset("sensor_data")
    assert (q.reliability, q.overload, q.history) == ("best_effort", "latest_only", 5)
    assert axon.QoS.preset("latched").durability == "transient_local"
    with pytest.raises(axon.NotFound):
        axon.QoS.preset("turbo")
    with pytest.raises(ValueError):
        axon.QoS(reliability="maybe")._to_c()
    custom = axon.QoS(history=3, deadline=0.5, overload="drop_newest")
    with axon.Node(name="py-qos", domain=domain) as node:
        p1 = node.publisher("/py/q1", geometry_pb2.Point, qos="sensor_data")
        p2 = node.publisher("/py/q2", geometry_pb2.Point, qos=custom)
        assert p1.qos == q
        assert p2.qos == custom
        (e,) = [e for e in node.endpoints("/py/q2") if e.kind == "publisher"]
        assert e.qos == custom and e.name == "py-qos"


def test_lossless_stream_while_callbacks_hold_the_gil(domain):
    """2000 messages with overload "block": publish() waits in C (GIL
    released) while the loop thread runs the Python callback (GIL taken);
    every message arrives, in order, and a subscription closed from its own
    callback gets nothing more."""
    import axon
    from axon.msgs import geometry_pb2
    n = 2000
    seqs = []
    done = threading.Event()
    lossless = axon.QoS(overload="block", max_blocking=10.0, history=64)
    with axon.Node(name="py-src", domain=domain) as a, axon.Node(name="py-dst", domain=domain) as b:
        def on_point(p, info):
            seqs.append((info.seq, int(p.x)))
            if len(seqs) == n:
                done.set()

        b.subscribe("/py/stream", geometry_pb2.Point, on_point, qos=lossless, info=True)
        matched = threading.Event()
        pub = a.publisher("/py/stream", geometry_pb2.Point, qos=lossless,
                          on_event=lambda ev: ev.kind == "matched" and matched.set())
        assert matched.wait(15)
        for i in range(n):
            pub.publish(geometry_pb2.Point(x=i))
        assert done.wait(30), "%d of %d messages" % (len(seqs), n)
        assert seqs == [(i + 1, i) for i in range(n)]

        after = []
        closing = threading.Event()

        def close_me(p):
            after.append(p.x)
            sub.close()
            closing.set()

        sub = b.subscribe("/py/stream", geometry_pb2.Point, close_me, qos=lossless)
        wait_for(lambda: sub.counters()[3] >= 1, what="the second subscription connected")
        pub.publish(geometry_pb2.Point(x=-1))
        assert closing.wait(10)
        pub.publish(geometry_pb2.Point(x=-2))
        wait_for(lambda: len(seqs) == n + 2, what="the first subscription's two more")
    assert after == [-1.0]


def test_wait_runs_the_callback_in_the_waiting_thread(domain):
    """Subscriber.wait() (ax_sub_wait): the main thread waits for each
    message in the library and, when the topic's loop was idle, runs the
    callback itself; every message arrives once, in order."""
    import axon
    n = 20
    got, threads = [], []
    ask = threading.Event()

    def on_raw(mv):
        got.append(bytes(mv))
        threads.append(threading.get_ident())

    with axon.Node(name="py-wait-a", domain=domain) as a, \
            axon.Node(name="py-wait-b", domain=domain) as b:
        sub = b.subscribe("/py/wait", "test/blob", on_raw)
        matched = threading.Event()
        pub = a.publisher("/py/wait", "test/blob",
                          on_event=lambda ev: ev.kind == "matched" and matched.set())
        assert matched.wait(15)
        assert sub.wait(0) in (True, False) and not got  # a round may end; no message

        def talker():  # one message each time the main thread asks
            for i in range(n):
                if not ask.wait(10):
                    return
                ask.clear()
                pub.publish(bytes([i]))

        t = threading.Thread(target=talker)
        t.start()
        try:
            for i in range(n):
                ask.set()
                deadline = time.monotonic() + 10
                while len(got) <= i and time.monotonic() < deadline:
                    sub.wait(1.0)
                assert len(got) == i + 1, "message %d" % i
        finally:
            t.join(15)
    assert got == [bytes([i]) for i in range(n)]
    assert threads.count(threading.get_ident()) >= 1, "no callback ran in the waiting thread"
