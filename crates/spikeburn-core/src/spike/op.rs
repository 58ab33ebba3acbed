//! The spike function as a custom autodiff operation of Burn.
//!
//! Forward: `z = H(x)` (1 where `x > 0`, else 0). Backward: `∂L/∂x = ψ ⊙ ∂L/∂z`,
//! with `ψ = ψ(x)` the surrogate derivative. The autodiff graph holds exactly
//! one node per call: the surrogate values are computed off the graph during
//! the forward pass (only when `x` is tracked) and kept as the node's state,
//! which is also all the backward needs.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind, unary},
};
use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::prelude::*;

use super::surrogate::SurrogateGradient;

/// Backend extension holding the Heaviside-with-surrogate operation.
///
/// Concrete backends run the default body (Heaviside); `Autodiff<B>` records
/// one node whose backward multiplies the incoming gradient by the
/// precomputed surrogate derivative.
#[backend_extension(
    Autodiff,
    NdArray: cfg(feature = "ndarray"),
    Flex: cfg(feature = "flex"),
    Cube: cfg(feature = "wgpu"),
)]
pub trait SpikeOps: Backend {
    /// `H(x)`; `surrogate_derivative` (same shape as `x`) is the backward's
    /// local derivative and is ignored by the forward computation.
    fn heaviside_with_surrogate(
        x: FloatTensor<Self>,
        surrogate_derivative: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let _ = surrogate_derivative;
        // sign(x) ∈ {-1, 0, 1}; clamping at 0 gives the strict Heaviside.
        Self::float_clamp_min(Self::float_sign(x), 0.0.into())
    }
}

#[cfg(feature = "ndarray")]
impl SpikeOps for burn::backend::NdArray {}
#[cfg(feature = "flex")]
impl SpikeOps for burn::backend::Flex {}
#[cfg(feature = "wgpu")]
impl SpikeOps for burn::backend::Cube {}

impl<B: SpikeOps, C: CheckpointStrategy> SpikeOps for Autodiff<B, C> {
    fn heaviside_with_surrogate(
        x: FloatTensor<Self>,
        surrogate_derivative: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct SpikeBackward;

        impl<B: Backend> Backward<B, 1> for SpikeBackward {
            type State = FloatTensor<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let psi = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::float_mul(grad, psi));
            }
        }

        let psi = surrogate_derivative.into_primitive();
        let (x, guard) = x.into_parts();
        match SpikeBackward
            .prepare::<C>([guard])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::heaviside_with_surrogate(x, psi.clone());
                prep.finish(psi, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::heaviside_with_surrogate(x, psi)),
        }
    }
}

/// Emits spikes `z = H(x)` with the surrogate derivative `ψ(x)` in the backward pass.
///
/// `x` is the threshold-normalised membrane potential (positive means above
/// threshold). On a tensor without autodiff, or one that is not tracked, only
/// the Heaviside is computed.
///
/// ```
/// use spikeburn_core::burn::prelude::*;
/// use spikeburn_core::spike::{spike, Surrogate};
///
/// let device = Device::default().autodiff();
/// let x = Tensor::<1>::from_floats([-0.5, 0.0, 0.25], &device).require_grad();
/// let z = spike(x.clone(), &Surrogate::default());
/// assert_eq!(z.to_data().try_to_vec::<f32>().unwrap(), vec![0.0, 0.0, 1.0]);
/// let grad = x.grad(&z.sum().backward()).unwrap();
/// // 0.3 * max(0, 1 - |x|)
/// let expected = [0.15f32, 0.3, 0.225];
/// for (g, e) in grad.to_data().try_to_vec::<f32>().unwrap().iter().zip(expected) {
///     assert!((g - e).abs() < 1e-6);
/// }
/// ```
pub fn spike<const D: usize>(x: Tensor<D>, surrogate: &impl SurrogateGradient) -> Tensor<D> {
    if !x.is_tracked() {
        return x.greater_elem(0.0).float();
    }
    let shape = x.shape();
    let n = shape.num_elements();
    let psi: Tensor<D> = surrogate
        .derivative(x.clone().detach().reshape([n]))
        .reshape(shape);
    Tensor::from_dispatch(<Dispatch as SpikeOps>::heaviside_with_surrogate(
        x.into_dispatch(),
        psi.into_dispatch(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spike::Surrogate;

    fn points(device: &Device) -> (Vec<f32>, Tensor<1>) {
        let xs: Vec<f32> = (0..=600).map(|i| -3.0 + i as f32 * 0.01).collect();
        let t = Tensor::<1>::from_floats(xs.as_slice(), device);
        (xs, t)
    }

    #[test]
    fn forward_is_strict_heaviside() {
        let device = Device::default().autodiff();
        let x = Tensor::<1>::from_floats([-1.0, -1e-6, 0.0, 1e-6, 2.0], &device).require_grad();
        let z = spike(x, &Surrogate::default());
        assert_eq!(
            z.to_data().try_to_vec::<f32>().unwrap(),
            vec![0.0, 0.0, 0.0, 1.0, 1.0]
        );
        // Untracked input takes the plain path and agrees.
        let plain = spike(
            Tensor::<1>::from_floats([-1.0, 0.0, 2.0], &Device::default()),
            &Surrogate::default(),
        );
        assert_eq!(
            plain.to_data().try_to_vec::<f32>().unwrap(),
            vec![0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn backward_equals_each_surrogate_formula() {
        let device = Device::default().autodiff();
        for surrogate in Surrogate::catalogue() {
            let (xs, x) = points(&device);
            let x = x.require_grad();
            // A non-uniform upstream gradient checks the chain rule, not just ψ.
            let weights: Vec<f32> = (0..xs.len()).map(|i| 1.0 + (i % 7) as f32).collect();
            let w = Tensor::<1>::from_floats(weights.as_slice(), &device);
            let loss = (spike(x.clone(), &surrogate) * w).sum();
            let grad = x.grad(&loss.backward()).unwrap();
            let grad = grad.to_data().try_to_vec::<f32>().unwrap();
            for ((x, g), w) in xs.iter().zip(&grad).zip(&weights) {
                let expected = surrogate.derivative_at(*x as f64) * *w as f64;
                assert!(
                    (*g as f64 - expected).abs() <= 1e-5 * (1.0 + expected.abs()),
                    "{}: at x = {x}, got {g}, expected {expected}",
                    surrogate.name()
                );
            }
        }
    }

    #[test]
    fn custom_surrogate_plugs_in() {
        #[derive(Debug)]
        struct Quadratic;
        impl SurrogateGradient for Quadratic {
            fn derivative(&self, x: Tensor<1>) -> Tensor<1> {
                (x.powi_scalar(2).neg() + 1.0).clamp_min(0.0)
            }
            fn derivative_at(&self, x: f64) -> f64 {
                (1.0 - x * x).max(0.0)
            }
        }
        let device = Device::default().autodiff();
        let s = Surrogate::custom(Quadratic);
        let x = Tensor::<2>::from_floats([[0.5, -2.0]], &device).require_grad();
        let g = x.grad(&spike(x.clone(), &s).sum().backward()).unwrap();
        assert_eq!(g.to_data().try_to_vec::<f32>().unwrap(), vec![0.75, 0.0]);
    }
}
