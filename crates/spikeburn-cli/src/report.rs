//! What every `spikeburn run` writes: the output folder, and one final JSON line.

use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Collects an experiment's results and prints them as one JSON line.
pub struct Report {
    experiment: String,
    backend: String,
    seed: u64,
    quick: bool,
    out_dir: PathBuf,
    started: Instant,
    metrics: Map<String, Value>,
    paper: Map<String, Value>,
}

impl Report {
    /// Starts the clock for `experiment` and creates `out_dir`.
    pub fn new(
        experiment: &str,
        backend: &str,
        seed: u64,
        quick: bool,
        out_dir: &Path,
    ) -> Result<Self, String> {
        std::fs::create_dir_all(out_dir)
            .map_err(|e| format!("cannot create output folder {}: {e}", out_dir.display()))?;
        Ok(Self {
            experiment: experiment.into(),
            backend: backend.into(),
            seed,
            quick,
            out_dir: out_dir.into(),
            started: Instant::now(),
            metrics: Map::new(),
            paper: Map::new(),
        })
    }

    /// The output folder.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Records a metric.
    pub fn metric(&mut self, name: &str, value: impl Serialize) {
        self.metrics.insert(
            name.into(),
            serde_json::to_value(value).expect("metric serialises"),
        );
    }

    /// Records the paper's value for a metric, for side-by-side comparison.
    #[allow(dead_code)] // used by paper reproductions
    pub fn paper(&mut self, name: &str, value: impl Serialize) {
        self.paper.insert(
            name.into(),
            serde_json::to_value(value).expect("value serialises"),
        );
    }

    /// Writes `value` as pretty JSON to `name` in the output folder.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> Result<(), String> {
        let path = self.out_dir.join(name);
        let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// The final line: `{"experiment": .., "metrics": {..}, "paper": {..}, ...}`.
    pub fn finish(self) -> String {
        let line = serde_json::json!({
            "experiment": self.experiment,
            "metrics": self.metrics,
            "paper": self.paper,
            "backend": self.backend,
            "seed": self.seed,
            "quick": self.quick,
            "wall_time_s": (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            "out_dir": self.out_dir.display().to_string(),
        });
        line.to_string()
    }
}
