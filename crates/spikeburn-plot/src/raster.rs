//! Spike rasters: one row per neuron, a tick per spike, shaded time bands.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::PlotError;
use crate::svg::{self, escape};

/// A shaded range of time steps with a label above it, e.g. a recall period
/// or the cue of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    /// First step of the band.
    pub start: usize,
    /// Step after the band's last (exclusive), at most the raster's steps;
    /// `start == end` draws only the label.
    pub end: usize,
    /// Text written above the band.
    pub label: String,
}

impl Band {
    /// A band over steps `start..end` labelled `label`.
    pub fn new(start: usize, end: usize, label: impl Into<String>) -> Self {
        Self {
            start,
            end,
            label: label.into(),
        }
    }
}

/// A spike raster: time runs left to right, neuron 0 is the top row, and each
/// spike is a vertical tick. 900 pixels wide; rows are 2 to 14 pixels high
/// (about 360 pixels for all of them), so the height depends on the neurons.
///
/// An entry of `spikes` is a spike when it is neither 0 nor NaN. The input
/// errors of [`PlotError`] are checked by [`validate`](Self::validate), which
/// every drawing call runs first: no steps or no neurons, rows of different
/// lengths, a time step that is not positive and finite, a band that starts
/// after its end or ends past the last step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Raster {
    /// Title above the raster (none drawn when empty).
    pub title: String,
    /// Spikes `[steps][neurons]`, 0 or 1.
    pub spikes: Vec<Vec<f32>>,
    /// Length of one step in milliseconds, for the time axis.
    pub dt_ms: f64,
    /// Shaded time ranges. Absent in serialised rasters means none.
    #[serde(default)]
    pub bands: Vec<Band>,
}

const W: f64 = 900.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 45.0;

impl Raster {
    /// A raster of `spikes` (`[steps][neurons]`) with steps of `dt_ms`, no bands.
    pub fn new(title: impl Into<String>, spikes: Vec<Vec<f32>>, dt_ms: f64) -> Self {
        Self {
            title: title.into(),
            spikes,
            dt_ms,
            bands: Vec::new(),
        }
    }

    /// The same raster with a band over steps `start..end` added.
    pub fn with_band(mut self, start: usize, end: usize, label: impl Into<String>) -> Self {
        self.bands.push(Band::new(start, end, label));
        self
    }

    /// Time steps (rows of `spikes`).
    pub fn steps(&self) -> usize {
        self.spikes.len()
    }

    /// Neurons (length of the first row; 0 without rows).
    pub fn neurons(&self) -> usize {
        self.spikes.first().map_or(0, Vec::len)
    }

    /// Checks the raster can be drawn; the error says what is wrong where.
    pub fn validate(&self) -> Result<(), PlotError> {
        let (steps, neurons) = (self.steps(), self.neurons());
        if steps == 0 || neurons == 0 {
            return Err(PlotError::EmptyRaster { steps, neurons });
        }
        if let Some((step, row)) = self
            .spikes
            .iter()
            .enumerate()
            .find(|(_, row)| row.len() != neurons)
        {
            return Err(PlotError::RaggedRaster {
                step,
                len: row.len(),
                neurons,
            });
        }
        if !(self.dt_ms > 0.0 && self.dt_ms.is_finite()) {
            return Err(PlotError::InvalidTimeStep { dt_ms: self.dt_ms });
        }
        for band in &self.bands {
            let (label, start, end) = (band.label.clone(), band.start, band.end);
            if start > end {
                return Err(PlotError::BandReversed { label, start, end });
            }
            if end > steps {
                return Err(PlotError::BandOutOfRange {
                    label,
                    start,
                    end,
                    steps,
                });
            }
        }
        Ok(())
    }

    /// The raster as an SVG document, or why it cannot be drawn.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        self.validate()?;
        let (steps, neurons) = (self.steps(), self.neurons());
        let row_h = (360.0 / neurons as f64).clamp(2.0, 14.0);
        let panel_h = row_h * neurons as f64;
        let bottom = TOP + panel_h;
        let h = (bottom + BOTTOM).ceil();
        let sx = |t: f64| LEFT + t / steps as f64 * (W - LEFT - RIGHT);

        let mut s = svg::open(W, h, &self.title);
        for band in &self.bands {
            let (x0, x1) = (sx(band.start as f64), sx(band.end as f64));
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{panel_h:.1}" fill="#ffe9b3"/><text x="{:.1}" y="{:.1}" font-size="10">{}</text>"##,
                x1 - x0,
                x0 + 2.0,
                TOP - 4.0,
                escape(&band.label)
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{panel_h:.1}" fill="none" stroke="#bbb" shape-rendering="crispEdges"/>"##,
            W - LEFT - RIGHT
        );
        // All spikes in one path, a move and a vertical stroke each: a tenth
        // of the bytes of one element per spike.
        let mut d = String::new();
        for (t, row) in self.spikes.iter().enumerate() {
            for (j, &z) in row.iter().enumerate() {
                if z != 0.0 && !z.is_nan() {
                    let y = TOP + row_h * j as f64 + 0.5;
                    let _ = write!(d, "M{:.1} {y:.1}v{:.1}", sx(t as f64), row_h - 1.0);
                }
            }
        }
        if !d.is_empty() {
            let _ = writeln!(
                s,
                r#"<path id="spikes" stroke="black" shape-rendering="crispEdges" d="{d}"/>"#
            );
        }
        for t in svg::linear_ticks(0.0, steps as f64 * self.dt_ms) {
            let x = sx(t.value / self.dt_ms);
            let _ = writeln!(
                s,
                r#"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="black" shape-rendering="crispEdges"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                bottom + 4.0,
                bottom + 16.0,
                escape(&t.label)
            );
        }
        let neuron_ticks: Vec<f64> = if neurons == 1 {
            vec![0.0]
        } else {
            svg::linear_ticks(0.0, (neurons - 1) as f64)
                .into_iter()
                .map(|t| t.value)
                .filter(|v| v.fract() == 0.0)
                .collect()
        };
        for j in neuron_ticks {
            let y = TOP + row_h * (j + 0.5);
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{j}</text>"#,
                LEFT - 4.0,
                y + 3.5
            );
        }
        let mid_y = TOP + panel_h / 2.0;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">time (ms)</text>
<text x="16" y="{mid_y:.1}" text-anchor="middle" transform="rotate(-90 16 {mid_y:.1})">neuron</text>"#,
            (LEFT + W - RIGHT) / 2.0,
            h - 10.0,
        );
        svg::close(&mut s);
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (x, y) start of every spike tick in the spikes path.
    fn ticks(svg: &str) -> Vec<(f64, f64)> {
        let Some(rest) = svg.split(r#"<path id="spikes""#).nth(1) else {
            return Vec::new();
        };
        let d = rest.split("d=\"").nth(1).unwrap();
        let d = &d[..d.find('"').unwrap()];
        d.split('M')
            .skip(1)
            .map(|m| {
                let (xy, _) = m.split_once('v').unwrap();
                let (x, y) = xy.split_once(' ').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn one_tick_per_spike_in_its_row_and_step() {
        let spikes = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 0.0, f32::NAN],
            vec![1.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0],
        ];
        let svg = Raster::new("r", spikes, 1.0).to_svg().unwrap();
        let drawn = ticks(&svg);
        assert_eq!(drawn.len(), 4, "NaN is no spike");
        // Later steps lie further right, higher neurons further down.
        let (a, b, c, d) = (drawn[0], drawn[1], drawn[2], drawn[3]);
        assert!(a.0 < b.0 && b.0 == c.0 && c.0 < d.0);
        assert!(b.1 < c.1 && c.1 < d.1 && a.1 == b.1);
        let silent = Raster::new("r", vec![vec![0.0; 3]; 4], 1.0)
            .to_svg()
            .unwrap();
        assert!(ticks(&silent).is_empty());
    }

    #[test]
    fn bands_are_shaded_over_their_steps_and_labelled() {
        let raster = Raster::new("store & recall", vec![vec![0.0; 2]; 10], 2.0)
            .with_band(0, 10, "whole")
            .with_band(5, 5, "<empty>");
        let svg = raster.to_svg().unwrap();
        assert_eq!(svg.matches("fill=\"#ffe9b3\"").count(), 2);
        assert!(svg.contains(">whole</text>") && svg.contains(">&lt;empty&gt;</text>"));
        assert!(svg.contains("store &amp; recall"));
        let full = format!(r#"x="{LEFT:.1}" y="{TOP}" width="{:.1}""#, W - LEFT - RIGHT);
        assert!(svg.contains(&full), "band 0..10 spans the panel");
        // 10 steps of 2 ms: the time axis reaches 20 ms.
        assert!(svg.contains(">20</text>"));
    }

    #[test]
    fn height_is_whole_pixels_and_grows_with_neurons() {
        let height = |n: usize| {
            let svg = Raster::new("", vec![vec![0.0; n]; 3], 1.0)
                .to_svg()
                .unwrap();
            let h = svg.split("height=\"").nth(1).unwrap();
            h[..h.find('"').unwrap()].parse::<f64>().unwrap()
        };
        for n in [1, 7, 100, 1000] {
            assert_eq!(height(n).fract(), 0.0);
        }
        assert!(height(1000) > height(100));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let ok = vec![vec![0.0; 2]; 4];
        let err = |r: Raster| r.to_svg().unwrap_err();
        assert!(matches!(
            err(Raster::new("", vec![], 1.0)),
            PlotError::EmptyRaster {
                steps: 0,
                neurons: 0
            }
        ));
        assert!(matches!(
            err(Raster::new("", vec![vec![]; 3], 1.0)),
            PlotError::EmptyRaster {
                steps: 3,
                neurons: 0
            }
        ));
        assert!(matches!(
            err(Raster::new(
                "",
                vec![vec![0.0; 2], vec![0.0; 2], vec![0.0]],
                1.0
            )),
            PlotError::RaggedRaster {
                step: 2,
                len: 1,
                neurons: 2
            }
        ));
        for dt in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                err(Raster::new("", ok.clone(), dt)),
                PlotError::InvalidTimeStep { .. }
            ));
        }
        let e = err(Raster::new("", ok.clone(), 1.0).with_band(3, 1, "cue"));
        assert!(matches!(
            e,
            PlotError::BandReversed {
                start: 3,
                end: 1,
                ..
            }
        ));
        assert!(e.to_string().contains("\"cue\""), "{e}");
        let e = err(Raster::new("", ok.clone(), 1.0).with_band(2, 5, "recall"));
        assert!(matches!(
            e,
            PlotError::BandOutOfRange {
                end: 5,
                steps: 4,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "band \"recall\" (steps 2..5) ends past the raster's 4 steps"
        );
        assert!(
            Raster::new("", ok, 1.0)
                .with_band(0, 4, "all")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn round_trips_through_json() {
        let raster = Raster::new("r", vec![vec![1.0, 0.0]; 3], 1.0).with_band(1, 2, "cue");
        let json = serde_json::to_string(&raster).unwrap();
        assert_eq!(serde_json::from_str::<Raster>(&json).unwrap(), raster);
        let no_bands: Raster =
            serde_json::from_str(r#"{"title":"","spikes":[[1.0]],"dt_ms":1.0}"#).unwrap();
        assert!(no_bands.bands.is_empty());
    }
}
