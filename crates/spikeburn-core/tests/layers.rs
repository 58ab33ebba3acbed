//! Layer-level tests: BPTT gradients against finite differences and against an
//! independent straight-through reference, sequence API, constraints, save/load.

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::sigmoid;
use spikeburn_core::SpikeburnError;
use spikeburn_core::layer::{
    FusedDynamics, LeakyReadoutConfig, Record, RecurrentSpiking, RecurrentSpikingConfig,
    SequencePath, SpikingLinearConfig, is_host_device,
};
use spikeburn_core::neuron::{Alif, AlifConfig, InputScaling, LifConfig};
use spikeburn_core::spike::Surrogate;

/// Deterministic test data independent of the device's global random stream
/// (tests run in parallel threads, which would interleave its draws).
struct TestRng(u64);

impl TestRng {
    fn uniform(&mut self) -> f64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal<const D: usize>(
        &mut self,
        shape: [usize; D],
        std: f64,
        device: &Device,
    ) -> Tensor<D> {
        let len = shape.iter().product();
        let v: Vec<f32> = (0..len)
            .map(|_| {
                let (u1, u2) = (self.uniform().max(1e-12), self.uniform());
                ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
            })
            .collect();
        Tensor::<1>::from_floats(v.as_slice(), device).reshape(shape)
    }
    fn bernoulli<const D: usize>(
        &mut self,
        shape: [usize; D],
        p: f64,
        device: &Device,
    ) -> Tensor<D> {
        let len = shape.iter().product();
        let v: Vec<f32> = (0..len)
            .map(|_| (self.uniform() < p) as u8 as f32)
            .collect();
        Tensor::<1>::from_floats(v.as_slice(), device).reshape(shape)
    }
}

/// Overwrites a layer's weights with deterministic ones.
fn set_weights<N: spikeburn_core::neuron::NeuronModel>(
    layer: &mut RecurrentSpiking<N>,
    rng: &mut TestRng,
    input_gain: f64,
) {
    let [n_in, n] = layer.input_weights.val().dims();
    let device = layer.input_weights.val().device();
    layer.input_weights =
        Param::from_tensor(rng.normal([n_in, n], input_gain / (n_in as f64).sqrt(), &device));
    layer.recurrent_weights =
        Param::from_tensor(rng.normal([n, n], 1.0 / (n as f64).sqrt(), &device));
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.to_data().try_to_vec::<f32>().unwrap()
}

fn alif_layer(
    surrogate: Surrogate,
    n_in: usize,
    n: usize,
    device: &Device,
) -> RecurrentSpiking<Alif> {
    let neuron = AlifConfig::new()
        .with_threshold(1.0)
        .with_beta(0.8)
        .with_tau_adapt(30.0)
        .with_n_lif(n / 2)
        .with_input_scaling(InputScaling::Direct)
        .with_adaptive_reset(true)
        .with_normalise_by_adaptive_threshold(false)
        .with_surrogate(surrogate)
        .init(n, device)
        .unwrap();
    RecurrentSpikingConfig::new(n_in, n)
        .with_input_gain(2.5)
        .with_recurrent_gain(1.0)
        .init(neuron, device)
        .unwrap()
}

/// L = Σ_t Σ_{b,j} c_{tbj} v_{tbj} + Σ d_{tbj} z_{tbj}.
fn loss(
    layer: &RecurrentSpiking<Alif>,
    x: &Tensor<3>,
    c: &Tensor<3>,
    d: &Tensor<3>,
) -> (Tensor<1>, Vec<f32>) {
    let trace = layer.forward_sequence(
        x.clone(),
        Record {
            membrane: true,
            ..Record::default()
        },
    );
    let spikes = to_vec(trace.spikes.clone());
    let l = (trace.membrane.unwrap() * c.clone()).sum() + (trace.spikes * d.clone()).sum();
    (l, spikes)
}

#[test]
fn bptt_gradient_matches_finite_differences_where_spikes_are_stable() {
    // With ψ = 0 the backward sees exactly the piecewise-smooth function that
    // finite differences see while no spike moves: every membrane, leak,
    // recurrent and reset path is checked, with no surrogate approximation.
    let device = Device::default().autodiff();
    let mut rng = TestRng(7);
    let (n_in, n, steps, batch) = (3, 4, 15, 2);
    let mut layer = alif_layer(
        Surrogate::PiecewiseLinear {
            dampening: 0.0,
            width: 1.0,
        },
        n_in,
        n,
        &device,
    );
    set_weights(&mut layer, &mut rng, 2.5);
    let x = rng.bernoulli([steps, batch, n_in], 0.4, &device);
    let c = rng.normal([steps, batch, n], 1.0, &device);
    let d = rng.normal([steps, batch, n], 1.0, &device);
    let (l, base_spikes) = loss(&layer, &x, &c, &d);
    assert!(
        base_spikes.iter().sum::<f32>() > 5.0,
        "too few spikes for a meaningful test"
    );
    let grads = l.backward();
    let g_in = to_vec(layer.input_weights.val().grad(&grads).unwrap());
    let g_rec = to_vec(layer.recurrent_weights.val().grad(&grads).unwrap());

    let eps = 1e-2f32;
    let (mut checked, mut total) = (0, 0);
    for (which, grad) in [(0, &g_in), (1, &g_rec)] {
        let base = if which == 0 {
            layer.input_weights.val()
        } else {
            layer.recurrent_weights.val()
        };
        let shape = base.dims();
        let flat = to_vec(base.clone());
        for k in 0..flat.len() {
            if which == 1 && k / n == k % n {
                continue; // autapse: masked out, gradient must be zero
            }
            total += 1;
            let eval = |delta: f32| {
                let mut w = flat.clone();
                w[k] += delta;
                let w = Tensor::<1>::from_floats(w.as_slice(), &device).reshape(shape);
                let mut perturbed = layer.clone();
                if which == 0 {
                    perturbed.input_weights = Param::from_tensor(w);
                } else {
                    perturbed.recurrent_weights = Param::from_tensor(w);
                }
                let (l, spikes) = loss(&perturbed, &x, &c, &d);
                (l.into_scalar::<f32>() as f64, spikes)
            };
            let (lp, sp) = eval(eps);
            let (lm, sm) = eval(-eps);
            if sp != base_spikes || sm != base_spikes {
                continue; // a spike moved: the loss jumps, no derivative to compare
            }
            checked += 1;
            let fd = (lp - lm) / (2.0 * eps as f64);
            let g = grad[k] as f64;
            assert!(
                (fd - g).abs() <= 2e-3 * (1.0 + fd.abs()),
                "weight set {which} index {k}: autodiff {g} vs finite difference {fd}"
            );
        }
    }
    assert!(
        checked * 2 > total,
        "only {checked} of {total} weights had a stable spike pattern"
    );
    // Autapses carry no gradient.
    for i in 0..n {
        assert_eq!(g_rec[i * n + i], 0.0);
    }
}

/// Companion of the finite-difference test, with Bellec's dampening γ = 0.3
/// on ALIF neurons whose reset keeps its gradient (the LSNN code).
///
/// What finite differences can check: the forward uses a Heaviside, so the
/// loss is piecewise smooth in the weights, with jumps where a spike appears
/// or vanishes. Between jumps the spikes are constant, and so are the
/// adaptation (`a_t` depends on past spikes only) and the reset terms: the
/// exact derivative there has no path through spikes, adaptation or reset,
/// it is the `ψ = 0` gradient, which the test above compares with finite
/// differences. A surrogate gradient is by design not the derivative of the
/// Heaviside forward, so no finite difference can confirm its spike,
/// adaptation and reset terms. What is checked instead:
/// 1. the fused op's hand-derived backward, the per-step autodiff path and a
///    straight-through reference written here (`z = H(x) + F(x) − sg(F(x))`,
///    `F' = ψ`) agree;
/// 2. each path carries gradient: cutting it in the reference (through the
///    adaptation, through the reset) changes the gradient by a clear margin,
///    and so does `ψ → 0` (no gradient through the spikes at all);
/// 3. where finite differences do apply, continuity: the surrogate terms
///    vanish as `γ → 0`, at first order (`g(2γ) − g(0) ≈ 2 (g(γ) − g(0))`
///    for small γ), so the gradient tends to the `ψ = 0` gradient that
///    matches finite differences.
#[test]
fn surrogate_gradient_through_spikes_adaptation_and_reset_agrees_across_paths() {
    use spikeburn_core::neuron::NeuronModel;
    let device = Device::default().autodiff();
    let gamma = 0.3;
    let (n_in, n, steps, batch) = (5, 6, 30, 3);
    let build = |dampening: f64| {
        let mut layer = alif_layer(
            Surrogate::PiecewiseLinear {
                dampening,
                width: 1.0,
            },
            n_in,
            n,
            &device,
        );
        layer.neuron.params.detach_reset = false;
        set_weights(&mut layer, &mut TestRng(13), 2.5);
        layer
    };
    let layer = build(gamma);
    let mut rng = TestRng(14);
    let x = rng.bernoulli([steps, batch, n_in], 0.3, &device);
    let c = rng.normal([steps, batch, n], 1.0, &device);
    let d = rng.normal([steps, batch, n], 1.0, &device);
    // L = Σ d ⊙ z + Σ (c ⊙ z)²: only spikes, so the fused path can run it.
    let spike_loss =
        |z: Tensor<3>| (z.clone() * d.clone()).sum() + (z * c.clone()).powi_scalar(2).sum();
    let grads_of = |layer: &RecurrentSpiking<Alif>, fused: bool| {
        let mut layer = layer.clone();
        layer.fused = fused;
        let trace = layer.forward_sequence(x.clone(), Record::spikes());
        let dynamics = layer.neuron.as_fused().and_then(|f| f.fused_dynamics());
        let want = match (fused, dynamics) {
            (true, Some(dy)) => expected_fused_path(&dy, false, &device),
            _ => SequencePath::PerStep,
        };
        // GPU backends run an undetached reset on the per-step path.
        assert_eq!(trace.path, want, "fused = {fused}");
        let spikes = to_vec(trace.spikes.clone());
        let grads = spike_loss(trace.spikes).backward();
        (
            spikes,
            to_vec(layer.input_weights.val().grad(&grads).unwrap()),
            to_vec(layer.recurrent_weights.val().grad(&grads).unwrap()),
        )
    };
    let (fused_spikes, fused_in, fused_rec) = grads_of(&layer, true);
    let (step_spikes, step_in, step_rec) = grads_of(&layer, false);
    assert_eq!(fused_spikes, step_spikes);
    assert!(fused_spikes.iter().sum::<f32>() > 10.0, "too few spikes");

    // The reference, with switches that cut the adaptation and reset paths.
    let reference = |cut_adaptation: bool, cut_reset: bool| {
        let w_in =
            Tensor::<2>::from_data(layer.input_weights.val().to_data(), &device).require_grad();
        let w_rec =
            Tensor::<2>::from_data(layer.recurrent_weights.val().to_data(), &device).require_grad();
        let w_rec_masked = w_rec.clone() * layer.recurrent_mask.clone();
        let beta = layer.neuron.beta.clone().unsqueeze::<2>();
        let (alpha, rho) = (layer.neuron.params.alpha, layer.neuron.params.rho);
        let mut v = Tensor::<2>::zeros([batch, n], &device);
        let mut z = Tensor::<2>::zeros([batch, n], &device);
        let mut a = Tensor::<2>::zeros([batch, n], &device);
        let mut zs = vec![];
        for t in 0..steps {
            let x_t: Tensor<2> = x.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0);
            let current = x_t.matmul(w_in.clone()) + z.clone().matmul(w_rec_masked.clone());
            let z_a = if cut_adaptation {
                z.clone().detach()
            } else {
                z.clone()
            };
            let z_r = if cut_reset {
                z.clone().detach()
            } else {
                z.clone()
            };
            a = a * rho + z_a * (1.0 - rho);
            let thr = a.clone() * beta.clone() + 1.0;
            v = v * alpha + current - thr.clone() * z_r;
            let xs = v.clone() - thr;
            // F(x) = γ (y − y|y|/2), y = clamp(x, −1, 1): F' = γ max(0, 1 − |x|).
            let y = xs.clone().clamp(-1.0, 1.0);
            let soft = (y.clone() - y.clone() * y.abs() * 0.5) * gamma;
            z = xs.greater_elem(0.0).float().detach() + (soft.clone() - soft.detach());
            zs.push(z.clone());
        }
        let spikes = Tensor::stack::<3>(zs, 0);
        let z_values = to_vec(spikes.clone());
        let grads = spike_loss(spikes).backward();
        (
            z_values,
            to_vec(w_in.grad(&grads).unwrap()),
            to_vec(w_rec.grad(&grads).unwrap()),
        )
    };
    let (ref_spikes, ref_in, ref_rec) = reference(false, false);
    assert_eq!(
        ref_spikes, step_spikes,
        "the reference simulates other dynamics"
    );
    let max_abs = |v: &[f32]| v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let distance = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    for (name, fused, step, reference) in [
        ("W_in", &fused_in, &step_in, &ref_in),
        ("W_rec", &fused_rec, &step_rec, &ref_rec),
    ] {
        let scale = max_abs(reference);
        assert!(scale > 1e-3, "{name}: no gradient at all");
        assert!(
            distance(fused, step) <= 1e-4 * scale,
            "{name}: fused vs per-step differ by {}",
            distance(fused, step)
        );
        assert!(
            distance(step, reference) <= 1e-4 * scale,
            "{name}: per-step vs reference differ by {}",
            distance(step, reference)
        );
    }
    // Every path matters: cutting one moves the gradient far beyond float
    // rounding (~1e-6 of the scale). The adaptation path is the weaker one:
    // a spike enters `a` scaled by 1 − ρ ≈ 0.03 and only half the neurons adapt.
    for (what, (_, cut_in, cut_rec), margin) in [
        ("adaptation", reference(true, false), 1e-3),
        ("reset", reference(false, true), 0.05),
    ] {
        let moved = distance(&cut_in, &ref_in).max(distance(&cut_rec, &ref_rec));
        let scale = max_abs(&ref_in).max(max_abs(&ref_rec));
        eprintln!("cutting the {what} path moves the gradient by {moved} (scale {scale})");
        assert!(
            moved > margin * scale,
            "cutting the {what} path moved the gradient by only {moved} (scale {scale})"
        );
    }
    let (_, flat_in, flat_rec) = grads_of(&build(0.0), false);
    assert!(
        max_abs(&flat_in).max(max_abs(&flat_rec)) == 0.0,
        "with ψ = 0 a spike-only loss has no gradient"
    );

    // Continuity at γ = 0 on a loss with a smooth (membrane) part, where the
    // ψ = 0 gradient is the finite-difference derivative.
    let membrane_grads = |dampening: f64| {
        let layer = build(dampening);
        let (l, spikes) = loss(&layer, &x, &c, &d);
        let grads = l.backward();
        let mut g = to_vec(layer.input_weights.val().grad(&grads).unwrap());
        g.extend(to_vec(layer.recurrent_weights.val().grad(&grads).unwrap()));
        (g, spikes)
    };
    let (g0, s0) = membrane_grads(0.0);
    let (g1, s1) = membrane_grads(1e-3);
    let (g2, s2) = membrane_grads(2e-3);
    assert!(s0 == s1 && s1 == s2, "γ changed the forward");
    let d1: Vec<f32> = g1.iter().zip(&g0).map(|(a, b)| a - b).collect();
    let d2: Vec<f32> = g2.iter().zip(&g0).map(|(a, b)| a - b).collect();
    let size = max_abs(&d1);
    assert!(
        size > 1e-5 * max_abs(&g0),
        "the surrogate terms vanished: {size}"
    );
    let twice: Vec<f32> = d1.iter().map(|v| 2.0 * v).collect();
    assert!(
        distance(&d2, &twice) <= 0.05 * 2.0 * size,
        "surrogate terms not first order in γ: |d2 − 2 d1| = {} vs |d1| = {size}",
        distance(&d2, &twice)
    );
}

#[test]
fn surrogate_gradient_matches_an_independent_straight_through_reference() {
    // Reference ALIF network written here with the straight-through trick
    // z = H(x) + (σ(kx) − sg(σ(kx))); its gradient must equal the library's
    // custom spike op with the sigmoid surrogate (slope k), through the
    // recurrence and the adaptation path.
    let device = Device::default().autodiff();
    let mut rng = TestRng(11);
    let k = 3.0;
    let (n_in, n, steps, batch) = (5, 6, 25, 3);
    let mut layer = alif_layer(Surrogate::Sigmoid { slope: k }, n_in, n, &device);
    set_weights(&mut layer, &mut rng, 2.5);
    let x = rng.bernoulli([steps, batch, n_in], 0.3, &device);
    let c = rng.normal([steps, batch, n], 1.0, &device);
    let d = rng.normal([steps, batch, n], 1.0, &device);
    let (l, spikes) = loss(&layer, &x, &c, &d);
    assert!(spikes.iter().sum::<f32>() > 10.0);
    let grads = l.backward();
    let lib_in = to_vec(layer.input_weights.val().grad(&grads).unwrap());
    let lib_rec = to_vec(layer.recurrent_weights.val().grad(&grads).unwrap());

    // The reference, with fresh leaves holding the same values.
    let w_in = Tensor::<2>::from_data(layer.input_weights.val().to_data(), &device).require_grad();
    let w_rec =
        Tensor::<2>::from_data(layer.recurrent_weights.val().to_data(), &device).require_grad();
    let mask = layer.recurrent_mask.clone();
    let beta = layer.neuron.beta.clone().unsqueeze::<2>();
    let p = &layer.neuron.params;
    let (alpha, rho) = (p.alpha, p.rho);
    let mut v = Tensor::<2>::zeros([batch, n], &device);
    let mut z = Tensor::<2>::zeros([batch, n], &device);
    let mut a = Tensor::<2>::zeros([batch, n], &device);
    let mut total = Tensor::<1>::zeros([1], &device);
    for t in 0..steps {
        let x_t: Tensor<2> = x.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0);
        let current = x_t.matmul(w_in.clone()) + z.clone().matmul(w_rec.clone() * mask.clone());
        a = a * rho + z.clone() * (1.0 - rho);
        let thr = a.clone() * beta.clone() + 1.0;
        v = v * alpha + current - thr.clone() * z.detach();
        let xs = v.clone() - thr;
        let soft = sigmoid(xs.clone() * k);
        z = xs.greater_elem(0.0).float().detach() + (soft.clone() - soft.detach());
        let c_t: Tensor<2> = c.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0);
        let d_t: Tensor<2> = d.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0);
        total = total + (v.clone() * c_t).sum() + (z.clone() * d_t).sum();
    }
    let ref_l: f32 = total.clone().into_scalar();
    let lib_l: f32 = loss(&layer, &x, &c, &d).0.into_scalar();
    assert!(
        (ref_l - lib_l).abs() < 1e-3 * (1.0 + ref_l.abs()),
        "{ref_l} vs {lib_l}"
    );
    let grads = total.backward();
    let ref_in = to_vec(w_in.grad(&grads).unwrap());
    let ref_rec = to_vec(w_rec.grad(&grads).unwrap());
    for (lib, reference) in [(&lib_in, &ref_in), (&lib_rec, &ref_rec)] {
        let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        for (g, r) in lib.iter().zip(reference) {
            assert!(
                (g - r).abs() <= 1e-4 * scale,
                "library {g} vs reference {r}"
            );
        }
    }
}

#[test]
fn sequence_chunks_and_steps_agree_with_one_call() {
    let device = Device::default();
    device.seed(3);
    let layer = alif_layer(Surrogate::default(), 4, 8, &device);
    let x = Tensor::<3>::random([20, 2, 4], Distribution::Bernoulli(0.3), &device);
    let whole = layer.forward_sequence(x.clone(), Record::all());
    assert_eq!(whole.spikes.dims(), [20, 2, 8]);
    assert_eq!(whole.threshold.as_ref().unwrap().dims(), [20, 2, 8]);
    assert!(whole.synaptic.is_none(), "no synapse configured");
    let first = layer
        .try_forward_sequence(x.clone().slice(s![0..12, .., ..]), None, Record::spikes())
        .unwrap();
    let second = layer
        .try_forward_sequence(
            x.clone().slice(s![12..20, .., ..]),
            Some(first.final_state),
            Record::spikes(),
        )
        .unwrap();
    let chunked = Tensor::cat(vec![first.spikes, second.spikes], 0);
    assert_eq!(to_vec(chunked), to_vec(whole.spikes.clone()));
    let mut state = layer.init_state(2, &device);
    let mut stepped = vec![];
    for t in 0..20 {
        state = layer.step(x.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0), state);
        stepped.push(state.neuron.spikes.clone());
    }
    assert_eq!(to_vec(Tensor::stack::<3>(stepped, 0)), to_vec(whole.spikes));
}

#[test]
fn connectivity_autapses_and_dale_constraints_hold() {
    let device = Device::default();
    device.seed(5);
    let n = 40;
    let neuron = LifConfig::new().init(n).unwrap();
    let layer = RecurrentSpikingConfig::new(3, n)
        .with_connectivity(0.25)
        .with_excitatory_fraction(Some(0.75))
        .init(neuron, &device)
        .unwrap();
    let w = to_vec(layer.effective_recurrent_weights());
    let mask = to_vec(layer.recurrent_mask.clone());
    let density = mask.iter().sum::<f32>() / (n * n) as f32;
    assert!((density - 0.25).abs() < 0.05, "density {density}");
    for i in 0..n {
        assert_eq!(w[i * n + i], 0.0, "autapse at {i}");
        for j in 0..n {
            let v = w[i * n + j];
            if i < 30 {
                assert!(v >= 0.0, "excitatory neuron {i} has weight {v}");
            } else {
                assert!(v <= 0.0, "inhibitory neuron {i} has weight {v}");
            }
            if mask[i * n + j] == 0.0 {
                assert_eq!(v, 0.0);
            }
        }
    }
}

#[test]
fn bad_shapes_and_configs_give_clear_errors() {
    let device = Device::default();
    let layer = alif_layer(Surrogate::default(), 4, 8, &device);
    let e = layer
        .try_forward_sequence(Tensor::zeros([5, 2, 3], &device), None, Record::spikes())
        .unwrap_err();
    assert!(matches!(e, SpikeburnError::ShapeMismatch { .. }));
    assert!(
        e.to_string().contains("[0, 0, 4]") && e.to_string().contains("[5, 2, 3]"),
        "{e}"
    );
    let neuron = LifConfig::new().init(5).unwrap();
    let e = RecurrentSpikingConfig::new(4, 8)
        .init(neuron, &device)
        .unwrap_err();
    assert!(e.to_string().contains("neuron population"), "{e}");
    let neuron = LifConfig::new().init(8).unwrap();
    let e = RecurrentSpikingConfig::new(4, 8)
        .with_connectivity(1.5)
        .init(neuron, &device)
        .unwrap_err();
    assert!(e.to_string().contains("connectivity"), "{e}");
    let e = LeakyReadoutConfig::new(8, 2)
        .with_tau_out(-3.0)
        .init(&device)
        .unwrap_err();
    assert!(e.to_string().contains("tau_out"), "{e}");
    let e = RecurrentSpikingConfig::new(0, 8)
        .init(LifConfig::new().init(8).unwrap(), &device)
        .unwrap_err();
    assert!(matches!(e, SpikeburnError::Empty { .. }));
}

#[test]
fn readout_sequence_equals_its_step_loop() {
    let device = Device::default();
    device.seed(9);
    let readout = LeakyReadoutConfig::new(6, 3).init(&device).unwrap();
    let z = Tensor::<3>::random([10, 2, 6], Distribution::Bernoulli(0.5), &device);
    let out = readout.forward_sequence(z.clone());
    let mut y = Tensor::<2>::zeros([2, 3], &device);
    for t in 0..10 {
        y = readout.step(y, z.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0));
        let o: Tensor<2> = out.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0);
        let diff: f32 = (o - y.clone()).abs().max().into_scalar();
        assert!(diff < 1e-5);
    }
}

#[test]
fn feedforward_layer_with_synapse_runs_and_records_current() {
    let device = Device::default();
    device.seed(2);
    let neuron = LifConfig::new().init(5).unwrap();
    let layer = SpikingLinearConfig::new(3, 5)
        .with_synapse(Some(
            spikeburn_core::synapse::ExponentialSynapseConfig::new(5.0),
        ))
        .init(neuron, &device)
        .unwrap();
    let x = Tensor::<3>::ones([4, 1, 3], &device);
    let trace = layer.forward_sequence(x, Record::all());
    let syn = trace.synaptic.unwrap();
    // Constant drive u: i_t = u (1 + d + ... + d^t), so i_3 / i_0 = 1 + d + d² + d³.
    let i = to_vec(syn);
    let d = (-0.2f64).exp();
    let ratio = (1.0 + d + d * d + d * d * d) as f32;
    for j in 0..5 {
        assert!((i[15 + j] - ratio * i[j]).abs() < 1e-4 * i[j].abs().max(1.0));
    }
}

#[test]
fn trained_layer_round_trips_through_a_file() {
    let device = Device::default();
    device.seed(4);
    let layer = alif_layer(Surrogate::default(), 4, 8, &device);
    let dir = std::env::temp_dir().join(format!("spikeburn-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("layer.bpk");
    layer.clone().save_file(&path).unwrap();
    device.seed(99); // a different initialisation, overwritten by the load
    let fresh = alif_layer(Surrogate::default(), 4, 8, &device);
    assert_ne!(
        to_vec(fresh.input_weights.val()),
        to_vec(layer.input_weights.val())
    );
    let loaded = fresh.try_load_file(&path).unwrap();
    assert_eq!(
        to_vec(loaded.input_weights.val()),
        to_vec(layer.input_weights.val())
    );
    assert_eq!(
        to_vec(loaded.recurrent_weights.val()),
        to_vec(layer.recurrent_weights.val())
    );
    let x = Tensor::<3>::random([10, 1, 4], Distribution::Bernoulli(0.4), &device);
    assert_eq!(
        to_vec(loaded.forward_sequence(x.clone(), Record::spikes()).spikes),
        to_vec(layer.forward_sequence(x, Record::spikes()).spikes)
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The path a fused layer must take on `device` (see
/// `RecurrentSpiking::try_forward_sequence`): the host kernels cover every
/// configuration on CPU backends; on GPU backends the tensor-op version runs
/// a detached reset without refractory period or delays, anything else takes
/// the per-step path. A test that expects the fused path fails when it
/// silently fell back.
fn expected_fused_path(dynamics: &FusedDynamics, delays: bool, device: &Device) -> SequencePath {
    if is_host_device(device) {
        SequencePath::FusedHost
    } else if dynamics.detach_reset && dynamics.refractory_steps == 0 && !delays {
        SequencePath::FusedTensorOps
    } else {
        SequencePath::PerStep
    }
}

/// The fused whole-sequence path and the per-step reference path compute the
/// same spikes and the same gradients, for every configuration the fused
/// path accepts, including gradients into a tracked input (stacked layers).
#[test]
fn fused_path_agrees_with_the_per_step_path() {
    use spikeburn_core::neuron::NeuronModel;
    let device = Device::default().autodiff();
    let n = 10;
    let alif = |adaptive_reset: bool, norm: bool, scaling: InputScaling| {
        AlifConfig::new()
            .with_threshold(1.0)
            .with_beta(1.5)
            .with_tau_adapt(25.0)
            .with_n_lif(3)
            .with_input_scaling(scaling)
            .with_adaptive_reset(adaptive_reset)
            .with_normalise_by_adaptive_threshold(norm)
            .with_surrogate(Surrogate::FastSigmoid { slope: 2.0 })
    };
    fn compare<N: NeuronModel>(neuron: N, seed: u64, device: &Device, gain: f64) {
        let (n_in, n, steps, batch) = (6, neuron.num_neurons(), 40, 3);
        let mut rng = TestRng(seed);
        let mut fused = RecurrentSpikingConfig::new(n_in, n)
            .init(neuron, device)
            .unwrap();
        set_weights(&mut fused, &mut rng, gain);
        let dynamics = fused
            .neuron
            .as_fused()
            .and_then(|f| f.fused_dynamics())
            .expect("LIF/ALIF with reset by subtraction have a fused form");
        let expected = expected_fused_path(&dynamics, false, device);
        let mut reference = fused.clone();
        reference.fused = false;
        let x = rng.bernoulli([steps, batch, n_in], 0.3, device);
        let d = rng.normal([steps, batch, n], 1.0, device);
        let mut results = vec![];
        for layer in [&fused, &reference] {
            let x = x.clone().require_grad();
            let trace = layer.forward_sequence(x.clone(), Record::spikes());
            let want = if layer.fused {
                expected
            } else {
                SequencePath::PerStep
            };
            assert_eq!(
                trace.path,
                want,
                "seed {seed}: the {} layer ran the wrong path",
                if layer.fused { "fused" } else { "reference" }
            );
            if layer.fused {
                eprintln!("seed {seed}: fused layer ran {:?}", trace.path);
            }
            let spikes = trace.spikes;
            // A loss through a leaky readout-like filter and directly on spikes.
            let filtered = spikeburn_core::exponential_filter(spikes.clone(), 0.9);
            let loss =
                (filtered * d.clone()).sum() + (spikes.clone() * d.clone()).powi_scalar(2).sum();
            let grads = loss.backward();
            results.push((
                to_vec(spikes),
                to_vec(layer.input_weights.val().grad(&grads).unwrap()),
                to_vec(layer.recurrent_weights.val().grad(&grads).unwrap()),
                to_vec(x.grad(&grads).unwrap()),
            ));
        }
        let (f, r) = (&results[0], &results[1]);
        assert!(f.0.iter().sum::<f32>() > 5.0, "seed {seed}: too few spikes");
        assert_eq!(f.0, r.0, "seed {seed}: spike trains differ");
        for (name, a, b) in [
            ("W_in", &f.1, &r.1),
            ("W_rec", &f.2, &r.2),
            ("input", &f.3, &r.3),
        ] {
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
            for (x, y) in a.iter().zip(b.iter()) {
                assert!(
                    (x - y).abs() <= 1e-4 * scale,
                    "seed {seed}, {name}: fused {x} vs per-step {y}"
                );
            }
        }
    }
    compare(
        alif(true, true, InputScaling::Direct)
            .with_refractory_steps(2)
            .init(n, &device)
            .unwrap(),
        6,
        &device,
        3.0,
    );
    // The LSNN code's undetached reset (gradient through `−A_t z_{t−1}`),
    // with adaptive and fixed reset levels, and for LIF.
    compare(
        alif(true, true, InputScaling::Direct)
            .with_refractory_steps(2)
            .with_detach_reset(false)
            .init(n, &device)
            .unwrap(),
        7,
        &device,
        3.0,
    );
    compare(
        alif(false, true, InputScaling::Direct)
            .with_detach_reset(false)
            .init(n, &device)
            .unwrap(),
        8,
        &device,
        2.0,
    );
    compare(
        LifConfig::new().with_detach_reset(false).init(n).unwrap(),
        9,
        &device,
        2.0,
    );
    #[derive(Debug)]
    struct Quadratic;
    impl spikeburn_core::spike::SurrogateGradient for Quadratic {
        fn derivative(&self, x: Tensor<1>) -> Tensor<1> {
            (x.powi_scalar(2).neg() + 1.0).clamp_min(0.0)
        }
        fn derivative_at(&self, x: f64) -> f64 {
            (1.0 - x * x).max(0.0)
        }
    }
    compare(
        alif(true, true, InputScaling::Direct)
            .with_surrogate(Surrogate::custom(Quadratic))
            .init(n, &device)
            .unwrap(),
        5,
        &device,
        2.0,
    );
    compare(
        LifConfig::new()
            .with_surrogate(Surrogate::Arctan { alpha: 2.0 })
            .init(n)
            .unwrap(),
        1,
        &device,
        2.0,
    );
    compare(
        alif(false, false, InputScaling::Direct)
            .init(n, &device)
            .unwrap(),
        2,
        &device,
        2.0,
    );
    compare(
        alif(true, true, InputScaling::Direct)
            .init(n, &device)
            .unwrap(),
        3,
        &device,
        2.0,
    );
    compare(
        alif(true, false, InputScaling::Leaky)
            .init(n, &device)
            .unwrap(),
        4,
        &device,
        30.0,
    );
}

/// Synaptic delays: with every delay at its minimum (recurrent 1, input 0)
/// the delayed machinery reproduces the plain layer, values and gradients;
/// chunked and stepped runs carry the in-flight drive across calls.
#[test]
fn minimal_delays_reproduce_the_plain_layer() {
    let device = Device::default().autodiff();
    device.seed(11);
    let mut rng = TestRng(21);
    let (n_in, n, steps, batch) = (5, 7, 25, 3);
    let mut plain = alif_layer(Surrogate::default(), n_in, n, &device);
    set_weights(&mut plain, &mut rng, 2.5);
    plain.fused = false;
    let delayed = plain
        .clone()
        .with_delays(3, &vec![1; n * n], &vec![0; n_in * n])
        .unwrap();
    let x = rng.bernoulli([steps, batch, n_in], 0.3, &device);
    let a = plain.forward_sequence(x.clone(), Record::spikes()).spikes;
    let b = delayed.forward_sequence(x.clone(), Record::spikes()).spikes;
    assert_eq!(to_vec(a.clone()), to_vec(b.clone()));
    assert!(to_vec(a.clone()).iter().sum::<f32>() > 0.0, "no spikes");
    let w = rng.normal([steps, batch, n], 1.0, &device);
    let ga = (a * w.clone()).sum().backward();
    let gb = (b * w).sum().backward();
    for (pa, pb) in [
        (&plain.recurrent_weights, &delayed.recurrent_weights),
        (&plain.input_weights, &delayed.input_weights),
    ] {
        let (da, db) = (
            to_vec(pa.val().grad(&ga).unwrap()),
            to_vec(pb.val().grad(&gb).unwrap()),
        );
        for (u, v) in da.iter().zip(&db) {
            assert!((u - v).abs() < 1e-5, "gradient {u} vs {v}");
        }
    }
    // Random delays: chunks and single steps agree with one call.
    let random = RecurrentSpikingConfig::new(n_in, n)
        .with_max_delay(4)
        .with_input_gain(2.5)
        .init(plain.neuron.clone(), &device)
        .unwrap();
    let whole = random.forward_sequence(x.clone(), Record::spikes()).spikes;
    let first = random
        .try_forward_sequence(x.clone().slice(s![0..10, .., ..]), None, Record::spikes())
        .unwrap();
    let second = random
        .try_forward_sequence(
            x.clone().slice(s![10..25, .., ..]),
            Some(first.final_state),
            Record::spikes(),
        )
        .unwrap();
    assert_eq!(
        to_vec(Tensor::cat(vec![first.spikes, second.spikes], 0)),
        to_vec(whole.clone())
    );
    let mut state = random.init_state(batch, &device);
    let mut stepped = vec![];
    for t in 0..steps {
        state = random.step(x.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0), state);
        stepped.push(state.neuron.spikes.clone());
    }
    assert_eq!(to_vec(Tensor::stack::<3>(stepped, 0)), to_vec(whole));
}

/// The fused path with synaptic delays (host kernels) computes the same
/// spikes, gradients (weights, dormant entries included, and input) and
/// in-flight drive as the per-step path, with sparse (rewired-like) weights.
#[test]
fn fused_path_with_delays_agrees_with_the_per_step_path() {
    use spikeburn_core::neuron::NeuronModel;
    let device = Device::default().autodiff();
    device.seed(12);
    // A surrogate with full support, and Bellec's, which vanishes away from
    // the threshold (the backward skips those neurons' gathers).
    for (seed, surrogate, detach) in [
        (31, Surrogate::FastSigmoid { slope: 2.0 }, true),
        (32, Surrogate::default(), true),
        (33, Surrogate::default(), false),
    ] {
        let mut rng = TestRng(seed);
        let (n_in, n, steps, batch) = (6, 9, 40, 3);
        let neuron = AlifConfig::new()
            .with_threshold(1.0)
            .with_beta(1.5)
            .with_tau_adapt(25.0)
            .with_n_lif(3)
            .with_refractory_steps(2)
            .with_input_scaling(InputScaling::Direct)
            .with_surrogate(surrogate)
            .with_detach_reset(detach)
            .init(n, &device)
            .unwrap();
        let mut fused = RecurrentSpikingConfig::new(n_in, n)
            .with_max_delay(5)
            .init(neuron, &device)
            .unwrap();
        set_weights(&mut fused, &mut rng, 3.0);
        // Zero about a third of each matrix, as DEEP R's dormant connections.
        let sparse = |w: Tensor<2>, rng: &mut TestRng| {
            let keep = rng.bernoulli([1, w.dims()[0], w.dims()[1]], 0.65, &device);
            (w * keep.squeeze_dim::<2>(0)).detach()
        };
        fused.input_weights = Param::from_tensor(sparse(fused.input_weights.val(), &mut rng));
        fused.recurrent_weights =
            Param::from_tensor(sparse(fused.recurrent_weights.val(), &mut rng));
        let mut reference = fused.clone();
        reference.fused = false;
        let x = rng.bernoulli([steps, batch, n_in], 0.3, &device);
        let d = rng.normal([steps, batch, n], 1.0, &device);
        let mut results = vec![];
        for layer in [&fused, &reference] {
            let x = x.clone().require_grad();
            let trace = layer
                .try_forward_sequence(x.clone(), None, Record::spikes())
                .unwrap();
            let dynamics = layer.neuron.as_fused().and_then(|f| f.fused_dynamics());
            let want = match (layer.fused, dynamics) {
                (true, Some(dy)) => expected_fused_path(&dy, true, &device),
                _ => SequencePath::PerStep,
            };
            assert_eq!(trace.path, want, "seed {seed}: wrong sequence path");
            let spikes = trace.spikes;
            let filtered = spikeburn_core::exponential_filter(spikes.clone(), 0.9);
            let loss =
                (filtered * d.clone()).sum() + (spikes.clone() * d.clone()).powi_scalar(2).sum();
            let grads = loss.backward();
            let pending: Vec<f32> = trace
                .final_state
                .pending
                .expect("a delayed layer hands on its in-flight drive")
                .into_iter()
                .flat_map(to_vec)
                .collect();
            results.push((
                to_vec(spikes),
                to_vec(layer.input_weights.val().grad(&grads).unwrap()),
                to_vec(layer.recurrent_weights.val().grad(&grads).unwrap()),
                to_vec(x.grad(&grads).unwrap()),
                pending,
            ));
        }
        let (f, r) = (&results[0], &results[1]);
        assert!(f.0.iter().sum::<f32>() > 10.0, "too few spikes");
        assert_eq!(f.0, r.0, "spike trains differ");
        for (name, a, b) in [
            ("W_in", &f.1, &r.1),
            ("W_rec", &f.2, &r.2),
            ("input", &f.3, &r.3),
            ("pending drive", &f.4, &r.4),
        ] {
            assert_eq!(a.len(), b.len(), "{name}");
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
            for (x, y) in a.iter().zip(b.iter()) {
                assert!(
                    (x - y).abs() <= 1e-4 * scale,
                    "{name}: fused {x} vs per-step {y}"
                );
            }
        }
        // Dormant (zero) weights still get their gradient.
        let w = to_vec(fused.recurrent_weights.val());
        assert!(
            w.iter().zip(&f.2).any(|(w, g)| *w == 0.0 && *g != 0.0),
            "no gradient reached a zero weight"
        );
    }
}

/// A hand-checked delay: neuron 0 fires at step 0 from its input; its spike
/// reaches neuron 1 exactly `d` steps later, and an input with delay `e`
/// arrives `e` steps late.
#[test]
fn a_spike_arrives_after_its_synapses_delay() {
    use spikeburn_core::neuron::NeuronState;
    let device = Device::default();
    let lif = LifConfig::new()
        .with_tau_mem(1e6)
        .with_threshold(1.0)
        .init(3)
        .unwrap();
    let mut layer = RecurrentSpikingConfig::new(2, 3)
        .init(lif, &device)
        .unwrap();
    // Input 0 → neuron 0 (delay 0), input 1 → neuron 2 (delay 2);
    // neuron 0 → neuron 1 with delay 3; everything else 0.
    let mut w_in = vec![0f32; 6];
    w_in[0] = 2.0; // [0][0]
    w_in[3 + 2] = 2.0; // [1][2]
    let mut w_rec = vec![0f32; 9];
    w_rec[1] = 2.0; // [0][1]
    layer.input_weights =
        Param::from_tensor(Tensor::<1>::from_floats(w_in.as_slice(), &device).reshape([2, 3]));
    layer.recurrent_weights =
        Param::from_tensor(Tensor::<1>::from_floats(w_rec.as_slice(), &device).reshape([3, 3]));
    let mut rec_delay = vec![1usize; 9];
    rec_delay[1] = 3;
    let mut in_delay = vec![0usize; 6];
    in_delay[3 + 2] = 2;
    let layer = layer.with_delays(4, &rec_delay, &in_delay).unwrap();
    // Both inputs fire once, at step 0.
    let mut x = vec![0f32; 8 * 2];
    x[0] = 1.0;
    x[1] = 1.0;
    let x = Tensor::<1>::from_floats(x.as_slice(), &device).reshape([8, 1, 2]);
    let z = to_vec(layer.forward_sequence(x, Record::spikes()).spikes);
    let fired =
        |neuron: usize| -> Vec<usize> { (0..8).filter(|t| z[t * 3 + neuron] == 1.0).collect() };
    assert_eq!(fired(0), vec![0]);
    assert_eq!(fired(1), vec![3], "spike of step 0 over a 3-step synapse");
    assert_eq!(fired(2), vec![2], "input of step 0 over a 2-step synapse");
    let _ = layer.init_state(1, &device).neuron.spikes();
    assert!(layer.clone().with_delays(4, &[0; 9], &in_delay).is_err());
    assert!(
        RecurrentSpikingConfig::new(2, 3)
            .with_max_delay(0)
            .init(LifConfig::new().init(3).unwrap(), &device)
            .is_err()
    );
}
