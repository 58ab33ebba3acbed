//! The supervised learning-to-learn family of Bellec et al. 2018: target
//! functions are random two-layer networks, and an episode is a sequence
//! of examples of one of them, each answered before its target is shown.
//!
//! ## The functions
//!
//! ```text
//! f(x) = Σ_h v_h σ(Σ_i W_hi x_i + c_h),   W_hi, c_h, v_h ~ N(0, 1),   σ the logistic
//! y(x) = (f(x) − μ_f) / s_f
//! ```
//!
//! with `μ_f`, `s_f` the mean and standard deviation of `f` over a 16 × 16
//! grid of the input square `[−range, range]²`: every function has zero
//! mean and unit variance over the domain, so the family's average
//! function is 0 and a predictor that knows nothing of the function scores
//! an MSE of about 1. (The paper says Gaussian weights and sigmoidal hidden
//! units; the unit-variance normalisation is our choice, so errors of
//! different functions are comparable.)
//!
//! ## An episode, as the network sees it
//!
//! `examples` examples, `steps_per_example` steps each (1 ms). During
//! example `k` the network receives `x_k` and the previous target
//! `y_{k−1}` (nothing for `k = 0`) and must output `y_k`; its answer is
//! its readout averaged over the last `answer_steps` steps of the example.
//!
//! Encoding (spikes, Poisson): each of `x_1`, `x_2` and the feedback `y` is
//! a population of `channels_per_value` Gaussian tuning curves with
//! centres evenly spread over the value's range (`[−range, range]` for `x`,
//! `[−3, 3]` for `y`), width (standard deviation) the centres' spacing, and
//! peak rate `max_rate_hz`; a value outside the range excites the end
//! channel. Channels: `x_1`'s, then `x_2`'s, then the feedback's.

use rand::RngExt;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::{Result, TasksError};

/// The family of target functions and the episodes' shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomNetworkFamily {
    /// Hidden units of each target network.
    pub hidden: usize,
    /// Inputs lie in `[−range, range]²`.
    pub range: f64,
    /// Examples per episode.
    pub examples: usize,
    /// Steps (ms) each example is shown.
    pub steps_per_example: usize,
    /// The answer is the readout averaged over this many last steps of
    /// each example.
    pub answer_steps: usize,
    /// Tuning curves per encoded value.
    pub channels_per_value: usize,
    /// Peak rate of a tuning curve (Hz).
    pub max_rate_hz: f64,
}

impl Default for RandomNetworkFamily {
    fn default() -> Self {
        Self {
            hidden: 10,
            range: 1.0,
            examples: 50,
            steps_per_example: 20,
            answer_steps: 10,
            channels_per_value: 10,
            max_rate_hz: 200.0,
        }
    }
}

/// Half-width of the feedback's encoded range.
const FEEDBACK_RANGE: f64 = 3.0;

/// One target function.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetFunction {
    /// `W` `[hidden][2]`.
    pub input_weights: Vec<[f64; 2]>,
    /// `c` `[hidden]`.
    pub hidden_bias: Vec<f64>,
    /// `v` `[hidden]`.
    pub output_weights: Vec<f64>,
    /// `μ_f`.
    pub mean: f64,
    /// `s_f`.
    pub scale: f64,
}

impl TargetFunction {
    fn raw(&self, x: [f64; 2]) -> f64 {
        self.input_weights
            .iter()
            .zip(&self.hidden_bias)
            .zip(&self.output_weights)
            .map(|((w, c), v)| {
                let a = w[0] * x[0] + w[1] * x[1] + c;
                v / (1.0 + (-a).exp())
            })
            .sum()
    }

    /// `y(x)`, normalised.
    pub fn eval(&self, x: [f64; 2]) -> f64 {
        (self.raw(x) - self.mean) / self.scale
    }
}

/// A batch of episodes: inputs `[steps, batch, channels]`, the examples'
/// inputs `[examples, batch, 2]` and targets `[examples, batch]`, all
/// row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeBatch {
    /// Encoded input spikes, values in {0, 1}.
    pub spikes: Vec<f32>,
    /// The examples' `x`.
    pub x: Vec<f64>,
    /// The examples' `y`.
    pub y: Vec<f64>,
    /// Episodes.
    pub batch: usize,
    /// Examples per episode.
    pub examples: usize,
}

impl RandomNetworkFamily {
    /// Refuses an empty family or episode, answer windows longer than an
    /// example, an encoding with no channels, and non-positive ranges or
    /// rates.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("hidden", self.hidden),
            ("examples", self.examples),
            ("steps_per_example", self.steps_per_example),
            ("channels_per_value", self.channels_per_value),
        ] {
            if v == 0 {
                return Err(TasksError::invalid(name, v, "at least 1"));
            }
        }
        if self.answer_steps == 0 || self.answer_steps > self.steps_per_example {
            return Err(TasksError::invalid(
                "answer_steps",
                self.answer_steps,
                format!("1 ..= steps_per_example = {}", self.steps_per_example),
            ));
        }
        if !(self.range.is_finite() && self.range > 0.0) {
            return Err(TasksError::invalid("range", self.range, "a range > 0"));
        }
        if !(self.max_rate_hz.is_finite() && self.max_rate_hz > 0.0 && self.max_rate_hz <= 1000.0) {
            return Err(TasksError::invalid(
                "max_rate_hz",
                self.max_rate_hz,
                "a rate in (0, 1000] Hz (at most one spike per 1-ms step)",
            ));
        }
        Ok(())
    }

    /// Input channels: three encoded values.
    pub fn channels(&self) -> usize {
        3 * self.channels_per_value
    }

    /// The feedback's channels (the last third).
    pub fn feedback_channels(&self) -> std::ops::Range<usize> {
        2 * self.channels_per_value..3 * self.channels_per_value
    }

    /// Steps of an episode.
    pub fn steps(&self) -> usize {
        self.examples * self.steps_per_example
    }

    /// The steps over which example `k` is answered.
    pub fn answer_window(&self, k: usize) -> std::ops::Range<usize> {
        let end = (k + 1) * self.steps_per_example;
        end - self.answer_steps..end
    }

    /// Draws a function.
    pub fn sample(&self, rng: &mut StdRng) -> TargetFunction {
        let normal = Normal::new(0.0, 1.0).expect("unit normal");
        let mut f = TargetFunction {
            input_weights: (0..self.hidden)
                .map(|_| [normal.sample(rng), normal.sample(rng)])
                .collect(),
            hidden_bias: (0..self.hidden).map(|_| normal.sample(rng)).collect(),
            output_weights: (0..self.hidden).map(|_| normal.sample(rng)).collect(),
            mean: 0.0,
            scale: 1.0,
        };
        let grid: Vec<f64> = (0..16)
            .flat_map(|i| (0..16).map(move |j| [i, j].map(|k| -1.0 + (2 * k + 1) as f64 / 16.0)))
            .map(|u| f.raw(u.map(|v| v * self.range)))
            .collect();
        let mean = grid.iter().sum::<f64>() / grid.len() as f64;
        let var = grid.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / grid.len() as f64;
        f.mean = mean;
        // A function flat over the domain (all v ≈ 0) is left unscaled.
        f.scale = var.sqrt().max(1e-6);
        f
    }

    /// Draws `x` uniformly in the square.
    pub fn draw_input(&self, rng: &mut StdRng) -> [f64; 2] {
        [0, 1].map(|_| self.range * (2.0 * rng.random::<f64>() - 1.0))
    }

    /// Rates (Hz) of the `channels_per_value` tuning curves for `value` in
    /// `[−half_range, half_range]`.
    fn tuning(&self, value: f64, half_range: f64, out: &mut [f64]) {
        let k = self.channels_per_value;
        let spacing = if k > 1 {
            2.0 * half_range / (k - 1) as f64
        } else {
            2.0 * half_range
        };
        let v = value.clamp(-half_range, half_range);
        for (c, r) in out.iter_mut().enumerate() {
            let centre = if k > 1 {
                -half_range + c as f64 * spacing
            } else {
                0.0
            };
            *r = self.max_rate_hz * (-0.5 * ((v - centre) / spacing).powi(2)).exp();
        }
    }

    /// The spikes of one example, `[steps_per_example][channels]` rows
    /// written into `out` at stride `stride` (the batch's channel rows):
    /// input `x`, feedback `previous` (none before the first target).
    fn encode_example(
        &self,
        x: [f64; 2],
        previous: Option<f64>,
        rng: &mut StdRng,
        rates: &mut [f64],
        mut row: impl FnMut(usize) -> usize,
        out: &mut [f32],
    ) {
        let (k, channels) = (self.channels_per_value, self.channels());
        self.tuning(x[0], self.range, &mut rates[..k]);
        self.tuning(x[1], self.range, &mut rates[k..2 * k]);
        match previous {
            Some(p) => self.tuning(p, FEEDBACK_RANGE, &mut rates[2 * k..]),
            None => rates[2 * k..].fill(0.0),
        }
        for s in 0..self.steps_per_example {
            let start = row(s);
            for (z, r) in out[start..start + channels].iter_mut().zip(rates.iter()) {
                *z = (rng.random::<f64>() < r * 1e-3) as u8 as f32;
            }
        }
    }

    /// One episode of each of `functions`, with fresh inputs and Poisson
    /// spikes from `rng`.
    pub fn episodes(&self, functions: &[TargetFunction], rng: &mut StdRng) -> EpisodeBatch {
        let batch = functions.len();
        let (channels, steps) = (self.channels(), self.steps());
        let mut spikes = vec![0f32; steps * batch * channels];
        let mut xs = vec![0.0; self.examples * batch * 2];
        let mut ys = vec![0.0; self.examples * batch];
        let mut rates = vec![0.0; channels];
        for (b, f) in functions.iter().enumerate() {
            let mut previous: Option<f64> = None;
            for e in 0..self.examples {
                let x = self.draw_input(rng);
                let y = f.eval(x);
                xs[(e * batch + b) * 2] = x[0];
                xs[(e * batch + b) * 2 + 1] = x[1];
                ys[e * batch + b] = y;
                let first = e * self.steps_per_example;
                self.encode_example(
                    x,
                    previous,
                    rng,
                    &mut rates,
                    |s| ((first + s) * batch + b) * channels,
                    &mut spikes,
                );
                previous = Some(y);
            }
        }
        EpisodeBatch {
            spikes,
            x: xs,
            y: ys,
            batch,
            examples: self.examples,
        }
    }

    /// What a network answers at the end of an episode of `f`, over many
    /// inputs: one episode of `f` (inputs and spikes drawn once), copied
    /// once per probe, each copy followed by one more example at its probe
    /// input (with the last target as feedback; its own Poisson draw).
    /// `examples + 1` examples per episode; the last is the probe.
    pub fn probe_episodes(
        &self,
        f: &TargetFunction,
        probes: &[[f64; 2]],
        rng: &mut StdRng,
    ) -> EpisodeBatch {
        let one = self.episodes(std::slice::from_ref(f), rng);
        let (batch, channels, e) = (probes.len(), self.channels(), self.examples);
        let steps = (e + 1) * self.steps_per_example;
        let mut spikes = vec![0f32; steps * batch * channels];
        let mut xs = vec![0.0; (e + 1) * batch * 2];
        let mut ys = vec![0.0; (e + 1) * batch];
        let mut rates = vec![0.0; channels];
        for (b, p) in probes.iter().enumerate() {
            for t in 0..self.steps() {
                spikes[(t * batch + b) * channels..][..channels]
                    .copy_from_slice(&one.spikes[t * channels..][..channels]);
            }
            for k in 0..e {
                xs[(k * batch + b) * 2..][..2].copy_from_slice(&one.x[k * 2..][..2]);
                ys[k * batch + b] = one.y[k];
            }
            xs[(e * batch + b) * 2..][..2].copy_from_slice(p);
            ys[e * batch + b] = f.eval(*p);
            let first = e * self.steps_per_example;
            self.encode_example(
                *p,
                one.y.last().copied(),
                rng,
                &mut rates,
                |s| ((first + s) * batch + b) * channels,
                &mut spikes,
            );
        }
        EpisodeBatch {
            spikes,
            x: xs,
            y: ys,
            batch,
            examples: e + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn functions_are_normalised_over_the_domain_and_differ() {
        let fam = RandomNetworkFamily::default();
        let mut rng = StdRng::seed_from_u64(1);
        let f = fam.sample(&mut rng);
        let g = fam.sample(&mut rng);
        // Mean 0 and variance 1 over a finer grid than the normalisation's.
        let pts: Vec<[f64; 2]> = (0..40)
            .flat_map(|i| (0..40).map(move |j| [i, j].map(|k| -1.0 + (2 * k + 1) as f64 / 40.0)))
            .collect();
        let ys: Vec<f64> = pts.iter().map(|&x| f.eval(x)).collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let var = ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / ys.len() as f64;
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
        // Hand-computed: one hidden unit.
        let one = TargetFunction {
            input_weights: vec![[1.0, -2.0]],
            hidden_bias: vec![0.5],
            output_weights: vec![3.0],
            mean: 1.0,
            scale: 2.0,
        };
        let a: f64 = 0.3 - 2.0 * 0.1 + 0.5;
        let expected = (3.0 / (1.0 + (-a).exp()) - 1.0) / 2.0;
        assert!((one.eval([0.3, 0.1]) - expected).abs() < 1e-12);
        let d: f64 = pts.iter().map(|&x| (f.eval(x) - g.eval(x)).abs()).sum();
        assert!(d > 10.0, "two draws gave nearly the same function");
    }

    #[test]
    fn episodes_encode_the_inputs_and_feed_back_the_previous_target() {
        let fam = RandomNetworkFamily {
            examples: 4,
            steps_per_example: 200,
            answer_steps: 10,
            ..RandomNetworkFamily::default()
        };
        let mut rng = StdRng::seed_from_u64(2);
        let fs = vec![fam.sample(&mut rng), fam.sample(&mut rng)];
        let ep = fam.episodes(&fs, &mut rng);
        let (steps, batch, ch) = (fam.steps(), 2, fam.channels());
        assert_eq!(ep.spikes.len(), steps * batch * ch);
        for (b, f) in fs.iter().enumerate() {
            for e in 0..fam.examples {
                let y = ep.y[e * batch + b];
                let x = [ep.x[(e * batch + b) * 2], ep.x[(e * batch + b) * 2 + 1]];
                assert!((f.eval(x) - y).abs() < 1e-12);
                // Spike counts per channel over the example.
                let count = |c: usize| -> f32 {
                    (e * 200..(e + 1) * 200)
                        .map(|t| ep.spikes[(t * batch + b) * ch + c])
                        .sum()
                };
                let counts: Vec<f32> = (0..ch).map(count).collect();
                // The most active x_1 channel is the one nearest x_1.
                let best = |r: std::ops::Range<usize>| {
                    r.clone()
                        .max_by(|&i, &j| counts[i].total_cmp(&counts[j]))
                        .unwrap()
                        - r.start
                };
                let nearest = |v: f64, half: f64| {
                    ((v.clamp(-half, half) + half) / (2.0 * half / 9.0)).round() as i64
                };
                assert!(
                    (best(0..10) as i64 - nearest(x[0], 1.0)).abs() <= 1,
                    "{counts:?}"
                );
                assert!(
                    (best(10..20) as i64 - nearest(x[1], 1.0)).abs() <= 1,
                    "{counts:?}"
                );
                let feedback: f32 = counts[20..].iter().sum();
                if e == 0 {
                    assert_eq!(feedback, 0.0, "no feedback before the first target");
                } else {
                    let prev = ep.y[(e - 1) * batch + b];
                    assert!(feedback > 0.0);
                    assert!(
                        (best(20..30) as i64 - nearest(prev, 3.0)).abs() <= 1,
                        "{counts:?}"
                    );
                }
            }
        }
        assert_eq!(fam.answer_window(1), 390..400);
        assert_eq!(fam.feedback_channels(), 20..30);
    }

    #[test]
    fn probe_episodes_share_their_episode_and_end_at_the_probes() {
        let fam = RandomNetworkFamily {
            examples: 3,
            ..RandomNetworkFamily::default()
        };
        let mut rng = StdRng::seed_from_u64(4);
        let f = fam.sample(&mut rng);
        let probes = [[0.5, -0.5], [-1.0, 1.0]];
        let ep = fam.probe_episodes(&f, &probes, &mut rng);
        assert_eq!((ep.batch, ep.examples), (2, 4));
        let ch = fam.channels();
        let shared = fam.steps();
        for t in 0..shared {
            assert_eq!(
                ep.spikes[(t * 2) * ch..][..ch],
                ep.spikes[(t * 2 + 1) * ch..][..ch],
                "step {t} differs between the copies"
            );
        }
        for (b, p) in probes.iter().enumerate() {
            assert_eq!(ep.x[(3 * 2 + b) * 2..][..2], p[..]);
            assert!((ep.y[3 * 2 + b] - f.eval(*p)).abs() < 1e-12);
        }
    }

    #[test]
    fn bad_families_are_refused_by_name() {
        let ok = RandomNetworkFamily::default();
        assert!(ok.validate().is_ok());
        for (bad, name) in [
            (
                RandomNetworkFamily {
                    hidden: 0,
                    ..ok.clone()
                },
                "hidden",
            ),
            (
                RandomNetworkFamily {
                    examples: 0,
                    ..ok.clone()
                },
                "examples",
            ),
            (
                RandomNetworkFamily {
                    channels_per_value: 0,
                    ..ok.clone()
                },
                "channels_per_value",
            ),
            (
                RandomNetworkFamily {
                    answer_steps: 30,
                    ..ok.clone()
                },
                "answer_steps",
            ),
            (
                RandomNetworkFamily {
                    max_rate_hz: 0.0,
                    ..ok.clone()
                },
                "max_rate_hz",
            ),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
    }
}
