#!/usr/bin/env python3
"""Reference of the LSNN code's sequential-MNIST tutorial setup, in PyTorch.

Written from the official LSNN code (IGITUGraz/LSNN-official:
`bin/tutorial_sequential_mnist_with_LSNN.py`, `lsnn/spiking_models.py`,
`lsnn/toolbox/rewiring_tools.py`) to run next to spikeburn's `smnist`
experiment on the same IDX files with the same settings, logging the same
per-iteration quantities (loss, batch accuracy, mean rate, gradient norm,
rewired connections; held-out accuracy every `--eval-every` iterations).

The defaults follow spikeburn's default `smnist` config; the switches select
the LSNN code's variant of each part that differs:

  --order lsnn|spikeburn   the LSNN code emits z_t = H((v_{t-1} - A_t)/A_t)
                           (spike from the previous step's voltage, so the
                           reset lands one step later); spikeburn emits
                           z_t = H((v_t - A_t)/A_t).
  --encoding lsnn|spikeburn
                           lsnn: 80 channels = 40 levels linspace(0, 1, 40),
                           onset/offset per level except level 0 (never
                           crossed: 2 silent channels) and level 1 (one
                           channel firing on every pixel == 1), spike on the
                           step *before* the crossing, cue as channel 80;
                           spikeburn: 81 channels = 40 levels (l+1)/41,
                           onsets 0..39, offsets 40..79, spike on the step of
                           the crossing (from 0 before the first pixel), cue 80.
  --n-delay D              synaptic delays uniform in 0..D-1 (input) and
                           1..D (recurrent) steps; LSNN code 10, spikeburn 1.
  --init lsnn|spikeburn    lsnn: Dale counts int(0.75 n) + 1, active entries
                           drawn with replacement (fewer than the budget), the
                           budget int(sum(size * p)) filled up by the first
                           rewiring; spikeburn: round(0.75 n), exactly
                           round(p * size) distinct active entries per matrix.
  --max-grad-norm X        spikeburn clips the joint gradient norm at 1 (20
                           before #17); the LSNN code does not clip (0 = off).
  --rewire-split lsnn|spikeburn
                           how reactivations are split over the matrices:
                           lsnn: categorical with probabilities ~ size;
                           spikeburn: uniformly over all dormant entries.
"""

import argparse
import gzip
import json
import math
import os
import pickle
import struct
import sys
import time

import numpy as np
import torch


# ---------------------------------------------------------------- data

def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                raw = f.read()
            break
    else:
        raise FileNotFoundError(path)
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(data_dir, split):
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte"))
    return images.reshape(len(images), -1).astype(np.float32) / 255.0, labels.astype(np.int64)


def encode_spikeburn(imgs, cue_steps):
    """[B, 784] in [0, 1] -> [T, B, 81]."""
    b, n = imgs.shape
    thr = (np.arange(40, dtype=np.float32) + 1.0) / 41.0
    prev = np.concatenate([np.zeros((b, 1), np.float32), imgs[:, :-1]], axis=1)
    p, q = imgs[:, None, :], prev[:, None, :]
    t = thr[None, :, None]
    onset = (q < t) & (p >= t)          # [B, 40, 784]
    offset = (q >= t) & (p < t)
    out = np.zeros((n + cue_steps, b, 81), np.float32)
    out[:n, :, 0:40] = onset.transpose(2, 0, 1)
    out[:n, :, 40:80] = offset.transpose(2, 0, 1)
    out[n:, :, 80] = 1.0
    return out


def encode_lsnn(imgs, cue_steps):
    """[B, 784] in [0, 1] -> [T, B, 80], as the LSNN tutorial's find_onset_offset."""
    b, n = imgs.shape
    levels = np.linspace(0, 1, 40)
    chans = []
    for thr in levels:
        if thr == 1:
            chans.append(imgs == thr)
        else:
            lower = imgs < thr
            higher = imgs >= thr
            on = np.zeros_like(lower)
            off = np.zeros_like(lower)
            on[:, :-1] = lower[:, :-1] & higher[:, 1:]
            off[:, :-1] = higher[:, :-1] & lower[:, 1:]
            chans += [on, off]
    spikes = np.stack(chans, axis=2).astype(np.float32)  # [B, 784, 79]
    out = np.zeros((n + cue_steps, b, 80), np.float32)
    out[:n, :, :79] = spikes.transpose(1, 0, 2)
    out[n:, :, 79] = 1.0
    return out


# ---------------------------------------------------------------- init (DEEP R matrices)

def dale_signs(n, frac, style, rng, shuffle):
    n_exc = int(frac * n) + 1 if style == "lsnn" else min(max(int(round(frac * n)), 1), n - 1)
    s = np.concatenate([-np.ones(n - n_exc), np.ones(n_exc)]).astype(np.float32)
    if shuffle:
        rng.shuffle(s)
    return s


def balanced_matrix(pre_sign, cols, p, style, rng):
    """Signed init of the LSNN code (random_sparse_signed_matrix with p = 1,
    then masked): returns theta [n, cols] (>0 active) and sign [n, cols]."""
    n = len(pre_sign)
    exc = pre_sign > 0
    theta = np.abs(rng.standard_normal((n, n)))
    theta[~exc, :] *= theta[exc, :].sum() / theta[~exc, :].sum()
    for j in range(n):
        net = (pre_sign * theta[:, j]).sum()
        if net < 0:
            theta[exc, j] += -net / exc.sum()
        else:
            theta[~exc, j] += net / (~exc).sum()
    radius = np.max(np.abs(np.linalg.eigvals(pre_sign[:, None] * theta)))
    theta /= radius
    sel = np.arange(cols) if cols <= n else rng.integers(0, n, size=cols)
    theta = theta[:, sel]
    mask = np.zeros((n, cols), bool)
    if style == "lsnn":
        k = int(n * cols * p)
        mask[rng.integers(0, n, size=k), rng.integers(0, cols, size=k)] = True
    else:
        k = max(int(round(p * n * cols)), 1)
        mask.flat[rng.choice(n * cols, size=k, replace=False)] = True
    theta = np.where(mask, np.maximum(theta, 1e-12), 0.0).astype(np.float32)
    sign = np.repeat(pre_sign[:, None], cols, axis=1).astype(np.float32)
    return theta, sign


class DeepR:
    """Adam on theta with grad sign * dE/dw over the whole matrix (dormant
    entries' moments keep tracking), dormant entries kept at 0, l1 on active
    entries (T = 0: no noise), then reactivation at 1e-12 to hold the global
    budget."""

    def __init__(self, thetas, signs, budget, lr_l1, temperature, split, rng,
                 b1=0.9, b2=0.999, eps=1e-8):
        self.theta = [torch.tensor(t) for t in thetas]
        self.sign = [torch.tensor(s) for s in signs]
        self.m = [torch.zeros_like(t) for t in self.theta]
        self.v = [torch.zeros_like(t) for t in self.theta]
        self.budget, self.l1, self.temp, self.split, self.rng = budget, lr_l1, temperature, split, rng
        self.b1, self.b2, self.eps, self.t = b1, b2, eps, 0

    def weights(self):
        return [torch.where(t > 0, s * t, torch.zeros_like(t)) for t, s in zip(self.theta, self.sign)]

    def active(self):
        return int(sum((t > 0).sum().item() for t in self.theta))

    def step(self, grads_w, lr):
        self.t += 1
        bc1, bc2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for i, g in enumerate(grads_w):
            th = self.theta[i]
            was_active = th > 0
            g = g * self.sign[i]
            self.m[i].mul_(self.b1).add_((1 - self.b1) * g)
            self.v[i].mul_(self.b2).add_((1 - self.b2) * g * g)
            new = th - lr * (self.m[i] / bc1) / ((self.v[i] / bc2).sqrt() + self.eps)
            new = torch.where(was_active, new, torch.zeros_like(new))
            still = new > 0
            new = new - lr * self.l1 * still.float()
            if self.temp > 0:
                new = new + math.sqrt(2 * lr * self.temp) * still.float() * torch.randn_like(new)
            self.theta[i] = torch.where(new > 0, new, torch.zeros_like(new))
        missing = max(0, self.budget - self.active())
        if missing:
            if self.split == "lsnn":
                sizes = np.array([t.numel() for t in self.theta], float)
                counts = np.bincount(self.rng.choice(len(sizes), size=missing, p=sizes / sizes.sum()),
                                     minlength=len(sizes))
                for i, c in enumerate(counts):
                    dormant = (self.theta[i] <= 0).flatten().nonzero().flatten().numpy()
                    c = min(int(c), len(dormant))
                    if c:
                        pick = self.rng.choice(dormant, size=c, replace=False)
                        self.theta[i].view(-1)[torch.from_numpy(pick)] = 1e-12
            else:
                flat = [(self.theta[i] <= 0).flatten().nonzero().flatten().numpy() for i in range(len(self.theta))]
                offsets = np.cumsum([0] + [len(f) for f in flat])
                allidx = np.concatenate(flat)
                pick = self.rng.choice(len(allidx), size=min(missing, len(allidx)), replace=False)
                for i in range(len(self.theta)):
                    sel = pick[(pick >= offsets[i]) & (pick < offsets[i + 1])] - offsets[i]
                    if len(sel):
                        self.theta[i].view(-1)[torch.from_numpy(flat[i][sel])] = 1e-12
        return missing


class Adam:
    def __init__(self, n, b1=0.9, b2=0.999, eps=1e-8):
        self.m, self.v, self.t = torch.zeros(n), torch.zeros(n), 0
        self.b1, self.b2, self.eps = b1, b2, eps

    def step(self, p, g, lr):
        self.t += 1
        self.m.mul_(self.b1).add_((1 - self.b1) * g)
        self.v.mul_(self.b2).add_((1 - self.b2) * g * g)
        return p - lr * (self.m / (1 - self.b1 ** self.t)) / ((self.v / (1 - self.b2 ** self.t)).sqrt() + self.eps)


# ---------------------------------------------------------------- network

class SpikeFn(torch.autograd.Function):
    """H(x); pseudo-derivative 0.3 * max(0, 1 - |x|)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * 0.3 * torch.clamp(1.0 - x.abs(), min=0.0)


def delay_masks(shape, n_delay, rng):
    d = rng.integers(0, n_delay, size=shape)
    return [torch.tensor(d == k, dtype=torch.float32) for k in range(n_delay)]


def forward(x, w_in, w_rec, w_out, b_out, a, delays, readout_steps):
    """x [T, B, n_in]; returns logits [B, 10], spikes [T, B, N]."""
    T, B, _ = x.shape
    N = w_rec.shape[0]
    alpha, rho, kappa = a["alpha"], a["rho"], a["kappa"]
    beta = a["beta"]
    thr0 = a["thr"]
    w_rec = w_rec * (1.0 - torch.eye(N))  # no autapses
    D = a["n_delay"]
    if D == 1:
        drive_in = (x.reshape(T * B, -1) @ w_in).reshape(T, B, N)
    else:
        w_stack = torch.cat([w_in * m for m in delays["in"]], dim=1)  # [n_in, D*N]
        proj = (x.reshape(T * B, -1) @ w_stack).reshape(T, B, D, N)
        planes = proj.unbind(2)
        drive_in = planes[0]
        for k in range(1, D):
            drive_in = drive_in + torch.cat([torch.zeros(k, B, N), planes[k][:T - k]], dim=0)
        w_rec_stack = torch.cat([w_rec * m for m in delays["rec"]], dim=1)  # delay k+1
        pending = [torch.zeros(B, N) for _ in range(D)]
    v = torch.zeros(B, N)
    z = torch.zeros(B, N)
    b = torch.zeros(B, N)
    counter = torch.zeros(B, N)
    psp = torch.zeros(B, N)
    psp_sum = torch.zeros(B, N)
    zs = []
    lsnn_order = a["order"] == "lsnn"
    n_ref = a["n_ref"]
    # unbind once: indexing drive_in[t] would make each step's backward
    # materialise a full [T, B, N] zero tensor (quadratic in T)
    drive_steps = drive_in.unbind(0)
    for t in range(T):
        if D == 1:
            i_t = drive_steps[t] + z @ w_rec
        else:
            i_t = drive_steps[t] + pending.pop(0)
            pending.append(torch.zeros(B, N))
        b = rho * b + (1 - rho) * z
        A = thr0 + beta * b
        fired = z.detach() if a["detach_reset"] else z
        v_new = alpha * v + (1 - alpha) * i_t - fired * A
        v_spk = v if lsnn_order else v_new
        z_new = SpikeFn.apply((v_spk - A) / A)
        if n_ref > 0:
            zp = z.detach()
            counter = torch.clamp(counter - 1, min=0) * (1 - zp) + zp * n_ref
            z_new = z_new * (counter <= 0).float()
        v, z = v_new, z_new
        if D > 1:
            proj_r = (z @ w_rec_stack).reshape(B, D, N).unbind(1)
            for k in range(D):
                pending[k] = pending[k] + proj_r[k]
        psp = kappa * psp + (1 - kappa) * z
        if t >= T - readout_steps:
            psp_sum = psp_sum + psp
        zs.append(z)
    logits = (psp_sum / readout_steps) @ w_out + b_out
    return logits, torch.stack(zs)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/data/mnist")
    ap.add_argument("--out", required=True, help="metrics.jsonl is written here (a folder)")
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--test-samples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--order", choices=["lsnn", "spikeburn"], default="spikeburn")
    ap.add_argument("--encoding", choices=["lsnn", "spikeburn"], default="spikeburn")
    ap.add_argument("--init", choices=["lsnn", "spikeburn"], default="spikeburn")
    ap.add_argument("--rewire-split", choices=["lsnn", "spikeburn"], default="spikeburn")
    ap.add_argument("--n-delay", type=int, default=1)
    ap.add_argument("--n-lif", type=int, default=120)
    ap.add_argument("--n-alif", type=int, default=100)
    ap.add_argument("--tau-mem", type=float, default=20.0)
    ap.add_argument("--tau-adapt", type=float, default=700.0)
    ap.add_argument("--tau-out", type=float, default=20.0)
    ap.add_argument("--beta", type=float, default=1.8)
    ap.add_argument("--thr", type=float, default=0.01)
    ap.add_argument("--n-ref", type=int, default=5)
    ap.add_argument("--detach-reset", action="store_true")
    ap.add_argument("--connectivity", type=float, default=0.12)
    ap.add_argument("--excitatory", type=float, default=0.75)
    ap.add_argument("--l1", type=float, default=0.01)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--lr-decay", type=float, default=0.8)
    ap.add_argument("--lr-every", type=int, default=2500)
    ap.add_argument("--rate-reg", type=float, default=0.1)
    ap.add_argument("--rate-target-hz", type=float, default=10.0)
    ap.add_argument("--max-grad-norm", type=float, default=1.0,
                    help="0 = no clipping (LSNN code); spikeburn's default 1.0 (was 20 before #17)")
    ap.add_argument("--cue-steps", type=int, default=56)
    ap.add_argument("--readout-steps", type=int, default=28)
    ap.add_argument("--train-samples", type=int, default=0, help="use only the first K training images (0 = all)")
    ap.add_argument("--checkpoint-every", type=int, default=100,
                    help="write OUT/checkpoint.pkl (atomically) every K iterations (0 = never)")
    ap.add_argument("--resume", action="store_true",
                    help="continue from OUT/checkpoint.pkl up to --iterations (the other settings must match)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    config_path = os.path.join(args.out, "config.json")
    # settings that may change between a run and its continuation
    free = {"iterations", "resume", "threads", "checkpoint_every", "eval_every", "data", "out"}
    if args.resume:
        with open(config_path) as f:
            before = json.load(f)
        changed = {k: (before.get(k), v) for k, v in vars(args).items() if k not in free and before.get(k) != v}
        if changed:
            sys.exit(f"--resume: settings differ from the run in {args.out}: {changed}")
    with open(config_path, "w") as f:
        json.dump(vars(args), f, indent=1)

    xtr, ytr = load_mnist(args.data, "train")
    xte, yte = load_mnist(args.data, "t10k")
    if args.train_samples:
        xtr, ytr = xtr[:args.train_samples], ytr[:args.train_samples]
    xte, yte = xte[:args.test_samples], yte[:args.test_samples]
    encode = encode_lsnn if args.encoding == "lsnn" else encode_spikeburn
    n_in = 80 if args.encoding == "lsnn" else 81
    N = args.n_lif + args.n_alif

    in_sign = dale_signs(n_in, args.excitatory, args.init, rng, shuffle=True)
    rec_sign = dale_signs(N, args.excitatory, args.init, rng, shuffle=False)
    mats = [balanced_matrix(in_sign, N, args.connectivity, args.init, rng),
            balanced_matrix(rec_sign, N, args.connectivity, args.init, rng),
            balanced_matrix(rec_sign, 10, args.connectivity, args.init, rng)]
    thetas, signs = [m[0] for m in mats], [m[1] for m in mats]
    if args.init == "lsnn":
        budget = int(sum(t.size for t in thetas) * args.connectivity)
    else:
        budget = int(sum((t > 0).sum() for t in thetas))
    deepr = DeepR(thetas, signs, budget, args.l1, args.temperature, args.rewire_split, rng)
    b_out = torch.zeros(10)
    bias_opt = Adam(10)

    a = dict(alpha=math.exp(-1 / args.tau_mem), rho=math.exp(-1 / args.tau_adapt),
             kappa=math.exp(-1 / args.tau_out),
             beta=torch.cat([torch.zeros(args.n_lif), torch.full((args.n_alif,), args.beta)]),
             thr=args.thr, n_ref=args.n_ref, order=args.order, detach_reset=args.detach_reset,
             n_delay=args.n_delay)
    delays = None
    if args.n_delay > 1:
        delays = {"in": delay_masks((n_in, N), args.n_delay, rng),
                  "rec": delay_masks((N, N), args.n_delay, rng)}

    def evaluate():
        hits = 0
        with torch.no_grad():
            w_in, w_rec, w_out = deepr.weights()
            for s in range(0, len(xte), args.batch):
                xb = torch.from_numpy(encode(xte[s:s + args.batch], args.cue_steps))
                logits, _ = forward(xb, w_in, w_rec, w_out, b_out, a, delays, args.readout_steps)
                hits += (logits.argmax(1).numpy() == yte[s:s + args.batch]).sum()
        return hits / len(xte)

    lr = args.lr
    start = 0
    ckpt_path = os.path.join(args.out, "checkpoint.pkl")
    metrics_path = os.path.join(args.out, "metrics.jsonl")
    if args.resume:
        with open(ckpt_path, "rb") as f:
            st = pickle.load(f)
        deepr, b_out, bias_opt, lr, rng, delays = (st[k] for k in ("deepr", "b_out", "bias_opt", "lr", "rng", "delays"))
        torch.set_rng_state(st["torch_rng"])
        start = st["iteration"] + 1
        # keep the log up to the checkpoint: later lines are redone
        with open(metrics_path) as f:
            kept = [l for l in f if json.loads(l)["iteration"] < start]
        with open(metrics_path, "w") as f:
            f.writelines(kept)
        log = open(metrics_path, "a")
        print(f"resumed at iteration {start} from {ckpt_path}", flush=True)
    else:
        log = open(metrics_path, "w")
    print(f"budget {budget} active {deepr.active()} n_in {n_in} order {args.order} encoding {args.encoding}",
          flush=True)

    def checkpoint(it):
        # deepr.rng is rng: one pickle keeps them one object
        st = dict(iteration=it, deepr=deepr, b_out=b_out, bias_opt=bias_opt, lr=lr, rng=rng, delays=delays,
                  torch_rng=torch.get_rng_state())
        tmp = ckpt_path + ".tmp"
        with open(tmp, "wb") as f:
            pickle.dump(st, f)
        os.replace(tmp, ckpt_path)

    for it in range(start, args.iterations):
        if args.lr_every and it > 0 and it % args.lr_every == 0:
            lr *= args.lr_decay
        t0 = time.time()
        idx = rng.integers(0, len(xtr), size=args.batch)
        xb = torch.from_numpy(encode(xtr[idx], args.cue_steps))
        yb = torch.from_numpy(ytr[idx])
        ws = [w.clone().requires_grad_(True) for w in deepr.weights()]
        bo = b_out.clone().requires_grad_(True)
        logits, z = forward(xb, ws[0], ws[1], ws[2], bo, a, delays, args.readout_steps)
        ce = torch.nn.functional.cross_entropy(logits, yb)
        rate = z.mean(dim=(0, 1))
        reg = ((rate - args.rate_target_hz / 1000.0) ** 2).sum()
        loss = ce + args.rate_reg * reg
        loss.backward()
        grads = [w.grad for w in ws] + [bo.grad]
        gnorm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
        if args.max_grad_norm > 0 and gnorm > args.max_grad_norm:
            grads = [g * (args.max_grad_norm / gnorm) for g in grads]
        rewired = deepr.step(grads[:3], lr)
        b_out = bias_opt.step(b_out, grads[3], lr)
        acc = float((logits.argmax(1) == yb).float().mean())
        z = z.detach()
        rec = dict(iteration=it, loss=float(loss.detach()), ce=float(ce.detach()), reg=float(reg.detach()), accuracy=acc,
                   rate_hz=float(z.mean()) * 1000, rate_lif_hz=float(z[:, :, :args.n_lif].mean()) * 1000,
                   rate_alif_hz=float(z[:, :, args.n_lif:].mean()) * 1000, grad_norm=gnorm,
                   rewired=rewired, active=deepr.active(), lr=lr, sec=time.time() - t0)
        if args.eval_every and (it + 1) % args.eval_every == 0 or it + 1 == args.iterations:
            rec["test_accuracy"] = float(evaluate())
        log.write(json.dumps(rec) + "\n")
        log.flush()
        if args.checkpoint_every and ((it + 1) % args.checkpoint_every == 0 or it + 1 == args.iterations):
            checkpoint(it)
        print(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items()),
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
