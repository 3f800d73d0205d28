#!/usr/bin/env python3
"""Fail when a file of src/ includes a header that lives in a layer above
its own. The layers, lowest first, are those of src/meson.build."""
import os
import re
import sys

ORDER = ["util", "remote", "core", "engine", "fuse", "daemon"]
# What each layer may see: itself and everything below it. The simulator
# stands beside the stack on util alone; the daemon's main() embeds it.
ALLOWED = {layer: set(ORDER[: i + 1]) for i, layer in enumerate(ORDER)}
ALLOWED["sim"] = {"util", "sim"}
MAIN_EXTRA = {"daemon/main.c": {"sim"}}


def main():
    src = sys.argv[1]
    owner = {}
    for layer in ALLOWED:
        d = os.path.join(src, layer)
        for name in os.listdir(d):
            if name.endswith(".h"):
                owner[name] = layer
    bad = []
    for layer in ALLOWED:
        d = os.path.join(src, layer)
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")):
                continue
            rel = f"{layer}/{name}"
            allowed = ALLOWED[layer] | MAIN_EXTRA.get(rel, set())
            with open(os.path.join(d, name), encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                    if not m:
                        continue
                    hdr = os.path.basename(m.group(1))
                    if hdr in owner and owner[hdr] not in allowed:
                        bad.append(f"src/{rel}:{n}: includes {hdr} of layer "
                                   f"{owner[hdr]}, above {layer}")
    for b in bad:
        print(b)
    print(f"{len(bad)} upward includes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
