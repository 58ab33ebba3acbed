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
