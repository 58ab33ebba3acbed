//! DEEP R as an [`OptimizerStep`] of the BPTT trainer.

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::{Gradients, TensorData};
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::checkpoint::{read_json, write_json};
use crate::deep_r::{DeepR, RewiredMatrix, clip_by_global_norm};
use crate::error::{Result, TrainError};
use crate::trainer::OptimizerStep;

/// A model some of whose weight matrices DEEP R rewires.
///
/// DEEP R owns those weights (as sign · θ in host memory): the model's
/// tensors are overwritten from it before each forward pass. Dense
/// parameters (biases) are trained by plain Adam next to them.
pub trait RewiredModel: Module {
    /// The rewired weight matrices, in the order of [`DeepRStep`]'s
    /// matrices.
    fn rewired_weights(&self) -> Vec<&Param<Tensor<2>>>;
    /// The dense parameters trained beside them.
    fn dense_params(&self) -> Vec<&Param<Tensor<1>>>;
    /// Replaces the weights: `rewired[i]` and `dense[i]` in the orders above.
    fn set_weights(self, rewired: Vec<Tensor<2>>, dense: Vec<Tensor<1>>) -> Self;
}

/// The state of a [`DeepRStep`], as saved in checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DeepRState {
    matrices: Vec<RewiredMatrix>,
    optimizer: DeepR,
    dense: Vec<Vec<f32>>,
}

/// DEEP R on a [`RewiredModel`]: global gradient-norm clipping over all
/// rewired and dense gradients, one [`DeepR::step`], Adam on the dense
/// parameters. Reports `grad_norm` (before clipping) and `rewired`.
pub struct DeepRStep {
    state: DeepRState,
    max_grad_norm: Option<f64>,
}

const STATE_FILE: &str = "deep_r.json";

impl DeepRStep {
    /// DEEP R over `matrices` (their active connections now are the budget
    /// it keeps) and the dense parameters' initial values `dense`.
    pub fn new(
        optimizer: DeepR,
        matrices: Vec<RewiredMatrix>,
        dense: Vec<Vec<f32>>,
        max_grad_norm: Option<f64>,
    ) -> Result<Self> {
        if let Some(c) = max_grad_norm
            && !(c > 0.0 && c.is_finite())
        {
            return Err(TrainError::invalid(
                "max_grad_norm",
                c,
                "a finite norm > 0, or null for no clipping",
            ));
        }
        Ok(Self {
            state: DeepRState {
                matrices,
                optimizer,
                dense,
            },
            max_grad_norm,
        })
    }

    /// The rewired matrices.
    pub fn matrices(&self) -> &[RewiredMatrix] {
        &self.state.matrices
    }

    /// The DEEP R optimizer (budget, moments).
    pub fn optimizer(&self) -> &DeepR {
        &self.state.optimizer
    }

    fn write_into<M: RewiredModel>(&self, model: M) -> Result<M> {
        let device = model
            .rewired_weights()
            .first()
            .map(|p| p.val().device())
            .ok_or_else(|| TrainError::mismatch("DEEP R model", "it has no rewired weights"))?;
        let shapes: Vec<[usize; 2]> = model.rewired_weights().iter().map(|p| p.dims()).collect();
        let lengths: Vec<usize> = model.dense_params().iter().map(|p| p.dims()[0]).collect();
        let s = &self.state;
        if shapes.len() != s.matrices.len()
            || shapes.iter().zip(&s.matrices).any(|(a, m)| *a != m.shape)
            || lengths.len() != s.dense.len()
            || lengths.iter().zip(&s.dense).any(|(a, d)| *a != d.len())
        {
            return Err(TrainError::mismatch(
                "DEEP R model",
                format!(
                    "the model has matrices {shapes:?} and dense parameters {lengths:?}, DEEP R holds {:?} and {:?}",
                    s.matrices.iter().map(|m| m.shape).collect::<Vec<_>>(),
                    s.dense.iter().map(Vec::len).collect::<Vec<_>>()
                ),
            ));
        }
        let rewired = s
            .matrices
            .iter()
            .map(|m| Tensor::from_data(TensorData::new(m.weights(), m.shape), &device))
            .collect();
        let dense = s
            .dense
            .iter()
            .map(|d| Tensor::from_data(TensorData::new(d.clone(), [d.len()]), &device))
            .collect();
        Ok(model.set_weights(rewired, dense))
    }
}

fn host<const D: usize>(p: &Param<Tensor<D>>, grads: &Gradients, what: &str) -> Result<Vec<f32>> {
    p.val()
        .grad(grads)
        .ok_or_else(|| TrainError::mismatch("DEEP R step", format!("no gradient for the {what}")))?
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::mismatch("DEEP R step", format!("{what}: {e:?}")))
}

impl<M: RewiredModel> OptimizerStep<M> for DeepRStep {
    fn attach(&mut self, model: M) -> Result<M> {
        self.write_into(model)
    }

    fn step(
        &mut self,
        model: M,
        grads: Gradients,
        lr: f64,
        iteration: usize,
    ) -> Result<(M, Vec<(String, f64)>)> {
        let mut g = model
            .rewired_weights()
            .iter()
            .enumerate()
            .map(|(i, p)| host(p, &grads, &format!("rewired matrix {i}")))
            .collect::<Result<Vec<_>>>()?;
        let n_rewired = g.len();
        for (i, p) in model.dense_params().iter().enumerate() {
            g.push(host(p, &grads, &format!("dense parameter {i}"))?);
        }
        let norm = clip_by_global_norm(&mut g, self.max_grad_norm.unwrap_or(f64::INFINITY));
        if !norm.is_finite() {
            return Err(TrainError::Diverged {
                iteration,
                what: "gradient norm".into(),
                value: norm,
            });
        }
        let dense_grads = g.split_off(n_rewired);
        let s = &mut self.state;
        let rewired = s.optimizer.step(&mut s.matrices, &g, lr)?;
        for (slot, (param, grad)) in s.dense.iter_mut().zip(&dense_grads).enumerate() {
            s.optimizer.step_dense(slot, param, grad, lr)?;
        }
        let model = self.write_into(model)?;
        Ok((
            model,
            vec![
                ("grad_norm".into(), norm),
                ("rewired".into(), rewired as f64),
            ],
        ))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE_FILE), &self.state)
    }

    fn load(&mut self, dir: &Path) -> Result<()> {
        self.state = read_json(&dir.join(STATE_FILE))?;
        Ok(())
    }
}
