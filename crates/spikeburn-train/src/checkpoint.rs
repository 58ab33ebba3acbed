//! Checkpoints that survive a kill at any moment.
//!
//! One checkpoint is a folder of files (the model as a Burn record
//! `model.bpk`, the optimizer's state, `state.json` with the progress and
//! anything the experiment adds). A [`Checkpoint`] root holds:
//!
//! ```text
//! <root>/LATEST                 name of the newest complete checkpoint
//! <root>/iter-00000125/...      that checkpoint
//! <root>/.partial-00000150/...  one being written (only during a save)
//! ```
//!
//! A save writes everything into a `.partial-*` folder, renames it to its
//! final name, then replaces `LATEST` by writing `LATEST.tmp` and renaming it
//! over `LATEST` (a rename is atomic on POSIX file systems), and only then
//! removes the older checkpoint. A process killed at any point of a save
//! therefore leaves `LATEST` naming a complete checkpoint, the previous one
//! or the new one; leftovers of the interrupted save are removed by the next
//! save. (Files are not `fsync`ed: a killed process is covered, a power cut
//! is not.)

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::{Result, TrainError};

/// Progress saved with every checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Iterations completed.
    pub iteration: usize,
    /// Seed of the run (data streams restart from it).
    pub seed: u64,
    /// Extra, experiment-specific values.
    #[serde(default)]
    pub extra: serde_json::Value,
}

/// The environment variable of the test hook in [`Checkpoint::save`]: when it
/// holds an iteration number, the save of that checkpoint stops after
/// writing its first file, creates `HOLDING` in the partial folder and waits
/// forever, so a test can kill the process inside a save.
pub const HOLD_IN_SAVE_ENV: &str = "SPIKEBURN_TEST_HOLD_IN_SAVE";

/// A folder of atomically replaced checkpoints (see the module docs).
#[derive(Clone, Debug)]
pub struct Checkpoint {
    root: PathBuf,
}

const LATEST: &str = "LATEST";

impl Checkpoint {
    /// Checkpoints kept under `root`.
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self {
            root: root.as_ref().to_path_buf(),
        }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of the newest complete checkpoint, if there is one.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        let pointer = self.root.join(LATEST);
        let name = match std::fs::read_to_string(&pointer) {
            Ok(name) => name,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TrainError::io("read", pointer, e)),
        };
        let dir = self.root.join(name.trim());
        if !dir.is_dir() {
            return Err(TrainError::Checkpoint {
                path: pointer,
                reason: format!("names `{}`, which is not a folder", name.trim()),
            });
        }
        Ok(Some(dir))
    }

    /// The progress stored in the newest checkpoint, if there is one.
    pub fn latest_state(&self) -> Result<Option<TrainState>> {
        match self.latest()? {
            Some(dir) => Ok(Some(read_state(&dir)?)),
            None => Ok(None),
        }
    }

    /// Writes a checkpoint of `state`: `write` puts its files into the
    /// folder it is given; `state.json` is written after them.
    pub fn save(
        &self,
        state: &TrainState,
        write: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.root).map_err(|e| TrainError::io("create", &self.root, e))?;
        let name = format!("iter-{:08}", state.iteration);
        let partial = self.root.join(format!(".partial-{:08}", state.iteration));
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(|e| TrainError::io("remove", &partial, e))?;
        }
        std::fs::create_dir(&partial).map_err(|e| TrainError::io("create", &partial, e))?;
        write(&partial)?;
        hold_if_asked(&partial, state.iteration);
        write_json(&partial.join("state.json"), state)?;
        let dir = self.root.join(&name);
        if dir.exists() {
            // Left by a save killed between its two renames: LATEST still
            // names the previous checkpoint, so this one can go.
            std::fs::remove_dir_all(&dir).map_err(|e| TrainError::io("remove", &dir, e))?;
        }
        std::fs::rename(&partial, &dir).map_err(|e| TrainError::io("rename", &partial, e))?;
        let tmp = self.root.join("LATEST.tmp");
        std::fs::write(&tmp, &name).map_err(|e| TrainError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, self.root.join(LATEST))
            .map_err(|e| TrainError::io("rename", &tmp, e))?;
        self.remove_all_but(&name)?;
        Ok(dir)
    }

    /// Removes every checkpoint folder and partial save except `keep`.
    fn remove_all_but(&self, keep: &str) -> Result<()> {
        let entries =
            std::fs::read_dir(&self.root).map_err(|e| TrainError::io("list", &self.root, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name != keep && (name.starts_with("iter-") || name.starts_with(".partial-")) {
                std::fs::remove_dir_all(entry.path())
                    .map_err(|e| TrainError::io("remove", entry.path(), e))?;
            }
        }
        Ok(())
    }
}

/// Reads `state.json` of a checkpoint folder.
pub fn read_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io("read", &path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path,
        reason: format!("invalid state: {e}"),
    })
}

/// Writes `value` as JSON to `path` (inside a checkpoint folder being built).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string(value).map_err(|e| TrainError::Checkpoint {
        path: path.into(),
        reason: format!("cannot serialise: {e}"),
    })?;
    std::fs::write(path, text).map_err(|e| TrainError::io("write", path, e))
}

/// Reads JSON written by [`write_json`].
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: path.into(),
        reason: format!("invalid contents: {e}"),
    })
}

fn hold_if_asked(partial: &Path, iteration: usize) {
    let hold = std::env::var(HOLD_IN_SAVE_ENV).ok();
    if hold.and_then(|v| v.parse::<usize>().ok()) == Some(iteration) {
        let _ = std::fs::write(partial.join("HOLDING"), b"");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(iteration: usize) -> TrainState {
        TrainState {
            iteration,
            seed: 3,
            extra: serde_json::json!({"best": iteration}),
        }
    }

    #[test]
    fn saves_replace_the_latest_and_leave_one_folder() {
        let root = std::env::temp_dir().join(format!("spikeburn-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let ck = Checkpoint::new(&root);
        assert!(ck.latest().unwrap().is_none());
        for it in [5, 10] {
            ck.save(&state(it), |dir| {
                std::fs::write(dir.join("model.txt"), it.to_string())
                    .map_err(|e| TrainError::io("write", dir, e))
            })
            .unwrap();
        }
        assert_eq!(ck.latest_state().unwrap(), Some(state(10)));
        let dir = ck.latest().unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("model.txt")).unwrap(),
            "10"
        );
        // A save that failed half-way leaves the previous checkpoint in force.
        let e = ck.save(&state(15), |dir| {
            std::fs::write(dir.join("model.txt"), "15").unwrap();
            Err(TrainError::mismatch("test", "fails on purpose"))
        });
        assert!(e.is_err());
        assert_eq!(ck.latest_state().unwrap(), Some(state(10)));
        ck.save(&state(20), |_| Ok(())).unwrap();
        let names: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, vec!["LATEST", "iter-00000020"]);
        std::fs::remove_dir_all(root).ok();
    }
}
