//! The LSNN of Bellec et al. 2018: a recurrent layer of LIF and ALIF neurons
//! read out by leaky output units.
//!
//! ```text
//! z_t = RecurrentSpiking<Alif>(x_t)       spikes [T, batch, n]
//! y_t = κ y_{t−1} + g · W_out z_t + b     outputs [T, batch, n_output]
//! ```
//!
//! The readout's gain `g` is `1 − κ` (leaky, the LSNN code's `psp` readout)
//! or 1 (direct): see [`LeakyReadoutConfig`].

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;

use crate::error::SpikeburnError;
use crate::layer::{
    LeakyReadout, LeakyReadoutConfig, Record, RecurrentSpiking, RecurrentSpikingConfig,
};
use crate::neuron::{Alif, AlifConfig};

/// Builds an [`Lsnn`]: the neurons (`neuron.n_lif` of the `layer.n_neurons`
/// are LIF, the rest ALIF), the recurrent layer and the readout.
#[derive(Config, Debug)]
pub struct LsnnConfig {
    /// The LIF/ALIF neurons.
    pub neuron: AlifConfig,
    /// Input and recurrent connectivity, gains, delays.
    pub layer: RecurrentSpikingConfig,
    /// The leaky readout (`n_input` must equal `layer.n_neurons`).
    pub readout: LeakyReadoutConfig,
}

impl LsnnConfig {
    /// A network of `n_input` inputs, `n_lif` LIF + `n_alif` ALIF neurons
    /// with `neuron`'s dynamics, and `n_output` leaky readout units with
    /// default settings (refine with the `with_*` methods or the fields).
    pub fn with_sizes(
        n_input: usize,
        n_lif: usize,
        n_alif: usize,
        n_output: usize,
        neuron: AlifConfig,
    ) -> Self {
        let n = n_lif + n_alif;
        Self::new(
            neuron.with_n_lif(n_lif),
            RecurrentSpikingConfig::new(n_input, n),
            LeakyReadoutConfig::new(n, n_output),
        )
    }

    /// Checks the sizes agree and builds the network.
    pub fn init(&self, device: &Device) -> crate::Result<Lsnn> {
        let n = self.layer.n_neurons;
        if self.readout.n_input != n {
            return Err(SpikeburnError::ShapeMismatch {
                what: "readout input of the LSNN (must equal its neuron count)",
                expected: vec![n],
                got: vec![self.readout.n_input],
            });
        }
        let neuron = self.neuron.init(n, device)?;
        Ok(Lsnn {
            recurrent: self.layer.init(neuron, device)?,
            readout: self.readout.init(device)?,
        })
    }
}

/// What an [`Lsnn`] produces over a sequence.
#[derive(Debug, Clone)]
pub struct LsnnOutput {
    /// Readout `[T, batch, n_output]`.
    pub output: Tensor<3>,
    /// Spikes of the recurrent layer `[T, batch, n]`.
    pub spikes: Tensor<3>,
}

/// A recurrent LIF/ALIF layer and its leaky readout, as one Burn module.
#[derive(Module, Debug)]
pub struct Lsnn {
    /// The recurrent spiking layer.
    pub recurrent: RecurrentSpiking<Alif>,
    /// The leaky readout of its spikes.
    pub readout: LeakyReadout,
}

impl Lsnn {
    /// Runs `input` `[T, batch, n_input]` through the network; checks the
    /// input's shape.
    pub fn try_forward(&self, input: Tensor<3>) -> crate::Result<LsnnOutput> {
        let spikes = self
            .recurrent
            .try_forward_sequence(input, None, Record::spikes())?
            .spikes;
        let output = self.readout.try_forward_sequence(spikes.clone())?;
        Ok(LsnnOutput { output, spikes })
    }

    /// [`try_forward`](Self::try_forward), panicking with the error's
    /// message on a bad input shape.
    pub fn forward(&self, input: Tensor<3>) -> LsnnOutput {
        self.try_forward(input).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Number of recurrent neurons.
    pub fn neurons(&self) -> usize {
        self.recurrent.recurrent_weights.dims()[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_the_readout_of_the_layer_spikes() {
        let device = Device::default();
        let net = LsnnConfig::with_sizes(3, 2, 2, 2, AlifConfig::new())
            .init(&device)
            .unwrap();
        assert_eq!(net.neurons(), 4);
        let x = Tensor::<3>::ones([5, 1, 3], &device);
        let out = net.forward(x.clone());
        assert_eq!(out.output.dims(), [5, 1, 2]);
        let spikes = net.recurrent.forward_sequence(x, Record::spikes()).spikes;
        let expected = net.readout.forward_sequence(spikes);
        let d = (out.output - expected).abs().max().into_scalar::<f32>();
        assert_eq!(d, 0.0);
        let bad = LsnnConfig::new(
            AlifConfig::new(),
            RecurrentSpikingConfig::new(3, 4),
            LeakyReadoutConfig::new(5, 2),
        );
        assert!(bad.init(&device).is_err());
        assert!(net.try_forward(Tensor::ones([5, 1, 4], &device)).is_err());
    }
}
