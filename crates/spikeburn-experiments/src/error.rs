//! The one error type of `spikeburn-experiments`.

use std::path::PathBuf;

/// What went wrong when configuring or running an experiment.
///
/// Every variant names the bad value, file or iteration and what was
/// expected.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// A configuration field is outside its valid range.
    #[error("`{field}` = {value} is invalid: expected {expected}")]
    InvalidConfig {
        /// Field path, e.g. `"task.dt_ms"`.
        field: String,
        /// The value given.
        value: String,
        /// The valid range, in words.
        expected: String,
    },
    /// A configuration file could not be read or parsed.
    #[error("invalid config {}: {reason}", path.display())]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No experiment of that name.
    #[error("unknown experiment `{name}`: expected one of {known}")]
    UnknownExperiment {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// `--resume` with a configuration other than the one the run was
    /// started with (it would mix two runs).
    #[error(
        "cannot resume the run in {}: its configuration differs in {fields} \
         (resume with the same --config and --quick as the run that made it)",
        path.display()
    )]
    ResumeMismatch {
        /// The run's `config.json`.
        path: PathBuf,
        /// The fields that differ (dotted paths).
        fields: String,
    },
    /// `--resume` given to an experiment that cannot resume.
    #[error("`{experiment}` does not resume (--resume): {why}")]
    ResumeUnsupported {
        /// The experiment.
        experiment: String,
        /// Why, and what to do instead.
        why: String,
    },
    /// A simulation or a metric produced NaN or infinity.
    #[error("{what} is {value}: the run produced a non-finite value")]
    NonFinite {
        /// Which quantity.
        what: String,
        /// The value it took.
        value: f64,
    },
    /// A saved model could not be loaded.
    #[error("cannot load {what} from {}: {reason}", path.display())]
    Load {
        /// What was being loaded.
        what: &'static str,
        /// From where.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// A model or figure could not be saved.
    #[error("cannot save {what} to {}: {reason}", path.display())]
    Save {
        /// What was being saved.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// A file-system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// From `spikeburn-core` (layer and neuron configuration, shapes).
    #[error(transparent)]
    Core(#[from] spikeburn_core::SpikeburnError),
    /// From `spikeburn-train` (training, checkpoints, DEEP R).
    #[error(transparent)]
    Train(#[from] spikeburn_train::TrainError),
    /// From `spikeburn-plasticity` (RLS, the drive network).
    #[error(transparent)]
    Plasticity(#[from] spikeburn_plasticity::PlasticityError),
    /// From `spikeburn-tasks` (task generators, data sets).
    #[error(transparent)]
    Tasks(#[from] spikeburn_tasks::TasksError),
    /// From `spikeburn-plot` (figures).
    #[error(transparent)]
    Plot(#[from] spikeburn_plot::PlotError),
}

impl ExperimentError {
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

    /// An [`Io`](Self::Io) error.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<ExperimentError> for spikeburn_train::TrainError {
    /// An experiment's error inside a training task.
    fn from(e: ExperimentError) -> Self {
        Self::Task(Box::new(e))
    }
}

/// Results of this crate.
pub type Result<T, E = ExperimentError> = std::result::Result<T, E>;
