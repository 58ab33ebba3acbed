//! Typed errors for invalid configurations and inputs.

/// What went wrong when a configuration or an input was checked.
///
/// Every variant names the offending value and what was expected, so that a
/// user reading the message can fix the config without reading our code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpikeburnError {
    /// A time constant (membrane, adaptation, synaptic, readout) was zero,
    /// negative or not finite.
    #[error("time constant `{name}` = {value} is invalid: expected a finite value > 0")]
    NonPositiveTimeConstant {
        /// Config field name, e.g. `"tau_mem"`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The integration step is not smaller than a time constant, so the
    /// exponential-Euler discretisation no longer resolves the dynamics.
    #[error("time step dt = {dt} is not smaller than `{name}` = {tau}: expected dt < {name}")]
    StepTooLarge {
        /// Name of the time constant that `dt` must stay below.
        name: &'static str,
        /// The step given.
        dt: f64,
        /// The time constant it was compared to.
        tau: f64,
    },
    /// A scalar parameter is outside its valid range.
    #[error("`{name}` = {value} is invalid: expected {expected}")]
    InvalidValue {
        /// Config field name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// Human-readable description of the valid range.
        expected: &'static str,
    },
    /// A tensor (or vector) has the wrong shape.
    #[error("shape mismatch for {what}: expected {expected:?} (0 = any), got {got:?}")]
    ShapeMismatch {
        /// What was being checked, e.g. `"input of RecurrentSpiking"`.
        what: &'static str,
        /// Shape that was expected (`0` stands for "any").
        expected: Vec<usize>,
        /// Shape that was received.
        got: Vec<usize>,
    },
    /// A set that must not be empty (neurons, time steps, batch) is empty.
    #[error("{what} must not be empty")]
    Empty {
        /// What was empty.
        what: &'static str,
    },
    /// The worker threads of spikeburn's CPU kernels could not be started.
    #[error("could not start {threads} worker threads: {message}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// The operating system's reason.
        message: String,
    },
    /// A phase crossed a synaptic gate's active zone in too few steps for
    /// the gate to be resolved (the input drove it too fast).
    #[error(
        "neuron {neuron} (batch row {row}) crossed the gate's active zone at step {step} by {advance:.4} rad in one step, more than half the zone width {zone_width}: lower dt or the input, or widen the zone"
    )]
    GateUnresolved {
        /// Time step index.
        step: usize,
        /// Batch row.
        row: usize,
        /// Neuron index.
        neuron: usize,
        /// Phase advance in that step.
        advance: f64,
        /// The zone width.
        zone_width: f64,
    },
    /// A simulation produced NaN or infinite values.
    #[error("{what} became NaN or infinite")]
    NonFinite {
        /// Which quantity blew up.
        what: &'static str,
    },
}

/// Result alias used across spikeburn.
pub type Result<T> = std::result::Result<T, SpikeburnError>;

/// Checks that a time constant is finite and positive and that `dt` is
/// strictly below it.
pub fn check_time_constant(name: &'static str, tau: f64, dt: f64) -> Result<()> {
    if !(tau.is_finite() && tau > 0.0) {
        return Err(SpikeburnError::NonPositiveTimeConstant { name, value: tau });
    }
    if dt >= tau {
        return Err(SpikeburnError::StepTooLarge { name, dt, tau });
    }
    Ok(())
}

/// Checks that the integration step itself is finite and positive.
pub fn check_dt(dt: f64) -> Result<()> {
    if !(dt.is_finite() && dt > 0.0) {
        return Err(SpikeburnError::InvalidValue {
            name: "dt",
            value: dt,
            expected: "a finite time step > 0",
        });
    }
    Ok(())
}

/// Checks that a shape equals the expected one; `0` in `expected` matches any size.
pub fn check_shape(what: &'static str, expected: &[usize], got: &[usize]) -> Result<()> {
    let ok =
        expected.len() == got.len() && expected.iter().zip(got).all(|(&e, &g)| e == 0 || e == g);
    if ok {
        Ok(())
    } else {
        Err(SpikeburnError::ShapeMismatch {
            what,
            expected: expected.to_vec(),
            got: got.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_constant_checks_name_the_value() {
        let e = check_time_constant("tau_mem", -1.0, 1.0).unwrap_err();
        assert!(e.to_string().contains("tau_mem") && e.to_string().contains("-1"));
        let e = check_time_constant("tau_adapt", 1.0, 1.0).unwrap_err();
        assert_eq!(
            e,
            SpikeburnError::StepTooLarge {
                name: "tau_adapt",
                dt: 1.0,
                tau: 1.0
            }
        );
        assert!(check_time_constant("tau_mem", f64::NAN, 1.0).is_err());
        assert!(check_time_constant("tau_mem", 20.0, 1.0).is_ok());
    }

    #[test]
    fn shape_check_accepts_wildcards() {
        assert!(check_shape("x", &[0, 3], &[7, 3]).is_ok());
        assert!(check_shape("x", &[0, 3], &[7, 4]).is_err());
        assert!(check_shape("x", &[0, 3], &[7, 3, 1]).is_err());
    }
}
