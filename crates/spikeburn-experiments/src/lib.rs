//! # spikeburn-experiments
//!
//! The papers' reproductions as library code, one module per paper:
//!
//! - [`demo`]: a small LSNN learns to classify noisy spike patterns;
//! - [`bellec2018`]: LSNN store-recall and sequential MNIST (Bellec et al.
//!   2018, *Long short-term memory and learning-to-learn in networks of
//!   spiking neurons*);
//! - [`bourdoukan_deneve2015`]: an efficient balanced network learns
//!   linear dynamics with local rules (Bourdoukan & Denève 2015, *Enforcing
//!   balance allows local supervised learning in spiking recurrent
//!   networks*);
//! - [`alemi2018`]: the same network learns nonlinear dynamics through
//!   basis-function slow connections (Alemi et al. 2018, *Learning
//!   nonlinear dynamics in efficient, balanced spiking networks using local
//!   plasticity rules*);
//! - [`huh_sejnowski2018`]: exact gradients through theta neurons with
//!   gated synapses, checked against finite differences (Huh & Sejnowski
//!   2018, *Gradient descent for spiking neural networks*);
//! - [`kim_chow2018`]: recursive least squares on recurrent weights, every
//!   figure (Kim & Chow 2018, *Learning recurrent dynamics in spiking
//!   networks*).
//!
//! Each experiment is a typed config (serde; `Default` is the paper's
//! preset, `quick()` the reduced one that finishes in about a minute on 2
//! cores) and a `run(&config, &device, &ctx) -> Result<Report>` a Rust
//! program calls directly:
//!
//! ```no_run
//! use spikeburn_experiments::{RunContext, bellec2018::store_recall};
//! let device = spikeburn_core::burn::prelude::Device::default();
//! let config = store_recall::StoreRecallExperiment::quick();
//! let report = store_recall::run(&config, &device, &RunContext::new("runs/sr"))?;
//! println!("{}", report.json_line());
//! report.save_figures("runs/sr".as_ref())?; // learning curve, raster: SVG + PNG
//! # Ok::<(), spikeburn_experiments::ExperimentError>(())
//! ```
//!
//! [`experiments`] lists them by name for the `spikeburn` command.

pub mod alemi2018;
pub mod bellec2018;
pub mod bourdoukan_deneve2015;
pub mod demo;
pub mod error;
pub mod huh_sejnowski2018;
pub mod kim_chow2018;
pub mod report;
pub mod ridge;
pub mod run;
pub mod validation;

pub use error::{ExperimentError, Result};
pub use report::Report;
pub use run::{Observer, RunContext, Silent};
pub use validation::Validate;

use burn::prelude::Device;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

type RunFn =
    dyn Fn(bool, Option<(serde_json::Value, &Path)>, &Device, &RunContext) -> Result<Report>;

/// One registered experiment: its name, what it reproduces, its presets
/// and how to run it from JSON.
pub struct Experiment {
    /// Kebab-case name (`spikeburn run <name>`).
    pub name: &'static str,
    /// One line on what it reproduces.
    pub about: &'static str,
    preset: Box<dyn Fn(bool) -> serde_json::Value>,
    check: Box<dyn Fn(serde_json::Value) -> Result<()>>,
    run: Box<RunFn>,
}

impl Experiment {
    /// An entry for config type `C` with the `full` and `quick` presets.
    pub fn new<C>(
        name: &'static str,
        about: &'static str,
        full: fn() -> C,
        quick: fn() -> C,
        run: fn(&C, &Device, &RunContext) -> Result<Report>,
    ) -> Self
    where
        C: Validate + Serialize + DeserializeOwned + 'static,
    {
        let preset = move |q: bool| if q { quick() } else { full() };
        Self {
            name,
            about,
            preset: Box::new(move |q| serde_json::to_value(preset(q)).expect("configs serialise")),
            check: Box::new(|value| {
                let config: C =
                    serde_json::from_value(value).map_err(|e| ExperimentError::ConfigFile {
                        path: "<value>".into(),
                        reason: e.to_string(),
                    })?;
                config.validate()
            }),
            run: Box::new(move |q, overlay, device, ctx| {
                let base = preset(q);
                let config = match overlay {
                    Some((value, source)) => run::overlay(&base, value, source)?,
                    None => base,
                };
                config.validate()?;
                run(&config, device, ctx)
            }),
        }
    }

    /// The preset as JSON (`quick`: the reduced one).
    pub fn preset(&self, quick: bool) -> serde_json::Value {
        (self.preset)(quick)
    }

    /// Parses and validates a config given as JSON, without running it.
    pub fn check(&self, config: serde_json::Value) -> Result<()> {
        (self.check)(config)
    }

    /// Runs the preset (`quick` or full), with `overlay` (a JSON object read
    /// from the file `source`) laid over it; the config is validated first.
    pub fn run(
        &self,
        quick: bool,
        overlay: Option<(serde_json::Value, &Path)>,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<Report> {
        (self.run)(quick, overlay, device, ctx)
    }
}

/// Every experiment, in `spikeburn list` order.
pub fn experiments() -> Vec<Experiment> {
    use bellec2018::{smnist, store_recall};
    use kim_chow2018 as kc;
    vec![
        Experiment::new(
            "demo",
            "recurrent LIF+ALIF network learns to classify noisy spike patterns (BPTT, surrogate gradients)",
            demo::DemoConfig::default,
            demo::DemoConfig::quick,
            demo::run,
        ),
        Experiment::new(
            "store-recall",
            "LSNN store-recall (Bellec et al. 2018): 10 LIF + 10 ALIF hold a bit for seconds; LIF-only ablation",
            store_recall::StoreRecallExperiment::default,
            store_recall::StoreRecallExperiment::quick,
            store_recall::run,
        ),
        Experiment::new(
            "smnist",
            "sequential MNIST (Bellec et al. 2018): 120 LIF + 100 ALIF, BPTT + DEEP R at 12 % connectivity",
            smnist::SmnistConfig::default,
            smnist::SmnistConfig::quick,
            smnist::run,
        ),
        Experiment::new(
            "l2l-regression",
            "LSNN learning-to-learn (Bellec et al. 2018): random 2-layer functions learned within an episode, weights fixed; LIF-only, LSTM, kNN and mean baselines",
            bellec2018::l2l_regression::L2lRegressionExperiment::default,
            bellec2018::l2l_regression::L2lRegressionExperiment::quick,
            bellec2018::l2l_regression::run,
        ),
        Experiment::new(
            "l2l-navigation",
            "LSNN meta-reinforcement learning (Bellec et al. 2018): find a hidden goal in an arena, then return to it on later trials, weights fixed (A2C + GAE through whole episodes)",
            bellec2018::l2l_navigation::NavigationExperiment::default,
            bellec2018::l2l_navigation::NavigationExperiment::quick,
            bellec2018::l2l_navigation::run,
        ),
        Experiment::new(
            "rls-sines",
            "Kim & Chow 2018 Fig 1-2: RLS makes 200 theta neurons' synaptic drives (and rates) follow sines",
            kc::figures::sines_full,
            kc::figures::sines_quick,
            kc::figures::sines,
        ),
        Experiment::new(
            "rls-periodic",
            "Kim & Chow 2018 Fig 3: 500 theta neurons learn products of sines",
            kc::figures::periodic_full,
            kc::figures::periodic_quick,
            kc::figures::periodic,
        ),
        Experiment::new(
            "rls-chaotic",
            "Kim & Chow 2018 Fig 3: 500 theta neurons learn a chaotic rate network's trajectories",
            kc::figures::chaotic_full,
            kc::figures::chaotic_quick,
            kc::figures::chaotic,
        ),
        Experiment::new(
            "rls-ou",
            "Kim & Chow 2018 Fig 3: 500 theta neurons learn Ornstein-Uhlenbeck targets",
            kc::figures::ou_full,
            kc::figures::ou_quick,
            kc::figures::ou,
        ),
        Experiment::new(
            "rls-dale-chaos",
            "Kim & Chow 2018 Fig 4: an E/I network's chaotic trajectory made repeatable under Dale's law",
            kc::figures::dale_chaos_full,
            kc::figures::dale_chaos_quick,
            kc::figures::dale_chaos,
        ),
        Experiment::new(
            "rls-neuron-loss",
            "Kim & Chow 2018: a trained network after removing 5 %, 10 %, 40 % of its neurons",
            kc::figures::neuron_loss_full,
            kc::figures::neuron_loss_quick,
            kc::figures::neuron_loss,
        ),
        Experiment::new(
            "rls-capacity",
            "Kim & Chow 2018 Fig 6-7 (reduced): correlation vs tau_s, longest learnable target vs N",
            kc::capacity::CapacitySweep::full,
            kc::capacity::CapacitySweep::quick,
            kc::capacity::run,
        ),
        Experiment::new(
            "ebn-linear",
            "Bourdoukan & Deneve 2015: a balanced spiking network learns linear dynamics with local fast and slow rules",
            bourdoukan_deneve2015::EbnLinearExperiment::default,
            bourdoukan_deneve2015::EbnLinearExperiment::quick,
            bourdoukan_deneve2015::run,
        ),
        Experiment::new(
            "ebn-nonlinear",
            "Alemi et al. 2018: a balanced spiking network learns Van der Pol and pendulum dynamics through basis-function slow connections and a local rule",
            alemi2018::EbnNonlinearExperiment::default,
            alemi2018::EbnNonlinearExperiment::quick,
            alemi2018::run,
        ),
        Experiment::new(
            "gradcheck-exact",
            "Huh & Sejnowski 2018: autodiff gradients of a gated-synapse theta network vs central differences (f64)",
            huh_sejnowski2018::GradcheckExperiment::default,
            huh_sejnowski2018::GradcheckExperiment::quick,
            huh_sejnowski2018::gradcheck,
        ),
        Experiment::new(
            "xor-exact",
            "Huh & Sejnowski 2018: delayed-memory XOR by exact gradients through gated theta neurons, next to a surrogate-gradient ALIF network",
            huh_sejnowski2018::XorExperiment::default,
            huh_sejnowski2018::XorExperiment::quick,
            huh_sejnowski2018::xor,
        ),
        Experiment::new(
            "autoencode-exact",
            "Huh & Sejnowski 2018: gated theta neurons trained by exact gradients to reproduce their smooth 2-D input through spikes",
            huh_sejnowski2018::AutoencodeExperiment::default,
            huh_sejnowski2018::AutoencodeExperiment::quick,
            huh_sejnowski2018::autoencode,
        ),
    ]
}

/// The experiment called `name`.
pub fn experiment(name: &str) -> Result<Experiment> {
    let all = experiments();
    let known = all.iter().map(|e| e.name).collect::<Vec<_>>().join(", ");
    all.into_iter()
        .find(|e| e.name == name)
        .ok_or(ExperimentError::UnknownExperiment {
            name: name.into(),
            known,
        })
}
