#!/usr/bin/env python3
"""Forward check: runs the held-out digits through this reference's network
with the weights of a spikeburn `smnist` checkpoint (checkpoint/deep_r.json:
DEEP R's theta, signs and the readout bias) and prints the accuracy and mean
rate, to set next to the test_accuracy spikeburn logged for that iteration.

    python eval_spikeburn_checkpoint.py RUN_DIR [--data DIR] [--order spikeburn|lsnn]
"""
import argparse, json, math, os, sys
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lsnn_smnist as L

ap = argparse.ArgumentParser()
ap.add_argument("run")
ap.add_argument("--data", default="/work/data/mnist")
ap.add_argument("--order", default="spikeburn")
ap.add_argument("--test-samples", type=int, default=2000)
args = ap.parse_args()
torch.set_num_threads(1); torch.set_flush_denormal(True)
ckdir = os.path.join(args.run, "checkpoint")
path = next(os.path.join(d, f) for d, _, fs in os.walk(ckdir) for f in fs if f == "deep_r.json")
st = json.load(open(path))
ws = []
for m in st["matrices"]:
    th = np.array(m["theta"], np.float32).reshape(m["shape"]); sg = np.array(m["sign"], np.float32).reshape(m["shape"])
    ws.append(torch.from_numpy(np.where(th > 0, th * sg, 0).astype(np.float32)))
b = torch.tensor(st["dense"][0], dtype=torch.float32)
cfg = json.load(open(os.path.join(args.run, "config.json")))
cfg = cfg.get("config", cfg)
n_lif, n_alif = cfg.get("n_lif", 120), cfg.get("n_alif", 100)
a = dict(alpha=math.exp(-1 / cfg.get("tau_mem", 20.0)), rho=math.exp(-1 / cfg.get("tau_adapt", 700.0)),
         kappa=math.exp(-1 / 20.0), beta=torch.cat([torch.zeros(n_lif), torch.full((n_alif,), cfg.get("beta", 1.8))]),
         thr=cfg.get("threshold", 0.01), n_ref=cfg.get("refractory_steps", 5), order=args.order,
         detach_reset=False, n_delay=1)
x, y = L.load_mnist(args.data, "t10k")
x, y = x[:args.test_samples], y[:args.test_samples]
hits, rate = 0, 0.0
with torch.no_grad():
    for s in range(0, len(x), 256):
        xb = torch.from_numpy(L.encode_spikeburn(x[s:s + 256], cfg.get("cue_steps", 56)))
        lg, z = L.forward(xb, ws[0], ws[1], ws[2], b, a, None, cfg.get("readout_steps", 28))
        hits += int((lg.argmax(1).numpy() == y[s:s + 256]).sum()); rate += float(z.sum())
print(json.dumps({"checkpoint": path, "order": args.order, "test_accuracy": hits / len(x),
                  "rate_hz": rate / (len(x) * 840 * (n_lif + n_alif)) * 1000}))
