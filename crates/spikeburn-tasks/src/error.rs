//! The one error type of `spikeburn-tasks`.

use std::path::PathBuf;

/// What went wrong when configuring a task or reading a data set.
#[derive(Debug, thiserror::Error)]
pub enum TasksError {
    /// A task parameter is outside its valid range.
    #[error("`{field}` = {value} is invalid: expected {expected}")]
    InvalidConfig {
        /// Field name.
        field: String,
        /// The value given.
        value: String,
        /// The valid range, in words.
        expected: String,
    },
    /// A data file is malformed; names the file, the record and the value.
    #[error("{}: {reason}", path.display())]
    BadData {
        /// The file.
        path: PathBuf,
        /// What is wrong, where (record index) and with which value.
        reason: String,
    },
    /// A data file is missing.
    #[error("{what} not found in {}: {hint}", dir.display())]
    Missing {
        /// The file(s) looked for.
        what: String,
        /// The folder searched.
        dir: PathBuf,
        /// How to get them.
        hint: String,
    },
    /// A file-system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl TasksError {
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

    /// A [`BadData`](Self::BadData) error.
    pub fn bad_data(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::BadData {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = TasksError> = std::result::Result<T, E>;
