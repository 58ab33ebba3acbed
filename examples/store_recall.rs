//! One experiment through the library API, without the `spikeburn` binary:
//! `cargo run --release --example store_recall`.
//!
//! Runs the reduced LSNN store-recall (Bellec et al. 2018) and its LIF-only
//! ablation, prints the report's JSON line and writes its figures (SVG and
//! PNG) to `runs/example-store-recall/`.

use spikeburn::burn::prelude::Device;
use spikeburn::experiments::bellec2018::store_recall::{self, StoreRecallExperiment};
use spikeburn::experiments::{ExperimentError, RunContext};

fn main() -> Result<(), ExperimentError> {
    let out = std::path::PathBuf::from("runs/example-store-recall");
    let config = StoreRecallExperiment {
        iterations: 150,
        ..StoreRecallExperiment::quick()
    };
    let report = store_recall::run(&config, &Device::default(), &RunContext::new(&out))?;
    println!("{}", report.json_line());
    for file in report.save_figures(&out)? {
        eprintln!("wrote {}", file.display());
    }
    let (lsnn, lif) = (
        report.get("recall_error").unwrap_or(f64::NAN),
        report.get("recall_error_lif_only").unwrap_or(f64::NAN),
    );
    eprintln!("held-out recall error: LSNN {lsnn:.3}, LIF only {lif:.3} (chance 0.5)");
    Ok(())
}
