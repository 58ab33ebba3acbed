//! # spikeburn-bench
//!
//! The benchmark workloads of `shared/bench/WORKLOADS.md`, built bit for bit
//! from the SplitMix64 stream so spikeburn's numbers can be compared with other
//! libraries' on the same machine. `spikeburn bench <workload>` prints one JSON
//! line per run.

pub mod ebn;
pub mod exact;
pub mod splitmix;
pub mod w1;
pub mod w2;

/// Why a benchmark run was refused or failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BenchError {
    /// A workload option is out of range; names the option, the value and what was expected.
    #[error("--{option} {value} is invalid: expected {expected}")]
    InvalidOption {
        /// The option's name, as on the command line (`p`, `shared-p`, ...).
        option: &'static str,
        /// The value given.
        value: String,
        /// What the option accepts.
        expected: String,
    },
    /// The RLS state or the presynaptic sets refused the configuration, or
    /// RLS diverged.
    #[error(transparent)]
    Plasticity(#[from] spikeburn_plasticity::PlasticityError),
    /// A tensor could not be read back from the device.
    #[error("reading {what} back from the device failed: {message}")]
    Readback {
        /// Which tensor.
        what: &'static str,
        /// The backend's message.
        message: String,
    },
}

/// Peak resident set size of this process in MB (`VmHWM`), if the OS reports it.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
