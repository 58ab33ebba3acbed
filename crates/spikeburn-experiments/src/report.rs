//! What an experiment returns: its metrics, the paper's values, and its
//! figures and tables, serialised as the one JSON line `spikeburn run`
//! prints.

use serde::Serialize;
use serde_json::Value;
use spikeburn_plot::Figure;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{ExperimentError, Result};
use crate::run::RunContext;

/// The outcome of one experiment run.
///
/// `metrics` and `paper` hold numbers (or, for a few, words such as why a
/// variant was skipped); a metric that could not be computed is an error
/// ([`Report::metric`] refuses NaN), never `null`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The experiment's name.
    pub experiment: String,
    /// What was measured, by name.
    pub metrics: BTreeMap<String, Value>,
    /// The paper's values (or claims) for the same metrics.
    pub paper: BTreeMap<String, Value>,
    /// The backend the run used.
    pub backend: String,
    /// Its seed.
    pub seed: u64,
    /// Whether it was the reduced (`quick`) preset.
    pub quick: bool,
    /// Wall time of the run (s).
    pub wall_time_s: f64,
    /// Where its files are.
    pub out_dir: String,
    /// Figures, by file stem (rendered by [`Report::save_figures`]).
    #[serde(skip)]
    pub figures: Vec<(String, Figure)>,
    /// Tables (JSON values), by file name.
    #[serde(skip)]
    pub tables: Vec<(String, Value)>,
    #[serde(skip)]
    started: Option<Instant>,
}

impl Report {
    /// An empty report for `experiment` run in `ctx`; starts its clock.
    pub fn new(experiment: &str, ctx: &RunContext) -> Self {
        Self {
            experiment: experiment.into(),
            metrics: BTreeMap::new(),
            paper: BTreeMap::new(),
            backend: ctx.backend.clone(),
            seed: ctx.seed,
            quick: ctx.quick,
            wall_time_s: 0.0,
            out_dir: ctx.out_dir.display().to_string(),
            figures: vec![],
            tables: vec![],
            started: Some(Instant::now()),
        }
    }

    /// Records a numeric metric, rounded to 4 decimals; NaN or infinity is
    /// an error naming the metric.
    pub fn metric(&mut self, name: &str, value: f64) -> Result<()> {
        if !value.is_finite() {
            return Err(ExperimentError::NonFinite {
                what: format!("metric `{name}`"),
                value,
            });
        }
        let rounded = if value.abs() >= 1e-3 {
            (value * 1e4).round() / 1e4
        } else {
            value
        };
        self.metrics.insert(name.into(), Value::from(rounded));
        Ok(())
    }

    /// Records a count.
    pub fn count(&mut self, name: &str, value: usize) {
        self.metrics.insert(name.into(), Value::from(value));
    }

    /// Records a metric that is words, not a number (e.g. why a variant
    /// was skipped).
    pub fn note(&mut self, name: &str, text: &str) {
        self.metrics.insert(name.into(), Value::from(text));
    }

    /// Records a structured metric (rows of a sweep).
    pub fn value(&mut self, name: &str, value: Value) {
        self.metrics.insert(name.into(), value);
    }

    /// Records the paper's value for a metric.
    pub fn paper(&mut self, name: &str, value: impl Into<Value>) {
        self.paper.insert(name.into(), value.into());
    }

    /// Adds a figure, saved as `stem.svg` and `stem.png`.
    pub fn figure(&mut self, stem: impl Into<String>, figure: Figure) {
        self.figures.push((stem.into(), figure));
    }

    /// Adds a table, saved as the JSON file `name`.
    pub fn table(&mut self, name: impl Into<String>, value: Value) {
        self.tables.push((name.into(), value));
    }

    /// A metric as a number.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).and_then(Value::as_f64)
    }

    /// Stops the clock.
    pub fn finish(mut self) -> Self {
        if let Some(t) = self.started.take() {
            self.wall_time_s = (t.elapsed().as_secs_f64() * 1e3).round() / 1e3;
        }
        self
    }

    /// The one JSON line.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).expect("a report serialises")
    }

    /// Writes every figure (SVG and PNG) and table into `dir`; returns the
    /// files written.
    pub fn save_figures(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| ExperimentError::io("create", dir, e))?;
        let mut written = vec![];
        for (stem, figure) in &self.figures {
            let saved = figure.save(dir, stem)?;
            written.push(saved.svg);
            written.push(saved.png);
        }
        for (name, value) in &self.tables {
            let path = dir.join(name);
            write_json_atomically(&path, value)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Writes `value` as pretty JSON through a temporary file and a rename.
pub fn write_json_atomically(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("values serialise");
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| ExperimentError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ExperimentError::io("rename", &tmp, e))
}

/// A tensor's values on the host as `E` (row-major); `what` names it in
/// the error if the backend cannot hand them back.
pub(crate) fn host_values<const D: usize, E: burn::tensor::Element>(
    values: burn::prelude::Tensor<D>,
    what: &str,
) -> Result<Vec<E>> {
    values
        .into_data()
        .convert::<E>()
        .try_to_vec::<E>()
        .map_err(|e| ExperimentError::NonFinite {
            what: format!("{what} read back ({e:?})"),
            value: f64::NAN,
        })
}

/// One sequence of a time-major tensor `[T, 1, N]` (spikes, currents, a
/// readout) as `[T][N]` host rows, for rasters and traces.
pub(crate) fn sequence_rows(values: burn::prelude::Tensor<3>) -> Result<Vec<Vec<f32>>> {
    let n = values.dims()[2];
    let flat: Vec<f32> = host_values(values, "sequence")?;
    Ok(flat.chunks(n.max(1)).map(<[f32]>::to_vec).collect())
}
