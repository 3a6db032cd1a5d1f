#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run the Python binding tests (tests/python) with pytest, inside a fresh
# network namespace with only `lo` up:
#   run_pytest.sh PYTHON [pytest arguments...]
# The tests use discovery domains 0..9, which only the namespace keeps
# apart from other test binaries (tests/ax_test.h hands out 10..232 on the
# host's loopback). Without a namespace of our own (not root, or no
# unshare) the tests are skipped (exit 77) rather than run where they could
# meet other nodes. Also skipped when PYTHON lacks pytest or protobuf.
py=$1
shift
if ! "$py" -c 'import pytest, google.protobuf' 2>/dev/null; then
  echo "run_pytest: $py lacks pytest or google.protobuf (python3-pytest, python3-protobuf): skipped"
  exit 77
fi
if [ "${AXON_TEST_NETNS:-}" != 1 ]; then
  if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
    AXON_TEST_NETNS=1 exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$0" "$py" "$@"
  fi
  echo "run_pytest: needs a network namespace of its own (root and unshare -n): skipped"
  exit 77
fi
# No .pyc files or pytest cache in the source tree.
export PYTHONDONTWRITEBYTECODE=1
exec "$py" -m pytest -p no:cacheprovider -q -rs "$(dirname "$0")" "$@"
