#!/usr/bin/env python3
"""Side-by-side table of sMNIST runs: spikeburn's `metrics.jsonl` and this
reference's `metrics.jsonl` (both formats are read).

    python compare.py NAME=RUN_DIR [NAME=RUN_DIR ...] [--every 50] [--window 10]

Per run and checkpoint iteration k: the mean over iterations k-window+1 .. k
of loss, batch accuracy, rate (Hz), gradient norm and rewired connections,
and the held-out accuracy logged at k (evaluated after iteration k, i.e.
after k+1 updates; '-' where none was logged).
"""

import argparse
import json
import os


def load(run_dir):
    rows = {}
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            m = dict(r.get("metrics", {}))
            for k, v in r.items():
                if k != "metrics":
                    m[k] = v
            rows[int(m["iteration"])] = m
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="NAME=RUN_DIR")
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--window", type=int, default=10)
    args = ap.parse_args()
    runs = [(s.split("=", 1)[0], load(s.split("=", 1)[1])) for s in args.runs]
    last = max(max(r) for _, r in runs)
    marks = sorted(set([0] + list(range(args.every - 1, last + 1, args.every)) + [last]))
    keys = ["loss", "accuracy", "rate_hz", "grad_norm", "rewired"]
    print(f"| it | run | loss | batch acc | rate Hz | grad norm | rewired | test acc |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for k in marks:
        for name, r in runs:
            if k not in r:
                continue
            win = [r[i] for i in range(max(0, k - args.window + 1), k + 1) if i in r]
            mean = {key: sum(w[key] for w in win) / len(win) for key in keys}
            test = r[k].get("test_accuracy")
            test = f"{test:.3f}" if test is not None else "-"
            print(f"| {k} | {name} | {mean['loss']:.3f} | {mean['accuracy']:.3f} | {mean['rate_hz']:.1f} "
                  f"| {mean['grad_norm']:.3g} | {mean['rewired']:.0f} | {test} |")


if __name__ == "__main__":
    main()
