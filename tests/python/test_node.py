# SPDX-License-Identifier: Apache-2.0
"""Nodes: configuration, closing, time (wall and simulated)."""
import struct
import time

import pytest

from conftest import wait_for


def test_configuration_file_and_arguments(domain, tmp_path):
    import axon
    cfg = tmp_path / "node.yaml"
    cfg.write_text("node: {name: from-file, domain: %d}\ndiscovery: {heartbeat: 50ms}\n" % domain)
    with axon.Node(config_file=cfg) as a:
        assert a.name == "from-file"
        with axon.Node(name="from-args", config_file=cfg) as b:
            assert b.name == "from-args"
            # Same domain from the file: each sees the other.
            wait_for(lambda: {"from-file", "from-args"} <= {n.name for n in a.nodes()},
                     what="both nodes in the table")
            me = [n for n in b.nodes() if n.is_self]
            assert me[0].name == "from-args" and me[0].domain == domain
    bad = tmp_path / "bad.yaml"
    bad.write_text("node:\n  domian: 3\n")
    with pytest.raises(axon.Error) as e:
        axon.Node(config_file=bad)
    assert e.value.name == "AX_ECONFIG" and "bad.yaml:2" in e.value.reason
    assert "domian" in e.value.reason
    with pytest.raises(axon.Error):
        axon.Node(domain=999)


def test_closed_node_and_endpoints(domain):
    import axon
    from axon.msgs import geometry_pb2
    node = axon.Node(name="py-closing", domain=domain)
    pub = node.publisher("/py/closing", geometry_pb2.Point)
    node.close()
    node.close()  # idempotent
    with pytest.raises(axon.Closed):
        node.nodes()
    with pytest.raises(axon.Closed):  # freed with its node: a harmless stale handle
        pub.publish(geometry_pb2.Point())


def test_wall_and_simulated_time(domain, tmp_path):
    import axon
    with axon.Node(name="py-wall", domain=domain) as node:
        assert abs(node.now() - time.time_ns()) < 5e9
    cfg = tmp_path / "sim.yaml"
    cfg.write_text("node: {use_sim_time: true, clock_topic: /py/clock}\n")
    with axon.Node(name="py-sim", domain=domain, config_file=cfg) as sim, \
            axon.Node(name="py-clock", domain=domain) as clock:
        assert sim.now() == 0  # nothing heard yet
        matched = []
        pub = clock.publisher("/py/clock", axon.CLOCK_TYPE,
                              on_event=lambda ev: matched.append(ev.kind))
        wait_for(lambda: "matched" in matched, what="the sim node's clock subscription")
        t = 1_700_000_000_123_456_789
        pub.publish(struct.pack("<q", t))
        wait_for(lambda: sim.now() == t, what="the simulated time")


def test_spin_once_without_threads(domain):
    import axon
    from axon.msgs import std_pb2
    got = []
    with axon.Node(name="py-spin", domain=domain, threads=0) as node:
        node.subscribe("/py/spin", std_pb2.KeyValue, lambda m: got.append(m.key))
        node.publisher("/py/spin", std_pb2.KeyValue).publish(std_pb2.KeyValue(key="k"))
        wait_for(lambda: node.spin_once(0.05) is not None and got, what="the message in spin_once")
    assert got == ["k"]
