# SPDX-License-Identifier: Apache-2.0
"""The ctypes mirrors in python/axon/_lib.py against the C layouts: every
size and field offset, as layout_probe (built from the public headers)
prints them."""
import ctypes
import subprocess

from conftest import env


def test_struct_layouts_match_c():
    from axon import _lib
    out = subprocess.run([env("AXON_TEST_LAYOUT_PROBE")], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    checked = 0
    for line in out.splitlines():
        cls_name, field, value = line.split()
        value = int(value)
        if cls_name == "config":
            assert value <= _lib.CONFIG_BUFFER_SIZE, "struct ax_config outgrew the buffer"
            continue
        cls = getattr(_lib, cls_name)
        if field == "sizeof":
            assert ctypes.sizeof(cls) == value, "sizeof %s" % cls_name
        else:
            assert getattr(cls, field).offset == value, "%s.%s" % (cls_name, field)
        checked += 1
    # Every field of every mirrored struct was compared.
    expected = sum(len(getattr(_lib, n)._fields_) + (0 if n.startswith("PbcMessage") else 1)
                   for n in ("Qos", "NodeInfo", "LinkInfo", "EndpointCounters", "EndpointInfo",
                             "PubsubEvent", "PubOptions", "SubOptions", "Msg", "ServiceCall",
                             "ServiceOptions", "CallResult", "ClientOptions", "ParamValue",
                             "ParamDesc", "ParamInfo", "ParamResult", "ConfigError",
                             "PbcMessageDescriptorHead", "PbcAllocator"))
    assert checked == expected
