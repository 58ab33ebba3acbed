//! How an experiment is run: where it writes, its seed, whether it
//! resumes, and who watches its progress.

use std::path::{Path, PathBuf};

use crate::error::{ExperimentError, Result};

/// Sees an experiment's progress (the CLI draws progress bars from it).
///
/// A run reports stages (`start` with the number of steps, `advance` per
/// step with a short status, `finish`); the default methods ignore all.
pub trait Observer: Sync {
    /// A stage of `total` steps begins.
    fn start(&self, stage: &str, total: u64) {
        let _ = (stage, total);
    }
    /// One step of the current stage is done; `status` says how it went.
    fn advance(&self, status: &str) {
        let _ = status;
    }
    /// The current stage is over.
    fn finish(&self) {}
}

/// An [`Observer`] that ignores everything.
pub struct Silent;

impl Observer for Silent {}

/// Where and how a run happens.
pub struct RunContext<'a> {
    /// Folder for the config, metrics logs, checkpoints and the model.
    pub out_dir: PathBuf,
    /// Seed of every random stream.
    pub seed: u64,
    /// Continue from the last checkpoint in `out_dir`.
    pub resume: bool,
    /// Whether the config is the reduced preset (reported only).
    pub quick: bool,
    /// Name of the backend (reported only).
    pub backend: String,
    /// Who sees the progress.
    pub observer: &'a dyn Observer,
}

impl RunContext<'static> {
    /// A fresh (not resumed), silent run writing into `out_dir` with seed 0.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        Self {
            out_dir: out_dir.into(),
            seed: 0,
            resume: false,
            quick: false,
            backend: "flex".into(),
            observer: &Silent,
        }
    }
}

impl<'a> RunContext<'a> {
    /// The same context with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same context, resuming.
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// The same context with another observer.
    pub fn with_observer<'b>(self, observer: &'b dyn Observer) -> RunContext<'b> {
        RunContext {
            out_dir: self.out_dir,
            seed: self.seed,
            resume: self.resume,
            quick: self.quick,
            backend: self.backend,
            observer,
        }
    }

    /// Creates the output folder and writes `config.json` into it. With
    /// `--resume` and a `config.json` already there, the configuration must
    /// be the one the run was started with, apart from the fields the
    /// experiment lets a resume change ([`Validate::resumable_fields`]:
    /// more iterations, a longer sweep): a resumed run that silently changed
    /// its settings (a new default, another `--config`) would mix two runs,
    /// so that is refused, naming the fields that differ.
    ///
    /// [`Validate::resumable_fields`]: crate::Validate::resumable_fields
    pub fn prepare<C: serde::Serialize + crate::Validate>(&self, config: &C) -> Result<()> {
        std::fs::create_dir_all(&self.out_dir)
            .map_err(|e| ExperimentError::io("create", &self.out_dir, e))?;
        let path = self.out_dir.join("config.json");
        if self.resume && path.exists() {
            let saved = read_overlay(&path)?;
            let now = serde_json::to_value(config).expect("configs serialise");
            let mut fields = vec![];
            differing_fields(&saved, &now, String::new(), &mut fields);
            let free = config.resumable_fields();
            fields.retain(|f| !free.contains(&f.split('.').next().unwrap_or(f)));
            if !fields.is_empty() {
                return Err(ExperimentError::ResumeMismatch {
                    path,
                    fields: fields.join(", "),
                });
            }
        }
        crate::report::write_json_atomically(&path, config)
    }

    /// Refuses `--resume` for an experiment that cannot resume.
    pub fn refuse_resume(&self, experiment: &str, why: &str) -> Result<()> {
        if self.resume {
            return Err(ExperimentError::ResumeUnsupported {
                experiment: experiment.into(),
                why: why.into(),
            });
        }
        Ok(())
    }

    /// A path in the output folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.out_dir.join(name)
    }
}

/// The dotted paths at which `a` and `b` differ (objects compared field by
/// field, anything else as a whole).
fn differing_fields(
    a: &serde_json::Value,
    b: &serde_json::Value,
    at: String,
    out: &mut Vec<String>,
) {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => differing_fields(u, v, path, out),
                    _ => out.push(path),
                }
            }
        }
        _ if a != b => out.push(if at.is_empty() {
            "the whole configuration".into()
        } else {
            at
        }),
        _ => {}
    }
}

/// `base` with the JSON object `overlay` laid over it, nested objects merged
/// field by field; unknown fields are refused by the config types.
pub fn overlay<T>(base: &T, overlay: serde_json::Value, source: &Path) -> Result<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut merged = serde_json::to_value(base).expect("configs serialise");
    merge(&mut merged, overlay);
    serde_json::from_value(merged).map_err(|e| ExperimentError::ConfigFile {
        path: source.into(),
        reason: e.to_string(),
    })
}

/// Reads the JSON file at `path`.
pub fn read_overlay(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| ExperimentError::ConfigFile {
        path: path.into(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| ExperimentError::ConfigFile {
        path: path.into(),
        reason: e.to_string(),
    })
}

/// Lays the JSON `overlay` over `base`: objects merged field by field,
/// anything else replaced.
pub fn merge(base: &mut serde_json::Value, overlay: serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The random stream of training iteration `iteration` of a run seeded
/// `seed`: a batch per (seed, iteration), so a resumed run sees the same
/// data as an uninterrupted one.
pub fn batch_rng(seed: u64, iteration: usize) -> rand::rngs::StdRng {
    use rand::SeedableRng;
    rand::rngs::StdRng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9)
            .wrapping_add(iteration as u64 + 1),
    )
}

/// Mean seconds per training iteration of a fit (over every logged
/// iteration, those before a resume included). A log written before the
/// trainer timed its iterations has none: then one iteration's forward and
/// backward pass on `task` is timed now (the optimizer's update, a small
/// part, is left out).
pub fn timed<M, T>(fitted: &spikeburn_train::Fitted<M>, task: &mut T) -> crate::Result<f64>
where
    T: spikeburn_train::Task<M>,
{
    if let Some(s) = fitted.sec_per_iter() {
        return Ok(s);
    }
    let start = std::time::Instant::now();
    let (loss, _) = task.train_step(&fitted.model, fitted.history.len())?;
    let _ = loss.backward();
    Ok(start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JSON value as a configuration with the default resumable fields.
    #[derive(serde::Serialize)]
    struct Config(serde_json::Value);

    impl crate::Validate for Config {
        fn validate(&self) -> crate::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_resumed_run_must_keep_its_configuration() {
        let dir = std::env::temp_dir().join(format!("spikeburn-prepare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let net = |n: usize| serde_json::json!({"neurons": n, "dt": 1.0});
        let first = Config(serde_json::json!({"iterations": 10, "net": net(4)}));
        RunContext::new(&dir).prepare(&first).unwrap();
        let resumed = RunContext::new(&dir).with_resume(true);
        resumed.prepare(&first).unwrap();
        // Training further is a resume.
        let longer = Config(serde_json::json!({"iterations": 20, "net": net(4)}));
        resumed.prepare(&longer).unwrap();
        let other = Config(serde_json::json!({"iterations": 20, "net": net(5), "extra": 1}));
        let e = resumed.prepare(&other).unwrap_err().to_string();
        assert!(e.contains("net.neurons") && e.contains("extra"), "{e}");
        assert!(!e.contains("iterations"), "{e}");
        // A fresh (not resumed) run overwrites it.
        RunContext::new(&dir).prepare(&other).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
