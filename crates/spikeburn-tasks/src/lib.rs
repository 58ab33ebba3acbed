//! # spikeburn-tasks
//!
//! Task generators for spiking-network experiments (store-recall, MNIST
//! loading and encoding, target trajectories for drive training, linear
//! and nonlinear systems driven by smoothed noise, the delayed XOR, smooth
//! signals to auto-encode). Tasks produce plain
//! host arrays (time-major `[T, batch, channels]`, row-major `Vec<f32>`), so
//! this crate depends on no backend: experiments turn them into tensors on
//! whatever device they train on.

pub mod delayed_xor;
pub mod drive_targets;
pub mod error;
pub mod function_family;
pub mod linear_system;
pub mod mnist;
pub mod navigation;
pub mod nonlinear_system;
pub mod smooth_signal;
pub mod store_recall;

pub use error::{Result, TasksError};

/// A batch of input spike trains with per-sequence targets.
#[derive(Clone, Debug, PartialEq)]
pub struct SpikeBatch {
    /// Input spikes `[steps, batch, channels]`, row-major, values in {0, 1}.
    pub input: Vec<f32>,
    /// Time steps.
    pub steps: usize,
    /// Sequences.
    pub batch: usize,
    /// Input channels.
    pub channels: usize,
}
