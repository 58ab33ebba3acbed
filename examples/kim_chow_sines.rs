//! Kim & Chow 2018, Fig 1, with the library API: RLS on each theta neuron's
//! presynaptic weights makes its synaptic drive follow a sine.
//!
//! `cargo run --release --example kim_chow_sines` (a few seconds). The full
//! reproduction with plots is `spikeburn run rls-sines`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use spikeburn::plasticity::{
    DriveNetwork, DriveNetworkConfig, DriveNeuron, HostRls, Learner, PresynapticSets, Protocol,
    TrainedSignal, gaussian_weights, pearson_per_neuron, run_trial,
};
use spikeburn::tasks::drive_targets::TargetFamily;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = StdRng::seed_from_u64(1);
    let n = 200;
    // Erdős–Rényi sets (p = 0.3), weights N(0, 4²/(Np)) with zero row mean.
    let sets = PresynapticSets::bernoulli(n, 0.3, &mut rng)?;
    let weights = gaussian_weights(&sets, 4.0, true, &mut rng);
    let config = DriveNetworkConfig {
        neuron: DriveNeuron::Theta { tau_mem: 10.0 },
        dt: 1.0,
        tau_syn: 20.0,
    };
    let mut net = DriveNetwork::new(&config, sets.clone(), weights, vec![0.0; n])?;
    // 100 ms of a constant stimulus sets the initial condition; RLS every
    // 2 ms over the next second.
    let protocol = Protocol {
        settle_steps: 100,
        stimulus_steps: 100,
        window_steps: 1000,
        update_every: 2,
    };
    let stimulus: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let targets = TargetFamily::sines().generate(n, protocol.window_steps, 1.0, &mut rng)?;
    let mut rls = HostRls::new(n, sets.width, 1.0, false)?.with_lengths(sets.len.clone())?;

    let test =
        |net: &mut DriveNetwork, rng: &mut StdRng| -> Result<f64, Box<dyn std::error::Error>> {
            net.randomise_state(rng);
            let rec = run_trial(net, &protocol, &stimulus, None, 0)?;
            Ok(pearson_per_neuron(&targets.values, &rec.drive, n).0)
        };
    println!(
        "untrained: mean correlation {:.3}",
        test(&mut net, &mut rng)?
    );
    for trial in 1..=10 {
        net.randomise_state(&mut rng);
        let learner = Learner {
            rls: &mut rls,
            signal: TrainedSignal::Drive,
            targets: &targets.values,
        };
        let rec = run_trial(&mut net, &protocol, &stimulus, Some(learner), 0)?;
        println!(
            "training trial {trial}: {:.1} Hz, then test correlation {:.3}",
            rec.rate_hz(n, 1.0),
            test(&mut net, &mut rng)?
        );
    }
    Ok(())
}
