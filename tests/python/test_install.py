# SPDX-License-Identifier: Apache-2.0
"""The installed package: `cmake --install` into a fresh prefix puts it in
lib/python3/dist-packages, and from there it finds the installed libaxon
with no AXON_LIB and no build tree to fall back on."""
import os
import subprocess
import sys

from conftest import env


def test_installed_package_finds_the_installed_library(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", env("AXON_TEST_BUILD_DIR"), "--prefix", str(prefix)],
                   check=True, capture_output=True, timeout=120)
    site = prefix / "lib" / "python3" / "dist-packages"
    assert (site / "axon" / "__init__.py").is_file()
    e = {k: v for k, v in os.environ.items() if k not in ("AXON_LIB", "LD_LIBRARY_PATH")}
    e["PYTHONPATH"] = str(site)
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    r = subprocess.run([sys.executable, "-c",
                        "import axon; print(axon.LIB_PATH); print(axon.QoS.preset('latched'))"],
                       env=e, cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(prefix)), r.stdout
    assert "transient_local" in r.stdout
