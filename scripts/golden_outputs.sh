#!/usr/bin/env bash
# Behaviour check for refactors: run the demo, then predict and export on its runs, and collect every
# JSON file they write with timings and the output root taken out. Run it on two commits and diff:
#   scripts/golden_outputs.sh /tmp/before && (checkout the other commit) && scripts/golden_outputs.sh /tmp/after
#   diff -r /tmp/before/json /tmp/after/json
# Takes as long as the demo (about 11 minutes on 2 cores).
set -euo pipefail
root="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
demo="$root/demo"
mkdir -p "$root"
wood demo --out "$demo" --force
wood predict "$demo/prepared/yolo/images/test" --run "$demo/runs/yolo/yolo" --out "$root/predict"
wood export --run "$demo/runs/yolo/yolo" --out "$root/export-yolo" --images 2
wood export --run "$demo/runs/sam/sam-lora" --out "$root/export-sam" --images 2
python - "$root" <<'PY'
import json
import re
import sys
from pathlib import Path

root = Path(sys.argv[1])
out = root / "json"
TIMING = re.compile(r"(second|time|elapsed|duration|_s$|^s$|ms|date|created|started|finished|mtime|inode|pid|host)", re.I)


def clean(value):
    if isinstance(value, dict):
        return {k: ("<timing>" if TIMING.search(k) else clean(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, str):
        return value.replace(str(root), "<ROOT>")
    return value


for path in sorted(root.rglob("*.json")):
    if out in path.parents:
        continue
    rel = path.relative_to(root)
    target = out / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except ValueError:
        target.write_text(path.read_text())
        continue
    target.write_text(json.dumps(clean(data), indent=1, sort_keys=True) + "\n")
print(f"{sum(1 for _ in out.rglob('*.json'))} JSON files in {out}")
PY
