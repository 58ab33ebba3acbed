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
}

/// Result alias of spikeburn-plasticity.
pub type Result<T> = std::result::Result<T, PlasticityError>;
