//! The store-recall task of the LSNN tutorial (Bellec et al. 2018).
//!
//! A sequence is `symbols` periods of `symbol_ms` steps. In each period one
//! random bit is shown: the 25 neurons of group 0 (bit 0) or of group 1
//! (bit 1) fire as Poisson processes at `rate_hz`. Some periods also carry a
//! *store* command (group 2 fires), and later a *recall* command (group 3).
//! During a recall period the network must report the bit that was shown in
//! the period of the last store. Store and recall alternate: once a bit is
//! stored, each following period is a recall with probability
//! `1/expected_delay` (geometric delay, mean `expected_delay` periods); after
//! a recall, each period is a store with the same probability.
//!
//! The recall error is the fraction of recall periods whose (time-averaged)
//! readout picks the wrong bit.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::SpikeBatch;
use crate::error::{Result, TasksError};

/// Parameters of the store-recall task (defaults: the LSNN tutorial).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreRecallConfig {
    /// Periods per sequence.
    pub symbols: usize,
    /// Steps (ms) per period.
    pub symbol_ms: usize,
    /// Mean number of periods between a store and its recall.
    pub expected_delay: f64,
    /// Neurons per input group (4 groups: bit 0, bit 1, store, recall).
    pub neurons_per_group: usize,
    /// Firing rate of an active input group.
    pub rate_hz: f64,
    /// Step length in ms.
    pub dt_ms: f64,
}

impl Default for StoreRecallConfig {
    fn default() -> Self {
        Self {
            symbols: 12,
            symbol_ms: 200,
            expected_delay: 6.0,
            neurons_per_group: 25,
            rate_hz: 50.0,
            dt_ms: 1.0,
        }
    }
}

/// One recall event: which sequence, which period, and the bit to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recall {
    /// Sequence index in the batch.
    pub sequence: usize,
    /// Period index.
    pub period: usize,
    /// Period of the store it recalls (`store < period`).
    pub store: usize,
    /// The stored bit.
    pub bit: usize,
}

/// A store-recall batch: inputs and the recall events to score.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreRecallBatch {
    /// Input spikes (`channels = 4 · neurons_per_group`).
    pub spikes: SpikeBatch,
    /// Every recall event of the batch.
    pub recalls: Vec<Recall>,
    /// Bits shown per sequence and period (`[batch][symbols]`).
    pub bits: Vec<Vec<usize>>,
}

impl StoreRecallConfig {
    /// Checks every parameter (sizes bounded so a sequence stays below
    /// 10⁷ steps × 10⁴ channels).
    pub fn validate(&self) -> Result<()> {
        let count = |field: &str, v: usize, lo: usize, hi: usize| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(TasksError::invalid(
                    field,
                    v,
                    format!("an integer in {lo} ..= {hi}"),
                ))
            }
        };
        count("task.symbols", self.symbols, 2, 10_000)?;
        count("task.symbol_ms", self.symbol_ms, 1, 100_000)?;
        count("task.neurons_per_group", self.neurons_per_group, 1, 2_500)?;
        if self.steps() > 10_000_000 {
            return Err(TasksError::invalid(
                "task.symbols × task.symbol_ms",
                self.steps(),
                "at most 10 000 000 steps per sequence",
            ));
        }
        if !(self.expected_delay >= 1.0 && self.expected_delay <= self.symbols as f64) {
            return Err(TasksError::invalid(
                "task.expected_delay",
                self.expected_delay,
                format!("a number of periods in [1, symbols = {}]", self.symbols),
            ));
        }
        if !(self.dt_ms > 0.0 && self.dt_ms <= 100.0) {
            return Err(TasksError::invalid(
                "task.dt_ms",
                self.dt_ms,
                "a step in (0, 100] ms",
            ));
        }
        let p = self.rate_hz * self.dt_ms / 1000.0;
        if !(self.rate_hz > 0.0 && p <= 1.0) {
            return Err(TasksError::invalid(
                "task.rate_hz",
                self.rate_hz,
                format!(
                    "a rate in (0, {}] Hz (at most one spike per step of {} ms)",
                    1000.0 / self.dt_ms,
                    self.dt_ms
                ),
            ));
        }
        Ok(())
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        4 * self.neurons_per_group
    }

    /// Time steps per sequence.
    pub fn steps(&self) -> usize {
        self.symbols * self.symbol_ms
    }

    /// Draws `batch` sequences from `seed`. Every sequence has at least one
    /// recall (sequences without one are redrawn).
    pub fn generate(&self, batch: usize, seed: u64) -> StoreRecallBatch {
        let mut rng = StdRng::seed_from_u64(seed);
        let (steps, channels, g) = (self.steps(), self.channels(), self.neurons_per_group);
        let p_spike = self.rate_hz * self.dt_ms / 1000.0;
        let p_event = 1.0 / self.expected_delay;
        let mut input = vec![0f32; steps * batch * channels];
        let mut recalls = vec![];
        let mut all_bits = vec![];
        for b in 0..batch {
            let (bits, stores, recall_flags, events) = loop {
                let bits: Vec<usize> = (0..self.symbols).map(|_| rng.random_range(0..2)).collect();
                let (mut stores, mut recall_flags) =
                    (vec![false; self.symbols], vec![false; self.symbols]);
                let mut stored: Option<(usize, usize)> = None;
                let mut events = vec![];
                for k in 0..self.symbols {
                    match stored {
                        None if k + 1 < self.symbols && rng.random_bool(p_event) => {
                            stores[k] = true;
                            stored = Some((k, bits[k]));
                        }
                        Some((store, bit)) if rng.random_bool(p_event) => {
                            recall_flags[k] = true;
                            events.push(Recall {
                                sequence: b,
                                period: k,
                                store,
                                bit,
                            });
                            stored = None;
                        }
                        _ => {}
                    }
                }
                if !events.is_empty() {
                    break (bits, stores, recall_flags, events);
                }
            };
            for k in 0..self.symbols {
                let groups = [
                    Some(bits[k]),
                    stores[k].then_some(2),
                    recall_flags[k].then_some(3),
                ];
                for step in k * self.symbol_ms..(k + 1) * self.symbol_ms {
                    let row = (step * batch + b) * channels;
                    for group in groups.iter().flatten() {
                        for c in group * g..(group + 1) * g {
                            if rng.random_bool(p_spike) {
                                input[row + c] = 1.0;
                            }
                        }
                    }
                }
            }
            recalls.extend(events);
            all_bits.push(bits);
        }
        StoreRecallBatch {
            spikes: SpikeBatch {
                input,
                steps,
                batch,
                channels,
            },
            recalls,
            bits: all_bits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recalls_report_the_bit_of_the_last_store() {
        let cfg = StoreRecallConfig {
            symbols: 10,
            symbol_ms: 20,
            rate_hz: 1000.0, // every neuron of an active group fires every step
            ..Default::default()
        };
        let batch = cfg.generate(16, 3);
        assert!(batch.recalls.len() >= 16);
        let (steps, channels) = (cfg.steps(), cfg.channels());
        let active = |b: usize, k: usize, group: usize| {
            let step = k * cfg.symbol_ms;
            batch.spikes.input[(step * 16 + b) * channels + group * 25] == 1.0
        };
        for r in &batch.recalls {
            assert!(active(r.sequence, r.period, 3), "recall group silent");
            // The most recent store before the recall showed the recalled bit.
            let store = (0..r.period)
                .rev()
                .find(|&k| active(r.sequence, k, 2))
                .expect("a store");
            assert_eq!(batch.bits[r.sequence][store], r.bit);
            assert!(active(r.sequence, store, r.bit));
        }
        assert_eq!(batch.spikes.input.len(), steps * 16 * channels);
    }

    #[test]
    fn poisson_rate_and_determinism() {
        let cfg = StoreRecallConfig::default();
        let a = cfg.generate(8, 42);
        assert_eq!(a, cfg.generate(8, 42));
        assert_ne!(a.spikes.input, cfg.generate(8, 43).spikes.input);
        // Per step: 25 value neurons at 50 Hz always, plus store/recall groups sometimes.
        let per_step = a.spikes.input.iter().sum::<f32>() / (cfg.steps() * 8) as f32;
        assert!((1.2..1.9).contains(&per_step), "{per_step} spikes per step");
        // Delays between store and recall average near the expected 6 periods.
        let big = cfg.generate(400, 1);
        let mut delays = vec![];
        for r in &big.recalls {
            let c = cfg.channels();
            let store = (0..r.period)
                .rev()
                .find(|&k| {
                    (0..cfg.symbol_ms).any(|s| {
                        big.spikes.input[(((k * cfg.symbol_ms + s) * 400) + r.sequence) * c + 50..]
                            [..25]
                            .contains(&1.0)
                    })
                })
                .unwrap();
            delays.push((r.period - store) as f64);
        }
        let mean = delays.iter().sum::<f64>() / delays.len() as f64;
        assert!((2.5..6.5).contains(&mean), "mean delay {mean}");
    }

    #[test]
    fn invalid_configs_are_named() {
        let e = StoreRecallConfig {
            rate_hz: 5000.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("rate_hz"));
        let e = StoreRecallConfig {
            symbols: 1,
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("symbols"));
        for dt_ms in [0.0, -1.0, f64::NAN] {
            let e = StoreRecallConfig {
                dt_ms,
                ..Default::default()
            }
            .validate()
            .unwrap_err()
            .to_string();
            assert!(e.contains("task.dt_ms"), "{e}");
        }
    }
}
