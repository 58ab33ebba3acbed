//! Kim & Chow 2018 with the library API: RLS on each neuron's presynaptic
//! weights makes its synaptic drive follow its own target.
//!
//! ```text
//! cargo run --release --example kim_chow -- [sines|periodic|chaotic|ou|dale]
//! ```
//!
//! `sines` is Fig 1 (200 theta neurons, σ = 4), `periodic` / `chaotic` / `ou`
//! the three Fig 3 target families (300 neurons here, 500 in the paper),
//! `dale` Fig 4 (an 400-neuron E/I network made to repeat its own chaotic
//! trajectory, with Dale's law). Each prints the test correlation (learning
//! off, fresh initial condition) after every training trial; the full
//! reproductions with plots are `spikeburn run rls-*`.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use spikeburn::plasticity::{
    DriveNetwork, DriveNetworkConfig, DriveNeuron, HostRls, Learner, PresynapticSets, Protocol,
    TrainedSignal, excitatory_inhibitory, gaussian_weights, pearson_per_neuron, run_trial,
};
use spikeburn::tasks::drive_targets::TargetFamily;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let figure = std::env::args().nth(1).unwrap_or_else(|| "sines".into());
    let mut rng = StdRng::seed_from_u64(1);
    // (neurons, synaptic τ_s in ms, RLS interval Δt in steps, λ, targets)
    let (n, tau_syn, update_every, lambda, family) = match figure.as_str() {
        "sines" => (200, 20.0, 2, 1.0, Some(TargetFamily::sines())),
        "periodic" => (300, 20.0, 2, 1.0, Some(TargetFamily::products_of_sines())),
        "chaotic" => (300, 20.0, 2, 1.0, Some(TargetFamily::chaotic_rate())),
        "ou" => (
            300,
            20.0,
            2,
            1.0,
            Some(TargetFamily::ornstein_uhlenbeck(200.0)),
        ),
        "dale" => (400, 60.0, 10, 10.0, None),
        other => {
            return Err(
                format!("unknown figure `{other}`: sines, periodic, chaotic, ou or dale").into(),
            );
        }
    };
    let dale = family.is_none();
    let (sets, weights, bias) = if dale {
        // 20 % inhibitory, p = 0.1, J = 6, g = 5, a constant drive of 1.
        let (sets, w) = excitatory_inhibitory(n, 0.1, 0.2, 6.0, 5.0, &mut rng)?;
        (sets, w, 1.0)
    } else {
        // Erdős–Rényi sets (p = 0.3), weights N(0, σ²/(Np)).
        let sets = PresynapticSets::bernoulli(n, 0.3, &mut rng)?;
        let sigma = if figure == "sines" { 4.0 } else { 1.0 };
        let w = gaussian_weights(&sets, sigma, figure == "sines", &mut rng);
        (sets, w, 0.0)
    };
    let config = DriveNetworkConfig {
        neuron: DriveNeuron::Theta { tau_mem: 10.0 },
        dt: 1.0,
        tau_syn,
    };
    let mut net = DriveNetwork::new(&config, sets.clone(), weights, vec![bias; n])?;
    // A 100 ms constant stimulus sets the initial condition; then 1 s of RLS.
    let protocol = Protocol {
        settle_steps: 100,
        stimulus_steps: 100,
        window_steps: 1000,
        update_every,
    };
    let stimulus: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let targets = match family {
        Some(f) => f.generate(n, protocol.window_steps, 1.0, &mut rng)?.values,
        // Fig 4: the untrained network's own (chaotic) drive is the target.
        None => {
            net.randomise_state(&mut rng);
            run_trial(&mut net, &protocol, &stimulus, None, 0)?.drive
        }
    };
    let mut rls = HostRls::new(n, sets.width, lambda, false)?.with_lengths(sets.len.clone())?;
    if dale {
        rls = rls.with_sign_constraint(&net.weights)?;
    }
    let test = |net: &mut DriveNetwork, rng: &mut StdRng| -> Result<f64, Error> {
        net.randomise_state(rng);
        let rec = run_trial(net, &protocol, &stimulus, None, 0)?;
        Ok(pearson_per_neuron(&targets, &rec.drive, n).0)
    };
    println!(
        "{figure}: untrained correlation {:.3}",
        test(&mut net, &mut rng)?
    );
    for trial in 1..=15 {
        net.randomise_state(&mut rng);
        let learner = Learner {
            rls: &mut rls,
            signal: TrainedSignal::Drive,
            targets: &targets,
        };
        let rec = run_trial(&mut net, &protocol, &stimulus, Some(learner), 0)?;
        println!(
            "training trial {trial}: {:.1} Hz, then test correlation {:.3}",
            rec.rate_hz(n, 1.0),
            test(&mut net, &mut rng)?
        );
    }
    if dale {
        println!("weights frozen by Dale's law: {}", rls.frozen_count());
    }
    Ok(())
}
