#!/usr/bin/env python3
"""Instructions per refused verify, per class, counted by callgrind.

The deterministic twin of `benches/ct_service.rs` (issue 11, point 3): the
same bench, in a fixed class order, run under `valgrind --tool=callgrind`,
which counts the instructions the verify writer runs for each request
(`Worker::decide_batch`: deciding, row MACs, audit, commit) instead of timing
them. A difference between classes then shows in a few hundred requests on a
busy machine, where the timing bench needs 10^6 samples on a quiet one. It
does not see what instructions do not count: cache misses, page faults,
fsync, branch mispredictions.

Each batch of the writer is dumped on its own (`--dump-after`); the bench
writes the label of every request it asks (`KEYWARD_CT_LABELS`), one batch
per request, so the n-th dump is the n-th label's. Per class, the median
over its timed requests of:

- `total`: everything in `Worker::decide_batch`;
- `decide`: `Decider::decide_one` (evidence, decision, counters, audit);
- `audit`: `AuditHead::append` (the entry's MAC and insert);
- `seal`: `RowGuard::seal` (row MACs renewed);
- `commit`: `Transaction::commit` (SQLite's commit);

and, as counts: `sha256`, the SHA-256 blocks' own instructions (ring's
block function: proportional to the blocks hashed, MACs of rows, audit and
PIN); `frames`, the pages the commit appends to the WAL (calls to
`walIndexAppend`); `dirtied`, pages made writable (`pager_write`); `malloc`,
allocations.

Then the functions whose median cost differs most between classes (self
and inclusive), to tell where a difference lies.

Usage (from the repository root):

    python3 benches/ct_service_callgrind.py [--samples 400] [--warmup 40]
        [--order cycle] [--release] [--binary PATH] [--keep DIR] [--json FILE]
        [--cache-sim] [--dumps DIR]

`--cache-sim` also simulates the caches (callgrind's model, not the
machine's) and prints each class's median D1 and LL misses. `--dumps DIR`
reports again on the dumps a run kept (`--keep DIR`), with the same
`--warmup`.

Builds the bench with cargo (dev profile, or `bench` with `--release`)
unless `--binary` names it. The data directory is on /dev/shm as in the
timing bench (`KEYWARD_BENCH_DIR`).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

CLASSES = ["wrong_code", "wrong_pin", "unknown", "locked"]
# The writer's batch; a release build inlines it, so there the function
# that opens its transaction is counted instead (`--toggle`), and the dumps
# of other transactions (the bench's setup, the writer's last flush) are
# told apart by having decided nothing.
TOGGLE = "keyward::store::verify::Worker::decide_batch"
RELEASE_TOGGLE = "keyward::store::in_write_txn"
DECIDE = "keyward::store::verify::decide::<impl keyward::store::verify::Decider>::decide_one"
COUNTS = {
    # (how, function): "self" cost or number of "calls".
    "sha256": ("self", "ring_core_0_17_14__sha256_block_data_order_avx"),
    "frames": ("calls", "walIndexAppend"),
    "dirtied": ("calls", "pager_write"),
    "malloc": ("calls", "malloc"),
}
PHASES = {
    "decide": DECIDE,
    "audit": "keyward::store::audit::AuditHead::append",
    "seal": "keyward::store::row_mac::RowGuard::seal",
    "commit": "rusqlite::transaction::Transaction::commit",
}


def build(release):
    """The bench's executable, built by cargo."""
    cmd = ["cargo", "build", "--bench", "ct_service", "--message-format=json"]
    if release:
        cmd += ["--profile", "bench"]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if (
            msg.get("reason") == "compiler-artifact"
            and msg["target"]["name"] == "ct_service"
            and msg.get("executable")
        ):
            return msg["executable"]
    sys.exit("cargo built no ct_service executable")


NAME = re.compile(r"\((\d+)\)(?: (.*))?$")


def parse_dump(path):
    """(trigger, total, self costs, inclusive costs, calls, every event's
    total) of one dump."""
    names = {}
    self_cost = defaultdict(int)
    calls_cost = defaultdict(int)
    calls = defaultdict(int)
    trigger = ""
    total = None
    events = ["Ir"]
    summary = {}
    fn = callee = None
    in_call = None  # the pending call's count, until its cost line

    def resolve(text):
        m = NAME.match(text)
        if not m:
            return text
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), m.group(1))

    with open(path) as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if in_call is not None:
                    if callee != fn:
                        calls_cost[fn] += cost
                    # Other threads' calls are listed too, at no cost
                    # (collection is on in the writer's batch only).
                    if cost:
                        calls[callee] += in_call
                    in_call = None
                else:
                    self_cost[fn] += cost
            elif line.startswith("fn="):
                fn = resolve(line[3:].rstrip("\n"))
            elif line.startswith("cfn="):
                callee = resolve(line[4:].rstrip("\n"))
            elif line.startswith("calls="):
                in_call = int(line[6:].split()[0])
            elif line.startswith("desc: Trigger:"):
                trigger = line.split(":", 2)[2].strip()
            elif line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:") or line.startswith("totals:"):
                values = [int(v) for v in line.split()[1:]]
                total = values[0]
                summary = dict(zip(events, values))
    inclusive = {f: self_cost.get(f, 0) + calls_cost.get(f, 0) for f in set(self_cost) | set(calls_cost)}
    return trigger, total or 0, dict(self_cost), inclusive, dict(calls), summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=400, help="samples in all (default 400)")
    ap.add_argument("--warmup", type=int, default=40, help="first samples not counted (default 40)")
    ap.add_argument("--order", default="cycle", help="KEYWARD_CT_ORDER (default cycle)")
    ap.add_argument("--release", action="store_true", help="build with the bench profile")
    ap.add_argument(
        "--toggle",
        help=f"the function counted (default {TOGGLE}; {RELEASE_TOGGLE} with --release)",
    )
    ap.add_argument("--binary", help="the ct_service bench executable (skips the build)")
    ap.add_argument("--keep", help="keep the dumps in this directory")
    ap.add_argument("--json", help="write the per-class medians to this file")
    ap.add_argument(
        "--cache-sim",
        action="store_true",
        help="also simulate the caches: D1 and LL misses per class (slower)",
    )
    ap.add_argument("--dumps", help="report on the dumps kept in this directory (--keep) instead of running")
    ap.add_argument("--top", type=int, default=15, help="functions listed per table (default 15)")
    args = ap.parse_args()

    if args.dumps:
        args.keep = args.dumps
    toggle = args.toggle or (RELEASE_TOGGLE if args.release else TOGGLE)
    binary = args.binary or ("(kept dumps)" if args.dumps else build(args.release))
    out_dir = args.keep or tempfile.mkdtemp(prefix="ct-callgrind-")
    os.makedirs(out_dir, exist_ok=True)
    labels_path = os.path.join(out_dir, "labels.txt")
    prefix = os.path.join(out_dir, "callgrind.out")
    env = dict(
        os.environ,
        KEYWARD_CT_SAMPLES=str(args.samples),
        KEYWARD_CT_WARMUP=str(args.warmup),
        KEYWARD_CT_ORDER=args.order,
        KEYWARD_CT_LABELS=labels_path,
    )
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--toggle-collect={toggle}",
        f"--dump-after={toggle}",
        f"--callgrind-out-file={prefix}",
    ]
    if args.cache_sim:
        cmd.append("--cache-sim=yes")
    cmd += [
        binary,
        "--bench",
    ]
    if not args.dumps:
        print("running:", " ".join(cmd), file=sys.stderr)
        run = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not os.path.exists(labels_path):
            sys.stderr.write(run.stderr[-4000:])
            sys.exit("the bench wrote no labels")

    labels = open(labels_path).read().split()
    dumps = []
    for name in os.listdir(out_dir):
        m = re.fullmatch(r"callgrind\.out\.(\d+)", name)
        if m:
            dumps.append((int(m.group(1)), os.path.join(out_dir, name)))
    dumps.sort()
    parsed = [parse_dump(p) for _, p in dumps]
    parsed = [d for d in parsed if "--dump-after" in d[0] and d[3].get(DECIDE, 0) > 0]
    if len(parsed) != len(labels):
        sys.exit(f"{len(parsed)} batches dumped for {len(labels)} requests asked")

    per_class = {c: [] for c in CLASSES}
    sample = 0
    for label, dump in zip(labels, parsed):
        if label in per_class:
            if sample >= args.warmup:
                per_class[label].append(dump)
            sample += 1

    def median(values):
        return statistics.median(values) if values else 0

    summary = {}
    print(f"instructions per timed request (median; binary {binary}; order {args.order}):")
    columns = list(PHASES) + list(COUNTS)
    header = f"{'class':<11} {'n':>4} {'total':>9}" + "".join(f" {p:>8}" for p in columns)
    print(header)
    for c in CLASSES:
        ds = per_class[c]
        row = {"n": len(ds), "total": median([d[1] for d in ds])}
        for p, fn in PHASES.items():
            row[p] = median([d[3].get(fn, 0) for d in ds])
        for p, (how, fn) in COUNTS.items():
            index = 2 if how == "self" else 4
            row[p] = median([d[index].get(fn, 0) for d in ds])
        totals = sorted(d[1] for d in ds)
        row["total_min"] = totals[0] if totals else 0
        row["total_p90"] = totals[int(0.9 * (len(totals) - 1))] if totals else 0
        row["total_max"] = totals[-1] if totals else 0
        row["total_mean"] = statistics.fmean(totals) if totals else 0
        summary[c] = row
        print(
            f"{c:<11} {row['n']:>4} {row['total']:>9.0f}"
            + "".join(f" {row[p]:>8.0f}" for p in columns)
            + f"   (total min {row['total_min']} p90 {row['total_p90']}"
            + f" max {row['total_max']} mean {row['total_mean']:.0f})"
        )

    if args.cache_sim:
        print("\ncache misses per timed request (median; callgrind's simulated caches):")
        events = ["D1mr", "D1mw", "DLmr", "DLmw", "I1mr", "ILmr"]
        print(f"{'class':<11}" + "".join(f" {e:>8}" for e in events))
        for c in CLASSES:
            meds = [median([d[5].get(e, 0) for d in per_class[c]]) for e in events]
            for e, m in zip(events, meds):
                summary[c][e] = m
            print(f"{c:<11}" + "".join(f" {m:>8.0f}" for m in meds))

    for kind, index in [("self", 2), ("inclusive", 3), ("calls", 4)]:
        functions = set()
        for ds in per_class.values():
            for d in ds:
                functions.update(d[index])
        spread = []
        for fn in functions:
            meds = [median([d[index].get(fn, 0) for d in per_class[c]]) for c in CLASSES]
            # The batch's callers (the thread, `run`, `in_write_txn`) only
            # repeat the total.
            if kind == "inclusive" and all(m >= summary[c]["total"] - 64 for m, c in zip(meds, CLASSES)):
                continue
            spread.append((max(meds) - min(meds), fn, meds))
        spread.sort(key=lambda s: -s[0])
        print(f"\nfunctions whose median {kind} cost differs most between classes:")
        print("  " + " ".join(f"{c:>10}" for c in CLASSES) + "  function")
        for diff, fn, meds in spread[: args.top]:
            if diff == 0:
                break
            print("  " + " ".join(f"{m:>10.0f}" for m in meds) + f"  {fn[:110]}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    if not args.keep:
        shutil.rmtree(out_dir)


if __name__ == "__main__":
    main()
