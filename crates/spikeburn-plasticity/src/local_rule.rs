//! Local plasticity rules: non-gradient optimizers whose update of one
//! synapse reads only what that synapse can know.
//!
//! A [`SynapticRule`] computes the change of the weight `w_ji` of the
//! synapse from neuron `j` to neuron `i` from three things and nothing
//! else, each passed as its own argument:
//!
//! - [`Synapse`]: the weight itself and whether it is an autapse (`i = j`);
//! - [`Presynaptic`]: what neuron `j` sends — its spike in this step and its
//!   filtered spike train `r_j`;
//! - [`Postsynaptic`]: what neuron `i` holds and receives — its membrane
//!   potential `V_i` (before this step's spikes act), its own filtered spike
//!   train `r_i`, and the error-feedback current `I^fb_i` it receives.
//!
//! The rule is written once, generically over [`Signal`]: the host path
//! calls it with `f32`s, one synapse at a time ([`apply_host`]); the tensor
//! path calls it with `[pre, post]` tensors in which row `j` carries
//! neuron `j`'s presynaptic signals and column `i` neuron `i`'s
//! postsynaptic ones ([`apply_tensor`]) — the same elementwise expression,
//! so a rule cannot mix neurons on either path. Rules act online, per step
//! or per presynaptic spike ([`Trigger`]), as the network runs.
//!
//! RLS ([`crate::HostRls`]) is not a `SynapticRule`, and this is why: its
//! update of `w_ij` multiplies by `P_i r`, where `P_i` is the inverse
//! correlation of *all* of neuron `i`'s inputs (and, in the shared-`P` fast
//! path, of every neuron's). It is local to the postsynaptic neuron, not to
//! the synapse; it keeps its own trait ([`crate::DriveOptimizer`]), which
//! takes a neuron's whole regressor.

use std::ops::{Add, Mul, Sub};

use burn::prelude::*;

/// A value a rule computes with: `f32` (one synapse) or `Tensor<2>`
/// (`[pre, post]`, every synapse elementwise).
pub trait Signal:
    Clone + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Mul<f32, Output = Self>
{
}

impl<T> Signal for T where
    T: Clone + Add<Output = T> + Sub<Output = T> + Mul<Output = T> + Mul<f32, Output = T>
{
}

/// The synapse `j → i` itself.
#[derive(Clone, Debug)]
pub struct Synapse<S> {
    /// Its weight `w_ji`.
    pub weight: S,
    /// 1 for the autapse (`i = j`), 0 otherwise.
    pub autapse: S,
}

/// What presynaptic neuron `j` sends.
#[derive(Clone, Debug)]
pub struct Presynaptic<S> {
    /// 1 if `j` spiked in this step, else 0.
    pub spike: S,
    /// Its filtered spike train `r_j` (before this step's spike is added).
    pub rate: S,
}

/// What postsynaptic neuron `i` holds and receives.
#[derive(Clone, Debug)]
pub struct Postsynaptic<S> {
    /// Membrane potential `V_i` after this step's integration, before this
    /// step's spikes act on it.
    pub membrane: S,
    /// Its own filtered spike train `r_i`.
    pub rate: S,
    /// The error-feedback current `I^fb_i = K (F e)_i` it receives (0 when
    /// the feedback is off).
    pub feedback: S,
}

/// When a rule acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Only on the synapses of a neuron that spiked in this step.
    PresynapticSpike,
    /// On every synapse, every step.
    EveryStep,
    /// Never: the weights are frozen.
    Never,
}

/// One of the local signals a rule may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalSignal {
    /// The synapse's own weight.
    Weight,
    /// Whether the synapse is an autapse.
    Autapse,
    /// The presynaptic spike.
    PresynapticSpike,
    /// The presynaptic filtered spike train.
    PresynapticRate,
    /// The postsynaptic membrane potential.
    PostsynapticMembrane,
    /// The postsynaptic filtered spike train.
    PostsynapticRate,
    /// The error-feedback current into the postsynaptic neuron.
    PostsynapticFeedback,
}

/// A local plasticity rule: the change of one synapse's weight in one step.
pub trait SynapticRule {
    /// When it acts.
    fn trigger(&self) -> Trigger;
    /// The signals it reads (documentation; [`apply_host`] and
    /// [`apply_tensor`] pass all of them, a rule uses these).
    fn reads(&self) -> &'static [LocalSignal];
    /// `Δw_ji` for one step of `dt` seconds.
    fn delta<S: Signal>(
        &self,
        synapse: Synapse<S>,
        pre: Presynaptic<S>,
        post: Postsynaptic<S>,
        dt: f32,
    ) -> S;
}

/// No plasticity: the weights stay as they are.
#[derive(Clone, Copy, Debug, Default)]
pub struct Frozen;

impl SynapticRule for Frozen {
    fn trigger(&self) -> Trigger {
        Trigger::Never
    }
    fn reads(&self) -> &'static [LocalSignal] {
        &[]
    }
    fn delta<S: Signal>(
        &self,
        synapse: Synapse<S>,
        _pre: Presynaptic<S>,
        _post: Postsynaptic<S>,
        _dt: f32,
    ) -> S {
        synapse.weight * 0.0
    }
}

/// The voltage-based rule of the fast connections, which learns E/I
/// balance (Bourdoukan et al. 2012; Bourdoukan & Denève 2015; the form of
/// the Machens-lab code):
///
/// when `j` spikes, `Δw_ji = −ε (β (V_i + μ r_i) + w_ji + μ δ_ij)`.
///
/// It moves `w_ji` towards `−β (V_i + μ r_i) − μ δ_ij`, `V_i` taken just
/// before `j`'s spike acts. With `β = 2` this is the weight that leaves
/// `V_i` after the spike as far below rest as it was above it before (the
/// minimiser of `(V_before + V_after)²`); for `V_i ≈ F_iᵀ e` and an error at
/// `j`'s spike of `e ≈ F_j / 2` along `F_j` it is the optimum
/// `−(F_iᵀF_j + μ δ_ij)`. The fixed point depends on the weights
/// themselves (under-inhibited neighbours fire early and sit lower when `j`
/// spikes), so it is reached only approximately. Measured in
/// `spikeburn run ebn-linear --quick` (60 s, 20 neurons on a circle, 4
/// seeds): relative error of the learned fast weights 0.37 / 0.30 / 0.25 /
/// 0.19 at `β` = 1.6 / 1.8 / 1.9 / 2.0; at 2.0 the rates rise to 1.3–1.5×
/// the optimal network's (the excitation between opposite neurons nears
/// the ping-pong limit, whose margin is `μ`). The experiment uses 1.9.
///
/// Reads: the presynaptic spike, the postsynaptic membrane and filtered
/// spike train, the weight, the autapse flag.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FastBalance {
    /// `ε`, per presynaptic spike.
    pub learning_rate: f32,
    /// `β`.
    pub beta: f32,
    /// The cost `μ` of the network (the same `μ` as its thresholds).
    pub cost: f32,
}

impl SynapticRule for FastBalance {
    fn trigger(&self) -> Trigger {
        Trigger::PresynapticSpike
    }
    fn reads(&self) -> &'static [LocalSignal] {
        &[
            LocalSignal::PresynapticSpike,
            LocalSignal::PostsynapticMembrane,
            LocalSignal::PostsynapticRate,
            LocalSignal::Weight,
            LocalSignal::Autapse,
        ]
    }
    fn delta<S: Signal>(
        &self,
        synapse: Synapse<S>,
        pre: Presynaptic<S>,
        post: Postsynaptic<S>,
        _dt: f32,
    ) -> S {
        let target = (post.membrane + post.rate * self.cost) * self.beta
            + synapse.weight
            + synapse.autapse * self.cost;
        pre.spike * target * (-self.learning_rate)
    }
}

/// The current-based Hebbian rule of the slow connections, driven by the
/// fed-back error (Bourdoukan & Denève 2015):
///
/// `ẇ_ji = η I^fb_i r_j`, with `I^fb_i = K (F e)_i` the feedback current
/// into `i` and `r_j` the presynaptic filtered spike train.
///
/// Why it learns the system: with the feedback on, the network follows the
/// target, and the feedback supplies exactly the current the slow
/// connections fail to supply — in the readout space `K e ≈ ((A + λ_d I) Fᵀ
/// − M) r` for slow weights `F M` — so the rule is the LMS descent of that
/// deficit, `Ṁ = η ((A + λ_d I)Fᵀ − M) r rᵀ`, whose fixed point is the
/// optimal `F (A + λ_d I) Fᵀ`. Its updates lie in the span of `F`, so a
/// part of the initial weights outside that span is never changed.
///
/// With `decay > 0` it is the leaky form `ẇ_ji = η (I^fb_i r_j − δ w_ji)`:
/// the decay removes what the error cannot — weights along rate
/// directions the readout does not see (`Fᵀ n = 0`), which the optimum
/// does not have but noise and the spikes' own correlation with the error
/// feed — at the price of shrinking the learned weights by about
/// `δ / (δ + ⟨r_j²⟩)`.
///
/// Reads: the postsynaptic feedback current, the presynaptic filtered
/// spike train and (with `decay > 0`) the weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowHebbian {
    /// `η`, per second.
    pub learning_rate: f32,
    /// `δ` (0: the plain rule).
    pub decay: f32,
}

impl SynapticRule for SlowHebbian {
    fn trigger(&self) -> Trigger {
        Trigger::EveryStep
    }
    fn reads(&self) -> &'static [LocalSignal] {
        &[
            LocalSignal::PostsynapticFeedback,
            LocalSignal::PresynapticRate,
            LocalSignal::Weight,
        ]
    }
    fn delta<S: Signal>(
        &self,
        synapse: Synapse<S>,
        pre: Presynaptic<S>,
        post: Postsynaptic<S>,
        dt: f32,
    ) -> S {
        (post.feedback * pre.rate - synapse.weight * self.decay) * (self.learning_rate * dt)
    }
}

/// Per-neuron signals in host memory, one slice entry per neuron.
#[derive(Clone, Copy, Debug)]
pub struct NeuronSignals<'a> {
    /// Spiked in this step.
    pub spike: &'a [bool],
    /// Filtered spike trains `r`.
    pub rate: &'a [f32],
    /// Membrane potentials `V`.
    pub membrane: &'a [f32],
    /// Error-feedback currents `I^fb`.
    pub feedback: &'a [f32],
}

/// Applies `rule` to `weights` (`[pre][post]`, `n × n`, row-major) for one
/// step: synapse `j → i` gets `rule.delta` of its own weight, neuron `j`'s
/// presynaptic and neuron `i`'s postsynaptic signals. With
/// [`Trigger::PresynapticSpike`] only the rows of neurons in `spiked` are
/// visited.
pub fn apply_host<R: SynapticRule>(
    rule: &R,
    weights: &mut [f32],
    signals: NeuronSignals<'_>,
    spiked: &[usize],
    dt: f32,
) {
    let n = signals.rate.len();
    debug_assert_eq!(weights.len(), n * n);
    let row = |j: usize, weights: &mut [f32]| {
        let pre = Presynaptic {
            spike: if signals.spike[j] { 1.0 } else { 0.0 },
            rate: signals.rate[j],
        };
        update_row(
            rule,
            &mut weights[j * n..(j + 1) * n],
            pre,
            Some(j),
            signals,
            dt,
        );
    };
    match rule.trigger() {
        Trigger::Never => {}
        Trigger::PresynapticSpike => {
            for &j in spiked {
                row(j, weights);
            }
        }
        Trigger::EveryStep => {
            for j in 0..n {
                row(j, weights);
            }
        }
    }
}

/// [`apply_host`] for synapses from presynaptic units that do not spike
/// (basis functions, rate units) onto `post.len()` neurons: `weights` is
/// `[units][neurons]`, unit `p` sends its activity as `rate` and never a
/// spike, and no synapse is an autapse. Only [`Trigger::EveryStep`] rules
/// act.
pub fn apply_host_rate_units<R: SynapticRule>(
    rule: &R,
    weights: &mut [f32],
    activity: &[f32],
    post: NeuronSignals<'_>,
    dt: f32,
) {
    if rule.trigger() != Trigger::EveryStep {
        return;
    }
    let n = post.membrane.len();
    debug_assert_eq!(weights.len(), activity.len() * n);
    for (p, &a) in activity.iter().enumerate() {
        let pre = Presynaptic {
            spike: 0.0,
            rate: a,
        };
        update_row(rule, &mut weights[p * n..(p + 1) * n], pre, None, post, dt);
    }
}

/// One presynaptic row `w_j·` of a `[pre][post]` matrix: each synapse gets
/// `rule.delta` of its own weight, the row's presynaptic signals and its
/// postsynaptic neuron's; `autapse` is the column of the synapse onto the
/// presynaptic neuron itself, if there is one.
fn update_row<R: SynapticRule>(
    rule: &R,
    row: &mut [f32],
    pre: Presynaptic<f32>,
    autapse: Option<usize>,
    post: NeuronSignals<'_>,
    dt: f32,
) {
    for (i, w) in row.iter_mut().enumerate() {
        *w += rule.delta(
            Synapse {
                weight: *w,
                autapse: if autapse == Some(i) { 1.0 } else { 0.0 },
            },
            pre.clone(),
            Postsynaptic {
                membrane: post.membrane[i],
                rate: post.rate[i],
                feedback: post.feedback[i],
            },
            dt,
        );
    }
}

/// The same step on tensors: `weights` `[n, n]` (`[pre, post]`), the
/// per-neuron signals as `[1, n]` rows. Each signal is laid out along the
/// axis of its role — presynaptic ones down the rows, postsynaptic ones
/// along the columns — and the rule's expression is evaluated elementwise.
/// Returns the new weights.
pub fn apply_tensor<R: SynapticRule>(
    rule: &R,
    weights: Tensor<2>,
    spike: Tensor<2>,
    rate: Tensor<2>,
    membrane: Tensor<2>,
    feedback: Tensor<2>,
    dt: f32,
) -> Tensor<2> {
    if rule.trigger() == Trigger::Never {
        return weights;
    }
    let [n, _] = weights.dims();
    let device = weights.device();
    let down = |t: Tensor<2>| t.reshape([n, 1]).expand([n, n]);
    let along = |t: Tensor<2>| t.reshape([1, n]).expand([n, n]);
    let delta = rule.delta(
        Synapse {
            weight: weights.clone(),
            autapse: Tensor::<2>::eye(n, &device),
        },
        Presynaptic {
            spike: down(spike),
            rate: down(rate.clone()),
        },
        Postsynaptic {
            membrane: along(membrane),
            rate: along(rate),
            feedback: along(feedback),
        },
        dt,
    );
    weights + delta
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn signals(n: usize, seed: u64) -> (Vec<bool>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let spike = (0..n).map(|_| rng.random_bool(0.4)).collect();
        let rate = (0..n).map(|_| rng.random_range(0.0..3.0)).collect();
        let v = (0..n).map(|_| rng.random_range(-0.1..0.1)).collect();
        let fb = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        (spike, rate, v, fb)
    }

    fn host_step<R: SynapticRule>(
        rule: &R,
        w: &[f32],
        s: &(Vec<bool>, Vec<f32>, Vec<f32>, Vec<f32>),
    ) -> Vec<f32> {
        let mut w = w.to_vec();
        let spiked: Vec<usize> = (0..s.0.len()).filter(|&j| s.0[j]).collect();
        apply_host(
            rule,
            &mut w,
            NeuronSignals {
                spike: &s.0,
                rate: &s.1,
                membrane: &s.2,
                feedback: &s.3,
            },
            &spiked,
            1e-3,
        );
        w
    }

    /// Changing every signal of a third neuron `m` leaves synapse `j → i`'s
    /// update unchanged: the rules read nothing non-local.
    #[test]
    fn an_update_reads_only_its_two_neurons() {
        let n = 6;
        let w: Vec<f32> = (0..n * n).map(|k| (k as f32 * 0.37).sin() * 0.1).collect();
        let fast = FastBalance {
            learning_rate: 0.1,
            beta: 1.6,
            cost: 0.02,
        };
        let slow = SlowHebbian {
            learning_rate: 5.0,
            decay: 0.1,
        };
        let base = signals(n, 1);
        let (j, i, m) = (1, 4, 2);
        let mut other = base.clone();
        other.0[m] = true;
        other.1[m] += 1.7;
        other.2[m] -= 0.3;
        other.3[m] += 0.9;
        for (a, b) in [
            (host_step(&fast, &w, &base), host_step(&fast, &w, &other)),
            (host_step(&slow, &w, &base), host_step(&slow, &w, &other)),
        ] {
            assert_eq!(a[j * n + i], b[j * n + i]);
            // ... while the synapses of m itself do change.
            assert!((0..n).any(|k| a[m * n + k] != b[m * n + k] || a[k * n + m] != b[k * n + m]));
        }
    }

    #[test]
    fn fast_rule_moves_a_spiking_row_towards_its_target() {
        let rule = FastBalance {
            learning_rate: 0.25,
            beta: 2.0,
            cost: 0.1,
        };
        let spike = vec![false, true];
        let (rate, v, fb) = (vec![1.0, 2.0], vec![0.3, 0.5], vec![0.0, 0.0]);
        let w = vec![0.0, 0.0, -0.1, -0.2];
        let out = host_step(&rule, &w, &(spike, rate, v, fb));
        // Row 0 (neuron 0 did not spike) is untouched.
        assert_eq!(&out[..2], &[0.0, 0.0]);
        // w_10 → −2 (0.3 + 0.1·1) = −0.8: −0.1 − 0.25 (0.8 − 0.1) = −0.275.
        assert!((out[2] + 0.275).abs() < 1e-6, "{}", out[2]);
        // Autapse w_11 target −2 (0.5 + 0.2) − 0.1 = −1.5: −0.2 − 0.25 (1.4 − 0.2 + 0.1) = −0.525.
        assert!((out[3] + 0.525).abs() < 1e-6, "{}", out[3]);
    }

    #[test]
    fn tensor_form_equals_host_form() {
        let device = Device::default();
        let n = 7;
        let w: Vec<f32> = (0..n * n).map(|k| (k as f32 * 0.91).cos() * 0.2).collect();
        let s = signals(n, 3);
        let row = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, n]), &device);
        let spikes: Vec<f32> = s.0.iter().map(|&b| b as u8 as f32).collect();
        let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [n, n]), &device);
        let fast = FastBalance {
            learning_rate: 0.1,
            beta: 1.6,
            cost: 0.02,
        };
        let slow = SlowHebbian {
            learning_rate: 3.0,
            decay: 0.2,
        };
        let got_fast = apply_tensor(
            &fast,
            wt.clone(),
            row(spikes.clone()),
            row(s.1.clone()),
            row(s.2.clone()),
            row(s.3.clone()),
            1e-3,
        );
        let got_slow = apply_tensor(
            &slow,
            wt,
            row(spikes),
            row(s.1.clone()),
            row(s.2.clone()),
            row(s.3.clone()),
            1e-3,
        );
        for (got, want) in [
            (got_fast, host_step(&fast, &w, &s)),
            (got_slow, host_step(&slow, &w, &s)),
        ] {
            let got: Vec<f32> = got.into_data().try_to_vec::<f32>().unwrap();
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
    }
}
