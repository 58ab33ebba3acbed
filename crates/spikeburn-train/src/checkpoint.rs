//! Checkpoints: model, optimizer state and training progress, so that a
//! killed run resumes where it stopped.

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Progress saved next to the model and optimizer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Iterations completed.
    pub iteration: usize,
    /// Seed of the run (data streams restart from it).
    pub seed: u64,
    /// Extra, experiment-specific values (best metric, ...).
    pub extra: serde_json::Value,
}

/// Files of one checkpoint in a folder: `model.bpk`, `optimizer.bpk`, `state.json`.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    /// A checkpoint stored in `dir`.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
        }
    }

    /// Whether a complete checkpoint exists.
    pub fn exists(&self) -> bool {
        ["model.bpk", "optimizer.bpk", "state.json"]
            .iter()
            .all(|f| self.dir.join(f).exists())
    }

    /// Writes model, optimizer and state. The state file is written last
    /// (through a rename), so a crash mid-save leaves the previous checkpoint
    /// readable.
    pub fn save<M: Module>(
        &self,
        model: &M,
        optim: &ModuleOptimizer,
        state: &TrainState,
    ) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        model
            .clone()
            .save_file(self.dir.join("model.bpk"))
            .map_err(|e| format!("cannot save the model: {e}"))?;
        optim
            .save(self.dir.join("optimizer.bpk"))
            .map_err(|e| format!("cannot save the optimizer: {e}"))?;
        let tmp = self.dir.join("state.json.tmp");
        let text = serde_json::to_string_pretty(state).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, self.dir.join("state.json")).map_err(|e| e.to_string())
    }

    /// Loads a checkpoint into a freshly initialised `model` and `optim`.
    pub fn load<M: Module>(
        &self,
        model: M,
        optim: ModuleOptimizer,
    ) -> Result<(M, ModuleOptimizer, TrainState), String> {
        let model = model
            .try_load_file(self.dir.join("model.bpk"))
            .map_err(|e| format!("cannot load the model checkpoint: {e}"))?;
        let optim = optim
            .load(self.dir.join("optimizer.bpk"))
            .map_err(|e| format!("cannot load the optimizer checkpoint: {e}"))?;
        let path = self.dir.join("state.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let state = serde_json::from_str(&text)
            .map_err(|e| format!("invalid checkpoint state {}: {e}", path.display()))?;
        Ok((model, optim, state))
    }
}
