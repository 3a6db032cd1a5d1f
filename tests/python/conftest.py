# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the Python binding tests.

They run inside a network namespace of their own (run_pytest.sh), which is
why they may use discovery domains 0..9: outside such a namespace those
could meet the nodes of other test binaries or of a developer's system
(tests/ax_test.h gives every C test binary a domain of 10..232 for the
same reason). Every wait is on a condition with a deadline.

The environment (set by tests/CMakeLists.txt) names what the tests use:
AXON_LIB (libaxon.so), AXON_TEST_CLI (the axon tool), AXON_TEST_SERVICE_PROBE,
AXON_TEST_PERCEPTION, AXON_TEST_PLANNING, AXON_TEST_LAYOUT_PROBE,
AXON_TEST_PROTOC, AXON_TEST_PROTO_DIR (msgs/proto) and AXON_TEST_BUILD_DIR.
"""
import glob
import itertools
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

_gen_dir = None


def pytest_configure(config):
    global _gen_dir
    if os.environ.get("AXON_TEST_NETNS") != "1":
        raise pytest.UsageError("run these tests through tests/python/run_pytest.sh: they need a "
                                "network namespace of their own (domains 0..9)")
    # The standard messages' Python code, generated here and never kept:
    # protoc --python_out of msgs/proto/axon/msgs/*.proto. It must be on
    # sys.path before axon is imported (axon's __path__ is extended over
    # sys.path then, and the generated package is axon.msgs).
    _gen_dir = tempfile.mkdtemp(prefix="axon-pytest-")
    proto_dir = env("AXON_TEST_PROTO_DIR")
    protos = sorted(glob.glob(os.path.join(proto_dir, "axon", "msgs", "*.proto")))
    subprocess.run([env("AXON_TEST_PROTOC"), "--python_out=" + _gen_dir, "-I" + proto_dir]
                   + protos, check=True, timeout=60)
    sys.path.append(_gen_dir)


def pytest_unconfigure(config):
    if _gen_dir:
        shutil.rmtree(_gen_dir, ignore_errors=True)


def env(name):
    v = os.environ.get(name)
    if not v:
        pytest.skip("%s is not set (run through ctest)" % name)
    return v


def wait_for(cond, timeout=10.0, what="condition"):
    """Poll @cond until it returns a true value (returned) or @timeout
    seconds pass (the test fails, saying @what)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


_domains = itertools.cycle(range(1, 10))


@pytest.fixture(scope="module")
def domain():
    """A discovery domain of 1..9 for the module (see the top of the file)."""
    return next(_domains)


class Proc:
    """A child process whose stdout lines are read by a thread, so that a
    test can wait for a line with a deadline."""

    def __init__(self, argv, domain, stdin=True):
        e = dict(os.environ, AXON_DOMAIN=str(domain))
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e,
                                  text=True, bufsize=1)
        self.pid = self.p.pid
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern, timeout=15.0):
        """The first line from now on matching the regex @pattern (re.Match)."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                line = ""
            if line is None:
                self.lines.put(None)
                pytest.fail("%s exited (%s) before printing /%s/; it said:\n%s"
                            % (self.argv[0], self.p.poll(), pattern, "\n".join(self.seen)))
            if line:
                self.seen.append(line)
                m = rx.search(line)
                if m:
                    return m
            if time.monotonic() > deadline:
                pytest.fail("no line /%s/ from %s within %.1f s; it said:\n%s"
                            % (pattern, self.argv[0], timeout, "\n".join(self.seen)))

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=10)


@pytest.fixture
def procs():
    """start(argv, domain) -> Proc; every process is stopped at the end."""
    started = []

    def start(argv, domain, stdin=True):
        p = Proc(argv, domain, stdin)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def run(argv, domain, timeout=30):
    """Run a command to its end (bounded by @timeout seconds)."""
    e = dict(os.environ, AXON_DOMAIN=str(domain))
    return subprocess.run(argv, env=e, capture_output=True, text=True, timeout=timeout)
