//! Delayed-memory XOR (Huh & Sejnowski 2018; the temporal-XOR tutorial of
//! the Spike-Frequency-Adaptation code): two signed pulses separated by a
//! delay, then a go-cue; the answer is whether the signs differ.
//!
//! Two input channels, time-major `[steps, batch, 2]`: channel 0 carries
//! the two Gaussian-shaped pulses (`±amplitude`, standard deviation
//! `pulse_ms / 4`, centred `pulse_ms / 2` after their onsets), channel 1
//! the cue (same shape, positive, `cue_ms` long). Onsets: the first pulse
//! at `lead_ms`, the second `pulse_ms + delay_ms` later, the cue
//! `pulse_ms + gap_ms` after the second; the response window is the
//! `response_ms` after the cue. Label 1 when the signs differ, else 0 —
//! each of the four sign pairs equally likely.

use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::{Result, TasksError};

/// The trial's timing (ms) and pulse height.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DelayedXor {
    /// Time before the first pulse.
    pub lead_ms: f64,
    /// Pulse duration.
    pub pulse_ms: f64,
    /// Silence between the pulses.
    pub delay_ms: f64,
    /// Silence between the second pulse and the cue.
    pub gap_ms: f64,
    /// Cue duration.
    pub cue_ms: f64,
    /// Response window after the cue.
    pub response_ms: f64,
    /// Pulse height.
    pub amplitude: f64,
}

impl Default for DelayedXor {
    fn default() -> Self {
        Self {
            lead_ms: 10.0,
            pulse_ms: 50.0,
            delay_ms: 170.0,
            gap_ms: 50.0,
            cue_ms: 20.0,
            response_ms: 60.0,
            amplitude: 1.0,
        }
    }
}

impl DelayedXor {
    /// Refuses negative or non-finite times and pulses shorter than a step.
    pub fn validate(&self, dt_ms: f64) -> Result<()> {
        for (name, v) in [
            ("lead_ms", self.lead_ms),
            ("delay_ms", self.delay_ms),
            ("gap_ms", self.gap_ms),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(TasksError::invalid(name, v, "a duration >= 0 ms"));
            }
        }
        for (name, v) in [
            ("pulse_ms", self.pulse_ms),
            ("cue_ms", self.cue_ms),
            ("response_ms", self.response_ms),
        ] {
            if !(v.is_finite() && v >= 4.0 * dt_ms) {
                return Err(TasksError::invalid(
                    name,
                    v,
                    format!("a duration >= 4 dt = {} ms", 4.0 * dt_ms),
                ));
            }
        }
        if !(self.amplitude.is_finite() && self.amplitude > 0.0) {
            return Err(TasksError::invalid(
                "amplitude",
                self.amplitude,
                "a height > 0",
            ));
        }
        Ok(())
    }

    /// The trial's length in ms.
    pub fn duration_ms(&self) -> f64 {
        self.cue_onset_ms() + self.cue_ms + self.response_ms
    }

    fn cue_onset_ms(&self) -> f64 {
        self.lead_ms + 2.0 * self.pulse_ms + self.delay_ms + self.gap_ms
    }

    /// Steps of `dt_ms` in a trial.
    pub fn steps(&self, dt_ms: f64) -> usize {
        (self.duration_ms() / dt_ms).round() as usize
    }

    /// The response window's steps.
    pub fn response_window(&self, dt_ms: f64) -> std::ops::Range<usize> {
        let start = ((self.cue_onset_ms() + self.cue_ms) / dt_ms).round() as usize;
        start..self.steps(dt_ms)
    }

    /// `batch` trials: inputs `[steps, batch, 2]` and labels.
    pub fn batch(&self, batch: usize, dt_ms: f64, rng: &mut StdRng) -> (Vec<f32>, Vec<usize>) {
        let steps = self.steps(dt_ms);
        let mut x = vec![0f32; steps * batch * 2];
        let mut labels = Vec::with_capacity(batch);
        let bump = |t: f64, onset: f64, width: f64| {
            let c = onset + width / 2.0;
            let s = width / 4.0;
            (-0.5 * ((t - c) / s).powi(2)).exp()
        };
        let second = self.lead_ms + self.pulse_ms + self.delay_ms;
        let cue = self.cue_onset_ms();
        for b in 0..batch {
            let s1 = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            let s2 = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            labels.push((s1 != s2) as usize);
            for t in 0..steps {
                let time = (t as f64 + 0.5) * dt_ms;
                let pulses = s1 * bump(time, self.lead_ms, self.pulse_ms)
                    + s2 * bump(time, second, self.pulse_ms);
                x[(t * batch + b) * 2] = (self.amplitude * pulses) as f32;
                x[(t * batch + b) * 2 + 1] = (self.amplitude * bump(time, cue, self.cue_ms)) as f32;
            }
        }
        (x, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn trials_have_the_described_shape_and_balanced_labels() {
        let task = DelayedXor::default();
        assert_eq!(task.duration_ms(), 410.0);
        let dt = 1.0;
        let (x, labels) = task.batch(400, dt, &mut StdRng::seed_from_u64(1));
        let steps = task.steps(dt);
        let ones = labels.iter().filter(|l| **l == 1).count();
        assert!((150..250).contains(&ones), "{ones}");
        // Trial 0: the pulses peak at 35 ms and 255 ms, the cue at 340 ms with the labelled signs.
        let at = |t: usize, ch: usize| x[(t * 400) * 2 + ch];
        let (p1, p2) = (at(35, 0), at(255, 0));
        assert!(p1.abs() > 0.95 && p2.abs() > 0.95, "{p1} {p2}");
        assert_eq!(labels[0], (p1.signum() != p2.signum()) as usize);
        assert!(at(340, 1) > 0.95 && at(200, 1) < 1e-6);
        assert_eq!(task.response_window(dt), 350..steps);
        assert!(
            task.validate(1.0).is_ok()
                && DelayedXor {
                    pulse_ms: 1.0,
                    ..task
                }
                .validate(1.0)
                .is_err()
        );
    }
}
