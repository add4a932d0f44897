#!/usr/bin/env python3
"""tshark's answers on the public capture corpus (issue 15, item 5).

Usage: tools/corpus_tshark.py [--check] [CORPUS_DIR]

Reads every capture listed in CORPUS_DIR/ORIGIN.md (default tests/corpus)
with tshark and writes CORPUS_DIR/tshark.json, the golden file the corpus
test (harness/cli/tests/corpus.rs) holds `teardown replay --json` to. Per
capture it keeps:

- `frames`: how many frames the file has;
- `tcp`: the frames whose TCP tshark analyses (it read the whole TCP header,
  so `tcp.len` is there), as ranges `1-5,7`; TCP quoted inside an ICMP
  error or sampled by sFlow is not a segment of the capture and is left out;
- `flags`: per frame, the classes tshark gives it (`tcp.analysis.<class>`),
  for the eleven classes replay reports.

With --check it writes nothing: it compares what this tshark says with the
committed file and exits 1 if they differ (0 if equal). A tshark of another
version than the file's is reported and skipped (exit 0): its analysis may
differ, and the golden file says which version it holds.
Exit 2 when tshark is missing (make deps installs it).
"""

import json
import os
import re
import shutil
import subprocess
import sys

CLASSES = [
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "keep_alive",
    "keep_alive_ack",
    "zero_window",
    "zero_window_probe",
    "window_update",
    "duplicate_ack",
    "lost_segment",
    "out_of_order",
]
# Protocols inside which a TCP header is no segment of the capture's own.
NOT_SEGMENTS = ("icmp", "icmpv6", "sflow")


def tshark_version():
    out = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"TShark \(Wireshark\) (\S+)", out)
    return m.group(1) if m else "unknown"


def captures(corpus):
    """The capture paths ORIGIN.md lists (table rows: | `path` | ...)."""
    text = open(os.path.join(corpus, "ORIGIN.md"), encoding="utf-8").read()
    return sorted(set(re.findall(r"^\| `([^`]+\.(?:pcap|pcapng|cap))` \|", text, re.M)))


def ranges(nums):
    out, start, prev = [], None, None
    for n in nums:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if prev > start else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev > start else str(start))
    return ",".join(out)


def analyse(path):
    fields = ["frame.number", "frame.protocols", "tcp.len"] + [f"tcp.analysis.{c}" for c in CLASSES]
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True)
    frames, tcp, flags = 0, [], {}
    for line in r.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) < 3 or not cols[0]:
            continue
        frame = int(cols[0])
        frames = max(frames, frame)
        protos = cols[1].split(":")
        if "tcp" not in protos or not cols[2]:
            continue
        if any(p in NOT_SEGMENTS for p in protos[: protos.index("tcp")]):
            continue
        tcp.append(frame)
        got = [c for c, v in zip(CLASSES, cols[3:]) if v]
        if got:
            flags[str(frame)] = got
    return {"frames": frames, "tcp": ranges(tcp), "flags": flags}


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    check = "--check" in sys.argv[1:]
    corpus = args[0] if args else "tests/corpus"
    if not shutil.which("tshark"):
        print("corpus_tshark: tshark is missing (make deps installs it)", file=sys.stderr)
        return 2
    golden_path = os.path.join(corpus, "tshark.json")
    version = tshark_version()
    if check:
        golden = json.load(open(golden_path, encoding="utf-8"))
        if golden["tshark"] != version:
            print(f"corpus_tshark: tshark {version} here, {golden_path} holds {golden['tshark']}: not compared")
            return 0
    doc = {
        "tshark": version,
        "note": "made by tools/corpus_tshark.py from the captures ORIGIN.md lists; do not edit",
        "classes": CLASSES,
        "captures": {c: analyse(os.path.join(corpus, c)) for c in captures(corpus)},
    }
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    if check:
        if open(golden_path, encoding="utf-8").read() != text:
            print(f"corpus_tshark: tshark {version} no longer gives {golden_path} (run tools/corpus_tshark.py)")
            return 1
        print(f"corpus_tshark: tshark {version} gives {golden_path} as committed ({len(doc['captures'])} captures)")
        return 0
    open(golden_path, "w", encoding="utf-8").write(text)
    print(f"corpus_tshark: wrote {golden_path} ({len(doc['captures'])} captures, tshark {version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
