//! The experiments `spikeburn run` knows, by name.

mod classification;
mod demo;
mod rls;
mod rls_figures;
mod smnist;
mod store_recall;

use burn::prelude::*;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;

/// Options shared by every experiment (the command contract).
pub struct RunOptions {
    /// Reduced version (about a minute on 2 cores).
    pub quick: bool,
    /// Optional JSON config overriding the experiment's defaults.
    pub config: Option<PathBuf>,
    /// Output folder for config, metrics, plots and checkpoints.
    pub out_dir: PathBuf,
    /// The device to run on.
    pub device: Device,
    /// Its backend's name (reported).
    pub backend: String,
    /// Seed for every random stream.
    pub seed: u64,
    /// Continue from the last checkpoint in the output folder.
    pub resume: bool,
}

/// One registered experiment.
pub struct Experiment {
    /// Kebab-case name.
    pub name: &'static str,
    /// One-line description.
    pub about: &'static str,
    /// Runs it; returns the final JSON line.
    pub run: fn(&RunOptions) -> Result<String, String>,
}

/// Every experiment, in `spikeburn list` order.
pub fn all() -> Vec<Experiment> {
    vec![
        Experiment {
            name: "demo",
            about: "recurrent LIF+ALIF network learns to classify noisy spike patterns (BPTT, surrogate gradients)",
            run: demo::run,
        },
        Experiment {
            name: "store-recall",
            about: "LSNN store-recall (Bellec et al. 2018): 10 LIF + 10 ALIF hold a bit for seconds; LIF-only ablation",
            run: store_recall::run,
        },
        Experiment {
            name: "smnist",
            about: "sequential MNIST (Bellec et al. 2018): 120 LIF + 100 ALIF, BPTT + DEEP R at 12 % connectivity",
            run: smnist::run,
        },
        Experiment {
            name: "rls-sines",
            about: "Kim & Chow 2018 Fig 1-2: RLS makes 200 theta neurons' synaptic drives (and rates) follow sines",
            run: rls_figures::sines,
        },
        Experiment {
            name: "rls-periodic",
            about: "Kim & Chow 2018 Fig 3: 500 theta neurons learn products of sines",
            run: rls_figures::periodic,
        },
        Experiment {
            name: "rls-chaotic",
            about: "Kim & Chow 2018 Fig 3: 500 theta neurons learn a chaotic rate network's trajectories",
            run: rls_figures::chaotic,
        },
        Experiment {
            name: "rls-ou",
            about: "Kim & Chow 2018 Fig 3: 500 theta neurons learn Ornstein-Uhlenbeck targets",
            run: rls_figures::ou,
        },
        Experiment {
            name: "rls-dale-chaos",
            about: "Kim & Chow 2018 Fig 4: an E/I network's chaotic trajectory made repeatable under Dale's law",
            run: rls_figures::dale_chaos,
        },
        Experiment {
            name: "rls-neuron-loss",
            about: "Kim & Chow 2018: a trained network after removing 5 %, 10 %, 40 % of its neurons",
            run: rls_figures::neuron_loss,
        },
        Experiment {
            name: "rls-capacity",
            about: "Kim & Chow 2018 Fig 6-7 (reduced): correlation vs tau_s, longest learnable target vs N",
            run: rls_figures::capacity,
        },
    ]
}

/// The experiment's configuration: `base` (its defaults, or its `--quick`
/// preset) with the fields of the JSON file at `path` laid over it, nested
/// objects merged field by field.
pub fn load_config<T>(base: T, path: Option<&std::path::Path>) -> Result<T, String>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let Some(path) = path else {
        return Ok(base);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    let overlay: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("invalid config {}: {e}", path.display()))?;
    let mut merged = serde_json::to_value(base).map_err(|e| e.to_string())?;
    merge(&mut merged, overlay);
    serde_json::from_value(merged).map_err(|e| format!("invalid config {}: {e}", path.display()))
}

fn merge(base: &mut serde_json::Value, overlay: serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The spikes of one sequence, `[T, 1, N]`, as the `[T][N]` rows
/// [`crate::plot::raster`] draws.
pub fn raster_rows(spikes: Tensor<3>) -> Result<Vec<Vec<f32>>, String> {
    let n = spikes.dims()[2];
    let flat = spikes
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    Ok(flat.chunks(n).map(<[f32]>::to_vec).collect())
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress_bar(len: u64, name: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} eta {eta} {msg}",
        )
        .expect("valid template"),
    );
    bar.set_prefix(name.to_string());
    bar
}
