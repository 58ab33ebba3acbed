//! Exponential (first-order low-pass) filtering along time, as one autodiff node.
//!
//! `y_t = d · y_{t−1} + x_t` for `t = 0 … T−1` with `y_{−1} = 0`, over the
//! first axis of a `[T, ...]` tensor. It is linear, so its backward is the same
//! filter run backwards in time: `∂L/∂x_t = ∂L/∂y_t + d · ∂L/∂x_{t+1}`.
//!
//! Readouts (`psp` traces of LSNN), synaptic traces and firing-rate estimates
//! are all this filter. Writing it as one operation keeps the autodiff graph at
//! one node instead of `O(T)` slices, whose backward would cost `O(T²)`.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind, unary},
};
use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::prelude::*;
use burn::tensor::Slice;

/// Backend extension holding the exponential filter along axis 0.
#[backend_extension(
    Autodiff,
    NdArray: cfg(feature = "ndarray"),
    Flex: cfg(feature = "flex"),
    Cube: cfg(feature = "wgpu"),
)]
pub trait FilterOps: Backend {
    /// `y_t = decay · y_{t−1} + x_t` along axis 0.
    fn exponential_filter(x: FloatTensor<Self>, decay: f64) -> FloatTensor<Self> {
        let steps = x.shape()[0];
        let mut outputs = Vec::with_capacity(steps);
        let mut y: Option<FloatTensor<Self>> = None;
        for t in 0..steps {
            let t = t as isize;
            let x_t = Self::float_slice(x.clone(), &[Slice::new(t, Some(t + 1), 1)]);
            let y_t = match y {
                None => x_t,
                Some(prev) => Self::float_add(Self::float_mul_scalar(prev, decay.into()), x_t),
            };
            outputs.push(y_t.clone());
            y = Some(y_t);
        }
        Self::float_cat(outputs, 0)
    }
}

#[cfg(feature = "ndarray")]
impl FilterOps for burn::backend::NdArray {}
#[cfg(feature = "flex")]
impl FilterOps for burn::backend::Flex {}
#[cfg(feature = "wgpu")]
impl FilterOps for burn::backend::Cube {}

impl<B: FilterOps, C: CheckpointStrategy> FilterOps for Autodiff<B, C> {
    fn exponential_filter(x: FloatTensor<Self>, decay: f64) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct FilterBackward;

        impl<B: FilterOps> Backward<B, 1> for FilterBackward {
            type State = f64;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let decay = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    let reversed = B::float_flip(grad, &[0]);
                    B::float_flip(B::exponential_filter(reversed, decay), &[0])
                });
            }
        }

        let (x, guard) = x.into_parts();
        match FilterBackward
            .prepare::<C>([guard])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(decay, B::exponential_filter(x, decay)),
            OpsKind::UnTracked(prep) => prep.finish(B::exponential_filter(x, decay)),
        }
    }
}

/// Filters `x` (`[T, ...]`) along its first axis: `y_t = decay · y_{t−1} + x_t`.
///
/// ```
/// use spikeburn_core::burn::prelude::*;
/// use spikeburn_core::exponential_filter;
///
/// let x = Tensor::<2>::from_floats([[1.0], [0.0], [2.0]], &Device::default());
/// let y = exponential_filter(x, 0.5);
/// assert_eq!(y.to_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.5, 2.25]);
/// ```
pub fn exponential_filter<const D: usize>(x: Tensor<D>, decay: f64) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as FilterOps>::exponential_filter(
        x.into_dispatch(),
        decay,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_is_the_reverse_filter() {
        // y_t = d y_{t-1} + x_t is linear: dL/dx_s = sum_{t >= s} d^(t-s) c_t for L = sum_t c_t y_t.
        let device = Device::default().autodiff();
        let decay = 0.8;
        let x =
            Tensor::<3>::from_floats([[[1.0]], [[-2.0]], [[0.5]], [[3.0]]], &device).require_grad();
        let c = [1.0f32, 2.0, -1.0, 0.5];
        let cw = Tensor::<3>::from_floats([[[c[0]]], [[c[1]]], [[c[2]]], [[c[3]]]], &device);
        let loss = (exponential_filter(x.clone(), decay) * cw).sum();
        let g = x
            .grad(&loss.backward())
            .unwrap()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (s, g_s) in g.iter().enumerate() {
            let expected: f64 = (s..4)
                .map(|t| decay.powi((t - s) as i32) * c[t] as f64)
                .sum();
            assert!(
                (*g_s as f64 - expected).abs() < 1e-5,
                "s={s}: {g_s} vs {expected}"
            );
        }
    }
}
