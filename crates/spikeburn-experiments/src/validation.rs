//! Range checks for experiment configurations: every field is checked
//! before any work, and the error names the field, its value and the range.

use crate::error::{ExperimentError, Result};

/// A configuration that can check all of its fields.
pub trait Validate {
    /// `Ok` when every field is in range and the fields are consistent.
    fn validate(&self) -> Result<()>;

    /// The top-level fields a `--resume` may change (see
    /// [`RunContext::prepare`](crate::RunContext::prepare)): by default the
    /// iteration counts — training a finished run further — and the
    /// checkpoint interval; any other change would mix two runs.
    fn resumable_fields(&self) -> &'static [&'static str] {
        RESUMABLE_FIELDS
    }
}

/// The default [`Validate::resumable_fields`].
pub const RESUMABLE_FIELDS: &[&str] = &[
    "iterations",
    "iterations_lstm",
    "iterations_surrogate_alif",
    "checkpoint_every",
];

/// The most memory an experiment may plan to use for its largest buffers
/// (activations kept for BPTT, RLS matrices): 16 GiB, so that a huge size
/// is refused up front instead of ending in an out-of-memory kill on the
/// 24 GiB machines this project targets.
pub const MAX_BYTES: f64 = 16.0 * (1u64 << 30) as f64;

/// `value` in `min..=max`.
pub fn count(field: &str, value: usize, min: usize, max: usize) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ExperimentError::invalid(
            field,
            value,
            format!("an integer in {min} ..= {max}"),
        ))
    }
}

/// A finite `value` in `[min, max]`.
pub fn real(field: &str, value: f64, min: f64, max: f64) -> Result<()> {
    if value.is_finite() && value >= min && value <= max {
        Ok(())
    } else {
        Err(ExperimentError::invalid(
            field,
            value,
            format!("a number in [{min}, {max}]"),
        ))
    }
}

/// A finite `value` in `(min, max]` (strictly above `min`).
pub fn positive(field: &str, value: f64, min: f64, max: f64) -> Result<()> {
    if value.is_finite() && value > min && value <= max {
        Ok(())
    } else {
        Err(ExperimentError::invalid(
            field,
            value,
            format!("a number in ({min}, {max}]"),
        ))
    }
}

/// A probability in `[0, 1]`.
pub fn probability(field: &str, value: f64) -> Result<()> {
    real(field, value, 0.0, 1.0)
}

/// The planned size of the largest buffers, `bytes`, fits [`MAX_BYTES`];
/// `what` names the fields that set it.
pub fn memory(what: &str, bytes: f64) -> Result<()> {
    if bytes <= MAX_BYTES {
        Ok(())
    } else {
        Err(ExperimentError::invalid(
            what,
            format!("{:.1} GiB of buffers", bytes / (1u64 << 30) as f64),
            format!("at most {:.0} GiB", MAX_BYTES / (1u64 << 30) as f64),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_the_field_and_value() {
        assert!(count("batch", 4, 1, 8).is_ok());
        let e = count("batch", 0, 1, 8).unwrap_err().to_string();
        assert!(e.contains("`batch` = 0") && e.contains("1 ..= 8"), "{e}");
        assert!(real("gain", f64::NAN, 0.0, 1.0).is_err());
        assert!(positive("tau", 0.0, 0.0, 10.0).is_err());
        assert!(positive("tau", 10.0, 0.0, 10.0).is_ok());
        assert!(probability("p", 1.5).is_err());
        assert!(memory("t × batch", 1e12).is_err());
    }
}
