#!/usr/bin/env bash
# Instructions per unit of work, per machine instruction: runs `BIN --child CASE SIZE` under
# callgrind, keeps the instructions executed at least UNITS/2 times, divides their counts by
# UNITS and prints them next to their disassembly (the function named when it is not the
# dispatch loop). Shows, block by block, what one call or iteration costs, and how many indirect
# jumps it takes (each one through the shared dispatch costs more than its instructions: README,
# session 9).
#
#   stoffel-bench/tools/callgrind-join.sh target/release/stoffel-bench fib 22 57313 > fib.txt
#   (fib(22) makes 57,313 calls; the other cases: SIZE iterations, UNITS = SIZE)
set -euo pipefail
bin=$1 case=$2 size=$3 units=$4
out=$(mktemp -d)
valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$out/cg" "$bin" --child "$case" "$size" \
    2>&1 >/dev/null | grep Collected >&2
objdump -d --no-show-raw-insn "$bin" > "$out/dis"
python3 - "$out/cg" "$out/dis" "$units" <<'PY'
import collections, sys
profile, disassembly, units = sys.argv[1], sys.argv[2], int(sys.argv[3])
counts, last, after_call = collections.Counter(), 0, False
for line in open(profile):
    line = line.rstrip("\n")
    if not line or line[0].isalpha():
        after_call = after_call or line.startswith("calls=")
        continue
    fields = line.split()
    first = fields[0]
    if first.startswith("0x"):
        address = int(first, 16)
    elif first.startswith("+"):
        address = last + int(first[1:], 16 if first[1:].startswith("0x") else 10)
    elif first.startswith("-"):
        address = last - int(first[1:], 16 if first[1:].startswith("0x") else 10)
    elif first == "*":
        address = last
    else:
        continue
    last = address
    if after_call:  # the line after `calls=` is the call's inclusive cost, not this instruction's
        after_call = False
        continue
    if len(fields) > 2:
        counts[address] += int(fields[2])
total, indirect, function = 0.0, 0.0, ""
for line in open(disassembly):
    line = line.rstrip()
    if line.endswith(">:"):
        function = line.split("<", 1)[1][:60]
        continue
    head = line.split(":", 1)[0].strip()
    try:
        address = int(head, 16)
    except ValueError:
        continue
    if counts[address] * 2 >= units:
        per_unit = counts[address] / units
        total += per_unit
        # `jmp *%reg` and `call *…`: the dispatch's jump tables and calls through pointers.
        if "jmp    *" in line or "call   *" in line:
            indirect += per_unit
        where = "" if "run_loop" in function else f"   [{function}]"
        print(f"{per_unit:6.2f} {line[:110]}{where}")
print(f"total {total:.1f} instructions per unit, {indirect:.1f} of them indirect jumps or calls",
      file=sys.stderr)
PY
rm -rf "$out"
