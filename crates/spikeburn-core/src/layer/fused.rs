//! Fused whole-sequence BPTT for recurrent LIF/ALIF layers.
//!
//! The per-step path records `O(T · ops)` autodiff nodes. Here the forward
//! pass runs the `T` steps on the inner (non-autodiff) backend, keeps only
//! what the backward needs, and attaches **one** autodiff node whose backward
//! is the hand-derived BPTT recursion (`Kv`, `Ka`, `Rz` precomputed per step):
//!
//! ```text
//! δz_t = ∂L/∂z_t + δI_{t+1} W_recᵀ + (1 − ρ) δa_{t+1}
//! δv_t = Kv_t ⊙ δz_t + α δv_{t+1}                    Kv = ψ ∂x/∂v
//! δa_t = Ka_t ⊙ δz_t + ρ δa_{t+1} − Rz_t ⊙ δv_t      Ka = ψ ∂x/∂a, Rz = β z_{t−1} (adaptive reset)
//! δI_t = g δv_t
//! ∂L/∂W_in = Σ_t x_tᵀ δI_t,  ∂L/∂W_rec = Σ_t z_{t−1}ᵀ δI_t,  ∂L/∂x_t = δI_t W_inᵀ
//! ```
//!
//! With a detached reset (the reference path's default) the reset term
//! contributes only through the adaptive threshold; without (the LSNN code)
//! `δz_t` also gets `−R_{t+1} δv_{t+1}`, `R` the reset level (CPU kernels); during a refractory period
//! the spike is forced to 0 and so are `Kv`, `Ka`.
//!
//! Two implementations: on CPU backends (flex, ndarray) the kernels of
//! `fused_host` run in host memory, exploit spike sparsity and split the batch
//! over threads, and accumulate the weight gradients during the backward
//! sweep; they also run synaptic delays (`I_t = Σ_e x_{t−e} W_in^(e) +
//! Σ_d z_{t−d} W_rec^(d)`, so `δz_t` gathers `δI_{t+d}` over each synapse's
//! delay); on other backends (wgpu, CUDA) a generic version in Burn tensor ops
//! runs the same recursion, with the weight and input gradients as single
//! matmuls over the whole sequence.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{Backend, Dispatch, TensorMetadata, backend_extension, tensor::FloatTensor};
use burn::prelude::*;
use burn::tensor::{Shape, Slice, TensorData};

use std::sync::Arc;

use super::SequencePath;
use super::fused_host::{
    HostBackward, HostDelays, HostDynamics, HostForward, HostSaved, HostSurrogate, merge_rows,
    take_rows,
};
use crate::spike::{Surrogate, SurrogateGradient};

/// The constants of a neuron model that the fused path can run: reset by
/// subtraction.
#[derive(Clone, Debug)]
pub struct FusedDynamics {
    /// Membrane decay α.
    pub alpha: f64,
    /// Input gain g.
    pub gain: f64,
    /// Baseline threshold ϑ0.
    pub threshold: f64,
    /// Adaptation decay ρ and per-neuron strengths β (`None` for LIF).
    pub adaptation: Option<(f64, Tensor<1>)>,
    /// Subtract `A_t` (not `ϑ0`) on reset.
    pub adaptive_reset: bool,
    /// Normalise the surrogate input by `A_t` (not `ϑ0`).
    pub normalise_by_adaptive_threshold: bool,
    /// Surrogate derivative.
    pub surrogate: Surrogate,
    /// Refractory period in steps (host kernels only; other backends take
    /// the per-step path when it is non-zero).
    pub refractory_steps: usize,
    /// Cut the gradient through the reset term. Off (the LSNN code), `δz_t`
    /// also gets `−R_{t+1} δv_{t+1}` with `R` the reset level: near the
    /// threshold this damps the recurrent gradient loop by `ψ` per step
    /// (host kernels only; other backends take the per-step path).
    pub detach_reset: bool,
}

/// What the fused forward pass leaves for the caller.
pub(crate) struct FusedOutput {
    pub spikes: Tensor<3>,
    /// Which fused implementation ran.
    pub path: SequencePath,
    pub last_membrane: Tensor<2>,
    pub last_adaptation: Option<Tensor<2>>,
    /// With delays: the drive in flight, slot `k` due `k` steps after the end.
    pub pending: Option<Vec<Tensor<2>>>,
}

/// Backend extension: attaches the BPTT backward to a simulated spike train.
#[backend_extension(
    Autodiff,
    NdArray: cfg(feature = "ndarray"),
    Flex: cfg(feature = "flex"),
    Cube: cfg(feature = "wgpu"),
)]
pub(crate) trait FusedBpttOps: Backend {
    /// Returns `spikes`; the autodiff implementation records one node with
    /// parents (`input`, `w_in`, `w_rec`) and the recursion above as backward.
    #[allow(clippy::too_many_arguments)]
    fn attach_bptt(
        input: FloatTensor<Self>,
        w_in: FloatTensor<Self>,
        w_rec: FloatTensor<Self>,
        spikes: FloatTensor<Self>,
        kv: FloatTensor<Self>,
        ka: FloatTensor<Self>,
        rz: FloatTensor<Self>,
        alpha: f64,
        rho: f64,
        gain: f64,
        adaptive: bool,
        adaptive_reset: bool,
        host: Option<HostSavedHandle>,
    ) -> FloatTensor<Self> {
        let _ = (input, w_in, w_rec, kv, ka, rz);
        let _ = (alpha, rho, gain, adaptive, adaptive_reset, host);
        spikes
    }
}

#[cfg(feature = "ndarray")]
impl FusedBpttOps for burn::backend::NdArray {}
#[cfg(feature = "flex")]
impl FusedBpttOps for burn::backend::Flex {}
#[cfg(feature = "wgpu")]
impl FusedBpttOps for burn::backend::Cube {}

#[derive(Clone, Debug)]
struct BpttState<B: Backend> {
    input: B::FloatTensorPrimitive,
    w_in: B::FloatTensorPrimitive,
    w_rec: B::FloatTensorPrimitive,
    spikes: B::FloatTensorPrimitive,
    kv: B::FloatTensorPrimitive,
    ka: B::FloatTensorPrimitive,
    rz: B::FloatTensorPrimitive,
    alpha: f64,
    rho: f64,
    gain: f64,
    adaptive: bool,
    adaptive_reset: bool,
    /// Host-memory copies for the CPU kernels of `fused_host` (CPU backends).
    host: Option<HostSavedHandle>,
}

/// Shared handle on the host-side saved tensors (an ordinary argument of the op).
#[derive(Clone, Debug)]
pub(crate) struct HostSavedHandle(Arc<HostSaved>);

fn host_vec<B: Backend>(t: FloatTensor<B>) -> Vec<f32> {
    burn::tensor::read_sync(B::float_into_data(t))
        .expect("reading a host tensor cannot fail")
        .try_into_vec::<f32>()
        .expect("fused BPTT runs in float32")
}

fn step<B: Backend>(t: FloatTensor<B>, i: usize) -> FloatTensor<B> {
    let s = t.shape();
    let i = i as isize;
    B::float_reshape(
        B::float_slice(t, &[Slice::new(i, Some(i + 1), 1)]),
        Shape::new([s[1], s[2]]),
    )
}

/// A row-major copy of a strided view: matmuls with a transposed view as an
/// operand ran about 3× slower on flex than with a contiguous copy.
fn contiguous<B: Backend>(t: FloatTensor<B>) -> FloatTensor<B> {
    B::float_mul_scalar(t, 1.0.into())
}

/// Runs the recursion; returns `δI` as `[T, B, N]`.
fn reverse_recursion<B: Backend>(grad: FloatTensor<B>, s: &BpttState<B>) -> FloatTensor<B> {
    let shape = grad.shape();
    let (steps, batch, n) = (shape[0], shape[1], shape[2]);
    let w_rec_t = contiguous::<B>(B::float_transpose(s.w_rec.clone()));
    let mut delta_i: Vec<FloatTensor<B>> = Vec::with_capacity(steps);
    let mut dv_next: Option<FloatTensor<B>> = None;
    let mut da_next: Option<FloatTensor<B>> = None;
    let mut di_next: Option<FloatTensor<B>> = None;
    for t in (0..steps).rev() {
        let mut dz = step::<B>(grad.clone(), t);
        if let Some(di) = &di_next {
            dz = B::float_add(dz, B::float_matmul(di.clone(), w_rec_t.clone()));
        }
        if let Some(da) = &da_next {
            dz = B::float_add(dz, B::float_mul_scalar(da.clone(), (1.0 - s.rho).into()));
        }
        let mut dv = B::float_mul(step::<B>(s.kv.clone(), t), dz.clone());
        if let Some(dv1) = dv_next {
            dv = B::float_add(dv, B::float_mul_scalar(dv1, s.alpha.into()));
        }
        if s.adaptive {
            let mut da = B::float_mul(step::<B>(s.ka.clone(), t), dz);
            if let Some(da1) = da_next {
                da = B::float_add(da, B::float_mul_scalar(da1, s.rho.into()));
            }
            if s.adaptive_reset {
                da = B::float_sub(da, B::float_mul(step::<B>(s.rz.clone(), t), dv.clone()));
            }
            da_next = Some(da);
        }
        let di = if s.gain == 1.0 {
            dv.clone()
        } else {
            B::float_mul_scalar(dv.clone(), s.gain.into())
        };
        delta_i.push(B::float_reshape(di.clone(), Shape::new([1, batch, n])));
        di_next = Some(di);
        dv_next = Some(dv);
    }
    delta_i.reverse();
    B::float_cat(delta_i, 0)
}

impl<B: FusedBpttOps, C: CheckpointStrategy> FusedBpttOps for Autodiff<B, C> {
    fn attach_bptt(
        input: FloatTensor<Self>,
        w_in: FloatTensor<Self>,
        w_rec: FloatTensor<Self>,
        spikes: FloatTensor<Self>,
        kv: FloatTensor<Self>,
        ka: FloatTensor<Self>,
        rz: FloatTensor<Self>,
        alpha: f64,
        rho: f64,
        gain: f64,
        adaptive: bool,
        adaptive_reset: bool,
        host: Option<HostSavedHandle>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct BpttBackward;

        impl<B: Backend> Backward<B, 3> for BpttBackward {
            type State = BpttState<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let [p_input, p_w_in, p_w_rec] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let s = ops.state;
                let shape = grad.shape();
                let (steps, batch, n) = (shape[0], shape[1], shape[2]);
                let n_in = s.input.shape()[2];
                let device = s.spikes.device();
                if let Some(saved) = &s.host {
                    let g = super::fused_host::backward(
                        &saved.0,
                        &host_vec::<B>(grad),
                        p_input.is_some(),
                        p_w_in.is_some(),
                        p_w_rec.is_some(),
                    );
                    let lift = |v: Vec<f32>, shape: Vec<usize>| {
                        B::float_from_data(TensorData::new(v, shape), &device)
                    };
                    if let (Some(node), Some(g)) = (p_input, g.input) {
                        grads.register::<B>(node.id, lift(g, vec![steps, batch, n_in]));
                    }
                    if let (Some(node), Some(g)) = (p_w_in, g.w_in) {
                        grads.register::<B>(node.id, lift(g, vec![n_in, n]));
                    }
                    if let (Some(node), Some(g)) = (p_w_rec, g.w_rec) {
                        grads.register::<B>(node.id, lift(g, vec![n, n]));
                    }
                    return;
                }
                let delta_i = reverse_recursion::<B>(grad, &s);
                let delta_flat = B::float_reshape(delta_i, Shape::new([steps * batch, n]));
                if let Some(node) = p_w_rec {
                    // z_{t-1}: the spikes shifted one step later, zero at t = 0.
                    let zeros =
                        B::float_zeros(Shape::new([1, batch, n]), &device, s.spikes.dtype().into());
                    let earlier = B::float_slice(
                        s.spikes.clone(),
                        &[Slice::new(0, Some(steps as isize - 1), 1)],
                    );
                    let z_prev = B::float_cat(vec![zeros, earlier], 0);
                    let z_prev = B::float_reshape(z_prev, Shape::new([steps * batch, n]));
                    let g = B::float_matmul(
                        contiguous::<B>(B::float_transpose(z_prev)),
                        delta_flat.clone(),
                    );
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = p_w_in {
                    let x = B::float_reshape(s.input.clone(), Shape::new([steps * batch, n_in]));
                    let g =
                        B::float_matmul(contiguous::<B>(B::float_transpose(x)), delta_flat.clone());
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = p_input {
                    let g = B::float_matmul(
                        delta_flat,
                        contiguous::<B>(B::float_transpose(s.w_in.clone())),
                    );
                    grads.register::<B>(
                        node.id,
                        B::float_reshape(g, Shape::new([steps, batch, n_in])),
                    );
                }
            }
        }

        let (input, g_input) = input.into_parts();
        let (w_in, g_w_in) = w_in.into_parts();
        let (w_rec, g_w_rec) = w_rec.into_parts();
        let spikes = spikes.into_primitive();
        match BpttBackward
            .prepare::<C>([g_input, g_w_in, g_w_rec])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let state = BpttState::<B> {
                    input,
                    w_in,
                    w_rec,
                    spikes: spikes.clone(),
                    kv: kv.into_primitive(),
                    ka: ka.into_primitive(),
                    rz: rz.into_primitive(),
                    alpha,
                    rho,
                    gain,
                    adaptive,
                    adaptive_reset,
                    host,
                };
                prep.finish(state, spikes)
            }
            OpsKind::UnTracked(prep) => prep.finish(spikes),
        }
    }
}

/// Simulates `input` (`[T, B, n_in]`) from rest off the autodiff graph and
/// returns spikes carrying the fused backward; `None` when this device and
/// configuration are not covered (the caller then takes the per-step path).
///
/// `delays` are the layer's one-hot delay masks (recurrent `[D, N, N]` for
/// delays `1..=D`, input `[D, n_in, N]` for `0..D`); only the host kernels
/// run them.
pub(crate) fn run_fused(
    dynamics: &FusedDynamics,
    input: Tensor<3>,
    w_in: Tensor<2>,
    w_rec: Tensor<2>,
    delays: Option<(&Tensor<3>, &Tensor<3>)>,
) -> Option<FusedOutput> {
    if is_host_device(&w_in.clone().inner().device()) {
        let delays = delays.map(|(rec, inp)| HostDelays {
            max_delay: rec.dims()[0],
            recurrent: delay_indices(rec, 1),
            input: delay_indices(inp, 0),
        });
        Some(run_host(dynamics, input, w_in, w_rec, delays))
    } else if dynamics.refractory_steps == 0 && delays.is_none() && dynamics.detach_reset {
        Some(run_tensor_ops(dynamics, input, w_in, w_rec))
    } else {
        None
    }
}

fn host_data<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 data")
}

/// Per-synapse delays `offset + d` from one-hot masks `[D, rows, cols]`.
fn delay_indices(masks: &Tensor<3>, offset: u16) -> Vec<u16> {
    let [d, rows, cols] = masks.dims();
    let plane = rows * cols;
    let data = host_data(masks.clone());
    let mut out = vec![offset; plane];
    for k in 0..d {
        for (o, m) in out.iter_mut().zip(&data[k * plane..(k + 1) * plane]) {
            if *m != 0.0 {
                *o = offset + k as u16;
            }
        }
    }
    out
}

/// The CPU path: everything between the weights and the spikes in host memory.
fn run_host(
    dynamics: &FusedDynamics,
    input: Tensor<3>,
    w_in: Tensor<2>,
    w_rec: Tensor<2>,
    delays: Option<HostDelays>,
) -> FusedOutput {
    let [steps, batch, n_in] = input.dims();
    let n = w_rec.dims()[0];
    let device = w_in.clone().inner().device();
    let x = host_data(input.clone().inner());
    let wi = host_data(w_in.clone().inner());
    let wr = host_data(w_rec.clone().inner());
    let beta = dynamics
        .adaptation
        .as_ref()
        .map(|(rho, b)| (*rho as f32, host_data(b.clone().inner())));
    // LSNN's pseudo-derivative inline; other built-ins per element through
    // `derivative_at`; a user's (`Custom`) later, on the whole sequence.
    let psi = match &dynamics.surrogate {
        Surrogate::Custom(_) | Surrogate::PiecewiseLinear { .. } => None,
        s => {
            let s = s.clone();
            Some(move |x: f32| s.derivative_at(x as f64) as f32)
        }
    };
    let host_surrogate = match dynamics.surrogate {
        Surrogate::PiecewiseLinear { dampening, width } => {
            Some(HostSurrogate::PiecewiseLinear { dampening, width })
        }
        _ => psi
            .as_ref()
            .map(|f| HostSurrogate::Other(f as &(dyn Fn(f32) -> f32 + Sync))),
    };
    let host = HostDynamics {
        alpha: dynamics.alpha as f32,
        gain: dynamics.gain as f32,
        threshold: dynamics.threshold as f32,
        adaptation: beta.as_ref().map(|(rho, b)| (*rho, b.as_slice())),
        adaptive_reset: dynamics.adaptive_reset,
        normalise_by_adaptive_threshold: dynamics.normalise_by_adaptive_threshold,
        surrogate: host_surrogate,
        refractory_steps: dynamics.refractory_steps,
        detach_reset: dynamics.detach_reset,
    };
    let mut parts = super::fused_host::forward_parallel(
        &x,
        &wi,
        &wr,
        steps,
        batch,
        n_in,
        n,
        &host,
        delays.as_ref(),
    );
    drop(x);
    if host.surrogate.is_none() {
        // A user surrogate is a tensor function: evaluate it once on the whole sequence.
        let xs = merge_rows(
            parts
                .iter()
                .map(|p| (p.rows, p.forward.normalised.as_slice())),
            steps,
            batch,
            n,
        );
        let xs = Tensor::<1>::from_data(TensorData::new(xs, [steps * batch * n]), &device);
        let psi = host_data(dynamics.surrogate.derivative(xs));
        for p in &mut parts {
            let (first, len) = p.rows;
            p.forward.normalised = vec![];
            p.forward
                .apply_surrogate(&take_rows(&psi, steps, batch, n, first, len));
        }
    }
    let adaptive = beta.is_some();
    let rho = beta.as_ref().map_or(0.0, |(rho, _)| *rho as f64);
    let spikes = merge_rows(
        parts.iter().map(|p| (p.rows, p.forward.spikes.as_slice())),
        steps,
        batch,
        n,
    );
    let last = |f: fn(&HostForward) -> &Vec<f32>| {
        let v: Vec<f32> = parts
            .iter()
            .flat_map(|p| f(&p.forward).iter().copied())
            .collect();
        Tensor::<2>::from_inner(Tensor::from_data(TensorData::new(v, [batch, n]), &device))
    };
    let last_membrane = last(|f| &f.last_membrane);
    let last_adaptation = adaptive.then(|| last(|f| &f.last_adaptation));
    let pending = delays.as_ref().map(|dl| {
        let flat = merge_rows(
            parts.iter().map(|p| (p.rows, p.forward.pending.as_slice())),
            dl.max_delay,
            batch,
            n,
        );
        (0..dl.max_delay)
            .map(|k| {
                let slot = flat[k * batch * n..(k + 1) * batch * n].to_vec();
                Tensor::<2>::from_inner(Tensor::from_data(
                    TensorData::new(slot, [batch, n]),
                    &device,
                ))
            })
            .collect()
    });
    let spikes = Tensor::<3>::from_inner(Tensor::from_data(
        TensorData::new(spikes, [steps, batch, n]),
        &device,
    ));
    let saved = HostSavedHandle(Arc::new(HostSaved {
        parts,
        beta: beta.as_ref().map(|(_, b)| b.clone()).unwrap_or_default(),
        w_in: wi,
        w_rec: wr,
        steps,
        batch,
        n_in,
        n,
        constants: HostBackward {
            alpha: dynamics.alpha as f32,
            rho: rho as f32,
            gain: dynamics.gain as f32,
            adaptive,
            adaptive_reset: dynamics.adaptive_reset,
            reset_gradient: !dynamics.detach_reset,
            threshold: dynamics.threshold as f32,
        },
        delays,
    }));
    let spikes_tracked = Tensor::from_dispatch(<Dispatch as FusedBpttOps>::attach_bptt(
        input.into_dispatch(),
        w_in.into_dispatch(),
        w_rec.into_dispatch(),
        spikes.clone().into_dispatch(),
        spikes.clone().into_dispatch(),
        spikes.clone().into_dispatch(),
        spikes.into_dispatch(),
        dynamics.alpha,
        rho,
        dynamics.gain,
        adaptive,
        dynamics.adaptive_reset,
        Some(saved),
    ));
    FusedOutput {
        spikes: spikes_tracked,
        path: SequencePath::FusedHost,
        last_membrane,
        last_adaptation,
        pending,
    }
}

/// The portable path in tensor operations (GPU backends).
fn run_tensor_ops(
    dynamics: &FusedDynamics,
    input: Tensor<3>,
    w_in: Tensor<2>,
    w_rec: Tensor<2>,
) -> FusedOutput {
    let [steps, batch, n_in] = input.dims();
    let n = w_rec.dims()[0];
    let lift = |t: Tensor<3>| Tensor::<3>::from_inner(t);
    let (x, wi, wr) = (
        input.clone().inner(),
        w_in.clone().inner(),
        w_rec.clone().inner(),
    );
    let device = x.device();
    let projected = x
        .reshape([steps * batch, n_in])
        .matmul(wi)
        .reshape([steps, batch, n]);
    let thr0 = dynamics.threshold;
    let beta = dynamics
        .adaptation
        .as_ref()
        .map(|(rho, beta)| (*rho, beta.clone().inner().unsqueeze::<2>()));
    let Simulation {
        spikes,
        membrane,
        normalised: x_all,
        thresholds,
        last_membrane: v,
        last_adaptation: a,
    } = simulate(dynamics, projected, wr, &beta);
    let psi = dynamics
        .surrogate
        .derivative(x_all.reshape([steps * batch * n]))
        .reshape([steps, batch, n]);
    let (kv, ka, rz) = match (&beta, &thresholds) {
        (Some((_, beta)), Some(thr)) => {
            let beta3 = beta.clone().unsqueeze::<3>();
            let (kv, ka) = if dynamics.normalise_by_adaptive_threshold {
                // x = v/A − 1: ∂x/∂v = 1/A, ∂x/∂a = −β v / A².
                let kv = psi.clone() / thr.clone();
                let ka = (kv.clone() * membrane.clone() / thr.clone() * beta3.clone()).neg();
                (kv, ka)
            } else {
                let kv = psi.clone() / thr0;
                (kv.clone(), (kv * beta3.clone()).neg())
            };
            let rz = if dynamics.adaptive_reset {
                let zeros = Tensor::<3>::zeros([1, batch, n], &device);
                let earlier = spikes.clone().slice(s![0..steps - 1, .., ..]);
                Tensor::cat(vec![zeros, earlier], 0) * beta3
            } else {
                kv.clone()
            };
            (kv, ka, rz)
        }
        _ => {
            let kv = psi / thr0;
            (kv.clone(), kv.clone(), kv)
        }
    };
    let (rho, adaptive) = beta.as_ref().map_or((0.0, false), |(rho, _)| (*rho, true));
    let last_membrane = Tensor::<2>::from_inner(v);
    let last_adaptation = adaptive.then(|| Tensor::<2>::from_inner(a));
    let spikes_tracked = Tensor::from_dispatch(<Dispatch as FusedBpttOps>::attach_bptt(
        input.into_dispatch(),
        w_in.into_dispatch(),
        w_rec.into_dispatch(),
        lift(spikes).into_dispatch(),
        lift(kv).into_dispatch(),
        lift(ka).into_dispatch(),
        lift(rz).into_dispatch(),
        dynamics.alpha,
        rho,
        dynamics.gain,
        adaptive,
        dynamics.adaptive_reset,
        None,
    ));
    FusedOutput {
        spikes: spikes_tracked,
        path: SequencePath::FusedTensorOps,
        last_membrane,
        last_adaptation,
        pending: None,
    }
}

/// The forward pass's products, on the inner (non-autodiff) device.
struct Simulation {
    spikes: Tensor<3>,
    membrane: Tensor<3>,
    normalised: Tensor<3>,
    thresholds: Option<Tensor<3>>,
    last_membrane: Tensor<2>,
    last_adaptation: Tensor<2>,
}

/// Whether tensors on `device` live in host memory (the CPU backends flex
/// and ndarray, also when wrapped for autodiff), so that host-memory kernels
/// can work on them directly.
pub fn is_host_device(device: &Device) -> bool {
    use burn::backend::DispatchDevice;
    match device.as_dispatch().clone().inner() {
        #[cfg(feature = "flex")]
        DispatchDevice::Flex(_) => true,
        #[cfg(feature = "ndarray")]
        DispatchDevice::NdArray(_) => true,
        _ => false,
    }
}

/// The forward loop in tensor operations (any backend).
fn simulate(
    dynamics: &FusedDynamics,
    projected: Tensor<3>,
    wr: Tensor<2>,
    beta: &Option<(f64, Tensor<2>)>,
) -> Simulation {
    let [_, batch, n] = projected.dims();
    let device = projected.device();
    let thr0 = dynamics.threshold;
    let mut v = Tensor::<2>::zeros([batch, n], &device);
    let mut z = Tensor::<2>::zeros([batch, n], &device);
    let mut a = Tensor::<2>::zeros([batch, n], &device);
    let (mut zs, mut vs, mut xs, mut thresholds) = (vec![], vec![], vec![], vec![]);
    for p_t in projected.iter_dim(0) {
        let mut i_t: Tensor<2> = p_t.squeeze_dim(0);
        i_t = i_t + z.clone().matmul(wr.clone());
        let threshold = beta.as_ref().map(|(rho, beta)| {
            a = a.clone() * *rho + z.clone() * (1.0 - *rho);
            a.clone() * beta.clone() + thr0
        });
        let leak = v * dynamics.alpha;
        let input_term = if dynamics.gain == 1.0 {
            i_t
        } else {
            i_t * dynamics.gain
        };
        v = match (&threshold, dynamics.adaptive_reset) {
            (Some(thr), true) => leak + input_term - z.clone() * thr.clone(),
            _ => leak + input_term - z.clone() * thr0,
        };
        let x_t = match &threshold {
            Some(thr) if dynamics.normalise_by_adaptive_threshold => {
                (v.clone() - thr.clone()) / thr.clone()
            }
            Some(thr) => (v.clone() - thr.clone()) / thr0,
            None => v.clone() / thr0 - 1.0,
        };
        z = x_t.clone().greater_elem(0.0).float();
        zs.push(z.clone());
        vs.push(v.clone());
        xs.push(x_t);
        if let Some(thr) = threshold {
            thresholds.push(thr);
        }
    }
    Simulation {
        spikes: Tensor::stack::<3>(zs, 0),
        membrane: Tensor::stack::<3>(vs, 0),
        normalised: Tensor::stack::<3>(xs, 0),
        thresholds: (!thresholds.is_empty()).then(|| Tensor::stack::<3>(thresholds, 0)),
        last_membrane: v,
        last_adaptation: a,
    }
}
