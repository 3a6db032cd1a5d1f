#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Library sizes, for docs/performance.md: libaxon.so and libaxon_msgs.so
# stripped, for x86_64 and aarch64, built as Release (-O3) and MinSizeRel
# (-Os), and what each object file of libaxon contributes (text + data,
# from `size`), by layer.
#
#   bash tools/libsize.sh            all four builds (library only, ~1 min)
#   bash tools/libsize.sh --no-build use the build/size-* trees as they are
#
# Needs the packages of `bash tools/dev.sh deps` (the cross compiler for
# aarch64). Builds into build/size-<arch>-<type>.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
[ "${1:-}" = --no-build ] && build=0

configs=(
  "x86_64 Release"
  "x86_64 MinSizeRel"
  "aarch64 Release"
  "aarch64 MinSizeRel"
)

dir_of() { echo "build/size-$1-$(echo "$2" | tr 'A-Z' 'a-z')"; }

for c in "${configs[@]}"; do
  set -- $c
  d=$(dir_of "$1" "$2")
  if [ "$build" = 1 ]; then
    tc=()
    [ "$1" = aarch64 ] && tc=(-DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake)
    cmake -S . -B "$d" -G Ninja -DCMAKE_BUILD_TYPE="$2" "${tc[@]}" \
      -DAXON_BUILD_TESTS=OFF -DAXON_BUILD_TOOLS=OFF -DAXON_BUILD_BENCH=OFF >/dev/null
    cmake --build "$d" --target axon axon_msgs >/dev/null
  fi
done

# The stripped file's size, and its content: the bytes its LOAD segments
# take from the file. They differ by the padding the linker puts before the
# writable segment so that its read-only-after-relocation part ends on a
# page of the largest size (64 KiB on aarch64): the file grows in steps.
strip_size() { # <strip> <readelf> <file>
  local t
  t=$(mktemp)
  "$1" --strip-unneeded -o "$t" "$3"
  local content=0 f
  for f in $("$2" -lW "$t" | awk '$1 == "LOAD" {print $5}'); do
    content=$((content + f)) # hexadecimal, 0x...
  done
  echo "$(stat -c %s "$t") $content"
  rm -f "$t"
}

echo "== stripped shared libraries (bytes: file size, and its content without alignment padding)"
printf '%-8s %-11s %20s %20s\n' arch build "libaxon.so" "libaxon_msgs.so"
for c in "${configs[@]}"; do
  set -- $c
  d=$(dir_of "$1" "$2")
  s=strip
  [ "$1" = aarch64 ] && s=aarch64-linux-gnu-strip
  read -r a ac < <(strip_size $s readelf "$(readlink -f "$d"/libaxon.so)")
  read -r m mc < <(strip_size $s readelf "$(readlink -f "$d"/msgs/std/libaxon_msgs.so)")
  printf '%-8s %-11s %9d (%7d) %9d (%7d)\n' "$1" "$2" "$a" "$ac" "$m" "$mc"
done

# Per object (x86_64 Release and MinSizeRel side by side): text + data +
# bss as `size` counts them, which is what a feature costs in the library.
echo
echo "== libaxon, per object file (x86_64; bytes of text + data + bss)"
rel=$(dir_of x86_64 Release)
min=$(dir_of x86_64 MinSizeRel)
printf '%-10s %-36s %9s %9s\n' layer object Release MinSizeRel
total_r=0
total_m=0
while read -r o; do
  name=${o#"$rel"/}
  layer=${name%%/*}
  obj=$(echo "$name" | sed -e 's#/CMakeFiles/[^/]*\.dir/#/#' -e 's#\.o$##')
  r=$(size "$o" | awk 'NR==2 {print $4}')
  m=$(size "$min/${name}" 2>/dev/null | awk 'NR==2 {print $4}')
  total_r=$((total_r + r))
  total_m=$((total_m + ${m:-0}))
  printf '%-10s %-36s %9d %9d\n' "$layer" "$obj" "$r" "${m:-0}"
done < <(find "$rel"/base "$rel"/transport "$rel"/msgs "$rel"/core -name '*.o' -path '*axon_layer_*' | sort)
printf '%-10s %-36s %9d %9d\n' all total "$total_r" "$total_m"

# What a feature switch could take out, by the objects that are only that
# feature (x86_64 Release, text + data + bss).
echo
echo "== features that could be switched off (x86_64 Release)"
feature() { # <name> <object patterns...>
  local name=$1 sum=0 o
  shift
  for pat in "$@"; do
    while read -r o; do
      sum=$((sum + $(size "$o" | awk 'NR==2 {print $4}')))
    done < <(find "$rel" -name "$pat" -path '*axon_layer_*')
  done
  printf '%-44s %9d\n' "$name" "$sum"
}
feature "dynamic types (schemas fetched at run time)" 'dyntype*.o' 'ax__descriptor.pb-c.c.o'
feature "message text (printer, parser)" 'printer.c.o' 'parser.c.o' 'yaml.c.o'
feature "YAML configuration files (loader, dump)" 'config_load.c.o' 'config_suggest.c.o' 'config_dump.c.o'
feature "discovery scan of other domains" 'disc_scan.c.o'
