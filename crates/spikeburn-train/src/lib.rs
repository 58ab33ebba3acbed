//! # spikeburn-train
//!
//! Gradient learning for spiking networks built from `spikeburn-core`
//! layers: a BPTT training loop with Adam, learning-rate decay, gradient
//! clipping, the LSNN firing-rate regulariser, held-out evaluation, metrics
//! per iteration and checkpoints that a killed run resumes from; DEEP R
//! rewiring under a fixed connection budget.

pub mod checkpoint;
pub mod deep_r;
pub mod regulariser;
pub mod schedule;
pub mod trainer;

pub use checkpoint::{Checkpoint, TrainState};
pub use deep_r::{DeepR, DeepRConfig, RewiredMatrix, clip_by_global_norm};
pub use regulariser::firing_rate_regulariser;
pub use schedule::StepDecay;
pub use trainer::{BpttTrainer, IterationReport, StepOutput, Task, TrainerConfig};
