#!/usr/bin/env python3
"""The layer check `make` runs before it links.

    layers.py BUILD_DIR LAYER...

runtime/ is one folder per layer, named lowest first on the command line
(LAYERS in the Makefile), and arrows point down only. Fails, naming the file
and the header or the symbol, when

  - a file includes a header of a layer above its own;
  - two folders have a header of the same name (every layer's folder is on
    the include path, so the name alone must say which one it is);
  - an object uses a function or a variable defined in a layer above its own
    (no layer calls up, so there is no circle between layers);
  - objects of one layer use each other in a circle that runtime/circles.txt
    does not list, or a circle listed there is no longer one (the list says
    exactly what is left to untangle, and nothing new joins it).

A layer's folder may have sub-folders (runtime/providers/twilio/): their
files belong to the layer. Headers outside runtime/ (system headers, the
generated ones in BUILD_DIR) belong to no layer and are not checked.
"""
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def files_of(root, exts):
    for folder, _, names in sorted(os.walk(root)):
        for n in sorted(names):
            if n.endswith(exts):
                yield os.path.join(folder, n)


def circles(graph):
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(tuple(sorted(comp)))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def main():
    build, layers = sys.argv[1], sys.argv[2:]
    rank = {l: i for i, l in enumerate(layers)}
    problems = []

    header_layer, header_path = {}, {}
    for l in layers:
        for h in files_of(os.path.join("runtime", l), (".h",)):
            name = os.path.basename(h)
            if name in header_path:
                problems.append("%s and %s: two headers named %s: rename one"
                                % (header_path[name], h, name))
            header_layer[name], header_path[name] = l, h

    for l in layers:
        for f in files_of(os.path.join("runtime", l), (".c", ".cc", ".h")):
            with open(f, encoding="utf-8") as fh:
                for inc in INCLUDE.findall(fh.read()):
                    hl = header_layer.get(os.path.basename(inc))
                    if hl is not None and rank[hl] > rank[l]:
                        problems.append("%s (%s) includes %s of %s, a layer above it"
                                        % (f, l, inc, hl))

    objects = {}  # object -> layer
    for l in layers:
        for o in files_of(os.path.join(build, l), (".o",)):
            objects[o] = l
    defined, used = {}, {o: set() for o in objects}
    if objects:
        nm = subprocess.run(["nm", "-A", "-g"] + sorted(objects), check=True,
                            capture_output=True, text=True).stdout
        for line in nm.splitlines():
            where, _, rest = line.partition(":")  # "OBJECT:[ADDRESS] TYPE SYMBOL"
            parts = rest.split()
            if len(parts) == 2 and parts[0] == "U":
                used[where].add(parts[1])
            elif len(parts) == 3:
                defined[parts[2]] = where
    graph = {o: set() for o in objects}
    for o, syms in used.items():
        for s in sorted(syms):
            d = defined.get(s)
            if d is None or d == o:
                continue
            if rank[objects[d]] > rank[objects[o]]:
                problems.append("%s (%s) uses %s, defined in %s (%s), a layer above it"
                                % (o, objects[o], s, d, objects[d]))
            elif objects[d] == objects[o]:
                graph[o].add(d)

    def short(o):
        return os.path.relpath(o, build)[:-2]

    found = {tuple(short(o) for o in c) for c in circles(graph)}
    known_file = os.path.join("runtime", "circles.txt")
    known = set()
    if os.path.exists(known_file):
        with open(known_file, encoding="utf-8") as fh:
            for line in fh:
                line = line.split("#")[0].split()
                if line:
                    known.add(tuple(sorted(line)))
    if objects:
        for c in sorted(found - known):
            problems.append("a circle %s does not list: %s use each other (break it: move what "
                            "they share down, or pass a callback)" % (known_file, " ".join(c)))
        for c in sorted(known - found):
            problems.append("%s lists %s, no longer a circle: remove the line"
                            % (known_file, " ".join(c)))

    for p in problems:
        print("layers: " + p, file=sys.stderr)
    if problems:
        print("layers: the layers, lowest first: %s (docs/architecture.md, the file map)"
              % ", ".join(layers), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
