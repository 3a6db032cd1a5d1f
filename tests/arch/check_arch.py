#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""axon's architecture rules, checked on the source tree and the objects.

    check_arch.py includes SRC          #include lines go down the layers only
    check_arch.py lines SRC             no source file over 800 lines (tests aside)
    check_arch.py cycles NAME OBJ...    no two object files call each other in a
                                        circle (from nm: who defines, who uses)
    check_arch.py prefix SRC OBJ...     every global symbol named ax_ is declared
                                        in include/axon/; internal ones are ax__
    check_arch.py spdx SRC              every source file says its licence (an SPDX
                                        line among its first two)

The layers (docs/architecture.md): base < transport < msgs < core < std
(the standard messages, libaxon_msgs) < tools < examples. A file may include
headers of its own layer and of the layers below; the CLI, the perf program
and the examples only public headers (they link the shared library).
Exit status 0 when every rule holds, 1 with one line per violation.
"""
import os
import re
import subprocess
import sys
from collections import defaultdict

RANK = {"base": 0, "transport": 1, "msgs": 2, "core": 3, "std": 4, "tools": 5, "examples": 6}

# Public headers by layer (include/axon/<name>).
PUBLIC = {
    "common.h": "base", "log.h": "base", "clock.h": "base", "strbuf.h": "base",
    "units.h": "base", "version.h": "base",
    "loop.h": "transport", "qos.h": "transport",
    "types.h": "msgs", "msgtext.h": "msgs",
    "config.h": "core", "node.h": "core", "pubsub.h": "core", "service.h": "core", "param.h": "core", "axon.h": "core",
    "security.h": "core",
    "msgs.h": "std",
}
# Headers generated into the build tree, by the layer that generates them.
GENERATED = {
    "handshake.pb.h": "transport",
    "control.pb.h": "msgs",
    "ax__descriptor.pb-c.h": "msgs",
    "axon_std_types.h": "std",
    "param.pb-c.h": "core",
    "axon_param_types.h": "core",
}
# Folders (relative to the source root) and their layer; the longest match wins.
FOLDERS = {
    "base": "base", "transport": "transport", "msgs": "msgs", "msgs/std": "std",
    "core": "core", "tools": "tools", "examples": "examples",
}
# Programs that link only the shared library: public headers and their own
# folder (and the MCAP library) only, plus base headers that are wholly
# static inline (they link nothing).
PUBLIC_ONLY = ("tools/axon", "tools/perf", "examples")
HEADER_ONLY = ("base/ax__array.h",)
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
MAX_LINES = 800


def layer_of_path(rel):
    best = None
    for folder, layer in FOLDERS.items():
        if rel == folder or rel.startswith(folder + "/"):
            if best is None or len(folder) > len(best[0]):
                best = (folder, layer)
    if rel.startswith("include/axon/"):
        name = rel[len("include/axon/"):]
        if name.startswith("msgs/"):
            return "std"
        return PUBLIC.get(name)
    return best[1] if best else None


def sources(src, exts=(".c", ".h")):
    for top in list(FOLDERS) + ["include"]:
        root = os.path.join(src, top)
        for dirpath, _, files in os.walk(root):
            for f in files:
                if f.endswith(exts):
                    yield os.path.relpath(os.path.join(dirpath, f), src)


def resolve(src, rel, inc):
    """The layer and path of an #include "inc" in file rel."""
    here = os.path.dirname(rel)
    for base in (here, "include", "", "tools/mcap"):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(os.path.join(src, cand)):
            return layer_of_path(cand), cand
    name = os.path.basename(inc)
    if inc.startswith("axon/msgs/") and inc.endswith(".pb-c.h"):
        return "std", inc
    if inc.startswith("axon/") and name in PUBLIC:
        return PUBLIC[name], "include/" + inc
    if name in GENERATED:
        return GENERATED[name], inc
    return None, inc


def check_includes(src):
    bad = []
    for rel in sorted(set(sources(src))):
        layer = layer_of_path(rel)
        if layer is None:
            continue
        with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for inc in INCLUDE_RE.findall(text):
            ilayer, ipath = resolve(src, rel, inc)
            if ilayer is None:
                bad.append(f"{rel}: #include \"{inc}\": not a known header of any layer")
                continue
            if RANK[ilayer] > RANK[layer]:
                bad.append(f"{rel} ({layer}) includes \"{inc}\" of the higher layer {ilayer}")
            if rel.startswith(PUBLIC_ONLY) and not rel.startswith("include/"):
                mine = os.path.dirname(rel)
                ok = (ipath.startswith("include/axon/") or ipath.startswith(mine + "/")
                      or ipath.startswith("tools/mcap/") or inc.startswith("axon/msgs/")
                      or ipath in HEADER_ONLY)
                if not ok:
                    bad.append(f"{rel} links only the public API but includes \"{inc}\"")
    return bad


def check_lines(src):
    bad = []
    for rel in sorted(set(sources(src))):
        with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            bad.append(f"{rel}: {n} lines (at most {MAX_LINES} outside tests)")
    return bad


def nm(obj):
    out = subprocess.run([os.environ.get("NM") or "nm", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "TDBRVWG":
            defined.add(p[2])
        elif len(p) == 2 and p[0] == "U":
            undefined.add(p[1])
    return defined, undefined


def short(obj):
    """core/CMakeFiles/axon_layer_core.dir/disc.c.o -> core/disc.c"""
    m = re.search(r"(?:^|/)([^/]*)/?CMakeFiles/[^/]+\.dir/(.*)\.o$", obj)
    if not m:
        return obj
    folder = re.sub(r"^(.*/)?build/[^/]+/", "", obj.split("/CMakeFiles/")[0])
    return os.path.normpath(os.path.join(folder, m.group(2)))


def check_cycles(name, objs):
    owner, uses = {}, {}
    for o in objs:
        d, u = nm(o)
        for s in d:
            owner[s] = short(o)
        uses[short(o)] = u
    graph = defaultdict(set)
    calls = defaultdict(set)
    for f, us in uses.items():
        for s in us:
            g = owner.get(s)
            if g and g != f:
                graph[f].add(g)
                calls[(f, g)].add(s)
    # Tarjan's strongly connected components, iteratively.
    index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]
    for root in sorted(uses):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    sccs.append(sorted(comp))
    bad = []
    for comp in sccs:
        bad.append(f"{name}: these files call each other in a circle: {', '.join(comp)}")
        for a in comp:
            for b in sorted(graph[a] & set(comp)):
                bad.append(f"    {a} -> {b}: {', '.join(sorted(calls[(a, b)])[:5])}")
    return bad


def public_names(src, extra_headers):
    names = set()
    paths = [os.path.join(src, "include", "axon", f) for f in os.listdir(os.path.join(src, "include", "axon"))
             if f.endswith(".h")] + list(extra_headers)
    for p in paths:
        with open(p, encoding="utf-8") as f:
            names.update(re.findall(r"\b(ax_[a-z0-9_]+)\s*\(", f.read()))
    return names


def check_prefix(src, objs):
    headers = [o for o in objs if o.endswith(".h")]
    objs = [o for o in objs if not o.endswith(".h")]
    public = public_names(src, headers)
    bad = []
    for o in objs:
        d, _ = nm(o)
        for s in sorted(d):
            if s.startswith("ax__") or s.startswith("axon_ctl_") or s.startswith("axon__"):
                continue
            if s.startswith("__"):  # the compiler's and sanitizers' own (__odr_asan.x, __tsan_*)
                continue
            if s.startswith("ax_types_"):  # generated: ax_types_<set>(), documented in axon/types.h
                continue
            if s.startswith("ax_") and s in public:
                continue
            bad.append(f"{short(o)}: global symbol {s} is neither public (declared in include/axon/) nor ax__")
    return bad


SPDX = "SPDX-License-Identifier: Apache-2.0"
SPDX_EXT = (".c", ".h", ".proto", ".cmake", ".sh", ".py", ".mjs", ".in", ".options")
SPDX_SKIP = ("build", ".git", "node_modules", "corpus")


def check_spdx(src):
    bad = []
    for dirpath, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d not in SPDX_SKIP and not d.startswith("build")]
        for f in files:
            if not (f.endswith(SPDX_EXT) or f == "CMakeLists.txt"):
                continue
            path = os.path.join(dirpath, f)
            with open(path, encoding="utf-8", errors="replace") as fh:
                head = fh.readline() + fh.readline()
            if SPDX not in head:
                bad.append(f"{os.path.relpath(path, src)}: no '{SPDX}' line at the top")
    return bad


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    what = argv[1]
    if what == "includes":
        bad = check_includes(argv[2])
    elif what == "lines":
        bad = check_lines(argv[2])
    elif what == "cycles":
        bad = check_cycles(argv[2], argv[3:])
    elif what == "prefix":
        bad = check_prefix(argv[2], argv[3:])
    elif what == "spdx":
        bad = check_spdx(argv[2])
    else:
        print(__doc__)
        return 2
    for line in bad:
        print(line)
    if not bad:
        print(f"check_arch {what}: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
