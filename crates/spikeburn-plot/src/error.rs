//! The one error type of the crate.

use std::io;
use std::path::PathBuf;

/// Why a figure could not be drawn, rasterised or saved.
///
/// Line charts have no invalid input (see [`LineChart`](crate::LineChart)),
/// so the input variants all concern rasters and heatmaps; the others come
/// from rasterising and writing files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The raster has no time steps or no neurons, so there is nothing to draw.
    #[error("raster has {steps} steps × {neurons} neurons: nothing to draw")]
    EmptyRaster {
        /// Rows of `spikes`.
        steps: usize,
        /// Length of the first row.
        neurons: usize,
    },
    /// A row of the raster's `spikes` has another length than the first row.
    #[error("raster row {step} has {len} neurons, but row 0 has {neurons}")]
    RaggedRaster {
        /// The offending row (time step).
        step: usize,
        /// Its length.
        len: usize,
        /// Length of row 0.
        neurons: usize,
    },
    /// The raster's time step is not a positive finite number of milliseconds.
    #[error("raster time step must be a positive finite number of ms, got {dt_ms}")]
    InvalidTimeStep {
        /// The value given.
        dt_ms: f64,
    },
    /// A band starts after it ends.
    #[error("band {label:?} starts at step {start}, after its end at step {end}")]
    BandReversed {
        /// The band's label.
        label: String,
        /// First step.
        start: usize,
        /// End step (exclusive).
        end: usize,
    },
    /// A band reaches past the raster's last step.
    #[error("band {label:?} (steps {start}..{end}) ends past the raster's {steps} steps")]
    BandOutOfRange {
        /// The band's label.
        label: String,
        /// First step.
        start: usize,
        /// End step (exclusive).
        end: usize,
        /// Steps in the raster.
        steps: usize,
    },
    /// The heatmap has no panels, so there is nothing to draw.
    #[error("heatmap has no panels: nothing to draw")]
    NoPanels,
    /// A heatmap panel has no rows or no columns.
    #[error("heatmap panel {panel} ({title:?}) has {rows} rows × {cols} columns: nothing to draw")]
    EmptyPanel {
        /// Index of the panel, from 0 on the left.
        panel: usize,
        /// The panel's title.
        title: String,
        /// Rows of its `values`.
        rows: usize,
        /// Length of its first row.
        cols: usize,
    },
    /// A row of a heatmap panel has another length than the panel's first row.
    #[error("heatmap panel {panel} ({title:?}) row {row} has {len} columns, but row 0 has {cols}")]
    RaggedPanel {
        /// Index of the panel, from 0 on the left.
        panel: usize,
        /// The panel's title.
        title: String,
        /// The offending row.
        row: usize,
        /// Its length.
        len: usize,
        /// Length of row 0.
        cols: usize,
    },
    /// A heatmap panel has another shape than the first panel.
    #[error(
        "heatmap panel {panel} ({title:?}) is {rows} rows × {cols} columns, but panel 0 is {first_rows} × {first_cols}"
    )]
    PanelShapeMismatch {
        /// Index of the panel, from 0 on the left.
        panel: usize,
        /// The panel's title.
        title: String,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
        /// Rows of panel 0.
        first_rows: usize,
        /// Columns of panel 0.
        first_cols: usize,
    },
    /// A heatmap value is NaN or infinite.
    #[error(
        "heatmap panel {panel} ({title:?}) has the non-finite value {value} at row {row}, column {col}"
    )]
    NonFiniteValue {
        /// Index of the panel, from 0 on the left.
        panel: usize,
        /// The panel's title.
        title: String,
        /// Row of the value (0 is the bottom row).
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value.
        value: f64,
    },
    /// A heatmap's x or y range is not finite, or its minimum is not below
    /// its maximum.
    #[error("heatmap {axis} range must be finite with min < max, got ({min}, {max})")]
    InvalidRange {
        /// `"x"` or `"y"`.
        axis: &'static str,
        /// The range's first value.
        min: f64,
        /// The range's second value.
        max: f64,
    },
    /// The file stem passed to [`Figure::save`](crate::Figure::save) is empty
    /// or not a plain file name (it has a separator, or is `.` or `..`).
    #[error("figure file stem {stem:?} is not a plain file name")]
    InvalidStem {
        /// The stem given.
        stem: String,
    },
    /// resvg could not read the SVG this crate drew (a bug of this crate, or
    /// coordinates that overflow, such as data spanning more than `f64::MAX`).
    #[error("rasterising the figure failed: the drawn SVG did not parse: {message}")]
    SvgParse {
        /// resvg's message.
        message: String,
    },
    /// No pixel buffer of the figure's size could be allocated.
    #[error("rasterising the figure failed: no {width}×{height} pixel buffer")]
    Pixmap {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Encoding the rendered pixels as PNG failed.
    #[error("encoding the figure as PNG failed: {message}")]
    EncodePng {
        /// The encoder's message.
        message: String,
    },
    /// A file-system operation failed; `action` says which, `path` on what.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "writing temporary file".
        action: &'static str,
        /// The file or folder it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}
