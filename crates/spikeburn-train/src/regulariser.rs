//! The firing-rate regulariser of the LSNN code.

use burn::prelude::*;

/// `Σ_j (r_j − f0)²` with `r_j = mean_{t,b} z_{t,b,j}`, the firing rate of
/// neuron `j` in spikes per step, and `f0 = f0_hz · dt_ms / 1000` (LSNN:
/// `f0` = 10 Hz, weighted by `reg` = 0.1 for sMNIST and 0.01 for store-recall).
/// `spikes` is `[T, batch, neurons]`.
pub fn firing_rate_regulariser(spikes: Tensor<3>, f0_hz: f64, dt_ms: f64) -> Tensor<1> {
    let [steps, batch, n] = spikes.dims();
    let rate = spikes.sum_dim(0).sum_dim(1).reshape([n]) / (steps * batch) as f64;
    (rate - f0_hz * dt_ms / 1000.0).powi_scalar(2).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalises_distance_from_the_target_rate() {
        let device = Device::default();
        // Neuron 0 fires every other step (500 Hz at 1 ms), neuron 1 never.
        let z = Tensor::<3>::from_floats([[[1.0, 0.0]], [[0.0, 0.0]]], &device);
        let r: f32 = firing_rate_regulariser(z, 10.0, 1.0).into_scalar();
        let expected = (0.5f64 - 0.01).powi(2) + 0.01f64.powi(2);
        assert!((r as f64 - expected).abs() < 1e-6, "{r} vs {expected}");
    }
}
