//! The one error type of `spikeburn-train`.

use std::path::PathBuf;

/// What went wrong while configuring or running training.
///
/// Every variant names the offending value (or file, or iteration) and what
/// was expected, so a user can act on the message without reading our code.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration field is outside its valid range.
    #[error("`{field}` = {value} is invalid: expected {expected}")]
    InvalidConfig {
        /// Field name, e.g. `"schedule.initial"`.
        field: String,
        /// The value given, as written.
        value: String,
        /// The valid range, in words.
        expected: String,
    },
    /// Inputs of inconsistent sizes (gradients vs parameters, ...).
    #[error("{what}: {detail}")]
    Mismatch {
        /// What was being checked.
        what: String,
        /// What was found and what was expected.
        detail: String,
    },
    /// The loss, a gradient or a parameter became NaN or infinite.
    #[error(
        "training diverged at iteration {iteration}: the {what} became {value} \
         (the last good checkpoint is kept; lower the learning rate or enable gradient clipping)"
    )]
    Diverged {
        /// Iteration (0-based) at which it happened.
        iteration: usize,
        /// Which quantity: `"loss"`, `"gradient norm"`, ...
        what: String,
        /// The value it took.
        value: f64,
    },
    /// A checkpoint could not be read or is inconsistent with this run.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A stop was requested ([`crate::interrupt`]): the run stopped after
    /// `iteration` iterations, with a checkpoint there.
    #[error(
        "interrupted after iteration {iteration}: checkpoint saved in {}; run the same command with --resume to continue",
        checkpoint.display()
    )]
    Interrupted {
        /// Iterations done (the checkpoint's iteration).
        iteration: usize,
        /// The checkpoint folder written.
        checkpoint: PathBuf,
    },
    /// Resuming with another seed would mix two runs.
    #[error(
        "the checkpoint in {} was made with seed {saved} but this run has seed {requested}: \
         resume with the same --seed",
        path.display()
    )]
    SeedMismatch {
        /// The checkpoint folder.
        path: PathBuf,
        /// Seed stored in it.
        saved: u64,
        /// Seed of this run.
        requested: u64,
    },
    /// A file-system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was attempted: `"write"`, `"rename"`, ...
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The task (an experiment's forward pass, its data) failed.
    #[error("the task failed: {0}")]
    Task(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A layer or neuron configuration was rejected by `spikeburn-core`.
    #[error(transparent)]
    Core(#[from] spikeburn_core::SpikeburnError),
}

impl TrainError {
    /// An [`InvalidConfig`](Self::InvalidConfig) error.
    pub fn invalid(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        Self::InvalidConfig {
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// A [`Mismatch`](Self::Mismatch) error.
    pub fn mismatch(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Mismatch {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// An [`Io`](Self::Io) error.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
