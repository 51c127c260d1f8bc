#!/usr/bin/env bash
# Instructions per request of the rule engine alone (palisade-inspect, full CRS v4.28.0,
# phases 1-5), counted by valgrind's callgrind: unlike time, instruction counts do not
# move when other work shares the machine, so they are the before/after number.
#
#   bash bench/inspect/callgrind.sh            # every request of the bench corpora
#   PL=4 bash bench/inspect/callgrind.sh       # another paranoia level
#   REFERENCE=1 bash bench/inspect/callgrind.sh  # the prefilter off (every rule, every value)
#   KEEP=dir bash bench/inspect/callgrind.sh   # keep the callgrind files (callgrind_annotate)
#   BIN=path bash bench/inspect/callgrind.sh   # a bench binary built earlier (before/after)
#
# Each request of `inspect/benches/eval.rs` runs twice (ITERS=1 after the warm-up); the
# second, warm run is reported. Needs valgrind (Debian package). Not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "error: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
bin=${BIN:-$(cargo bench --no-run -p palisade-inspect --bench eval --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "eval":
        print(m["executable"])')}
[ -x "$bin" ] || { echo "error: bench binary not built (cargo bench --no-run -p palisade-inspect)" >&2; exit 1; }
work=${KEEP:-$(mktemp -d)}
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
export CRS_DIR=${CRS_DIR:-$(pwd)/../shared/crs/v4.28.0}
SEQUENCE=1 ITERS=1 valgrind --tool=callgrind --collect-atstart=no --toggle-collect='eval::eval' \
    --dump-after='eval::eval' --callgrind-out-file="$work/cg.out" "$bin" \
    >"$work/stdout" 2>"$work/valgrind.log"
python3 - "$work" <<'PY'
import glob, os, re, sys
work = sys.argv[1]
calls = [l.split(" ", 1)[1].strip() for l in open(f"{work}/stdout") if l.startswith("call ")]
def part(f):
    m = re.search(r"\.(\d+)$", f)
    return int(m.group(1)) if m else 0
dumps = sorted((f for f in glob.glob(f"{work}/cg.out*") if part(f) > 0), key=part)
if len(dumps) != len(calls):
    sys.exit(f"error: {len(calls)} calls but {len(dumps)} callgrind dumps (see {work}/valgrind.log)")
def ir(f):
    for l in open(f):
        if l.startswith("summary:") or l.startswith("totals:"):
            return int(l.split()[1])
    return 0
seen, warm = set(), {}
for c, f in zip(calls, dumps):
    if c in seen:
        warm[c] = ir(f)
    seen.add(c)
print("| request | instructions (callgrind Ir) |")
print("| --- | ---: |")
for c in dict.fromkeys(calls):
    print(f"| {c[:90]} | {warm.get(c, 0):,} |")
PY
