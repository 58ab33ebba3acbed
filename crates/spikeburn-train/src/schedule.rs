//! Learning-rate schedules.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// `lr(i) = initial · factor^⌊i / every⌋` (the LSNN code's decay: ×0.8 every
/// 2500 iterations for sMNIST, ×0.3 every 100 for store-recall).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepDecay {
    /// Learning rate at iteration 0.
    pub initial: f64,
    /// Multiplier applied every `every` iterations.
    pub factor: f64,
    /// Period of the decay in iterations (0: constant).
    pub every: usize,
}

impl StepDecay {
    /// A constant learning rate.
    pub fn constant(lr: f64) -> Self {
        Self {
            initial: lr,
            factor: 1.0,
            every: 0,
        }
    }

    /// `initial × factor` every `every` iterations, or a constant `initial`
    /// for `every` = 0 (whatever `factor`).
    pub fn decaying(initial: f64, factor: f64, every: usize) -> Self {
        if every == 0 {
            Self::constant(initial)
        } else {
            Self {
                initial,
                factor,
                every,
            }
        }
    }

    /// The learning rate at `iteration`.
    pub fn at(&self, iteration: usize) -> f64 {
        if self.every == 0 {
            return self.initial;
        }
        self.initial * self.factor.powi((iteration / self.every) as i32)
    }

    /// Checks that the rate is positive and the factor in (0, 1].
    pub fn validate(&self) -> Result<()> {
        if !(self.initial > 0.0 && self.initial <= 10.0) {
            return Err(TrainError::invalid(
                "schedule.initial",
                self.initial,
                "a learning rate in (0, 10]",
            ));
        }
        if !(self.factor > 0.0 && self.factor <= 1.0) {
            return Err(TrainError::invalid(
                "schedule.factor",
                self.factor,
                "a decay factor in (0, 1]",
            ));
        }
        if self.every == 0 && self.factor != 1.0 {
            return Err(TrainError::invalid(
                "schedule.every",
                0,
                "at least 1 when `factor` < 1 (0 means a constant rate, with factor 1)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decaying_with_no_period_is_a_valid_constant() {
        let c = StepDecay::decaying(0.01, 0.8, 0);
        assert!(c.validate().is_ok());
        assert_eq!(c.at(10_000), 0.01);
        let d = StepDecay::decaying(0.01, 0.8, 100);
        assert!((d.at(250) - 0.01 * 0.64).abs() < 1e-15);
    }

    #[test]
    fn decays_in_steps() {
        let s = StepDecay {
            initial: 0.01,
            factor: 0.5,
            every: 10,
        };
        assert_eq!(s.at(0), 0.01);
        assert_eq!(s.at(9), 0.01);
        assert_eq!(s.at(10), 0.005);
        assert_eq!(s.at(25), 0.0025);
        assert_eq!(StepDecay::constant(0.1).at(1000), 0.1);
        assert!(StepDecay { factor: 1.5, ..s }.validate().is_err());
    }
}
