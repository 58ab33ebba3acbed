//! The efficient balanced network (EBN) of Boerlin, Machens & Denève
//! (2013), in which Bourdoukan & Denève (2015) learn linear dynamics with
//! local rules.
//!
//! `N` leaky integrate-and-fire neurons represent a `J`-dimensional signal
//! `x̂ = Σ_i D_i r_i` by their filtered spike trains `r`:
//!
//! ```text
//! ṙ = −λ_d r + s                                       (s: spike trains)
//! V̇ = −λ_V V + F c(t) + Ω_s r + Ω_f s + K F e + σ ξ    (e = x − x̂, during learning)
//! neuron i spikes when V_i > T_i
//! ```
//!
//! with `F` the encoder (`N × J`, row `F_i`), `Ω_f` the fast and `Ω_s` the
//! slow recurrent connections, `K` the gain of the fed-back error of a
//! target system `ẋ = A x + c(t)` and `σ` the voltage noise (per √s). The
//! network that tracks `x` optimally (with `D = Fᵀ`) is
//! ([`EbnWeights::optimal`]):
//!
//! ```text
//! Ω_f = −(F Fᵀ + μ I),   Ω_s = F (A + λ_d I) Fᵀ,   T_i = (‖F_i‖² + μ) / 2
//! ```
//!
//! — derived by asking that `V_i = F_iᵀ (x − x̂) − μ r_i` and that a
//! neuron spikes only where its spike lowers `‖x − x̂‖² + μ ‖r‖²`. (The exact derivative of
//! `−μ r_i` adds `μ λ_d I` to `Ω_s`; it lies outside the span of `F`, which
//! the slow rule cannot reach, and is `O(μ / ‖F_i‖²)` of the diagonal: we
//! leave it out, so the optimum is the matrix the rule can learn.)
//!
//! ## One step of `dt`
//!
//! 1. `e = x_t − D r` (only with feedback), `I = F (c_t + K e) + Ω_s r`;
//! 2. `V ← (1 − λ_V dt) V + dt I + σ √dt ξ`;
//! 3. spikes: every neuron with `V_i > T_i`, or with
//!    [`EbnConfig::one_spike_per_step`] only the one with the largest
//!    `V_i − T_i` (as the lab's code does: at `dt` well below the time a
//!    spike takes to act, this is the continuous-time behaviour);
//! 4. the fast rule acts on the spiking neurons' synapses, with `V` of step 2;
//! 5. `V ← V + Ω_f s` (a spike acts at once);
//! 6. the slow rule acts, with `e` and `r` of step 1;
//! 7. `r ← (1 − λ_d dt) r + s`.
//!
//! Two paths run it: [`HostEbn`] in host memory (the CPU fast path — at
//! `N = 20` a step is a few hundred flops, far below a tensor op's
//! overhead) and [`TensorEbn`] on any Burn device. Weights are stored
//! `[pre][post]` like every weight in spikeburn: `fast[j][i] = Ω_f,ij`.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use burn::prelude::*;
use burn::tensor::{Distribution as TensorDistribution, TensorData};

use crate::PlasticityError;
use crate::local_rule::{
    Frozen, NeuronSignals, SynapticRule, apply_host, apply_host_rate_units, apply_tensor,
};

/// The network's constants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbnConfig {
    /// Neurons `N`.
    pub neurons: usize,
    /// Dimensions `J` of the represented signal.
    pub dims: usize,
    /// Time step in ms.
    pub dt_ms: f64,
    /// Membrane time constant `1/λ_V` in ms (must exceed `dt_ms`).
    pub tau_membrane_ms: f64,
    /// Readout time constant `1/λ_d` in ms (must exceed `dt_ms`).
    pub tau_readout_ms: f64,
    /// Cost `μ` of the rates (≥ 0), in the thresholds and fast weights.
    pub cost: f64,
    /// Gain `K` of the fed-back error, per second (≥ 0).
    pub feedback_gain: f64,
    /// Voltage noise `σ` per √s (≥ 0).
    pub voltage_noise: f64,
    /// At most one spike per step (the largest suprathreshold `V − T`).
    pub one_spike_per_step: bool,
}

impl EbnConfig {
    /// `N` neurons representing `J` dimensions; dt 0.1 ms, `τ_V = τ_d =
    /// 100 ms`, `μ = 0.002`, `K = 100 /s`, `σ = 0.02`, one spike per step.
    pub fn new(neurons: usize, dims: usize) -> Self {
        Self {
            neurons,
            dims,
            dt_ms: 0.1,
            tau_membrane_ms: 100.0,
            tau_readout_ms: 100.0,
            cost: 0.002,
            feedback_gain: 100.0,
            voltage_noise: 0.02,
            one_spike_per_step: true,
        }
    }

    /// Refuses sizes of 0, `dt ≥` a time constant, negative `μ`, `K` or `σ`.
    pub fn validate(&self) -> Result<(), PlasticityError> {
        if self.neurons == 0 {
            return Err(PlasticityError::invalid(
                "neurons",
                0.0,
                "at least 1 neuron",
            ));
        }
        if self.dims == 0 {
            return Err(PlasticityError::invalid(
                "dims",
                0.0,
                "at least 1 dimension",
            ));
        }
        if !(self.dt_ms.is_finite() && self.dt_ms > 0.0) {
            return Err(PlasticityError::invalid(
                "dt_ms",
                self.dt_ms,
                "a time step > 0 ms",
            ));
        }
        for (name, tau) in [
            ("tau_membrane_ms", self.tau_membrane_ms),
            ("tau_readout_ms", self.tau_readout_ms),
        ] {
            if !(tau.is_finite() && tau > self.dt_ms) {
                return Err(PlasticityError::invalid(
                    name,
                    tau,
                    format!("a time constant > dt_ms = {} ms", self.dt_ms),
                ));
            }
        }
        for (name, v) in [
            ("cost", self.cost),
            ("feedback_gain", self.feedback_gain),
            ("voltage_noise", self.voltage_noise),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(PlasticityError::invalid(name, v, "a finite value >= 0"));
            }
        }
        Ok(())
    }

    /// `dt` in seconds.
    pub fn dt(&self) -> f64 {
        self.dt_ms * 1e-3
    }

    /// `λ_V` in 1/s.
    pub fn lambda_membrane(&self) -> f64 {
        1e3 / self.tau_membrane_ms
    }

    /// `λ_d` in 1/s.
    pub fn lambda_readout(&self) -> f64 {
        1e3 / self.tau_readout_ms
    }
}

/// Encoder directions: `N` random unit vectors in `J` dimensions (Gaussian
/// directions normalised; in 2-D, angles uniform on the circle) times
/// `scale`, row-major `[N][J]`; deterministic for `seed`.
pub fn random_encoder(neurons: usize, dims: usize, scale: f64, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(neurons * dims);
    for _ in 0..neurons {
        let v: Vec<f64> = loop {
            let v: Vec<f64> = (0..dims).map(|_| StandardNormal.sample(&mut rng)).collect();
            if v.iter().map(|x| x * x).sum::<f64>() > 1e-12 {
                break v;
            }
        };
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        out.extend(v.iter().map(|x| (scale * x / norm) as f32));
    }
    out
}

/// Encoder directions spread evenly, times `scale`, `[N][J]`: in 2-D at
/// angles `φ + 2π i / N`, in 3-D on a Fibonacci lattice of the sphere
/// under a random rotation, in other dimensions random
/// ([`random_encoder`]); `φ` and the rotation are drawn from `seed`.
///
/// Random directions leave gaps and near-duplicates by chance; with few
/// neurons a near-duplicate pair needs mutual inhibition as strong as a
/// reset, which the fast rule learns only in part (see
/// [`crate::FastBalance`]).
pub fn spread_encoder(neurons: usize, dims: usize, scale: f64, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    match dims {
        2 => {
            let phase: f64 = rand::RngExt::random::<f64>(&mut rng) * std::f64::consts::TAU;
            (0..neurons)
                .flat_map(|i| {
                    let a = phase + std::f64::consts::TAU * i as f64 / neurons as f64;
                    [(scale * a.cos()) as f32, (scale * a.sin()) as f32]
                })
                .collect()
        }
        3 => {
            // A random rotation from a uniformly random unit quaternion.
            let q: Vec<f64> = (0..4).map(|_| StandardNormal.sample(&mut rng)).collect();
            let norm = q.iter().map(|x| x * x).sum::<f64>().sqrt();
            let (w, x, y, z) = (q[0] / norm, q[1] / norm, q[2] / norm, q[3] / norm);
            let rot = [
                [
                    1.0 - 2.0 * (y * y + z * z),
                    2.0 * (x * y - w * z),
                    2.0 * (x * z + w * y),
                ],
                [
                    2.0 * (x * y + w * z),
                    1.0 - 2.0 * (x * x + z * z),
                    2.0 * (y * z - w * x),
                ],
                [
                    2.0 * (x * z - w * y),
                    2.0 * (y * z + w * x),
                    1.0 - 2.0 * (x * x + y * y),
                ],
            ];
            let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
            (0..neurons)
                .flat_map(|i| {
                    let h = 1.0 - 2.0 * (i as f64 + 0.5) / neurons as f64;
                    let rad = (1.0 - h * h).sqrt();
                    let a = golden * i as f64;
                    let p = [rad * a.cos(), rad * a.sin(), h];
                    rot.map(|row| (scale * (row[0] * p[0] + row[1] * p[1] + row[2] * p[2])) as f32)
                })
                .collect()
        }
        _ => random_encoder(neurons, dims, scale, seed),
    }
}

/// The weights and thresholds of an EBN.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EbnWeights {
    /// Encoder `F`, `[N][J]` (row `i`: neuron `i`'s direction `F_i`).
    pub encoder: Vec<f32>,
    /// Decoder `D`, `[N][J]` (`x̂ = Σ_i r_i D_i`).
    pub decoder: Vec<f32>,
    /// Fast connections, `[pre][post]`.
    pub fast: Vec<f32>,
    /// Slow connections, `[pre][post]`.
    pub slow: Vec<f32>,
    /// Thresholds `T`, `[N]`.
    pub threshold: Vec<f32>,
}

impl EbnWeights {
    /// The hand-derived optimal network for the system `A` (`[J][J]`
    /// row-major, per second): `D = F`ᵀ, `Ω_f = −(F Fᵀ + μ I)`,
    /// `Ω_s = F (A + λ_d I) Fᵀ`, `T_i = (‖F_i‖² + μ)/2`.
    pub fn optimal(
        encoder: Vec<f32>,
        system: &[f64],
        cfg: &EbnConfig,
    ) -> Result<Self, PlasticityError> {
        cfg.validate()?;
        let (n, j) = (cfg.neurons, cfg.dims);
        check_len("encoder", encoder.len(), n * j, "N × J")?;
        check_len(
            "system matrix A",
            system.len(),
            j * j,
            "J × J (the readout's dimension squared)",
        )?;
        let f = |i: usize, a: usize| encoder[i * j + a] as f64;
        let mu = cfg.cost;
        let lambda = cfg.lambda_readout();
        let mut fast = vec![0f32; n * n];
        let mut slow = vec![0f32; n * n];
        for pre in 0..n {
            for post in 0..n {
                let dot: f64 = (0..j).map(|a| f(post, a) * f(pre, a)).sum();
                fast[pre * n + post] = (-(dot + if pre == post { mu } else { 0.0 })) as f32;
                let mut s = 0.0;
                for a in 0..j {
                    for b in 0..j {
                        let m = system[a * j + b] + if a == b { lambda } else { 0.0 };
                        s += f(post, a) * m * f(pre, b);
                    }
                }
                slow[pre * n + post] = s as f32;
            }
        }
        Ok(Self {
            threshold: thresholds(&encoder, n, j, mu),
            decoder: encoder.clone(),
            encoder,
            fast,
            slow,
        })
    }

    /// A network to learn: `D = F`ᵀ, the optimal thresholds, the given fast
    /// weights and zero slow weights.
    pub fn untrained(
        encoder: Vec<f32>,
        fast: Vec<f32>,
        cfg: &EbnConfig,
    ) -> Result<Self, PlasticityError> {
        cfg.validate()?;
        let (n, j) = (cfg.neurons, cfg.dims);
        check_len("encoder", encoder.len(), n * j, "N × J")?;
        check_len("fast weights", fast.len(), n * n, "N × N")?;
        Ok(Self {
            threshold: thresholds(&encoder, n, j, cfg.cost),
            decoder: encoder.clone(),
            encoder,
            fast,
            slow: vec![0.0; n * n],
        })
    }

    /// Checks every size against `cfg`.
    pub fn check(&self, cfg: &EbnConfig) -> Result<(), PlasticityError> {
        let (n, j) = (cfg.neurons, cfg.dims);
        check_len("encoder", self.encoder.len(), n * j, "N × J")?;
        check_len("decoder", self.decoder.len(), n * j, "N × J")?;
        check_len("fast weights", self.fast.len(), n * n, "N × N")?;
        check_len("slow weights", self.slow.len(), n * n, "N × N")?;
        check_len("thresholds", self.threshold.len(), n, "N")
    }
}

/// `‖a − b‖_F / ‖b‖_F`.
pub fn relative_error(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den).sqrt()
}

fn thresholds(encoder: &[f32], n: usize, j: usize, mu: f64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let sq: f64 = (0..j).map(|a| (encoder[i * j + a] as f64).powi(2)).sum();
            ((sq + mu) / 2.0) as f32
        })
        .collect()
}

fn check_len(
    what: &'static str,
    got: usize,
    expected: usize,
    shape: &str,
) -> Result<(), PlasticityError> {
    if got == expected {
        Ok(())
    } else {
        Err(PlasticityError::size(
            what,
            format!("{got} values"),
            format!("{expected} ({shape})"),
        ))
    }
}

/// The inputs of one step: the input `c_t` and, during learning, the
/// target state `x_t` whose error is fed back.
#[derive(Clone, Copy, Debug)]
pub struct Drive<'a> {
    /// `c_t`, `[J]`.
    pub input: &'a [f32],
    /// `x_t`, `[J]`, or `None` for an autonomous step (no feedback).
    pub target: Option<&'a [f32]>,
}

/// Excitatory and inhibitory input of each neuron, filtered by the
/// membrane: `E_i` sums the positive and `I_i` the negative contributions
/// (each input dimension, each synapse, the feedback of each dimension
/// counted separately), so that `V_i = E_i + I_i` up to the noise. A
/// balanced network has large, cancelling `E` and `I`.
#[derive(Clone, Debug, Default)]
pub struct CurrentProbe {
    /// `E`, `[N]` (≥ 0).
    pub excitation: Vec<f32>,
    /// `I`, `[N]` (≤ 0).
    pub inhibition: Vec<f32>,
}

/// The shape `φ` of the basis functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BasisFunction {
    /// `tanh`.
    Tanh,
    /// `max(0, ·)`.
    Relu,
}

/// Nonlinear slow connections (Alemi et al. 2018): `P` basis functions of
/// the network's rates, `Ψ = φ(M r + θ)`, drive neuron `i` through
/// `Ω_s`: `I_i += Σ_p Ω_pi Ψ_p` (`Ω_s` stored `[P][N]`, the basis units as
/// the presynaptic side). Learned by a [`SynapticRule`] that sees unit `p`'s
/// activity `Ψ_p` as its presynaptic rate
/// ([`crate::local_rule::apply_host_rate_units`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BasisConnections {
    /// `φ`.
    pub function: BasisFunction,
    /// `M`, `[P][N]`.
    pub input: Vec<f32>,
    /// `θ`, `[P]`.
    pub bias: Vec<f32>,
    /// `Ω_s`, `[P][N]`.
    pub weights: Vec<f32>,
}

impl BasisConnections {
    /// `P` basis functions of the decoded state: `M = G Dᵀ` (so that
    /// `M r = G x̂`) with `G ~ N(0, gain²)` `[P][J]`, `θ ~ U[−bias, bias]`,
    /// `Ω_s = 0`. Reading the state through the decoder keeps the basis a
    /// function of what the network represents, not of which of its
    /// redundant neurons happened to spike.
    pub fn over_readout(
        units: usize,
        decoder: &[f32],
        dims: usize,
        gain: f64,
        bias: f64,
        function: BasisFunction,
        seed: u64,
    ) -> Result<Self, PlasticityError> {
        if units == 0 {
            return Err(PlasticityError::invalid(
                "basis units",
                0.0,
                "at least 1 basis function",
            ));
        }
        if dims == 0 || decoder.is_empty() || !decoder.len().is_multiple_of(dims) {
            return Err(PlasticityError::size(
                "decoder",
                decoder.len(),
                format!("N × {dims}"),
            ));
        }
        let n = decoder.len() / dims;
        let mut rng = StdRng::seed_from_u64(seed);
        let g: Vec<f64> = (0..units * dims)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                gain * z
            })
            .collect();
        let mut input = vec![0f32; units * n];
        for p in 0..units {
            for i in 0..n {
                input[p * n + i] = (0..dims)
                    .map(|a| g[p * dims + a] * decoder[i * dims + a] as f64)
                    .sum::<f64>() as f32;
            }
        }
        let bias = (0..units)
            .map(|_| (bias * (2.0 * rand::RngExt::random::<f64>(&mut rng) - 1.0)) as f32)
            .collect();
        Ok(Self {
            function,
            input,
            bias,
            weights: vec![0.0; units * n],
        })
    }

    /// `P`.
    pub fn units(&self) -> usize {
        self.bias.len()
    }

    /// `Ψ = φ(M r + θ)` into `out` (`[P]`).
    pub fn activity_into(&self, rate: &[f32], out: &mut [f32]) {
        let n = rate.len();
        for (p, o) in out.iter_mut().enumerate() {
            let h: f32 = self.input[p * n..(p + 1) * n]
                .iter()
                .zip(rate)
                .map(|(m, r)| m * r)
                .sum::<f32>()
                + self.bias[p];
            *o = match self.function {
                BasisFunction::Tanh => h.tanh(),
                BasisFunction::Relu => h.max(0.0),
            };
        }
    }

    fn check(&self, n: usize) -> Result<(), PlasticityError> {
        let p = self.units();
        if p == 0 {
            return Err(PlasticityError::invalid(
                "basis units",
                0.0,
                "at least 1 basis function",
            ));
        }
        check_len("basis input weights M", self.input.len(), p * n, "P × N")?;
        check_len("basis weights Ω_s", self.weights.len(), p * n, "P × N")
    }
}

/// The EBN in host memory.
#[derive(Debug)]
pub struct HostEbn {
    cfg: EbnConfig,
    /// The weights (the rules change `fast` and `slow` in place).
    pub weights: EbnWeights,
    /// Membrane potentials `V`, `[N]`.
    pub membrane: Vec<f32>,
    /// Filtered spike trains `r`, `[N]`.
    pub rate: Vec<f32>,
    rng: StdRng,
    steps: usize,
    spiked: Vec<usize>,
    spike: Vec<bool>,
    feedback: Vec<f32>,
    error: Vec<f32>,
    current: Vec<f32>,
    probe: Option<CurrentProbe>,
    /// Nonlinear slow connections, if any ([`HostEbn::with_basis`]).
    pub basis: Option<BasisConnections>,
    activity: Vec<f32>,
}

impl HostEbn {
    /// A network at rest (`V = r = 0`) with `weights`; the noise is drawn
    /// from `seed`.
    pub fn new(cfg: &EbnConfig, weights: EbnWeights, seed: u64) -> Result<Self, PlasticityError> {
        cfg.validate()?;
        weights.check(cfg)?;
        let n = cfg.neurons;
        Ok(Self {
            cfg: cfg.clone(),
            weights,
            membrane: vec![0.0; n],
            rate: vec![0.0; n],
            rng: StdRng::seed_from_u64(seed),
            steps: 0,
            spiked: Vec::with_capacity(n),
            spike: vec![false; n],
            feedback: vec![0.0; n],
            error: vec![0.0; cfg.dims],
            current: vec![0.0; n],
            probe: None,
            basis: None,
            activity: vec![],
        })
    }

    /// The same network with nonlinear slow connections.
    pub fn with_basis(mut self, basis: BasisConnections) -> Result<Self, PlasticityError> {
        basis.check(self.cfg.neurons)?;
        self.activity = vec![0.0; basis.units()];
        self.basis = Some(basis);
        Ok(self)
    }

    /// The basis functions' activity `Ψ` of the last step (empty without a basis).
    pub fn basis_activity(&self) -> &[f32] {
        &self.activity
    }

    /// Changes the feedback gain `K` (an annealing schedule steps it down).
    pub fn set_feedback_gain(&mut self, gain: f64) -> Result<(), PlasticityError> {
        if !(gain.is_finite() && gain >= 0.0) {
            return Err(PlasticityError::invalid(
                "feedback_gain",
                gain,
                "a finite value >= 0",
            ));
        }
        self.cfg.feedback_gain = gain;
        Ok(())
    }

    /// Removes `neurons` from the network: their thresholds become
    /// infinite, so they never spike again and their filtered spike trains
    /// decay to 0 (the lesion experiments of Alemi et al. 2018).
    pub fn silence(&mut self, neurons: &[usize]) -> Result<(), PlasticityError> {
        let n = self.cfg.neurons;
        if let Some(&i) = neurons.iter().find(|&&i| i >= n) {
            return Err(PlasticityError::size(
                "silenced neuron index",
                i,
                format!("< {n} (the neuron count)"),
            ));
        }
        for &i in neurons {
            self.weights.threshold[i] = f32::INFINITY;
        }
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &EbnConfig {
        &self.cfg
    }

    /// Starts (or stops) recording the [`CurrentProbe`]; it costs a second
    /// pass over the slow weights per step.
    pub fn record_currents(&mut self, on: bool) {
        let n = self.cfg.neurons;
        self.probe = on.then(|| CurrentProbe {
            excitation: vec![0.0; n],
            inhibition: vec![0.0; n],
        });
    }

    /// The current probe, if recording.
    pub fn currents(&self) -> Option<&CurrentProbe> {
        self.probe.as_ref()
    }

    /// The neurons that spiked in the last step.
    pub fn spikes(&self) -> &[usize] {
        &self.spiked
    }

    /// Steps run so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The readout `x̂ = Σ_i r_i D_i` into `out` (`[J]`).
    pub fn readout_into(&self, out: &mut [f32]) {
        let j = self.cfg.dims;
        out.fill(0.0);
        for (i, &r) in self.rate.iter().enumerate() {
            if r != 0.0 {
                for (o, d) in out
                    .iter_mut()
                    .zip(&self.weights.decoder[i * j..(i + 1) * j])
                {
                    *o += r * d;
                }
            }
        }
    }

    /// The readout as a new vector.
    pub fn readout(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.cfg.dims];
        self.readout_into(&mut out);
        out
    }

    /// One step (see the module docs for the order), with `fast_rule` on
    /// the fast and `slow_rule` on the slow connections
    /// ([`crate::local_rule::Frozen`] for none). Returns the number of
    /// spikes.
    pub fn step<Rf: SynapticRule, Rs: SynapticRule>(
        &mut self,
        drive: Drive<'_>,
        fast_rule: &Rf,
        slow_rule: &Rs,
    ) -> Result<usize, PlasticityError> {
        self.step_with_basis(drive, fast_rule, slow_rule, &Frozen)
    }

    /// [`step`](Self::step) with `basis_rule` on the nonlinear slow
    /// connections (which act in step 1 like the linear ones: `I += Ω_sᵀ Ψ`,
    /// `Ψ` from the rates of the previous step).
    pub fn step_with_basis<Rf: SynapticRule, Rs: SynapticRule, Rb: SynapticRule>(
        &mut self,
        drive: Drive<'_>,
        fast_rule: &Rf,
        slow_rule: &Rs,
        basis_rule: &Rb,
    ) -> Result<usize, PlasticityError> {
        let (n, j) = (self.cfg.neurons, self.cfg.dims);
        if drive.input.len() != j {
            return Err(PlasticityError::size(
                "input c(t)",
                drive.input.len(),
                format!("{j} (J)"),
            ));
        }
        let dt = self.cfg.dt() as f32;
        let leak_v = 1.0 - (self.cfg.lambda_membrane() * self.cfg.dt()) as f32;
        let leak_r = 1.0 - (self.cfg.lambda_readout() * self.cfg.dt()) as f32;
        let gain = self.cfg.feedback_gain as f32;
        let w = &self.weights;

        // 1. error and input currents.
        let feedback_on = match drive.target {
            Some(x) => {
                if x.len() != j {
                    return Err(PlasticityError::size(
                        "target x(t)",
                        x.len(),
                        format!("{j} (J)"),
                    ));
                }
                self.error.copy_from_slice(x);
                for (i, &r) in self.rate.iter().enumerate() {
                    if r != 0.0 {
                        for (e, d) in self.error.iter_mut().zip(&w.decoder[i * j..(i + 1) * j]) {
                            *e -= r * d;
                        }
                    }
                }
                true
            }
            None => false,
        };
        for i in 0..n {
            let f = &w.encoder[i * j..(i + 1) * j];
            let ff: f32 = f.iter().zip(drive.input).map(|(f, c)| f * c).sum();
            let fb: f32 = if feedback_on {
                f.iter().zip(&self.error).map(|(f, e)| f * e).sum()
            } else {
                0.0
            };
            self.feedback[i] = gain * fb;
            self.current[i] = ff + self.feedback[i];
        }
        for (pre, &r) in self.rate.iter().enumerate() {
            if r != 0.0 {
                for (c, s) in self.current.iter_mut().zip(&w.slow[pre * n..(pre + 1) * n]) {
                    *c += r * s;
                }
            }
        }
        if let Some(basis) = self.basis.as_ref() {
            basis.activity_into(&self.rate, &mut self.activity);
            for (p, &a) in self.activity.iter().enumerate() {
                if a != 0.0 {
                    for (c, w) in self
                        .current
                        .iter_mut()
                        .zip(&basis.weights[p * n..(p + 1) * n])
                    {
                        *c += a * w;
                    }
                }
            }
        }
        if let Some(probe) = self.probe.as_mut() {
            split_currents(
                probe,
                w,
                &self.rate,
                drive.input,
                feedback_on.then_some(&self.error[..]),
                gain,
                n,
                j,
                leak_v,
                dt,
            );
        }

        // 2. integrate.
        let noise = (self.cfg.voltage_noise * self.cfg.dt().sqrt()) as f32;
        for (v, c) in self.membrane.iter_mut().zip(&self.current) {
            *v = leak_v * *v + dt * c;
            if noise > 0.0 {
                let xi: f32 = StandardNormal.sample(&mut self.rng);
                *v += noise * xi;
            }
        }

        // 3. spikes.
        self.spiked.clear();
        self.spike.fill(false);
        if self.cfg.one_spike_per_step {
            let mut best: Option<(usize, f32)> = None;
            for (i, (v, t)) in self.membrane.iter().zip(&w.threshold).enumerate() {
                let over = v - t;
                if over > 0.0 && best.is_none_or(|(_, b)| over > b) {
                    best = Some((i, over));
                }
            }
            if let Some((i, _)) = best {
                self.spiked.push(i);
            }
        } else {
            for (i, (v, t)) in self.membrane.iter().zip(&w.threshold).enumerate() {
                if v > t {
                    self.spiked.push(i);
                }
            }
        }
        for &i in &self.spiked {
            self.spike[i] = true;
        }

        // 4. fast rule, 5. the spikes act, 6. slow rule.
        let signals = NeuronSignals {
            spike: &self.spike,
            rate: &self.rate,
            membrane: &self.membrane,
            feedback: &self.feedback,
        };
        apply_host(fast_rule, &mut self.weights.fast, signals, &self.spiked, dt);
        for &k in &self.spiked {
            for (v, f) in self
                .membrane
                .iter_mut()
                .zip(&self.weights.fast[k * n..(k + 1) * n])
            {
                *v += f;
            }
            if let Some(probe) = self.probe.as_mut() {
                for (i, f) in self.weights.fast[k * n..(k + 1) * n].iter().enumerate() {
                    if *f > 0.0 {
                        probe.excitation[i] += f;
                    } else {
                        probe.inhibition[i] += f;
                    }
                }
            }
        }
        let signals = NeuronSignals {
            spike: &self.spike,
            rate: &self.rate,
            membrane: &self.membrane,
            feedback: &self.feedback,
        };
        apply_host(slow_rule, &mut self.weights.slow, signals, &self.spiked, dt);
        if let Some(basis) = self.basis.as_mut() {
            apply_host_rate_units(basis_rule, &mut basis.weights, &self.activity, signals, dt);
        }

        // 7. filtered spike trains.
        for (r, s) in self.rate.iter_mut().zip(&self.spike) {
            *r = leak_r * *r + if *s { 1.0 } else { 0.0 };
        }
        self.steps += 1;
        if self.steps.is_multiple_of(1024) && !self.membrane.iter().all(|v| v.is_finite()) {
            return Err(PlasticityError::Diverged {
                step: self.steps,
                what: "the membrane potential",
            });
        }
        Ok(self.spiked.len())
    }
}

/// Adds this step's excitatory and inhibitory inputs (except the fast
/// spikes, added where they act) to the membrane-filtered probe.
#[allow(clippy::too_many_arguments)]
fn split_currents(
    probe: &mut CurrentProbe,
    w: &EbnWeights,
    rate: &[f32],
    input: &[f32],
    error: Option<&[f32]>,
    gain: f32,
    n: usize,
    j: usize,
    leak: f32,
    dt: f32,
) {
    for i in 0..n {
        let (mut exc, mut inh) = (0.0f32, 0.0f32);
        let mut add = |x: f32| {
            if x > 0.0 {
                exc += x;
            } else {
                inh += x;
            }
        };
        for a in 0..j {
            let f = w.encoder[i * j + a];
            add(f * input[a]);
            if let Some(e) = error {
                add(gain * f * e[a]);
            }
        }
        for (pre, &r) in rate.iter().enumerate() {
            if r != 0.0 {
                add(r * w.slow[pre * n + i]);
            }
        }
        probe.excitation[i] = leak * probe.excitation[i] + dt * exc;
        probe.inhibition[i] = leak * probe.inhibition[i] + dt * inh;
    }
}

/// The EBN on a Burn device: the same step as [`HostEbn`], every quantity a
/// tensor (`[1, N]` rows, weights `[N, N]` `[pre, post]`). The noise comes
/// from the device's generator, so it matches the host path only without
/// noise.
#[derive(Clone, Debug)]
pub struct TensorEbn {
    cfg: EbnConfig,
    /// `F`ᵀ as input weights `[J, N]`.
    pub input_weights: Tensor<2>,
    /// `D` as `[N, J]` (`x̂ = r D`).
    pub decoder: Tensor<2>,
    /// Fast connections `[N, N]`.
    pub fast: Tensor<2>,
    /// Slow connections `[N, N]`.
    pub slow: Tensor<2>,
    /// Thresholds `[1, N]`.
    pub threshold: Tensor<2>,
    /// Membrane potentials `[1, N]`.
    pub membrane: Tensor<2>,
    /// Filtered spike trains `[1, N]`.
    pub rate: Tensor<2>,
}

impl TensorEbn {
    /// The network of `weights` at rest on `device`.
    pub fn new(
        cfg: &EbnConfig,
        weights: &EbnWeights,
        device: &Device,
    ) -> Result<Self, PlasticityError> {
        cfg.validate()?;
        weights.check(cfg)?;
        let (n, j) = (cfg.neurons, cfg.dims);
        let t = |v: &[f32], shape: [usize; 2]| {
            Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), device)
        };
        Ok(Self {
            cfg: cfg.clone(),
            input_weights: t(&weights.encoder, [n, j]).transpose(),
            decoder: t(&weights.decoder, [n, j]),
            fast: t(&weights.fast, [n, n]),
            slow: t(&weights.slow, [n, n]),
            threshold: t(&weights.threshold, [1, n]),
            membrane: Tensor::zeros([1, n], device),
            rate: Tensor::zeros([1, n], device),
        })
    }

    /// The readout `[1, J]`.
    pub fn readout(&self) -> Tensor<2> {
        self.rate.clone().matmul(self.decoder.clone())
    }

    /// One step; `input` and `target` are `[1, J]`. Returns the spikes
    /// `[1, N]` (0/1).
    pub fn step<Rf: SynapticRule, Rs: SynapticRule>(
        &mut self,
        input: Tensor<2>,
        target: Option<Tensor<2>>,
        fast_rule: &Rf,
        slow_rule: &Rs,
    ) -> Result<Tensor<2>, PlasticityError> {
        let (n, j) = (self.cfg.neurons, self.cfg.dims);
        if input.dims() != [1, j] {
            return Err(PlasticityError::size(
                "input c(t)",
                format!("{:?}", input.dims()),
                format!("[1, {j}]"),
            ));
        }
        let dt = self.cfg.dt() as f32;
        let leak_v = 1.0 - (self.cfg.lambda_membrane() * self.cfg.dt()) as f32;
        let leak_r = 1.0 - (self.cfg.lambda_readout() * self.cfg.dt()) as f32;
        let device = input.device();
        let feedback = match target {
            Some(x) => {
                if x.dims() != [1, j] {
                    return Err(PlasticityError::size(
                        "target x(t)",
                        format!("{:?}", x.dims()),
                        format!("[1, {j}]"),
                    ));
                }
                let e = x - self.readout();
                e.matmul(self.input_weights.clone()) * (self.cfg.feedback_gain as f32)
            }
            None => Tensor::zeros([1, n], &device),
        };
        let current = input.matmul(self.input_weights.clone())
            + feedback.clone()
            + self.rate.clone().matmul(self.slow.clone());
        let mut v = self.membrane.clone() * leak_v + current * dt;
        if self.cfg.voltage_noise > 0.0 {
            let sd = self.cfg.voltage_noise * self.cfg.dt().sqrt();
            v = v + Tensor::random([1, n], TensorDistribution::Normal(0.0, sd), &device);
        }
        let over = v.clone() - self.threshold.clone();
        let above = over.clone().greater_elem(0.0).float();
        let spikes = if self.cfg.one_spike_per_step {
            let top = over.clone().max_dim(1).expand([1, n]);
            over.equal(top).float() * above
        } else {
            above
        };
        self.fast = apply_tensor(
            fast_rule,
            self.fast.clone(),
            spikes.clone(),
            self.rate.clone(),
            v.clone(),
            feedback.clone(),
            dt,
        );
        let v = v + spikes.clone().matmul(self.fast.clone());
        self.slow = apply_tensor(
            slow_rule,
            self.slow.clone(),
            spikes.clone(),
            self.rate.clone(),
            v.clone(),
            feedback,
            dt,
        );
        self.rate = self.rate.clone() * leak_r + spikes.clone();
        self.membrane = v;
        Ok(spikes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local_rule::{FastBalance, Frozen, SlowHebbian};

    fn oscillator() -> Vec<f64> {
        let w = std::f64::consts::PI;
        vec![-1.0, -w, w, -1.0]
    }

    #[test]
    fn optimal_weights_have_the_derived_form() {
        let cfg = EbnConfig::new(3, 2);
        let f = vec![0.2, 0.0, 0.0, 0.2, -0.2, 0.0];
        let w = EbnWeights::optimal(f, &oscillator(), &cfg).unwrap();
        // Ω_f between neurons 0 and 2 (opposite): +0.04; autapse −(0.04 + μ).
        assert!((w.fast[2 * 3] - 0.04).abs() < 1e-7);
        assert!((w.fast[0] + 0.04 + 0.002).abs() < 1e-7);
        // Ω_s[post 1][pre 0] = F_1 (A + 10 I) F_0 = 0.2 · ω · 0.2.
        let expected = 0.04 * std::f64::consts::PI;
        assert!((w.slow[1] as f64 - expected).abs() < 1e-6, "{}", w.slow[1]);
        assert!((w.threshold[0] - 0.021).abs() < 1e-7);
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let mut cfg = EbnConfig::new(4, 2);
        cfg.dt_ms = 200.0;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("tau_membrane_ms") && e.contains("dt_ms"), "{e}");
        let mut cfg = EbnConfig::new(4, 2);
        cfg.feedback_gain = -1.0;
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("feedback_gain")
        );
        let cfg = EbnConfig::new(4, 2);
        let e = EbnWeights::optimal(vec![0.1; 8], &[0.0; 9], &cfg)
            .unwrap_err()
            .to_string();
        assert!(e.contains("system matrix A") && e.contains("9"), "{e}");
        let w = EbnWeights::optimal(vec![0.1; 8], &[0.0; 4], &cfg).unwrap();
        let mut net = HostEbn::new(&cfg, w, 0).unwrap();
        let e = net
            .step(
                Drive {
                    input: &[0.0; 3],
                    target: None,
                },
                &Frozen,
                &Frozen,
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("input c(t)"), "{e}");
    }

    /// A hand-computed step: one neuron, no noise, constant input.
    #[test]
    fn one_neuron_integrates_fires_and_resets() {
        let mut cfg = EbnConfig::new(1, 1);
        cfg.voltage_noise = 0.0;
        cfg.cost = 0.0;
        let w = EbnWeights::optimal(vec![0.5], &[0.0], &cfg).unwrap();
        // T = 0.125, Ω_f = −0.25, Ω_s = 0.5 · 10 · 0.5 = 2.5.
        let mut net = HostEbn::new(&cfg, w, 0).unwrap();
        let c = [100.0f32];
        let mut first = None;
        for t in 0..100 {
            if net
                .step(
                    Drive {
                        input: &c,
                        target: None,
                    },
                    &Frozen,
                    &Frozen,
                )
                .unwrap()
                > 0
            {
                first = Some(t);
                break;
            }
        }
        // V after k steps ≈ dt·0.5·100·Σ leak^m = 0.005 k (1 − 0.0005 k): crosses 0.125 at k = 25.
        assert_eq!(first, Some(25));
        let v = net.membrane[0];
        let expected: f32 = (0..26).map(|m| 0.005 * 0.999f32.powi(m)).sum::<f32>() - 0.25;
        assert!((v - expected).abs() < 1e-5, "{v} vs {expected}");
        assert_eq!(net.rate[0], 1.0);
    }

    #[test]
    fn tensor_path_follows_the_host_path() {
        let device = Device::default();
        let mut cfg = EbnConfig::new(12, 2);
        cfg.voltage_noise = 0.0;
        let f = random_encoder(12, 2, 0.2, 4);
        let w = EbnWeights::untrained(
            f.clone(),
            {
                let opt = EbnWeights::optimal(f, &oscillator(), &cfg).unwrap();
                opt.fast.iter().map(|x| x * 0.7).collect()
            },
            &cfg,
        )
        .unwrap();
        let mut host = HostEbn::new(&cfg, w.clone(), 0).unwrap();
        let mut dev = TensorEbn::new(&cfg, &w, &device).unwrap();
        let fast = FastBalance {
            learning_rate: 0.01,
            beta: 1.6,
            cost: cfg.cost as f32,
        };
        let slow = SlowHebbian {
            learning_rate: 0.3,
            decay: 0.1,
        };
        let mut spikes = 0;
        for t in 0..600 {
            let phase = t as f32 * 0.01;
            let c = [3.0 * phase.sin(), 3.0 * phase.cos()];
            let x = [0.5 * phase.cos(), -0.4 * phase.sin()];
            spikes += host
                .step(
                    Drive {
                        input: &c,
                        target: Some(&x),
                    },
                    &fast,
                    &slow,
                )
                .unwrap();
            let ct = Tensor::<2>::from_data(TensorData::new(c.to_vec(), [1, 2]), &device);
            let xt = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [1, 2]), &device);
            let s: Vec<f32> = dev
                .step(ct, Some(xt), &fast, &slow)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let host_s: Vec<f32> = (0..12)
                .map(|i| host.spikes().contains(&i) as u8 as f32)
                .collect();
            assert_eq!(s, host_s, "spikes differ at step {t}");
        }
        assert!(spikes > 10, "only {spikes} spikes");
        let v: Vec<f32> = dev
            .membrane
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let slow_w: Vec<f32> = dev.slow.clone().into_data().try_to_vec::<f32>().unwrap();
        assert!(relative_error(&v, &host.membrane) < 1e-3);
        assert!(relative_error(&slow_w, &host.weights.slow) < 1e-3);
    }

    #[test]
    fn basis_reads_the_readout_and_silenced_neurons_stay_silent() {
        let cfg = EbnConfig::new(8, 2);
        let f = spread_encoder(8, 2, 0.2, 1);
        let w = EbnWeights::optimal(f.clone(), &oscillator(), &cfg).unwrap();
        let basis =
            BasisConnections::over_readout(5, &w.decoder, 2, 1.5, 1.0, BasisFunction::Tanh, 3)
                .unwrap();
        // M r = G x̂: two rate vectors with the same readout give the same Ψ.
        let r1: Vec<f32> = (0..8).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
        let mut r2 = vec![0.0f32; 8];
        r2[0] = 0.5;
        r2[4] = -0.5; // neuron 4 is opposite neuron 0 on the circle
        let (mut a, mut b) = (vec![0.0; 5], vec![0.0; 5]);
        basis.activity_into(&r1, &mut a);
        basis.activity_into(&r2, &mut b);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
        assert!(
            BasisConnections::over_readout(0, &w.decoder, 2, 1.0, 1.0, BasisFunction::Relu, 0)
                .is_err()
        );
        let mut net = HostEbn::new(&cfg, w, 0).unwrap().with_basis(basis).unwrap();
        net.silence(&[0, 1, 2, 3]).unwrap();
        assert!(net.silence(&[8]).is_err());
        for _ in 0..2000 {
            net.step(
                Drive {
                    input: &[50.0, 50.0],
                    target: None,
                },
                &Frozen,
                &Frozen,
            )
            .unwrap();
            assert!(net.spikes().iter().all(|&i| i >= 4));
        }
        assert!(net.rate[..4].iter().all(|r| *r == 0.0));
        assert_eq!(net.basis_activity().len(), 5);
    }
}
