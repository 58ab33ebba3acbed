//! The error type of spikeburn-plasticity.

/// What can go wrong in spikeburn-plasticity: a configuration or an input
/// that was refused, or an update that broke down numerically.
///
/// Every message names the offending value and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlasticityError {
    /// A configuration value is invalid (`lambda`, a probability, a protocol length...).
    #[error("{0}")]
    Config(String),
    /// An input (tensor, vector, set) has the wrong shape or size.
    #[error("{0}")]
    Shape(String),
    /// `P` or the weights became NaN/infinite, or `P` lost its symmetry or
    /// positive definiteness (`qᵀPq ≤ −1` makes `c` blow up).
    #[error("{0}")]
    Numerical(String),
    /// A parameter is out of its range: names it, the value and the range.
    #[error("`{name}` = {value} is invalid: expected {expected}")]
    InvalidParameter {
        /// The parameter's name, as in the config.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The valid range, in words.
        expected: String,
    },
    /// Two sizes that must agree do not (a system matrix vs the readout, a
    /// weight matrix vs the neuron count, an input vector vs the encoder).
    #[error("{what} has size {got}, expected {expected}")]
    SizeMismatch {
        /// What was given.
        what: &'static str,
        /// Its size.
        got: String,
        /// The size it must have.
        expected: String,
    },
    /// The network's state became NaN or infinite at `step`.
    #[error("the network diverged at step {step}: {what} is not finite")]
    Diverged {
        /// Step index.
        step: usize,
        /// Which state (membrane, rates, weights).
        what: &'static str,
    },
}

impl PlasticityError {
    /// An [`InvalidParameter`](Self::InvalidParameter) error.
    pub fn invalid(name: &'static str, value: f64, expected: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name,
            value,
            expected: expected.into(),
        }
    }

    /// A [`SizeMismatch`](Self::SizeMismatch) error.
    pub fn size(
        what: &'static str,
        got: impl std::fmt::Display,
        expected: impl std::fmt::Display,
    ) -> Self {
        Self::SizeMismatch {
            what,
            got: got.to_string(),
            expected: expected.to_string(),
        }
    }
}

/// Result alias of spikeburn-plasticity.
pub type Result<T> = std::result::Result<T, PlasticityError>;
