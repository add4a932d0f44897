#!/usr/bin/env python3
"""Functions longer than a limit, outside tests (the layout rule of issue 11).

Usage: tools/long_functions.py [--max N] [--list M] [PATH...]

Counts every `fn` with a body in the .rs files under PATH (default: harness),
from its first line to its closing brace, as rustfmt lays code out (the
closing brace at the `fn` line's indentation). Not counted: test code, i.e.
files under a `tests` directory, files ending in `_tests.rs`, and everything
from a `#[cfg(test)]` line down to the closing brace of the item it marks.

Prints `path:line name (N lines)` for each function over --max (default 100)
and exits 1 if there is any; with --list M it also prints, without failing,
the functions over M lines (e.g. --list 60).
"""

import argparse
import os
import re
import sys

FN = re.compile(
    r"(\s*)(pub(\([a-z:]+\))?\s+)?(default\s+)?(const\s+)?(async\s+)?(unsafe\s+)?"
    r"(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)"
)
CFG_TEST = re.compile(r"\s*#\[cfg\((test|all\(test.*)\)\]")


def indent(line):
    return len(line) - len(line.lstrip())


def closing(lines, start, ind):
    """Index of the line closing the item opened at `start` (same indentation)."""
    j = start + 1
    while j < len(lines):
        l = lines[j]
        if l.strip().startswith("}") and indent(l) == ind:
            return j
        j += 1
    return len(lines) - 1


def is_declaration(lines, i):
    """A `fn` without a body (trait method, extern): its signature ends in `;`."""
    for l in lines[i:]:
        s = l.split("//")[0].rstrip()
        if s.endswith("{") or "{" in s and not s.endswith(","):
            return False
        if s.endswith(";"):
            return True
    return True


def functions(path):
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        l = lines[i]
        if CFG_TEST.match(l):
            # Skip the attribute's item: the next line that is not an attribute.
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith("#["):
                j += 1
            if j < len(lines):
                i = closing(lines, j, indent(lines[j])) if not lines[j].rstrip().endswith(";") else j
            i += 1
            continue
        m = FN.match(l)
        if m and not is_declaration(lines, i):
            end = closing(lines, i, len(m.group(1)))
            yield i + 1, m.group(9), end - i + 1
            # Nested fns are part of their parent's length; go on after it.
            i = end
        i += 1


def sources(paths):
    for top in paths:
        if os.path.isfile(top):
            yield top
            continue
        for root, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in ("target", "tests"))
            for f in sorted(files):
                if f.endswith(".rs") and not f.endswith("_tests.rs"):
                    yield os.path.join(root, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max", type=int, default=100)
    ap.add_argument("--list", type=int, default=None)
    ap.add_argument("paths", nargs="*", default=["harness"])
    a = ap.parse_args()
    over, listed = [], []
    for p in sources(a.paths):
        for line, name, n in functions(p):
            row = f"{p}:{line} {name} ({n} lines)"
            if n > a.max:
                over.append(row)
            elif a.list is not None and n > a.list:
                listed.append(row)
    if a.list is not None and listed:
        print(f"functions over {a.list} lines (allowed, listed):")
        for r in listed:
            print(f"  {r}")
    if over:
        print(f"functions over {a.max} lines outside tests ({len(over)}):")
        for r in over:
            print(f"  {r}")
        return 1
    print(f"no function over {a.max} lines outside tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
