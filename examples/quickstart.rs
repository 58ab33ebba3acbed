//! The README's example as a runnable program: `cargo run --release --example quickstart`.
//!
//! A recurrent layer of 50 LIF + 50 ALIF neurons and a leaky readout, trained
//! a few BPTT steps with Adam to push both outputs towards 1.

use spikeburn::burn::{
    module::Module,
    optim::{AdamConfig, GradientsParams},
    prelude::*,
    tensor::Distribution,
};
use spikeburn::layer::{
    LeakyReadout, LeakyReadoutConfig, Record, RecurrentSpiking, RecurrentSpikingConfig,
};
use spikeburn::neuron::{Alif, AlifConfig};

#[derive(Module, Debug)]
struct Net {
    lsnn: RecurrentSpiking<Alif>,
    readout: LeakyReadout,
}

fn main() -> Result<(), spikeburn::SpikeburnError> {
    let device = Device::default().autodiff();
    device.seed(0);
    let alif = AlifConfig::new().with_n_lif(50).init(100, &device)?;
    let mut net = Net {
        lsnn: RecurrentSpikingConfig::new(20, 100).init(alif, &device)?,
        readout: LeakyReadoutConfig::new(100, 2).init(&device)?,
    };
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<3>::random([50, 8, 20], Distribution::Bernoulli(0.1), &device);
    let target = Tensor::<2>::ones([8, 2], &device);
    for step in 0..20 {
        let trace = net.lsnn.forward_sequence(x.clone(), Record::spikes());
        let rate: f32 = trace.spikes.clone().mean().into_scalar();
        let y = net
            .readout
            .forward_sequence(trace.spikes)
            .mean_dim(0)
            .squeeze_dim(0);
        let loss = (y - target.clone()).powi_scalar(2).mean();
        println!(
            "step {step:2}: loss {:.4}, spike rate {:.1} Hz",
            loss.clone().into_scalar::<f32>(),
            rate * 1000.0
        );
        net = optim.step(
            1e-2,
            net.clone(),
            GradientsParams::from_grads(loss.backward(), &net),
        );
    }
    Ok(())
}
