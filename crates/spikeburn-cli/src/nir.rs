//! `spikeburn export-nir` and `spikeburn import-nir`: the command side of
//! `spikeburn-nir` (file support needs the `nir` feature).

use std::path::Path;

use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use serde_json::json;
use spikeburn_nir::{ExportOptions, Graph, NIR_VERSION, NirNetwork, Node, export_lsnn, file};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The demo's step (its neurons use `AlifConfig`'s default `dt`).
const DEMO_STEP_MS: f64 = 1.0;

/// The probe input written beside an export: Poisson spikes.
const PROBE_STEPS: usize = 200;
const PROBE_P: f64 = 0.1;
const PROBE_SEED: u64 = 7;

/// Exports the demo run in `run_dir` to `out` (and its JSON dump to
/// `out` with the extension `.json`); returns the final JSON line.
pub fn export(
    run_dir: &Path,
    out: &Path,
    options: ExportOptions,
    device: &Device,
) -> Result<String> {
    let (_, lsnn) = spikeburn_experiments::demo::load_trained(run_dir, device)?;
    let graph = export_lsnn(&lsnn, DEMO_STEP_MS, options)?;
    file::write(out, &graph)?;
    let dump = out.with_extension("json");
    std::fs::write(&dump, serde_json::to_string_pretty(&graph.to_json())?)?;
    // The exported network itself on a fixed input: what another
    // library's import of the file must reproduce.
    let probe = out.with_extension("probe.json");
    let [n_in, _] = lsnn.recurrent.input_weights.val().dims();
    device.seed(PROBE_SEED);
    let x = Tensor::<3>::random(
        [PROBE_STEPS, 1, n_in],
        Distribution::Uniform(0.0, 1.0),
        device,
    )
    .lower_elem(PROBE_P)
    .float();
    let ran = lsnn.try_forward(x.clone())?;
    let values = |t: Tensor<3>| -> Result<serde_json::Value> {
        let shape = t.dims();
        let v = t
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        Ok(json!({"shape": shape, "data": v}))
    };
    std::fs::write(
        &probe,
        json!({
            "dt_ms": DEMO_STEP_MS,
            "input": values(x)?,
            "spikes": values(ran.spikes)?,
            "readout": values(ran.output)?,
        })
        .to_string(),
    )?;
    print_graph(&graph);
    Ok(json!({
        "command": "export-nir",
        "run": run_dir.display().to_string(),
        "file": out.display().to_string(),
        "json": dump.display().to_string(),
        "probe": probe.display().to_string(),
        "nir_version": NIR_VERSION,
        "dt_ms": DEMO_STEP_MS,
        "nodes": graph.nodes.len(),
        "edges": graph.edges.len(),
        "unit_resistance": options.unit_resistance,
    })
    .to_string())
}

fn print_graph(graph: &Graph) {
    eprintln!(
        "NIR graph: {} nodes, {} edges",
        graph.nodes.len(),
        graph.edges.len()
    );
    for (name, node) in &graph.nodes {
        let shape = match node {
            Node::Input { shape } | Node::Output { shape } => format!("{shape:?}"),
            _ => node
                .params()
                .first()
                .map(|(k, a)| format!("{k} {:?}", a.shape))
                .unwrap_or_default(),
        };
        eprintln!("  {name:<20} {:<8} {shape}", node.kind());
    }
    for (a, b) in &graph.edges {
        eprintln!("  {a} -> {b}");
    }
}

/// `[T, C]` or `[T, B, C]` values from a `.json` (nested arrays or a
/// `{shape, data}` object, either possibly under an `input` key) or `.npy`
/// file; returned as `[T, B, C]`.
fn read_input(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (shape, data) = match ext {
        "json" => {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
            let v = v.get("input").cloned().unwrap_or(v);
            // `{"shape": [...], "data": [...]}` (what export-nir's probe and
            // `--save` write) or nested arrays.
            if let (Some(shape), Some(data)) = (v.get("shape"), v.get("data")) {
                let shape: Vec<usize> = serde_json::from_value(shape.clone())?;
                let mut flat = vec![];
                flatten(data, &mut flat, path)?;
                return finish_input(path, shape, flat);
            }
            let mut shape = vec![];
            let mut cur = &v;
            while let Some(a) = cur.as_array() {
                shape.push(a.len());
                match a.first() {
                    Some(first) => cur = first,
                    None => break,
                }
            }
            let mut data = vec![];
            flatten(&v, &mut data, path)?;
            (shape, data)
        }
        "npy" => {
            let bytes = std::fs::read(path)?;
            let npy = npyz::NpyFile::new(&bytes[..])?;
            let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
            let data = read_npy(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            (shape, data)
        }
        other => {
            return Err(format!(
                "--input {}: expected a .json or .npy file, got extension `{other}`",
                path.display()
            )
            .into());
        }
    };
    finish_input(path, shape, data)
}

fn finish_input(path: &Path, shape: Vec<usize>, data: Vec<f32>) -> Result<(Vec<usize>, Vec<f32>)> {
    let shape = match shape.as_slice() {
        [t, c] => vec![*t, 1, *c],
        [_, _, _] => shape,
        _ => {
            return Err(format!(
                "--input {}: shape {shape:?}, expected [steps, channels] or [steps, batch, channels]",
                path.display()
            )
            .into());
        }
    };
    if shape.iter().product::<usize>() != data.len() {
        return Err(format!("--input {}: ragged arrays", path.display()).into());
    }
    Ok((shape, data))
}

fn flatten(v: &serde_json::Value, out: &mut Vec<f32>, path: &Path) -> Result<()> {
    match v {
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| flatten(x, out, path)),
        serde_json::Value::Number(n) => {
            out.push(n.as_f64().unwrap_or(f64::NAN) as f32);
            Ok(())
        }
        serde_json::Value::Bool(b) => {
            out.push(*b as u8 as f32);
            Ok(())
        }
        other => Err(format!("--input {}: {other} is not a number", path.display()).into()),
    }
}

fn read_npy(bytes: &[u8]) -> std::io::Result<Vec<f32>> {
    let open = || npyz::NpyFile::new(bytes);
    if let Ok(v) = open()?.into_vec::<f32>() {
        return Ok(v);
    }
    if let Ok(v) = open()?.into_vec::<f64>() {
        return Ok(v.into_iter().map(|x| x as f32).collect());
    }
    if let Ok(v) = open()?.into_vec::<i64>() {
        return Ok(v.into_iter().map(|x| x as f32).collect());
    }
    if let Ok(v) = open()?.into_vec::<u8>() {
        return Ok(v.into_iter().map(f32::from).collect());
    }
    open()?
        .into_vec::<bool>()
        .map(|v| v.into_iter().map(|b| b as u8 as f32).collect())
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// What `import-nir` was asked to do.
pub struct ImportOptions<'a> {
    /// The NIR file.
    pub file: &'a Path,
    /// Input values, or Poisson spikes when absent.
    pub input: Option<&'a Path>,
    /// Step (ms).
    pub dt_ms: f64,
    /// Steps of the Poisson input.
    pub steps: usize,
    /// Spike probability per step of the Poisson input.
    pub p: f64,
    /// Seed of the Poisson input.
    pub seed: u64,
    /// Where to write every node's output as JSON.
    pub save: Option<&'a Path>,
}

/// Reads a NIR file, prints its graph, runs it; returns the JSON line.
pub fn import(opts: &ImportOptions, device: &Device) -> Result<String> {
    let graph = file::read(opts.file)?;
    print_graph(&graph);
    let net = NirNetwork::from_graph(&graph, opts.dt_ms * 1e-3, device)?;
    let n_in = net.input_size();
    let (x, source) = match opts.input {
        Some(path) => {
            let (shape, data) = read_input(path)?;
            if shape[2] != n_in {
                return Err(format!(
                    "--input {}: {} channels, the graph's Input has {n_in}",
                    path.display(),
                    shape[2]
                )
                .into());
            }
            let x = Tensor::<3>::from_data(
                TensorData::new(data, [shape[0], shape[1], shape[2]]),
                device,
            );
            (x, path.display().to_string())
        }
        None => {
            if !(opts.p > 0.0 && opts.p <= 1.0) || opts.steps == 0 {
                return Err(format!(
                    "--p {} --steps {}: expected a probability in (0, 1] and at least one step",
                    opts.p, opts.steps
                )
                .into());
            }
            device.seed(opts.seed);
            let x = Tensor::<3>::random(
                [opts.steps, 1, n_in],
                Distribution::Uniform(0.0, 1.0),
                device,
            )
            .lower_elem(opts.p)
            .float();
            (x, format!("poisson p={} seed={}", opts.p, opts.seed))
        }
    };
    let [steps, batch, _] = x.dims();
    let trace = net.run(x)?;
    let mut rates = serde_json::Map::new();
    let mut saved = serde_json::Map::new();
    for (name, node) in &graph.nodes {
        let out = &trace.outputs[name];
        if matches!(node, Node::Lif { .. } | Node::CubaLif { .. }) {
            let [_, _, n] = out.dims();
            let count = out.clone().sum().into_scalar::<f32>() as f64;
            rates.insert(
                name.clone(),
                json!(round4(
                    count / (steps * batch * n) as f64 / (opts.dt_ms * 1e-3)
                )),
            );
        }
        if opts.save.is_some() {
            let [t, b, n] = out.dims();
            let v: Vec<f32> = out
                .clone()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| format!("{e:?}"))?;
            saved.insert(name.clone(), json!({"shape": [t, b, n], "data": v}));
        }
    }
    if let Some(path) = opts.save {
        std::fs::write(
            path,
            serde_json::to_string(&json!({"dt_ms": opts.dt_ms, "outputs": saved}))?,
        )?;
    }
    Ok(json!({
        "command": "import-nir",
        "file": opts.file.display().to_string(),
        "input": source,
        "dt_ms": opts.dt_ms,
        "steps": steps,
        "batch": batch,
        "nodes": graph.nodes.len(),
        "rate_hz": rates,
    })
    .to_string())
}
