//! # spikeburn-plot
//!
//! The figures of spikeburn's experiments — line charts (learning curves,
//! accuracies), spike rasters and heatmaps (a target function beside a
//! network's output over the same plane) — as SVG and PNG from one call. Figures are
//! plain data ([`serde`]-serialisable), so an experiment's report can carry
//! them, and any program can draw its own. The crate depends on no backend.
//!
//! ```
//! use spikeburn_plot::{Figure, Heatmap, LineChart, Panel, Raster, Series};
//!
//! let loss = LineChart::new(
//!     "store-recall",
//!     "iteration",
//!     "loss",
//!     vec![Series::new("train", vec![(0.0, 0.7), (100.0, 0.3), (200.0, 0.1)])],
//! );
//! let raster = Raster::new("hidden layer", vec![vec![0.0, 1.0]; 50], 1.0)
//!     .with_band(40, 50, "recall");
//! let grid = |sign: f64| vec![vec![-sign, sign], vec![sign, -sign]];
//! let xor = Heatmap::new(
//!     "xor",
//!     "x1",
//!     "x2",
//!     (0.0, 1.0),
//!     (0.0, 1.0),
//!     vec![Panel::new("target", grid(1.0)), Panel::new("output", grid(0.8))],
//! );
//! for figure in [Figure::from(loss), Figure::from(raster), Figure::from(xor)] {
//!     let svg = figure.to_svg()?;
//!     let png = figure.to_png()?;
//!     assert!(svg.starts_with("<svg") && png.starts_with(b"\x89PNG"));
//! }
//! // figure.save(dir, "loss") writes dir/loss.svg and dir/loss.png.
//! # Ok::<(), spikeburn_plot::PlotError>(())
//! ```
//!
//! ## Drawing: resvg rather than plotters
//!
//! Each figure is drawn once, as an SVG string written by hand, and the PNG is
//! that SVG rasterised by resvg, so the two files always show the same figure.
//! plotters would draw each format with its own backend, which lay text out
//! differently, and its bitmap backend finds fonts through the system (font-kit
//! by default); resvg, built without its default features, is a pure-Rust SVG
//! renderer that reads nothing from the system.
//!
//! ## Fonts
//!
//! The SVG asks for `sans-serif`, which a browser resolves to its own font.
//! The PNG's text is set in Noto Sans Regular, whose bytes are compiled in
//! from the `notosans` crate (about 200 KB, SIL Open Font License); it stands
//! in for every font family, and no system font is ever read, so a PNG looks
//! the same on every machine, one without any fonts included. Characters
//! Noto Sans lacks (CJK, emoji) are drawn as empty boxes in the PNG; Latin,
//! Greek and Cyrillic text, digits and common symbols render.
//!
//! ## Bad input
//!
//! A [`LineChart`] draws whatever it is given (non-finite points are skipped;
//! see its documentation). A [`Raster`] that cannot be drawn — no steps or
//! neurons, ragged rows, a bad time step, a band reversed or past the last
//! step — is a [`PlotError`] from every drawing call, and so is a [`Heatmap`]
//! that cannot be drawn — no panels, an empty or ragged panel, panels of
//! different shapes, a value that is not finite, an x or y range that is not
//! finite or not increasing.

#![warn(missing_docs)]

mod error;
mod heatmap;
mod line;
mod png;
mod raster;
mod svg;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

pub use error::PlotError;
pub use heatmap::{Heatmap, Panel};
pub use line::{LineChart, Series};
pub use raster::{Band, Raster};

/// A figure of any kind.
///
/// Serialised with a `"kind"` field (`"line"`, `"raster"` or `"heatmap"`)
/// beside the figure's own fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Figure {
    /// A line chart.
    Line(LineChart),
    /// A spike raster.
    Raster(Raster),
    /// Heatmap panels on one colour scale.
    Heatmap(Heatmap),
}

impl From<LineChart> for Figure {
    fn from(chart: LineChart) -> Self {
        Figure::Line(chart)
    }
}

impl From<Raster> for Figure {
    fn from(raster: Raster) -> Self {
        Figure::Raster(raster)
    }
}

impl From<Heatmap> for Figure {
    fn from(heatmap: Heatmap) -> Self {
        Figure::Heatmap(heatmap)
    }
}

/// Where [`Figure::save`] wrote the figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedFigure {
    /// The SVG file, `dir/stem.svg`.
    pub svg: PathBuf,
    /// The PNG file, `dir/stem.png`.
    pub png: PathBuf,
}

impl Figure {
    /// The figure as an SVG document; an error only for a raster or heatmap
    /// that cannot be drawn (see [`Raster::validate`], [`Heatmap::validate`]).
    pub fn to_svg(&self) -> Result<String, PlotError> {
        match self {
            Figure::Line(chart) => Ok(chart.to_svg()),
            Figure::Raster(raster) => raster.to_svg(),
            Figure::Heatmap(heatmap) => heatmap.to_svg(),
        }
    }

    /// The figure as a PNG image, the SVG of [`to_svg`](Self::to_svg)
    /// rasterised at its own size (one pixel per SVG unit).
    pub fn to_png(&self) -> Result<Vec<u8>, PlotError> {
        png::svg_to_png(&self.to_svg()?)
    }

    /// Writes the figure to `dir/stem.svg` and `dir/stem.png`, creating `dir`
    /// if needed, and returns the two paths.
    ///
    /// Both images are drawn before anything is written. Each file is written
    /// to a hidden temporary file in `dir`, flushed to disk and renamed over
    /// its name, so a process killed meanwhile leaves the old file or the new
    /// one, never a partial one (a kill between the two renames can leave a
    /// new SVG beside an old PNG). `stem` must be a plain file name: not
    /// empty, no path separator, not `.` or `..`.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<SavedFigure, PlotError> {
        let plain = Path::new(stem).file_name().is_some_and(|name| name == stem);
        if !plain {
            return Err(PlotError::InvalidStem {
                stem: stem.to_string(),
            });
        }
        let svg = self.to_svg()?;
        let png = png::svg_to_png(&svg)?;
        fs::create_dir_all(dir).map_err(io_error("creating folder", dir))?;
        let saved = SavedFigure {
            svg: dir.join(format!("{stem}.svg")),
            png: dir.join(format!("{stem}.png")),
        };
        write_atomically(&saved.svg, svg.as_bytes())?;
        write_atomically(&saved.png, &png)?;
        Ok(saved)
    }
}

/// Maps an I/O error to [`PlotError::Io`] naming `action` and `path`.
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PlotError {
    let path = path.to_path_buf();
    move |source| PlotError::Io {
        action,
        path,
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file beside it, then renames;
/// on failure removes the temporary file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = File::create_new(&tmp).map_err(io_error("creating temporary file", &tmp))?;
        file.write_all(bytes)
            .map_err(io_error("writing temporary file", &tmp))?;
        file.sync_all()
            .map_err(io_error("flushing temporary file", &tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_error("renaming temporary file onto", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::png::tests::{dark_pixels, png_size, svg_size};

    /// A fresh empty folder under the system's temporary folder.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("spikeburn-plot-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn figure() -> Figure {
        LineChart::new(
            "accuracy",
            "iteration",
            "accuracy",
            vec![Series::new("test", vec![(0.0, 0.1), (10.0, 0.8)])],
        )
        .into()
    }

    #[test]
    fn save_writes_both_files_and_no_temporary_file() {
        let dir = scratch("save").join("nested");
        let figure = figure();
        let saved = figure.save(&dir, "accuracy").unwrap();
        assert_eq!(saved.svg, dir.join("accuracy.svg"));
        assert_eq!(saved.png, dir.join("accuracy.png"));
        assert_eq!(files(&dir), vec!["accuracy.png", "accuracy.svg"]);
        let svg = fs::read_to_string(&saved.svg).unwrap();
        assert_eq!(svg, figure.to_svg().unwrap());
        let png = fs::read(&saved.png).unwrap();
        assert_eq!(png_size(&png), svg_size(&svg));
        assert!(dark_pixels(&png) > 0);
        // Saving again replaces both files, still leaving nothing else.
        let other = Figure::from(Raster::new("r", vec![vec![1.0]; 5], 1.0));
        other.save(&dir, "accuracy").unwrap();
        assert_eq!(files(&dir), vec!["accuracy.png", "accuracy.svg"]);
        assert_eq!(
            fs::read_to_string(&saved.svg).unwrap(),
            other.to_svg().unwrap()
        );
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn save_errors_name_what_failed_and_write_nothing() {
        let dir = scratch("errors");
        fs::create_dir_all(&dir).unwrap();
        for stem in ["", "a/b", "..", "."] {
            let err = figure().save(&dir, stem).unwrap_err();
            assert!(
                matches!(err, PlotError::InvalidStem { .. }),
                "{stem}: {err}"
            );
        }
        // A raster that cannot be drawn writes no file at all.
        let bad = Figure::from(Raster::new("r", vec![vec![1.0]; 5], 1.0).with_band(0, 9, "x"));
        assert!(matches!(
            bad.save(&dir, "bad").unwrap_err(),
            PlotError::BandOutOfRange { .. }
        ));
        assert!(files(&dir).is_empty());
        // A folder where a file stands: the message names the path.
        let blocker = dir.join("blocker");
        fs::write(&blocker, b"").unwrap();
        let err = figure().save(&blocker, "fig").unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }));
        let message = err.to_string();
        assert!(
            message.starts_with("creating folder") && message.contains(&*blocker.to_string_lossy()),
            "{message}"
        );
        // A directory where the SVG should go: the rename fails, and the
        // temporary file is removed again.
        fs::create_dir(dir.join("taken.svg")).unwrap();
        fs::write(dir.join("taken.svg").join("keep"), b"").unwrap();
        let err = figure().save(&dir, "taken").unwrap_err();
        assert!(
            err.to_string().starts_with("renaming temporary file onto"),
            "{err}"
        );
        assert_eq!(files(&dir), vec!["blocker", "taken.svg"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn figures_round_trip_through_json_with_a_kind_tag() {
        let figures = vec![
            figure(),
            Raster::new("r", vec![vec![0.0, 1.0]; 3], 0.5)
                .with_band(0, 1, "cue")
                .into(),
        ];
        let json = serde_json::to_string(&figures).unwrap();
        assert!(json.contains(r#""kind":"line""#) && json.contains(r#""kind":"raster""#));
        let back: Vec<Figure> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, figures);
    }
}
