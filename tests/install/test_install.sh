#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install axon from a build tree into a fresh prefix and build applications
# against the installed copy only: the CMake consumer (find_package(axon),
# its own protobuf-c type), linked with the shared libraries and again with
# the static ones, and a one-file program compiled with the flags
# pkg-config gives for axon-msgs.pc, shared and static. The installed
# `axon` tool must run from the prefix as it is (no LD_LIBRARY_PATH), and
# say its version.
#   test_install.sh <axon build dir> <work dir> [extra C flags...]
set -euo pipefail
build=$1
work=$2
shift 2
extra="$*"
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
if ! env -u LD_LIBRARY_PATH "$prefix/bin/axon" --help >"$work/axon-help.log" 2>&1; then
  echo "test_install: the installed axon does not run:" >&2
  cat "$work/axon-help.log" >&2
  exit 1
fi
grep -q "axon" "$work/axon-help.log"
version=$(env -u LD_LIBRARY_PATH "$prefix/bin/axon" --version)
case $version in
"axon "[0-9]*.[0-9]*.[0-9]*) ;;
*) echo "test_install: axon --version said '$version'" >&2; exit 1 ;;
esac

cmake -S "$here/consumer" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror $extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" \
  -DCMAKE_BUILD_RPATH="$prefix/lib" >"$work/consumer-configure.log"
cmake --build "$work/consumer" >"$work/consumer-build.log"
"$work/consumer/consumer"
"$work/consumer/consumer_static"
# Static means static: the program needs no libaxon*.so.
if readelf -d "$work/consumer/consumer_static" | grep -q 'NEEDED.*libaxon'; then
  echo "test_install: consumer_static still needs a shared libaxon:" >&2
  readelf -d "$work/consumer/consumer_static" | grep NEEDED >&2
  exit 1
fi

pc=$(find "$prefix" -name axon.pc)
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs axon-msgs)
case $flags in
*"$prefix"*) ;;
*) echo "test_install: pkg-config flags do not point into $prefix: $flags" >&2; exit 1 ;;
esac
# It finds a standard type by name only, so it calls ax_msgs_register():
# a program that names no symbol of libaxon_msgs loses the library to
# --as-needed (docs/messages.md).
cat >"$work/pc_user.c" <<'C'
#include <axon/axon.h>
#include <axon/msgs.h>
#include <stdio.h>
int main(void)
{
    const ax_type *t;
    int rc = ax_msgs_register();
    if (rc == 0)
        rc = ax_type_find("axon.sensor.PointCloud", &t);
    printf("pkg-config user: %s\n", rc == 0 ? ax_type_name(t) : ax_strerror(rc));
    return rc == 0 ? 0 : 1;
}
C
# shellcheck disable=SC2086 # flags are a word list by design
cc $extra "$work/pc_user.c" -o "$work/pc_user" $flags -Wl,-rpath,"$(dirname "$(dirname "$pc")")"
"$work/pc_user"
# Statically: the same flags with --static (Libs.private), the two
# libraries named by their archives.
libdir=$(dirname "$(dirname "$pc")")
sflags=$(pkg-config --cflags --libs --static axon-msgs |
  sed -e "s# -laxon_msgs # $libdir/libaxon_msgs.a #" -e "s# -laxon # $libdir/libaxon.a #")
case $sflags in
*libaxon.a*-lprotobuf-nanopb*) ;;
*) echo "test_install: the static pkg-config flags lack the archives or nanopb: $sflags" >&2; exit 1 ;;
esac
# shellcheck disable=SC2086 # flags are a word list by design
cc $extra "$work/pc_user.c" -o "$work/pc_user_static" $sflags
"$work/pc_user_static"
if readelf -d "$work/pc_user_static" | grep -q 'NEEDED.*libaxon'; then
  echo "test_install: pc_user_static still needs a shared libaxon" >&2
  exit 1
fi
echo "test_install: OK"
