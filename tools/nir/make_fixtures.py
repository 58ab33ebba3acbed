"""Writes the NIR fixtures spikeburn's tests read, with the Python `nir` package.

For each graph: `<name>.nir` (written by `nir.write`) and `<name>.run.json`:
a fixed input and every node's output over the run, computed here by an
independent numpy simulation of the discretisation spikeburn-nir documents
(forward Euler at `dt`, immediate reset; an edge closing a cycle delivers the
previous step's output). Run from the repository root:

    python tools/nir/make_fixtures.py crates/spikeburn-nir/tests/fixtures
"""

import json
import sys
from pathlib import Path

import nir
import numpy as np


def schedule(graph):
    """Evaluation order (reverse DFS post-order from the input) and back edges."""
    (inp,) = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    succ = {k: [b for a, b in graph.edges if a == k] for k in graph.nodes}
    order, back, state = [], set(), {}

    def visit(n):
        state[n] = 1
        for m in succ[n]:
            if m not in state:
                visit(m)
            elif state[m] == 1:
                back.add((n, m))
        state[n] = 2
        order.append(n)

    visit(inp)
    return order[::-1], back


def simulate(graph, x, dt):
    """x: [T, B, C] -> {node: [T, B, n]}."""
    order, _ = schedule(graph)
    T, B, _ = x.shape
    preds = {k: [a for a, b in graph.edges if b == k] for k in graph.nodes}
    size = {}
    for k, n in graph.nodes.items():
        if isinstance(n, nir.Input):
            size[k] = int(n.input_type["input"][0])
        elif isinstance(n, nir.Output):
            size[k] = int(n.output_type["output"][0])
        elif isinstance(n, (nir.Affine, nir.Linear)):
            size[k] = n.weight.shape[0]
        elif isinstance(n, nir.Scale):
            size[k] = n.scale.shape[0]
        else:
            size[k] = n.r.shape[0]
    out = {k: np.zeros((B, size[k])) for k in graph.nodes}
    v = {k: np.zeros((B, size[k])) for k in graph.nodes}
    cur = {k: np.zeros((B, size[k])) for k in graph.nodes}
    rec = {k: [] for k in graph.nodes}
    for t in range(T):
        for k in order:
            n = graph.nodes[k]
            s = sum(out[p] for p in preds[k]) if preds[k] else None
            if isinstance(n, nir.Input):
                y = x[t]
            elif isinstance(n, nir.Output):
                y = s
            elif isinstance(n, nir.Affine):
                y = s @ n.weight.T + n.bias
            elif isinstance(n, nir.Linear):
                y = s @ n.weight.T
            elif isinstance(n, nir.Scale):
                y = s * n.scale
            else:
                if isinstance(n, (nir.CubaLIF, nir.CubaLI)):
                    k_syn = dt / n.tau_syn
                    cur[k] = (1 - k_syn) * cur[k] + k_syn * n.w_in * s
                    s = cur[k]
                tau = n.tau_mem if isinstance(n, (nir.CubaLIF, nir.CubaLI)) else n.tau
                k_mem = dt / tau
                pre = (1 - k_mem) * v[k] + k_mem * (n.v_leak + n.r * s)
                if isinstance(n, (nir.LIF, nir.CubaLIF)):
                    z = (pre > n.v_threshold).astype(float)
                    v[k] = np.where(z > 0, n.v_reset, pre)
                    y = z
                else:
                    v[k] = pre
                    y = pre
            out[k] = y
            rec[k].append(np.array(y, dtype=float))
    return {k: np.stack(r) for k, r in rec.items()}


def recurrent_lif(rng):
    n_in, n, n_out = 5, 8, 3
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([n_in])),
            "w_in": nir.Affine(
                rng.normal(0, 4.0, (n, n_in)).astype(np.float32),
                rng.normal(0, 0.1, n).astype(np.float32),
            ),
            "lif": nir.LIF(
                tau=rng.uniform(0.01, 0.03, n),
                r=rng.uniform(0.5, 2.0, n),
                v_leak=rng.uniform(-0.1, 0.1, n),
                v_threshold=rng.uniform(0.4, 0.8, n),
                v_reset=rng.uniform(-0.2, 0.0, n),
            ),
            "w_rec": nir.Linear(rng.normal(0, 0.4, (n, n)).astype(np.float32)),
            "w_out": nir.Linear(rng.normal(0, 1.0, (n_out, n)).astype(np.float32)),
            "readout": nir.LI(
                tau=np.full(n_out, 0.02), r=np.ones(n_out), v_leak=np.zeros(n_out)
            ),
            "output": nir.Output(np.array([n_out])),
        },
        edges=[
            ("input", "w_in"),
            ("w_in", "lif"),
            ("lif", "w_rec"),
            ("w_rec", "lif"),
            ("lif", "w_out"),
            ("w_out", "readout"),
            ("readout", "output"),
        ],
    )


def cuba_feedforward(rng):
    n_in, n, n_out = 4, 6, 2
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([n_in])),
            "gain": nir.Scale(rng.uniform(0.5, 1.5, n_in)),
            "w": nir.Linear(rng.normal(0, 2.0, (n, n_in)).astype(np.float32)),
            "hidden": nir.CubaLIF(
                tau_syn=rng.uniform(0.004, 0.008, n),
                tau_mem=rng.uniform(0.01, 0.02, n),
                r=rng.uniform(1.0, 3.0, n),
                v_leak=np.zeros(n),
                v_threshold=np.full(n, 0.3),
                v_reset=np.zeros(n),
                w_in=rng.uniform(0.5, 1.5, n),
            ),
            "w_out": nir.Linear(rng.normal(0, 1.0, (n_out, n)).astype(np.float32)),
            "readout": nir.CubaLI(
                tau_syn=np.full(n_out, 0.005),
                tau_mem=np.full(n_out, 0.02),
                r=np.ones(n_out),
                v_leak=np.zeros(n_out),
                w_in=np.ones(n_out),
            ),
            "output": nir.Output(np.array([n_out])),
        },
        edges=[
            ("input", "gain"),
            ("gain", "w"),
            ("w", "hidden"),
            ("hidden", "w_out"),
            ("w_out", "readout"),
            ("readout", "output"),
        ],
    )


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    for name, make, dt in [
        ("recurrent_lif", recurrent_lif, 1e-3),
        ("cuba_feedforward", cuba_feedforward, 5e-4),
    ]:
        graph = make(rng)
        nir.write(out / f"{name}.nir", graph)
        # What the file holds, read back, is what we simulate.
        graph = nir.read(out / f"{name}.nir")
        n_in = int(graph.nodes["input"].input_type["input"][0])
        x = (rng.uniform(size=(300, 2, n_in)) < 0.15).astype(float)
        run = simulate(graph, x, dt)
        spikes = {
            k: int(run[k].sum())
            for k, n in graph.nodes.items()
            if isinstance(n, (nir.LIF, nir.CubaLIF))
        }
        assert all(c > 0 for c in spikes.values()), spikes
        doc = {
            "made_with": f"nir {nir.version}, numpy {np.__version__} (tools/nir/make_fixtures.py)",
            "dt": dt,
            "input": {"shape": list(x.shape), "data": x.ravel().tolist()},
            # The spiking nodes' spikes and the graph's output.
            "outputs": {
                k: {"shape": list(r.shape), "data": [float(f"{v:.7g}") for v in r.ravel()]}
                for k, r in run.items()
                if k in spikes or k == "output"
            },
            "spike_counts": spikes,
        }
        (out / f"{name}.run.json").write_text(json.dumps(doc))
        print(name, "spikes", spikes)
    # A node type spikeburn does not run: refused by name.
    nir.write(
        out / "delay_node.nir",
        nir.NIRGraph(
            nodes={
                "input": nir.Input(np.array([2])),
                "wait": nir.Delay(np.array([1.0, 2.0])),
                "output": nir.Output(np.array([2])),
            },
            edges=[("input", "wait"), ("wait", "output")],
        ),
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crates/spikeburn-nir/tests/fixtures")
