//! The fused host kernels give bit-identical results on any number of
//! threads. One test in its own binary: it changes the process-wide pool.

use burn::module::Param;
use burn::prelude::*;
use spikeburn_core::layer::{Record, RecurrentSpikingConfig, SequencePath};
use spikeburn_core::neuron::{AlifConfig, InputScaling};
use spikeburn_core::spike::Surrogate;
use spikeburn_core::{num_threads, set_num_threads};

/// SplitMix64 uniforms in [0, 1).
fn uniforms(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64) as f32
        })
        .collect()
}

#[test]
fn fused_forward_and_backward_are_bit_identical_on_one_and_two_threads() {
    let device = Device::default().autodiff();
    if !spikeburn_core::layer::is_host_device(&device) {
        eprintln!("not a CPU backend: the host kernels do not run");
        return;
    }
    // Batch 40: three tasks of 13–14 rows, so two threads really share work.
    let (n_in, n, steps, batch) = (7, 24, 40, 40);
    let neuron = AlifConfig::new()
        .with_beta(1.2)
        .with_tau_adapt(30.0)
        .with_n_lif(8)
        .with_input_scaling(InputScaling::Direct)
        .with_detach_reset(false)
        .with_surrogate(Surrogate::default())
        .init(n, &device)
        .unwrap();
    let mut layer = RecurrentSpikingConfig::new(n_in, n)
        .init(neuron, &device)
        .unwrap();
    let tensor = |v: Vec<f32>, shape: [usize; 2]| {
        Tensor::<1>::from_floats(v.as_slice(), &device).reshape(shape)
    };
    let w_in: Vec<f32> = uniforms(1, n_in * n)
        .iter()
        .map(|u| 1.6 * u - 0.5)
        .collect();
    let w_rec: Vec<f32> = uniforms(2, n * n).iter().map(|u| 0.6 * u - 0.3).collect();
    layer.input_weights = Param::from_tensor(tensor(w_in, [n_in, n]));
    layer.recurrent_weights = Param::from_tensor(tensor(w_rec, [n, n]));
    let x: Vec<f32> = uniforms(3, steps * batch * n_in)
        .iter()
        .map(|u| (*u < 0.3) as u8 as f32)
        .collect();
    let x = Tensor::<1>::from_floats(x.as_slice(), &device).reshape([steps, batch, n_in]);
    let d: Vec<f32> = uniforms(4, steps * batch * n)
        .iter()
        .map(|u| u - 0.5)
        .collect();
    let d = Tensor::<1>::from_floats(d.as_slice(), &device).reshape([steps, batch, n]);

    let mut runs = vec![];
    for threads in [1, 2, 1] {
        set_num_threads(threads).unwrap();
        assert_eq!(num_threads(), threads);
        let x = x.clone().require_grad();
        let trace = layer.forward_sequence(x.clone(), Record::spikes());
        assert_eq!(trace.path, SequencePath::FusedHost);
        let spikes = trace.spikes;
        let loss = (spikeburn_core::exponential_filter(spikes.clone(), 0.9) * d.clone()).sum()
            + (spikes.clone() * d.clone()).powi_scalar(2).sum();
        let grads = loss.backward();
        let bits = |t: Tensor<2>| -> Vec<u32> {
            t.to_data()
                .try_to_vec::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        let spikes: Vec<f32> = spikes.to_data().try_to_vec().unwrap();
        let g_x: Vec<u32> = x
            .grad(&grads)
            .unwrap()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        runs.push((
            spikes,
            bits(layer.input_weights.val().grad(&grads).unwrap()),
            bits(layer.recurrent_weights.val().grad(&grads).unwrap()),
            g_x,
        ));
    }
    assert!(runs[0].0.iter().sum::<f32>() > 50.0, "too few spikes");
    assert!(runs[0].2.iter().any(|b| f32::from_bits(*b) != 0.0));
    for (threads, run) in [(2, &runs[1]), (1, &runs[2])] {
        assert!(run.0 == runs[0].0, "{threads} threads: spikes differ");
        assert!(run.1 == runs[0].1, "{threads} threads: ∂L/∂W_in differs");
        assert!(run.2 == runs[0].2, "{threads} threads: ∂L/∂W_rec differs");
        assert!(run.3 == runs[0].3, "{threads} threads: ∂L/∂x differs");
    }
    assert!(set_num_threads(0).is_err());
}
