//! Stopping a training run cleanly (Ctrl-C, `kill`).
//!
//! A run that checkpoints would lose up to `checkpoint_every` iterations to
//! a plain kill. Instead, the binary's signal handler calls
//! [`request_stop`]: a [`BpttTrainer`](crate::BpttTrainer) that is saving
//! checkpoints finishes the iteration in progress, saves a checkpoint there
//! and returns [`TrainError::Interrupted`](crate::TrainError::Interrupted),
//! so `--resume` continues from exactly that iteration. When no such
//! trainer is running, [`request_stop`] says so and the handler should exit
//! at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static LISTENERS: AtomicUsize = AtomicUsize::new(0);

/// Asks the running trainers to stop after their current iteration.
/// Returns whether one will: `false` when no checkpointing trainer is
/// running (nothing would be saved by waiting).
pub fn request_stop() -> bool {
    REQUESTED.store(true, Ordering::SeqCst);
    LISTENERS.load(Ordering::SeqCst) > 0
}

/// Whether [`request_stop`] was called.
pub fn stop_requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Registers a trainer that honours [`request_stop`] for as long as it lives.
pub(crate) struct Listening;

impl Listening {
    pub(crate) fn start() -> Self {
        LISTENERS.fetch_add(1, Ordering::SeqCst);
        Self
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        LISTENERS.fetch_sub(1, Ordering::SeqCst);
    }
}
