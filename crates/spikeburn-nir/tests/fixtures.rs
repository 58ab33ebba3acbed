//! Graphs written by the Python `nir` package (tools/nir/make_fixtures.py)
//! run here as they ran in its numpy reference of the same discretisation.
#![cfg(feature = "hdf5")]

use std::path::PathBuf;

use burn::prelude::*;
use burn::tensor::TensorData;
use spikeburn_nir::{NirError, NirNetwork, file};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn array(v: &serde_json::Value) -> (Vec<usize>, Vec<f32>) {
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap() as f32)
        .collect();
    (shape, data)
}

#[test]
fn fixtures_from_python_reproduce_their_spikes() {
    let device = Device::default();
    for name in ["recurrent_lif", "cuba_feedforward"] {
        let graph = file::read(&fixture(&format!("{name}.nir"))).unwrap();
        let run: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("{name}.run.json"))).unwrap(),
        )
        .unwrap();
        let dt = run["dt"].as_f64().unwrap();
        let (shape, x) = array(&run["input"]);
        let x = Tensor::<3>::from_data(TensorData::new(x, [shape[0], shape[1], shape[2]]), &device);
        let net = NirNetwork::from_graph(&graph, dt, &device).unwrap();
        let trace = net.run(x).unwrap();
        for (node, expected) in run["outputs"].as_object().unwrap() {
            let (shape, want) = array(expected);
            let got: Vec<f32> = trace.outputs[node]
                .clone()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            assert_eq!(got.len(), shape.iter().product::<usize>(), "{name}/{node}");
            if node == "output" {
                let err = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                let scale = want.iter().map(|v| v.abs()).fold(0.0, f32::max);
                eprintln!("{name}/{node}: max |difference| {err:.2e} (values up to {scale:.2})");
                assert!(err < 1e-3 * scale.max(1.0), "{name}/{node}: {err}");
                continue;
            }
            let same =
                got.iter().zip(&want).filter(|(a, b)| a == b).count() as f64 / got.len() as f64;
            let (n_got, n_want) = (got.iter().sum::<f32>(), want.iter().sum::<f32>());
            let rate_difference = (n_got - n_want).abs() / n_want;
            eprintln!(
                "{name}/{node}: {:.4} of the entries identical, {n_got} spikes vs {n_want} ({:.2} % rate difference)",
                same,
                100.0 * rate_difference
            );
            assert!(n_want > 50.0, "{name}/{node}: the fixture spikes");
            assert!(same >= 0.999, "{name}/{node}: {same}");
            assert!(rate_difference <= 0.01, "{name}/{node}: {rate_difference}");
        }
    }
}

#[test]
fn a_file_written_here_reads_back_identical() {
    let graph = file::read(&fixture("recurrent_lif.nir")).unwrap();
    let dir = std::env::temp_dir().join(format!("spikeburn-nir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("copy.nir");
    file::write(&path, &graph).unwrap();
    let back = file::read(&path).unwrap();
    assert_eq!(back.edges, graph.edges);
    for (name, node) in &graph.nodes {
        assert_eq!(back.nodes[name].kind(), node.kind());
        for ((k, a), (_, b)) in node.params().into_iter().zip(back.nodes[name].params()) {
            assert_eq!(a.shape, b.shape, "{name}.{k}");
            for (x, y) in a.data.iter().zip(&b.data) {
                // Written as f32.
                assert!(
                    (x - y).abs() <= 1e-6 * x.abs().max(1.0),
                    "{name}.{k}: {x} vs {y}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn broken_files_get_typed_errors() {
    let dir = std::env::temp_dir().join(format!("spikeburn-nir-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Truncated.
    let bytes = std::fs::read(fixture("recurrent_lif.nir")).unwrap();
    let cut = dir.join("truncated.nir");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let e = file::read(&cut).unwrap_err();
    assert!(matches!(e, NirError::NotNir { .. }), "{e}");
    // Not HDF5 at all.
    let text = dir.join("text.nir");
    std::fs::write(&text, "not a NIR file").unwrap();
    assert!(matches!(
        file::read(&text).unwrap_err(),
        NirError::NotNir { .. }
    ));
    // A node type we do not run.
    let e = file::read(&fixture("delay_node.nir")).unwrap_err();
    assert!(
        matches!(&e, NirError::UnknownNode { node, kind, .. } if node == "wait" && kind == "Delay"),
        "{e}"
    );
    // Missing.
    assert!(matches!(
        file::read(&dir.join("absent.nir")).unwrap_err(),
        NirError::Io { .. }
    ));
    std::fs::remove_dir_all(&dir).ok();
}
