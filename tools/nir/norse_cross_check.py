"""Does Norse run a spikeburn export spike for spike?

Loads a NIR file written by `spikeburn export-nir --unit-resistance` with
the reference `nir` package, imports its spiking part into Norse
(`norse.torch.from_nir`, forward-Euler LIF "box" cells with an immediate
reset, at the same dt), drives it with the probe input spikeburn wrote beside
the export, and compares Norse's spikes with the spikes spikeburn's own
network produced on that input.

Norse's importer ignores `r` and `v_reset` (it uses r = 1, v_reset = 0) and
has no LI node, so: export with --unit-resistance (R folded into the weights,
exact), a reset to 0, and the readout (LI) is left out of the comparison.

    python tools/nir/norse_cross_check.py demo.nir demo.probe.json
"""

import json
import sys

import nir
import numpy as np
import norse.torch as norse
import torch


def main(nir_file, probe_file, layer="lsnn"):
    graph = nir.read(nir_file)
    lif = graph.nodes[layer]
    if not (np.allclose(lif.r, 1.0) and np.allclose(lif.v_reset, 0.0)):
        sys.exit(f"{layer}: r or v_reset is not 1 / 0, which Norse's importer assumes: "
                 "export with --unit-resistance and a reset to 0")
    # The spiking part: everything upstream of the LIF layer, its recurrence.
    keep = {layer}
    changed = True
    while changed:
        changed = False
        for a, b in graph.edges:
            if b in keep and a not in keep and not (a.startswith(layer + ".recurrent")):
                keep.add(a)
                changed = True
    keep |= {b for a, b in graph.edges if a == layer and b.startswith(layer + ".recurrent")}
    nodes = {k: graph.nodes[k] for k in keep}
    nodes["output"] = nir.Output(np.array([lif.tau.shape[0]]))
    edges = [e for e in graph.edges if e[0] in keep and e[1] in keep] + [(layer, "output")]
    probe = json.load(open(probe_file))
    dt = probe["dt_ms"] * 1e-3
    module = norse.from_nir(nir.NIRGraph(nodes=nodes, edges=edges), dt=dt)
    x = torch.tensor(probe["input"]["data"], dtype=torch.float32).reshape(probe["input"]["shape"])
    want = np.array(probe["spikes"]["data"]).reshape(probe["spikes"]["shape"])
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            z, state = module(x[t], state)
            out.append(z.numpy())
    got = np.stack(out)
    steps, batch, n = want.shape
    seconds = steps * dt
    result = {
        "dt_s": dt,
        "steps": steps,
        "neurons": n,
        "identical_fraction": float((got == want).mean()),
        "spikes_spikeburn": int(want.sum()),
        "spikes_norse": int(got.sum()),
        "rate_hz_spikeburn": float(want.sum() / (batch * n * seconds)),
        "rate_hz_norse": float(got.sum() / (batch * n * seconds)),
        "norse": getattr(norse, "__version__", None) or __import__("norse").__version__,
        "nir": nir.version,
    }
    print(json.dumps(result))
    if result["identical_fraction"] < 0.99 or result["spikes_spikeburn"] == 0:
        sys.exit(1)


if __name__ == "__main__":
    main(*sys.argv[1:])
