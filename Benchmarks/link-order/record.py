#!/usr/bin/env python3
"""Writes Sources/pushdoc/link-order.txt: the functions the release engine runs from start to idle.

The release link places them first (lld --symbol-ordering-file), so that the pages of code an
idle engine touches are few and together: the kernel maps code 64 KB around each page fault, and
scattered over 15 MB of code, 0.75 MB of functions kept 9.5 MB resident. Recorded with valgrind's
callgrind, which lists every function executed. Run after a release build when the start path
changes much; a stale list only places less well, it never breaks the link. Needs valgrind.

    swift build -c release && python3 Benchmarks/link-order/record.py
"""
import os, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
binary = os.path.realpath(os.path.join(root, ".build/release/pushdoc"))
output = os.path.join(root, "Sources/pushdoc/link-order.txt")

calls = ['{"jsonrpc":"2.0","id":%d,"method":"ping"}' % i for i in range(20)] + [
    '{"jsonrpc":"2.0","id":100,"method":"status.summary"}',
    '{"jsonrpc":"2.0","id":101,"method":"wizard.state"}',
]

with tempfile.TemporaryDirectory() as scratch:
    profile = os.path.join(scratch, "callgrind.out")
    engine = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--demangle=no", "--compress-strings=no", "--compress-pos=no",
         "--callgrind-out-file=" + profile, binary, "serve", "--stdio", "--data-dir", os.path.join(scratch, "data")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for call in calls:
        engine.stdin.write(call.encode() + b"\n")
        engine.stdin.flush()
        engine.stdout.readline()
    time.sleep(2)  # idle: the timers and threads an idle engine runs
    engine.stdin.close()
    engine.wait()

    executed, current_object = set(), None
    with open(profile, errors="replace") as lines:
        for line in lines:
            if line.startswith("ob="):
                current_object = os.path.realpath(line[3:].strip())
            elif line.startswith("fn=") and current_object == binary:
                executed.add(line[3:].strip())

# Only names defined once: a local helper name shared by many objects (value witnesses, merged
# thunks) would pull every section that defines it, large unsplit ones included, to the front.
definitions = {}
nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
for line in nm.splitlines():
    fields = line.split()
    if len(fields) == 3 and fields[1] in "tTwW":
        definitions[fields[2]] = definitions.get(fields[2], 0) + 1
ordered = sorted(name for name in executed if definitions.get(name) == 1)
with open(output, "w") as file:
    file.write("\n".join(ordered) + "\n")
# SwiftPM does not see the list as an input of the link: removing the binary makes the next build link again.
os.remove(binary)
print(f"{len(ordered)} functions of {len(executed)} executed written to {os.path.relpath(output, root)}; "
      "`swift build -c release` links with it")
