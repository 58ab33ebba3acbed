//! One thread pool for spikeburn's CPU kernels.
//!
//! The host kernels of the fused BPTT path (this crate) and host RLS
//! (`spikeburn-plasticity`) run their parallel work on one dedicated
//! [rayon](https://docs.rs/rayon) pool, so a program has a single setting
//! for the CPU threads spikeburn uses:
//!
//! - by default, the environment variable `SPIKEBURN_THREADS` when it holds
//!   a positive integer, else the machine's available parallelism;
//! - at run time, [`set_num_threads`] (replaces the pool; work already
//!   running finishes on the old one).
//!
//! The pool is separate from rayon's global pool, which Burn's own CPU
//! backends may use, so the two settings do not interfere.
//!
//! Work is cut into chunks fixed by the problem (batch rows, neurons, rows
//! of `P`), never by the thread count, and partial results are combined in
//! chunk order: the numbers are bit-identical whatever the thread count.

use std::sync::{Arc, RwLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::{Result, SpikeburnError};

/// The pool, built on first use.
static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

/// The environment variable that sets the default thread count.
pub const THREADS_ENV: &str = "SPIKEBURN_THREADS";

/// Threads the pool starts with: `SPIKEBURN_THREADS`, else available parallelism.
fn default_threads() -> usize {
    std::env::var(THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&t: &usize| t > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn build(threads: usize) -> Result<ThreadPool> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("spikeburn-{i}"))
        .build()
        .map_err(|e| SpikeburnError::ThreadPool {
            threads,
            message: e.to_string(),
        })
}

fn pool() -> Arc<ThreadPool> {
    if let Some(p) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return p.clone();
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| {
        let threads = default_threads();
        // Starting the default pool failed (e.g. a thread limit): one
        // thread still runs every kernel, with the same results.
        Arc::new(
            build(threads)
                .or_else(|_| build(1))
                .expect("spikeburn could not start even one worker thread"),
        )
    })
    .clone()
}

/// Threads spikeburn's CPU kernels use (see the [module docs](self)).
pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// Sets the threads spikeburn's CPU kernels use from now on; `threads`
/// must be at least 1. Results do not depend on it, only speed does.
pub fn set_num_threads(threads: usize) -> Result<()> {
    if threads == 0 {
        return Err(SpikeburnError::InvalidValue {
            name: "num_threads",
            value: 0.0,
            expected: "at least 1 thread",
        });
    }
    let new = Arc::new(build(threads)?);
    *POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(new);
    Ok(())
}

/// Runs `work` on spikeburn's pool: rayon's parallel iterators inside it
/// use the pool's threads. For CPU kernels of the spikeburn crates.
pub fn install<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    pool().install(work)
}
