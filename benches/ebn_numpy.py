#!/usr/bin/env python3
"""The `spikeburn bench ebn` workload as a plain numpy loop, for side-by-side timing.

Same equations, order and constants as crates/spikeburn-bench/src/ebn.rs
(Bourdoukan & Deneve 2015 EBN, both local rules on); prints one JSON line
with steps_per_s. Needs numpy only:

    python3 -m venv ~/.venvs/ebn && ~/.venvs/ebn/bin/pip install numpy
    ~/.venvs/ebn/bin/python benches/ebn_numpy.py --n 20 --t 20000
"""
import argparse
import json
import math
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--t", type=int, default=200_000)
    ap.add_argument("--warmup", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    n, j = a.n, 2
    dt, lam_v, lam_d, mu, gain, sigma = 1e-4, 10.0, 10.0, 0.002, 100.0, 0.02
    eps_f, beta, eta = 0.005, 1.6, 0.1
    ang = 2 * math.pi * np.arange(n) / n
    F = np.stack([0.2 * np.cos(ang), 0.2 * np.sin(ang)], 1).astype(np.float32)  # [N, J]
    D = F.copy()
    T = ((F**2).sum(1) + mu) / 2
    fast = (-0.9 * (F @ F.T + mu * np.eye(n))).astype(np.float32)  # [pre, post], symmetric
    slow = np.zeros((n, n), np.float32)  # [pre, post]
    eye = np.eye(n, dtype=np.float32)
    V = np.zeros(n, np.float32)
    r = np.zeros(n, np.float32)
    rng = np.random.default_rng(a.seed)
    leak_v, leak_r = 1 - lam_v * dt, 1 - lam_d * dt
    noise = sigma * math.sqrt(dt)
    spikes = 0
    start = time.perf_counter()
    for t in range(a.warmup + a.t):
        if t == a.warmup:
            start = time.perf_counter()
            spikes = 0
        p = 2 * math.pi * t / 1000
        c = np.array([5 * math.sin(p), 5 * math.cos(p)], np.float32)
        x = np.array([0.5 * math.cos(p), -0.5 * math.sin(p)], np.float32)
        e = x - r @ D
        fb = gain * (F @ e)
        current = F @ c + fb + r @ slow
        V = leak_v * V + dt * current + noise * rng.standard_normal(n).astype(np.float32)
        over = V - T
        k = int(np.argmax(over))
        spiked = over[k] > 0
        if spiked:
            # fast rule on row k (presynaptic k), then the spike acts
            fast[k] -= eps_f * (beta * (V + mu * r) + fast[k] + mu * eye[k])
            V = V + fast[k]
            spikes += 1
        slow += (eta * dt) * np.outer(r, fb)  # [pre, post]: r_j * fb_i
        r = leak_r * r
        if spiked:
            r[k] += 1
    secs = time.perf_counter() - start
    print(json.dumps({"workload": "ebn", "path": "numpy", "n": n, "steps": a.t,
                      "steps_per_s": round(a.t / secs), "spikes": spikes}))


if __name__ == "__main__":
    main()
