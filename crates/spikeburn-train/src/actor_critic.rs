//! Advantage actor-critic (A2C) with generalised advantage estimation, the
//! outer loop of meta-reinforcement learning: a policy and a value readout
//! on one recurrent network, trained by BPTT through whole episodes.
//!
//! For an episode of `T` moves with rewards `r_t`, value estimates `V_t`
//! (`V_T = 0`: the episode ends) and actions `a_t` drawn from
//! `π_t = softmax(logits_t)`:
//!
//! ```text
//! δ_t = r_t + γ V_{t+1} − V_t
//! A_t = Σ_k (γλ)^k δ_{t+k}                 (GAE, computed backwards)
//! R_t = A_t + V_t                           (the value target)
//! L   = mean_t,b [ −A_t log π_t(a_t) + c_v (V_t − R_t)² / 2 − c_H H(π_t) ]
//! ```
//!
//! `A_t` and `R_t` are constants of the loss (computed from detached
//! values), so the policy term is the policy gradient and the value term a
//! regression onto the bootstrapped returns.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;

use crate::error::{Result, TrainError};

/// The loss's constants.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct A2cConfig {
    /// Discount γ.
    pub gamma: f64,
    /// GAE λ.
    pub lambda: f64,
    /// Weight `c_v` of the value loss.
    pub value_weight: f64,
    /// Weight `c_H` of the entropy bonus.
    pub entropy_weight: f64,
}

impl Default for A2cConfig {
    fn default() -> Self {
        Self {
            gamma: 0.95,
            lambda: 0.95,
            value_weight: 0.5,
            entropy_weight: 0.01,
        }
    }
}

impl A2cConfig {
    /// Refuses γ or λ outside [0, 1] and negative weights.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("gamma", self.gamma), ("lambda", self.lambda)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(TrainError::invalid(name, v, "a value in [0, 1]"));
            }
        }
        for (name, v) in [
            ("value_weight", self.value_weight),
            ("entropy_weight", self.entropy_weight),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(TrainError::invalid(name, v, "a weight >= 0"));
            }
        }
        Ok(())
    }
}

/// GAE advantages and value targets `(A, R)`, both `[T][B]` row-major,
/// from rewards and values `[T][B]` (the value after the last move is 0).
pub fn advantages(
    rewards: &[f32],
    values: &[f32],
    batch: usize,
    cfg: &A2cConfig,
) -> (Vec<f32>, Vec<f32>) {
    let steps = rewards.len() / batch.max(1);
    let (g, l) = (cfg.gamma as f32, cfg.lambda as f32);
    let mut adv = vec![0f32; rewards.len()];
    for b in 0..batch {
        let mut running = 0f32;
        for t in (0..steps).rev() {
            let next = if t + 1 < steps {
                values[(t + 1) * batch + b]
            } else {
                0.0
            };
            let delta = rewards[t * batch + b] + g * next - values[t * batch + b];
            running = delta + g * l * running;
            adv[t * batch + b] = running;
        }
    }
    let returns = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, returns)
}

/// The A2C loss of an episode batch: `logits` `[T, B, actions]`, `values`
/// `[T, B]`, the actions taken `[T][B]` and the rewards `[T][B]`. Returns
/// the loss and its parts (`policy_loss`, `value_loss`, `entropy`).
pub fn a2c_loss(
    logits: Tensor<3>,
    values: Tensor<2>,
    actions: &[usize],
    rewards: &[f32],
    cfg: &A2cConfig,
) -> Result<(Tensor<1>, Vec<(String, f64)>)> {
    cfg.validate()?;
    let [steps, batch, n_actions] = logits.dims();
    if values.dims() != [steps, batch]
        || actions.len() != steps * batch
        || rewards.len() != steps * batch
    {
        return Err(TrainError::mismatch(
            "A2C episode",
            format!(
                "logits {:?}, values {:?}, {} actions, {} rewards: expected [T, B, A], [T, B] and T·B each",
                logits.dims(),
                values.dims(),
                actions.len(),
                rewards.len()
            ),
        ));
    }
    if let Some(&a) = actions.iter().find(|&&a| a >= n_actions) {
        return Err(TrainError::invalid(
            "action",
            a,
            format!("below {n_actions}"),
        ));
    }
    let device = logits.device();
    let host_values: Vec<f32> = values
        .clone()
        .detach()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::mismatch("values", format!("{e:?}")))?;
    let (adv, ret) = advantages(rewards, &host_values, batch, cfg);
    let adv = Tensor::<2>::from_data(TensorData::new(adv, [steps, batch]), &device);
    let ret = Tensor::<2>::from_data(TensorData::new(ret, [steps, batch]), &device);
    let log_p = log_softmax(logits, 2);
    let taken = Tensor::<3, Int>::from_data(
        TensorData::new(
            actions.iter().map(|&a| a as i64).collect::<Vec<i64>>(),
            [steps, batch, 1],
        ),
        &device,
    );
    let log_taken = log_p.clone().gather(2, taken).reshape([steps, batch]);
    let policy = -(log_taken * adv).mean();
    let value = (values - ret).powi_scalar(2).mean() * 0.5;
    let entropy = -(log_p.clone().exp() * log_p).sum_dim(2).mean();
    let loss =
        policy.clone() + value.clone() * cfg.value_weight - entropy.clone() * cfg.entropy_weight;
    let scalar = |t: Tensor<1>| t.into_scalar::<f32>() as f64;
    let parts = vec![
        ("policy_loss".to_string(), scalar(policy.detach())),
        ("value_loss".to_string(), scalar(value.detach())),
        ("entropy".to_string(), scalar(entropy.detach())),
    ];
    Ok((loss, parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gae_matches_a_hand_computation() {
        // One episode, three moves; γ = 0.5, λ = 0.5.
        let cfg = A2cConfig {
            gamma: 0.5,
            lambda: 0.5,
            ..A2cConfig::default()
        };
        let (adv, ret) = advantages(&[0.0, 0.0, 1.0], &[0.1, 0.2, 0.4], 1, &cfg);
        let d2 = 1.0 - 0.4;
        let d1 = 0.0 + 0.5 * 0.4 - 0.2;
        let d0 = 0.0 + 0.5 * 0.2 - 0.1;
        let a2 = d2;
        let a1 = d1 + 0.25 * a2;
        let a0 = d0 + 0.25 * a1;
        for (got, want) in adv.iter().zip([a0, a1, a2]) {
            assert!((got - want as f32).abs() < 1e-6, "{adv:?}");
        }
        assert!((ret[2] - 1.0).abs() < 1e-6);
        // λ = 1, values 0: the advantage is the discounted return.
        let cfg = A2cConfig {
            gamma: 0.9,
            lambda: 1.0,
            ..A2cConfig::default()
        };
        let (adv, _) = advantages(&[0.0, 0.0, 1.0, 0.0, 0.0, 0.0], &[0.0; 6], 2, &cfg);
        assert!(
            (adv[0] - 0.9).abs() < 1e-6 && (adv[1]).abs() < 1e-6,
            "{adv:?}"
        );
    }

    #[test]
    fn the_policy_gradient_raises_a_rewarded_action() {
        let device = Device::default().autodiff();
        let logits = Tensor::<3>::zeros([2, 1, 3], &device).require_grad();
        let values = Tensor::<2>::zeros([2, 1], &device).require_grad();
        // Action 2 at the last move earns a reward.
        let cfg = A2cConfig::default();
        let (loss, parts) =
            a2c_loss(logits.clone(), values.clone(), &[0, 2], &[0.0, 1.0], &cfg).unwrap();
        let grads = loss.backward();
        let g: Vec<f32> = logits
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        // Descending the loss raises logit 2 at move 1 (negative gradient)
        // and lowers the others there.
        assert!(g[5] < 0.0 && g[3] > 0.0 && g[4] > 0.0, "{g:?}");
        let gv: Vec<f32> = values
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        assert!(gv[1] < 0.0, "the value of the rewarded move rises: {gv:?}");
        assert!(
            parts
                .iter()
                .any(|(k, v)| k == "entropy" && (*v - 3f64.ln()).abs() < 1e-5)
        );
        assert!(a2c_loss(logits, values, &[0, 3], &[0.0, 1.0], &cfg).is_err());
    }
}
