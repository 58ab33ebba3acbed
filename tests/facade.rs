//! The facade crate exposes the workspace under one name, and a model built
//! from it trains end to end: a recurrent LIF layer learns to emit a target
//! readout value, loss falling by BPTT through the custom spike op.

use spikeburn::burn::{
    module::Module,
    optim::{AdamConfig, GradientsParams},
    prelude::*,
    tensor::Distribution,
};
use spikeburn::layer::{
    LeakyReadout, LeakyReadoutConfig, Record, RecurrentSpiking, RecurrentSpikingConfig,
};
use spikeburn::neuron::{Lif, LifConfig};

#[derive(Module, Debug)]
struct Net {
    rec: RecurrentSpiking<Lif>,
    readout: LeakyReadout,
}

#[test]
fn recurrent_lif_network_reduces_its_loss() {
    let device = Device::default().autodiff();
    device.seed(1);
    let lif = LifConfig::new().init(32).unwrap();
    let mut net = Net {
        rec: RecurrentSpikingConfig::new(10, 32)
            .with_input_gain(3.0)
            .init(lif, &device)
            .unwrap(),
        readout: LeakyReadoutConfig::new(32, 1).init(&device).unwrap(),
    };
    let x = Tensor::<3>::random([40, 4, 10], Distribution::Bernoulli(0.2), &device);
    let target = Tensor::<2>::ones([4, 1], &device) * 0.5;
    let mut optim = AdamConfig::new().init();
    let mut losses = vec![];
    for _ in 0..30 {
        let spikes = net.rec.forward_sequence(x.clone(), Record::spikes()).spikes;
        let y = net
            .readout
            .forward_sequence(spikes)
            .mean_dim(0)
            .squeeze_dim(0);
        let loss = (y - target.clone()).powi_scalar(2).mean();
        losses.push(loss.clone().into_scalar::<f32>());
        net = optim.step(
            1e-2,
            net.clone(),
            GradientsParams::from_grads(loss.backward(), &net),
        );
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(last < 0.2 * first, "loss {first} -> {last}");
}
