//! A meta-trained LSNN learning a function of your own within one episode,
//! weights fixed: `cargo run --release --example l2l_user_function -- <run dir>`.
//!
//! `<run dir>` is the `--out` folder of `spikeburn run l2l-regression`
//! (e.g. `runs/l2l-regression`); it holds the run's `config.json` and the
//! meta-trained network (`lsnn/model.bpk`). The function here is a single
//! sigmoid ridge along `x1 − x2`, normalised like the family's functions;
//! replace it with yours. Prints the squared error of the network's
//! answers as the episode goes on.

use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn::burn::prelude::Device;
use spikeburn::experiments::ExperimentError;
use spikeburn::experiments::bellec2018::l2l_regression::{
    L2lRegressionExperiment, MODEL_FILE, answer_functions, load_lsnn,
};
use spikeburn::tasks::function_family::TargetFunction;

fn main() -> Result<(), ExperimentError> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "runs/l2l-regression".into()),
    );
    let config = dir.join("config.json");
    let text =
        std::fs::read_to_string(&config).map_err(|e| ExperimentError::io("read", &config, e))?;
    let exp: L2lRegressionExperiment =
        serde_json::from_str(&text).map_err(|e| ExperimentError::ConfigFile {
            path: config.clone(),
            reason: e.to_string(),
        })?;
    let device = Device::default();
    let lsnn = load_lsnn(&exp, &dir.join(MODEL_FILE), &device)?;
    // y = (4 σ(3 (x1 − x2)) − 2) / 1.5: a ridge, roughly unit variance.
    let mine = TargetFunction {
        input_weights: vec![[3.0, -3.0]],
        hidden_bias: vec![0.0],
        output_weights: vec![4.0],
        mean: 2.0,
        scale: 1.5,
    };
    let episodes = 64;
    let mut rng = StdRng::seed_from_u64(1);
    let functions = vec![mine; episodes];
    let (batch, answers) = answer_functions(&lsnn, &exp.family, &functions, &mut rng, &device)?;
    for k in 0..batch.examples {
        let err: f64 = (0..episodes)
            .map(|b| (answers[k * episodes + b] as f64 - batch.y[k * episodes + b]).powi(2))
            .sum::<f64>()
            / episodes as f64;
        println!("example {k:2}: squared error {err:.3}");
    }
    Ok(())
}
