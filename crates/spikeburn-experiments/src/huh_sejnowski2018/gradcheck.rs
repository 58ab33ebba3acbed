//! `gradcheck-exact`: the loss gradient of a [`GatedTheta`] network (theta
//! neurons whose synapses are driven by `g(θ) θ̇`, smooth gate) computed by
//! plain autodiff through the discretised dynamics, against central finite
//! differences along random directions per parameter tensor and for the
//! initial phases, in f64 ([`check_gradient`]).
//!
//! [`GatedTheta`]: spikeburn_core::layer::GatedTheta

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use spikeburn_core::layer::{Gate, GatedThetaConfig, check_gradient};

use crate::error::Result;
use crate::report::Report;
use crate::run::RunContext;
use crate::validation::{self as v, Validate};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradcheckExperiment {
    /// Inputs.
    pub inputs: usize,
    /// Neurons.
    pub neurons: usize,
    /// Readout dimensions.
    pub outputs: usize,
    /// Sequences.
    pub batch: usize,
    /// Steps.
    pub steps: usize,
    /// Step (ms).
    pub dt_ms: f64,
    /// Membrane time constant (ms).
    pub tau_mem_ms: f64,
    /// Synaptic time constant (ms).
    pub tau_syn_ms: f64,
    /// Gate zone width (rad).
    pub zone_width: f64,
    /// Bias current (tonic firing for > 0).
    pub bias: f64,
    /// Finite-difference step.
    pub eps: f64,
}

impl Default for GradcheckExperiment {
    fn default() -> Self {
        Self {
            inputs: 2,
            neurons: 20,
            outputs: 2,
            batch: 4,
            steps: 4000,
            dt_ms: 0.05,
            tau_mem_ms: 10.0,
            tau_syn_ms: 10.0,
            zone_width: 0.6,
            bias: 0.6,
            eps: 1e-5,
        }
    }
}

impl GradcheckExperiment {
    /// The reduced check: 6 neurons, 2 sequences, 2 000 steps.
    pub fn quick() -> Self {
        Self {
            neurons: 6,
            batch: 2,
            steps: 2000,
            ..Self::default()
        }
    }

    fn network(&self) -> GatedThetaConfig {
        GatedThetaConfig::new(self.inputs, self.neurons, self.outputs)
            .with_dt(self.dt_ms)
            .with_tau_mem(self.tau_mem_ms)
            .with_tau_syn(self.tau_syn_ms)
            .with_zone_width(self.zone_width)
            .with_gate(Gate::Smooth)
            .with_bias(self.bias)
    }
}

impl Validate for GradcheckExperiment {
    fn validate(&self) -> Result<()> {
        v::count("inputs", self.inputs, 1, 1_000)?;
        v::count("neurons", self.neurons, 1, 1_000)?;
        v::count("outputs", self.outputs, 1, 1_000)?;
        v::count("batch", self.batch, 1, 256)?;
        v::count("steps", self.steps, 1, 1_000_000)?;
        v::positive("eps", self.eps, 0.0, 1.0)?;
        v::real("bias", self.bias, -100.0, 100.0)?;
        self.network().validate()?;
        // The autodiff graph keeps about 30 f64 [batch, n] tensors per step.
        let bytes = 8.0 * 30.0 * (self.steps * self.batch * self.neurons) as f64;
        v::memory("steps × batch × neurons", bytes)?;
        Ok(())
    }
}

/// Runs the check. Metrics: `max_rel_error`, `n_spikes` (phase crossings
/// in the run), `rel_error_{input,recurrent,readout,bias,initial_phase}`,
/// `loss`; the backend is flex in f64 whatever `--backend` says (the check
/// needs f64), reported as `dtype`.
pub fn gradcheck(exp: &GradcheckExperiment, _device: &Device, ctx: &RunContext) -> Result<Report> {
    exp.validate()?;
    ctx.refuse_resume(
        "gradcheck-exact",
        "it runs in seconds and keeps no checkpoint",
    )?;
    ctx.prepare(exp)?;
    let mut report = Report::new("gradcheck-exact", ctx);
    let check = check_gradient(
        &exp.network(),
        exp.batch,
        exp.steps,
        exp.eps,
        ctx.seed,
        &Device::flex(),
    )?;
    report.metric("max_rel_error", check.max_rel_error)?;
    report.metric("n_spikes", check.crossings)?;
    for (name, e) in ["input", "recurrent", "readout", "bias", "initial_phase"]
        .iter()
        .zip(&check.rel_errors)
    {
        report.metric(&format!("rel_error_{name}"), *e)?;
    }
    report.metric("loss", check.loss)?;
    report.note("dtype", "f64 (flex)");
    report.note("gate", "smooth, cos^4");
    Ok(report.finish())
}
