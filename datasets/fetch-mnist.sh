#!/usr/bin/env bash
# Downloads the four MNIST files (IDX format, gzip) into a folder, default
# datasets/mnist/. spikeburn reads them gzipped or not:
#   bash datasets/fetch-mnist.sh [DIR]
#   spikeburn run smnist --config <(echo '{"data_dir": "DIR"}')
# Source: the CVDF mirror of Yann LeCun's MNIST files (CC BY-SA 3.0).
set -euo pipefail
dir="${1:-$(dirname "$0")/mnist}"
mkdir -p "$dir"
base="https://storage.googleapis.com/cvdf-datasets/mnist"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ ! -s "$dir/$f.gz" ] && [ ! -s "$dir/$f" ]; then
    echo "fetching $f.gz"
    curl -fsSL "$base/$f.gz" -o "$dir/$f.gz"
  fi
done
echo "MNIST in $dir"
