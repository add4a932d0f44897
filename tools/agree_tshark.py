#!/usr/bin/env python3
"""Replay against tshark on every per-port capture of a run (issue 15).

Usage: tools/agree_tshark.py RUN_DIR [TEARDOWN]

For each `client-port.pcapng` and `server-port.pcapng` under RUN_DIR (one
folder per scenario), the frames tshark's TCP analysis flags as a
retransmission, a duplicate ACK or a lost segment (`tcp.analysis.*`) must be
exactly the frames `teardown replay --json` flags so on that file, frame by
frame (both number frames the same way: every frame of the file, from 1);
and no frame is longer than the MTU plus the Ethernet header (1514 bytes:
the capture ports merge nothing, so a frame is one the sender sent).
Prints each disagreement and a count per class; exits 1 on any, 0 when they
agree everywhere, 2 when tshark is missing (make deps installs it).
"""

import json
import os
import shutil
import subprocess
import sys

CLASSES = ["retransmission", "duplicate_ack", "lost_segment"]
MAX_FRAME = 1500 + 14


def tshark_flags(path):
    """(frame -> classes tshark flags, the longest frame's length)."""
    fields = ["frame.number", "frame.len"] + [f"tcp.analysis.{c}" for c in CLASSES]
    cmd = ["tshark", "-n", "-r", path, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    flags, longest = {}, 0
    for line in out.splitlines():
        cols = line.split("\t")
        longest = max(longest, int(cols[1]))
        got = {c for c, v in zip(CLASSES, cols[2:]) if v}
        if got:
            flags[int(cols[0])] = got
    return flags, longest


def our_flags(teardown, path):
    r = subprocess.run([teardown, "replay", "--json", path], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise RuntimeError(f"teardown replay {path}: exit {r.returncode}: {r.stderr.strip()}")
    flags = {}
    for p in json.loads(r.stdout)["packets"]:
        got = {c for c in CLASSES if c in p["classes"]}
        if got:
            flags[p["frame"]] = got
    return flags


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    run_dir = sys.argv[1]
    teardown = sys.argv[2] if len(sys.argv) > 2 else "target/release/teardown"
    if not shutil.which("tshark"):
        print("agree_tshark: tshark is missing (make deps installs it)", file=sys.stderr)
        return 2
    files, frames_flagged, bad = 0, 0, []
    for scenario in sorted(os.listdir(run_dir)):
        for port in ["client-port", "server-port"]:
            path = os.path.join(run_dir, scenario, f"{port}.pcapng")
            if not os.path.exists(path):
                continue
            files += 1
            (theirs, longest), ours = tshark_flags(path), our_flags(teardown, path)
            if longest > MAX_FRAME:
                bad.append(f"{path}: a {longest}-byte frame (more than MTU + 14)")
            frames_flagged += len(theirs)
            for frame in sorted(set(theirs) | set(ours)):
                t, o = theirs.get(frame, set()), ours.get(frame, set())
                if t != o:
                    bad.append(f"{path} frame {frame}: tshark {sorted(t)}, teardown {sorted(o)}")
    for b in bad:
        print(b)
    print(
        f"agree_tshark: {files} per-port captures, {frames_flagged} frames tshark flags "
        f"({', '.join(CLASSES)}), {len(bad)} disagreements"
    )
    if files == 0:
        print(f"agree_tshark: no per-port capture under {run_dir}", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
