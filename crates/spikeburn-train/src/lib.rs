//! # spikeburn-train
//!
//! Gradient learning for spiking networks built from `spikeburn-core`
//! layers: one BPTT training loop ([`BpttTrainer`]) over a [`Task`] with a
//! pluggable optimizer step ([`AdamStep`]: Burn's Adam with global or
//! per-tensor gradient clipping; [`DeepRStep`]: DEEP R rewiring under a
//! fixed connection budget), learning-rate decay, the LSNN firing-rate
//! regulariser, metrics per iteration and atomic checkpoints that a killed
//! run resumes from exactly (an [`interrupt`]ed one checkpoints first); and the learning-to-learn outer loop
//! ([`meta`]: a [`TaskFamily`] trained through [`MetaTask`], within-episode
//! learning curves; [`actor_critic`]: the A2C loss of meta-RL).

pub mod actor_critic;
pub mod checkpoint;
pub mod deep_r;
pub mod deep_r_step;
pub mod error;
pub mod interrupt;
pub mod loss;
pub mod meta;
pub mod regulariser;
pub mod schedule;
pub mod trainer;

pub use actor_critic::{A2cConfig, a2c_loss};
pub use checkpoint::{Checkpoint, TrainState};
pub use deep_r::{DeepR, DeepRConfig, RewiredMatrix, clip_by_global_norm};
pub use deep_r_step::{DeepRStep, RewiredModel};
pub use error::TrainError;
pub use loss::{accuracy, cross_entropy};
pub use meta::{
    EpisodeLearner, EpisodeResponse, Episodes, LstmLearner, LstmLearnerConfig, MetaTask,
    RatePenalty, TaskFamily, episode_curve,
};
pub use regulariser::firing_rate_regulariser;
pub use schedule::StepDecay;
pub use trainer::{
    AdamStep, BpttTrainer, Fitted, GradientClipping, IterationReport, OptimizerStep, StepOutput,
    Task, TrainerConfig,
};
