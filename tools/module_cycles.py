#!/usr/bin/env python3
"""Cycles among the modules of each crate (the layout rule of issue 11).

Usage: tools/module_cycles.py [CRATE_SRC_DIR...]   (default: harness/*/src)
       cargo modules dependencies ... | tools/module_cycles.py --dot NAME

For each crate, builds the graph "module A uses module B" from the non-test
code of every module file: paths starting with `crate::`, `super::` or
`self::` (in `use` trees too, braces expanded) and paths starting with the
name of one of the module's own child modules. A path points at the deepest
module it names (`crate::report::table` -> `report`). Prints every strongly
connected group of two or more modules, with one use that makes each edge,
and exits 1 if there is any.

Not counted: test code (files under `tests`, `*_tests.rs`, and what a
`#[cfg(test)]` line marks), comments and string literals, and declaring a
child (`mod x;`): a parent owning a child is not a use.

With `--dot NAME`, reads instead the graph `cargo modules dependencies`
prints (rust-analyzer's resolution of `use` items; modules only, uses edges:
see the Makefile) and reports its cycles the same way. `cargo modules
dependencies --acyclic` itself does not fit: in cargo-modules 0.27 it checks
the graph of items before its filters apply (a type and its own method are a
"cycle") and stops at the first cycle.
"""

import glob
import os
import re
import sys

CFG_TEST = re.compile(r"\s*#\[cfg\((test|all\(test.*)\)\]")
USE = re.compile(r"\buse\s+([^;]+);", re.S)
PATH = re.compile(r"\b((?:crate|super|self)(?:\s*::\s*\w+)+|\w+(?:\s*::\s*\w+)+)")


def strip_code(text):
    """Text without comments, string/char literals and #[cfg(test)] items."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"' or text.startswith('r"', i) or text.startswith("r#", i):
            m = re.match(r'r(#*)"', text[i:])
            if m:
                end = '"' + m.group(1)
                j = text.find(end, i + len(m.group(0)))
                i = n if j < 0 else j + len(end)
            else:
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                i = j + 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            i += len(re.match(r"'(\\[^']*|[^\\'])'", text[i:]).group(0))
        else:
            out.append(c)
            i += 1
    lines = "".join(out).split("\n")
    kept, i = [], 0
    while i < len(lines):
        if CFG_TEST.match(lines[i]):
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith("#["):
                j += 1
            if j < len(lines) and not lines[j].rstrip().endswith(";"):
                ind = len(lines[j]) - len(lines[j].lstrip())
                k = j + 1
                while k < len(lines) and not (
                    lines[k].strip().startswith("}")
                    and len(lines[k]) - len(lines[k].lstrip()) == ind
                ):
                    k += 1
                j = k
            i = j + 1
            continue
        kept.append(lines[i])
        i += 1
    return "\n".join(kept)


def expand_use(tree):
    """`a::{b, c::{d, self}}` -> ['a::b', 'a::c::d', 'a::c']."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for k, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = k
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix = tree[:start].rstrip(":")
                inner, rest = tree[start + 1 : k], tree[k + 1 :]
                parts, d, cur = [], 0, ""
                for c in inner:
                    if c == "," and d == 0:
                        parts.append(cur)
                        cur = ""
                        continue
                    d += c == "{"
                    d -= c == "}"
                    cur += c
                parts.append(cur)
                res = []
                for p in filter(None, parts):
                    for e in expand_use(p + rest):
                        if e == "self":
                            res.append(prefix)
                        else:
                            res.append(f"{prefix}::{e}" if prefix else e)
                return res
    return [re.sub(r"\bas\w+$", "", tree.split(" as ")[0])]


def crate_modules(src):
    """Module path (tuple) -> file, for a crate's src directory."""
    mods = {}
    for f in glob.glob(os.path.join(src, "**", "*.rs"), recursive=True):
        rel = os.path.relpath(f, src)
        if rel.endswith("_tests.rs") or "/tests/" in "/" + rel or rel.startswith("bin/"):
            continue
        parts = rel[:-3].split(os.sep)
        if parts[-1] in ("lib", "main") and len(parts) == 1:
            parts = []
        elif parts[-1] == "mod":
            parts = parts[:-1]
        mods[tuple(parts)] = f
    return mods


def resolve(path, here, mods):
    """The deepest known module a path names, seen from module `here`."""
    segs = [s.strip() for s in path.split("::")]
    if segs[0] == "crate":
        base, segs = (), segs[1:]
    elif segs[0] in ("super", "self"):
        base = here
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    elif here + (segs[0],) in mods:
        base = here
    else:
        return None
    best = base
    for k in range(1, len(segs) + 1):
        if base + tuple(segs[:k]) in mods:
            best = base + tuple(segs[:k])
    return best


def edges(mods):
    result = {}
    for here, f in mods.items():
        code = strip_code(open(f, encoding="utf-8", errors="replace").read())
        paths = []
        for m in USE.finditer(code):
            paths += expand_use(m.group(1))
        code_wo_use = USE.sub("", code)
        paths += [re.sub(r"\s+", "", m.group(1)) for m in PATH.finditer(code_wo_use)]
        for p in paths:
            to = resolve(p, here, mods)
            if to is not None and to != here:
                result.setdefault((here, to), p)
    return result


def sccs(nodes, es):
    """Tarjan's strongly connected components."""
    adj = {n: [] for n in nodes}
    for a, b in es:
        adj[a].append(b)
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj[v]:
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return [c for c in out if len(c) > 1]


def name(crate, m):
    return "::".join((crate,) + m)


DOT_EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"')


def main_dot(crate):
    """Cycles in a `cargo modules dependencies` graph read from stdin."""
    es = {}
    for line in sys.stdin:
        m = DOT_EDGE.match(line)
        if m and m.group(1) != m.group(2):
            a, b = (tuple(x.split("::")[1:]) for x in m.groups())
            es[(a, b)] = "use"
    nodes = {n for e in es for n in e}
    comps = sccs(nodes, es.keys())
    if not comps:
        print(f"{crate}: no module cycles (cargo-modules: {len(es)} uses)")
        return 0
    for comp in comps:
        members = set(comp)
        print(f"{crate}: cycle among {', '.join(sorted(name(crate, m) for m in comp))} (cargo-modules)")
        for a, b in sorted(es):
            if a in members and b in members:
                print(f"    {name(crate, a)} -> {name(crate, b)}")
    return 1


def main():
    if sys.argv[1:2] == ["--dot"]:
        return main_dot(sys.argv[2])
    srcs = sys.argv[1:] or sorted(glob.glob("harness/*/src"))
    bad = 0
    for src in srcs:
        crate = os.path.basename(os.path.dirname(os.path.normpath(src)))
        mods = crate_modules(src)
        es = edges(mods)
        comps = sccs(mods.keys(), es.keys())
        if not comps:
            print(f"{crate}: no module cycles ({len(mods)} modules, {len(es)} uses)")
            continue
        for comp in comps:
            bad += 1
            members = set(comp)
            print(f"{crate}: cycle among {', '.join(sorted(name(crate, m) for m in comp))}")
            for (a, b), p in sorted(es.items()):
                if a in members and b in members:
                    print(f"    {name(crate, a)} -> {name(crate, b)}   ({p})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
