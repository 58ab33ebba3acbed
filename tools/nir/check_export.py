"""Reads a NIR file spikeburn exported with the reference `nir` package and
checks it against the JSON dump spikeburn wrote beside it (node types,
parameter shapes and values, edges). Exits non-zero on any difference.

    python tools/nir/check_export.py demo.nir demo.json
"""

import json
import sys

import nir
import numpy as np

# NIR class name -> the keys spikeburn's dump holds for it.
KEYS = {
    "Input": [],
    "Output": [],
    "Affine": ["weight", "bias"],
    "Linear": ["weight"],
    "Scale": ["scale"],
    "LI": ["tau", "r", "v_leak"],
    "LIF": ["tau", "r", "v_leak", "v_threshold", "v_reset"],
    "CubaLI": ["tau_syn", "tau_mem", "r", "v_leak", "w_in"],
    "CubaLIF": ["tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"],
}


def main(nir_file, dump_file):
    graph = nir.read(nir_file)
    dump = json.loads(open(dump_file).read())
    problems = []
    if set(graph.nodes) != set(dump["nodes"]):
        problems.append(f"nodes {sorted(graph.nodes)} vs {sorted(dump['nodes'])}")
    for name, want in dump["nodes"].items():
        node = graph.nodes.get(name)
        if node is None:
            continue
        kind = type(node).__name__
        if kind != want["type"]:
            problems.append(f"{name}: type {kind} vs {want['type']}")
            continue
        if kind in ("Input", "Output"):
            shape = node.input_type["input"] if kind == "Input" else node.output_type["output"]
            if list(shape) != want["shape"]:
                problems.append(f"{name}: shape {list(shape)} vs {want['shape']}")
        for key in KEYS[kind]:
            got = np.asarray(getattr(node, key))
            ref = np.asarray(want[key]["data"], dtype=np.float64).reshape(want[key]["shape"])
            if got.shape != ref.shape:
                problems.append(f"{name}.{key}: shape {got.shape} vs {ref.shape}")
            elif not np.allclose(got, ref, rtol=1e-6, atol=1e-7):
                problems.append(f"{name}.{key}: max difference {np.abs(got - ref).max()}")
    edges = sorted(tuple(e) for e in graph.edges)
    if edges != sorted(tuple(e) for e in dump["edges"]):
        problems.append(f"edges {edges} vs {sorted(dump['edges'])}")
    if problems:
        print("NIR check FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    counts = {}
    for n in graph.nodes.values():
        counts[type(n).__name__] = counts.get(type(n).__name__, 0) + 1
    print(
        f"NIR check passed: nir {nir.version} read {nir_file}: {len(graph.nodes)} nodes "
        f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}), "
        f"{len(graph.edges)} edges, every parameter equal to the dump"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
