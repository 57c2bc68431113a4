#!/usr/bin/env python3
"""tools/check_layers.py: no circle of mutual calls between a program's files.

The file-level call graph of one program, read from its object files: file
A -> file B when A's object has an undefined symbol that B's object defines
(a call, or a use of a global variable).  Every strongly connected component
of more than one file is a cycle: printed with its files and, for every
edge inside it, the symbols that make the edge.  Exit 1 when there is a
cycle, 0 with a one-line summary when there is none, 2 when the objects
cannot be read (no build directory, unknown target, nm failing), 77 when
nm is not installed.

Objects come from a meson build directory (default): the link statement of
--target in build.ninja names the program's own objects and the static
libraries of this build it links; the objects of those libraries and the
source file of every object come from compile_commands.json.  Only files
whose source path (relative to the source root) starts with --dir are
nodes; symbols defined elsewhere (storage/, proto/, libc) make no edge.

Or objects given on the command line (OBJECT...): each object is a node,
named by its path as given, --dir filtering those names.

Symbols are read with nm (binutils): defined = global T D B R C G S V W
(and i, GNU indirect functions); undefined = U, w, v.

Usage:
  tools/check_layers.py [--build DIR] [--target NAME] [--dir PREFIX]
                        [--nm NM] [OBJECT...]
"""

import argparse
import json
import os
import subprocess
import sys

DEFINED = set("TDBRCGSVWi")
UNDEFINED = set("Uwv")


class Error(Exception):
    """An input that cannot be read: exit 2 with the message."""


class Missing(Error):
    """A program this check needs is not installed: exit 77 (skipped)."""


def ninja_statements(path):
    """Yield the 'build' statements of a ninja file, line continuations
    ($ at the end of a line) joined."""
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise Error(f"cannot read {path}: {e.strerror}") from e
    with f:
        pending = ""
        for line in f:
            line = line.rstrip("\n")
            if line.endswith("$") and not line.endswith("$$"):
                pending += line[:-1]
                continue
            line, pending = pending + line, ""
            if line.startswith("build "):
                yield line[len("build "):]


def ninja_split(text):
    """Split a ninja path list on unescaped spaces, unescaping $ , $: and $$."""
    words, cur, i = [], "", 0
    while i < len(text):
        c = text[i]
        if c == "$" and i + 1 < len(text):
            cur += text[i + 1]
            i += 2
            continue
        if c == " ":
            if cur:
                words.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    if cur:
        words.append(cur)
    return words


def link_inputs(build_dir, target):
    """(output, explicit inputs, implicit inputs) of the link statement that
    makes `target` (a file name, or a path relative to build_dir)."""
    found = []
    for stmt in ninja_statements(os.path.join(build_dir, "build.ninja")):
        # "out: rule in... | implicit... || order-only..."; ":" in a path
        # is escaped as "$:", so the first bare ": " ends the outputs
        outs, sep, rest = stmt.partition(": ")
        if not sep:
            continue
        outputs = ninja_split(outs)
        if len(outputs) != 1:
            continue
        out = outputs[0]
        if out != target and os.path.basename(out) != target:
            continue
        words = ninja_split(rest)
        if not words or not words[0].endswith("_LINKER"):
            continue
        explicit, implicit, part = [], [], "explicit"
        for w in words[1:]:
            if w == "|":
                part = "implicit"
            elif w == "||":
                part = "order"
            elif part == "explicit":
                explicit.append(w)
            elif part == "implicit":
                implicit.append(w)
        found.append((out, explicit, implicit))
    if not found:
        raise Error(f"no link statement for target '{target}' in "
                    f"{build_dir}/build.ninja (configure and build first?)")
    if len(found) > 1:
        names = ", ".join(f[0] for f in found)
        raise Error(f"target '{target}' is ambiguous: {names}; give its path")
    return found[0]


def build_objects(build_dir, target):
    """[(object path, source path relative to the source root)] of the
    program `target` in a meson build directory."""
    try:
        with open(os.path.join(build_dir, "compile_commands.json"),
                  encoding="utf-8") as f:
            commands = json.load(f)
    except OSError as e:
        raise Error(f"cannot read {build_dir}/compile_commands.json: "
                    f"{e.strerror}") from e
    try:
        with open(os.path.join(build_dir, "meson-info", "meson-info.json"),
                  encoding="utf-8") as f:
            source_root = json.load(f)["directories"]["source"]
    except (OSError, KeyError, ValueError):
        source_root = os.path.dirname(os.path.abspath(build_dir))
    source_of = {}
    for c in commands:
        if "output" not in c:
            continue
        src = os.path.normpath(os.path.join(c["directory"], c["file"]))
        source_of[os.path.normpath(c["output"])] = os.path.relpath(
            src, source_root)
    out, explicit, implicit = link_inputs(build_dir, target)
    objs = [os.path.normpath(w) for w in explicit if w.endswith(".o")]
    # static libraries of this build: their objects sit in <lib>.p/
    for w in explicit + implicit:
        if w.endswith(".a") and not os.path.isabs(w):
            prefix = os.path.normpath(w) + ".p" + os.sep
            objs += sorted(o for o in source_of if o.startswith(prefix))
    result = []
    for o in objs:
        if o not in source_of:
            raise Error(f"{o}: not in compile_commands.json")
        path = os.path.join(build_dir, o)
        if not os.path.exists(path):
            raise Error(f"{path} missing: build first "
                        f"(meson compile -C {build_dir} {target})")
        result.append((path, source_of[o]))
    return out, result


def read_symbols(nm, path):
    """(defined, undefined) global symbol names of one object file."""
    try:
        p = subprocess.run([nm, "-P", path], capture_output=True, text=True,
                           timeout=60)
    except FileNotFoundError as e:
        raise Missing(f"skipped: {nm} not found (it comes with binutils: "
                      f"apt-get install binutils)") from e
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Error(f"{nm} {path}: {e}") from e
    if p.returncode != 0:
        raise Error(f"{nm} {path} failed: {p.stderr.strip()}")
    defined, undefined = set(), set()
    for line in p.stdout.splitlines():
        # POSIX format: "name type [value size]"
        parts = line.split()
        if len(parts) < 2 or len(parts[1]) != 1:
            continue
        name, kind = parts[0], parts[1]
        if kind in UNDEFINED:
            undefined.add(name)
        elif kind in DEFINED:
            defined.add(name)
    return defined, undefined


def call_graph(files):
    """files: {name: (defined, undefined)} -> {a: {b: sorted symbols}}."""
    owners = {}
    for name, (defined, _) in files.items():
        for s in defined:
            owners.setdefault(s, set()).add(name)
    edges = {name: {} for name in files}
    for a, (_, undefined) in files.items():
        for s in undefined:
            for b in owners.get(s, ()):
                if b != a:
                    edges[a].setdefault(b, []).append(s)
    for a in edges:
        for b in edges[a]:
            edges[a][b].sort()
    return edges


def components(edges):
    """Strongly connected components (Tarjan, iterative), each sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def main(argv):
    ap = argparse.ArgumentParser(
        description="Exit 1 and print every cycle in the file-level call "
                    "graph of a program's objects; 0 when there is none.")
    ap.add_argument("--build", default="build",
                    help="meson build directory (default: build)")
    ap.add_argument("--target", default="sluiced",
                    help="program whose link statement names the objects "
                         "(default: sluiced)")
    ap.add_argument("--dir", default="dataplane/",
                    help="only files whose path starts with this are nodes "
                         "(default: dataplane/; '' for all)")
    ap.add_argument("--nm", default=os.environ.get("NM", "nm"),
                    help="nm program (default: $NM or nm)")
    ap.add_argument("objects", nargs="*", metavar="OBJECT",
                    help="object files to read instead of a build directory")
    args = ap.parse_args(argv)
    try:
        if args.objects:
            what = "objects"
            objs = [(o, os.path.normpath(o)) for o in args.objects]
        else:
            what, objs = build_objects(args.build, args.target)
        objs = [(o, n) for o, n in objs if n.startswith(args.dir)]
        if not objs:
            raise Error(f"no object of {what} has a source under "
                        f"'{args.dir}'")
        files = {}
        for path, name in objs:
            d, u = read_symbols(args.nm, path)
            prev = files.get(name, (set(), set()))
            files[name] = (prev[0] | d, prev[1] | u)
    except Error as e:
        print(f"check_layers: {e}", file=sys.stderr)
        return 77 if isinstance(e, Missing) else 2
    edges = call_graph(files)
    nedges = sum(len(e) for e in edges.values())
    cycles = [c for c in components(edges) if len(c) > 1]
    where = f"{what}: {len(files)} files under '{args.dir}', {nedges} edges"
    if not cycles:
        print(f"check_layers: {where}, no cycle")
        return 0
    print(f"check_layers: {where}, {len(cycles)} "
          f"cycle{'s' if len(cycles) > 1 else ''} (files that reach each "
          f"other through calls):")
    for i, comp in enumerate(cycles, 1):
        members = set(comp)
        print(f"\ncycle {i}: {len(comp)} files: {' '.join(comp)}")
        mutual = sorted((a, b) for a in comp for b in edges[a]
                        if b in members and a < b and a in edges[b])
        if mutual:
            print("  both ways: " +
                  ", ".join(f"{a} <-> {b}" for a, b in mutual))
        for a in comp:
            for b in sorted(edges[a]):
                if b in members:
                    print(f"  {a} -> {b}: {' '.join(edges[a][b])}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
