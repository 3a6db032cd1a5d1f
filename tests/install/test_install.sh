#!/usr/bin/env bash
# Install axon from a build tree into a fresh prefix and build two
# applications against the installed copy only: the CMake consumer
# (find_package(axon), its own protobuf-c type) and a one-file program
# compiled with the flags pkg-config gives for axon.pc. The installed
# `axon` tool must run from the prefix as it is (no LD_LIBRARY_PATH).
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

cmake -S "$here/consumer" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror $extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" \
  -DCMAKE_BUILD_RPATH="$prefix/lib" >"$work/consumer-configure.log"
cmake --build "$work/consumer" >"$work/consumer-build.log"
"$work/consumer/consumer"

pc=$(find "$prefix" -name axon.pc)
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs axon)
case $flags in
*"$prefix"*) ;;
*) echo "test_install: pkg-config flags do not point into $prefix: $flags" >&2; exit 1 ;;
esac
cat >"$work/pc_user.c" <<'C'
#include <axon/axon.h>
#include <stdio.h>
int main(void)
{
    const ax_type *t;
    int rc = ax_type_find("axon.sensor.PointCloud", &t);
    printf("pkg-config user: %s\n", rc == 0 ? ax_type_name(t) : ax_strerror(rc));
    return rc == 0 ? 0 : 1;
}
C
# shellcheck disable=SC2086 # flags are a word list by design
cc $extra "$work/pc_user.c" -o "$work/pc_user" $flags -Wl,-rpath,"$(dirname "$(dirname "$pc")")"
"$work/pc_user"
echo "test_install: OK"
