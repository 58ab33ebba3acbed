//! # spikeburn-bench
//!
//! The benchmark workloads of `shared/bench/WORKLOADS.md`, built bit for bit
//! from the SplitMix64 stream so spikeburn's numbers can be compared with other
//! libraries' on the same machine. `spikeburn bench <workload>` prints one JSON
//! line per run.

pub mod splitmix;
pub mod w1;
pub mod w2;

/// Peak resident set size of this process in MB (`VmHWM`), if the OS reports it.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
