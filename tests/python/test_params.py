# SPDX-License-Identifier: Apache-2.0
"""Parameters: a Python node's own, a C node's from Python
(service_probe's "gain" and "mode"), and a Python node's from the CLI."""
import threading

import pytest

from conftest import env, run


def test_local_parameters(domain, capfd):
    import axon
    with axon.Node(name="py-params", domain=domain) as node:
        node.declare_param("gain", 1.0, description="controller gain", range=(0, 10))
        node.declare_param("mode", "eco", choices=["eco", "sport"])
        node.declare_param("lanes", 2)
        node.declare_param("enabled", True)
        node.declare_param("vehicle", "car-7", read_only=True)
        assert [node.get_param(n) for n in ("gain", "mode", "lanes", "enabled", "vehicle")] == \
            [1.0, "eco", 2, True, "car-7"]
        node.set_param("gain", 3)  # an int for a double
        assert node.get_param("gain") == 3.0
        with pytest.raises(axon.InvalidArgument) as e:
            node.set_param("gain", 11.0)
        assert "outside [0, 10]" in e.value.reason
        with pytest.raises(axon.InvalidArgument):
            node.set_param("mode", "turbo")
        with pytest.raises(axon.InvalidArgument):
            node.set_param("vehicle", "car-8")
        with pytest.raises(TypeError):
            node.set_param("lanes", "three")
        with pytest.raises(axon.NotFound):
            node.get_param("nope")
        with pytest.raises(axon.Error) as e:
            node.declare_param("gain", 2.0)
        assert e.value.name == "AX_EEXIST"
        with pytest.raises(axon.InvalidArgument):
            node.declare_param("speed", 50.0, range=(0, 30))

        changes = []

        def on_change(name, value):
            changes.append((name, value))
            if name == "lanes" and value > 4:
                raise axon.Refused("more than 4 lanes only in sport mode")
            if name == "enabled" and not value:
                raise KeyError("unexpected")

        node.on_param_change(on_change)
        node.set_param("lanes", 4)
        with pytest.raises(axon.Refused) as e:
            node.set_param("lanes", 6)
        assert e.value.reason == "more than 4 lanes only in sport mode"
        with pytest.raises(axon.Refused) as e:
            node.set_param("enabled", False)
        assert "KeyError" in e.value.reason and "KeyError" in capfd.readouterr().err
        assert node.get_param("lanes") == 4 and node.get_param("enabled") is True
        assert changes == [("lanes", 4), ("lanes", 6), ("enabled", False)]
        node.on_param_change(None)
        node.set_param("lanes", 6)
        assert node.get_param("lanes") == 6


def test_remote_parameters_of_a_c_node(domain, procs):
    import axon
    server = procs([env("AXON_TEST_SERVICE_PROBE"), "--role", "server", "--domain", str(domain)],
                   domain)
    server.expect("READY")
    with axon.Node(name="py-tool", domain=domain) as node:
        remote = axon.remote_params(node, "svc-server", timeout=10)
        params = {p.name: p for p in remote.list()}
        assert params["gain"].type == "double" and params["gain"].value == 1.0
        assert params["gain"].range == (0.0, 10.0)
        assert params["gain"].description == "controller gain"
        assert params["mode"].choices == ["eco", "sport"] and params["mode"].value == "eco"
        remote.set("gain", 2.5)
        assert remote.get("gain") == 2.5
        with pytest.raises(axon.InvalidArgument) as e:
            remote.set("gain", 11)
        assert "10" in e.value.reason
        res = remote.set_many({"mode": "sport", "nope": 1})
        assert res["mode"] == (0, "")
        assert res["nope"][0] == axon.errors.ENOTFOUND
        assert remote.get("mode") == "sport"
        with pytest.raises(axon.NotFound):
            axon.remote_params(node, "no-such-node", timeout=1).list()


def test_cli_sets_a_python_nodes_parameters(domain):
    import axon
    cli = env("AXON_TEST_CLI")
    threads = []

    def on_change(name, value):
        threads.append(threading.current_thread())
        if name == "mode" and value == "sport":
            raise axon.Refused("no sport today")

    with axon.Node(name="py-planner", domain=domain) as node:
        node.declare_param("gain", 1.0, range=(0, 10))
        node.declare_param("mode", "eco", choices=["eco", "sport"])
        node.on_param_change(on_change)
        d = ["--domain", str(domain)]
        r = run([cli, "param", "set", "py-planner", "gain", "4"] + d, domain)
        assert r.returncode == 0, r.stdout + r.stderr
        assert node.get_param("gain") == 4.0
        r = run([cli, "param", "set", "py-planner", "mode", "sport"] + d, domain)
        assert r.returncode == 1 and "no sport today" in r.stderr, r.stdout + r.stderr
        assert node.get_param("mode") == "eco"
        r = run([cli, "param", "list", "py-planner"] + d, domain)
        assert r.returncode == 0 and "gain" in r.stdout and "eco|sport" in r.stdout, r.stdout
    # Changes from outside run the callback on the node's loop thread.
    assert threads and threading.main_thread() not in threads
