//! Heatmaps: grids of values over a plane, panels side by side on one shared
//! diverging colour scale.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::PlotError;
use crate::svg::{self, escape};

/// One panel of a [`Heatmap`]: a grid of values over the heatmap's x and y
/// ranges, with a title above it.
///
/// `values[row][col]`: row 0 is the bottom row (lowest y), column 0 the
/// leftmost (lowest x); the cells divide the ranges evenly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    /// Title above the panel (none drawn when empty).
    pub title: String,
    /// Values `[rows][cols]`, all finite, row 0 at the bottom.
    pub values: Vec<Vec<f64>>,
}

impl Panel {
    /// A panel called `title` of `values` (`[rows][cols]`, row 0 at the bottom).
    pub fn new(title: impl Into<String>, values: Vec<Vec<f64>>) -> Self {
        Self {
            title: title.into(),
            values,
        }
    }

    /// Rows of `values` (cells along y).
    pub fn rows(&self) -> usize {
        self.values.len()
    }

    /// Columns (length of the first row; 0 without rows).
    pub fn cols(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }
}

/// Heatmaps side by side on one diverging colour scale, e.g. a target function
/// and a network's output over the same (x1, x2) plane.
///
/// Each panel's plot area is 300 × 300 pixels, with round ticks on both axes,
/// its title above it and the x label below it; the y label stands left of the
/// first panel, and a colour bar right of the last. The scale is symmetric
/// around 0: with `L` the largest `|value|` of all panels (1 if every value is
/// 0), `-L` is blue, 0 near-white and `L` red, interpolated linearly in RGB.
/// The figure is 410 pixels high; its width grows with the panels.
///
/// The input errors of [`PlotError`] are checked by
/// [`validate`](Self::validate), which every drawing call runs first: no
/// panels, a panel without rows or columns, rows of different lengths, panels
/// of different shapes, a value that is not finite, an x or y range that is not
/// finite or whose minimum is not below its maximum. (A heatmap that validates
/// round-trips through JSON; JSON has no NaN.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heatmap {
    /// Title above the figure (none drawn when empty).
    pub title: String,
    /// Label of the horizontal axes.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// `(min, max)` of x, from the left edge of column 0 to the right edge of
    /// the last column.
    pub x_range: (f64, f64),
    /// `(min, max)` of y, from the bottom edge of row 0 to the top edge of the
    /// last row.
    pub y_range: (f64, f64),
    /// The panels, drawn left to right, all of one shape.
    pub panels: Vec<Panel>,
}

/// Side of each panel's square plot area.
const PANEL: f64 = 300.0;
const LEFT: f64 = 70.0;
/// Between two panels, room for the right one's y tick labels.
const GAP: f64 = 60.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 50.0;
/// Between the last panel and the colour bar.
const BAR_GAP: f64 = 24.0;
const BAR_W: f64 = 16.0;
/// Right of the colour bar, room for its tick labels.
const BAR_RIGHT: f64 = 60.0;
/// How far each cell reaches under its right and upper neighbours (drawn after
/// it): a whole pixel, so that every pixel a neighbour's anti-aliased edge
/// covers only in part is already covered in full, and no hairline of
/// background shows between cells.
const OVERLAP: f64 = 1.0;

/// The colour of `-L`, 0 and `L` (the ends and middle of the "coolwarm" map).
pub(crate) const BLUE: [u8; 3] = [0x3b, 0x4c, 0xc0];
pub(crate) const MID: [u8; 3] = [0xf7, 0xf7, 0xf7];
pub(crate) const RED: [u8; 3] = [0xb4, 0x04, 0x26];

/// `rgb` as `#rrggbb`.
fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The colour of `value` on the scale from `-limit` (blue) through 0 to
/// `limit` (red); values beyond the limits take the end colours.
fn colour(value: f64, limit: f64) -> [u8; 3] {
    let t = (value / limit).clamp(-1.0, 1.0);
    let end = if t < 0.0 { BLUE } else { RED };
    let mix = |k: usize| {
        let (a, b) = (f64::from(MID[k]), f64::from(end[k]));
        (a + (b - a) * t.abs()).round() as u8
    };
    [mix(0), mix(1), mix(2)]
}

impl Heatmap {
    /// A heatmap of `panels` over `x_range` × `y_range`.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        x_range: (f64, f64),
        y_range: (f64, f64),
        panels: Vec<Panel>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_range,
            y_range,
            panels,
        }
    }

    /// Checks the heatmap can be drawn; the error says what is wrong where.
    pub fn validate(&self) -> Result<(), PlotError> {
        let Some(first) = self.panels.first() else {
            return Err(PlotError::NoPanels);
        };
        let (first_rows, first_cols) = (first.rows(), first.cols());
        for (panel, p) in self.panels.iter().enumerate() {
            let title = || p.title.clone();
            let (rows, cols) = (p.rows(), p.cols());
            if rows == 0 || cols == 0 {
                return Err(PlotError::EmptyPanel {
                    panel,
                    title: title(),
                    rows,
                    cols,
                });
            }
            if let Some((row, r)) = p.values.iter().enumerate().find(|(_, r)| r.len() != cols) {
                return Err(PlotError::RaggedPanel {
                    panel,
                    title: title(),
                    row,
                    len: r.len(),
                    cols,
                });
            }
            if (rows, cols) != (first_rows, first_cols) {
                return Err(PlotError::PanelShapeMismatch {
                    panel,
                    title: title(),
                    rows,
                    cols,
                    first_rows,
                    first_cols,
                });
            }
            for (row, r) in p.values.iter().enumerate() {
                if let Some((col, &value)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(PlotError::NonFiniteValue {
                        panel,
                        title: title(),
                        row,
                        col,
                        value,
                    });
                }
            }
        }
        for (axis, (min, max)) in [("x", self.x_range), ("y", self.y_range)] {
            if !(min.is_finite() && max.is_finite() && min < max) {
                return Err(PlotError::InvalidRange { axis, min, max });
            }
        }
        Ok(())
    }

    /// The figure's width: the panels with their gaps, and the colour bar.
    fn width(&self) -> f64 {
        let n = self.panels.len() as f64;
        LEFT + n * PANEL + (n - 1.0) * GAP + BAR_GAP + BAR_W + BAR_RIGHT
    }

    /// The colour scale's limit: the largest `|value|`, or 1 when all are 0.
    fn limit(&self) -> f64 {
        let max = self
            .panels
            .iter()
            .flat_map(|p| p.values.iter().flatten())
            .fold(0.0, |m: f64, v| m.max(v.abs()));
        if max == 0.0 { 1.0 } else { max }
    }

    /// The heatmap as an SVG document, or why it cannot be drawn.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        self.validate()?;
        let (w, h) = (self.width(), TOP + PANEL + BOTTOM);
        let bottom = TOP + PANEL;
        let limit = self.limit();
        let ((x0, x1), (y0, y1)) = (self.x_range, self.y_range);
        let sy = |y: f64| bottom - (y - y0) / (y1 - y0) * PANEL;

        let mut s = svg::open(w, h, &self.title);
        for (k, panel) in self.panels.iter().enumerate() {
            let left = LEFT + k as f64 * (PANEL + GAP);
            let sx = |x: f64| left + (x - x0) / (x1 - x0) * PANEL;
            let (rows, cols) = (panel.rows(), panel.cols());
            // Cell edges: column c spans xs[c]..xs[c + 1], row r (from the
            // bottom) spans ys[r + 1]..ys[r] downwards in SVG units.
            let xs: Vec<f64> = (0..=cols)
                .map(|c| left + PANEL * c as f64 / cols as f64)
                .collect();
            let ys: Vec<f64> = (0..=rows)
                .map(|r| bottom - PANEL * r as f64 / rows as f64)
                .collect();
            let _ = writeln!(s, r#"<g id="cells-{k}">"#);
            for (r, row) in panel.values.iter().enumerate() {
                let up = if r + 1 < rows { OVERLAP } else { 0.0 };
                for (c, &value) in row.iter().enumerate() {
                    let right = if c + 1 < cols { OVERLAP } else { 0.0 };
                    let _ = writeln!(
                        s,
                        r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"/>"#,
                        xs[c],
                        ys[r + 1] - up,
                        xs[c + 1] - xs[c] + right,
                        ys[r] - ys[r + 1] + up,
                        hex(colour(value, limit))
                    );
                }
            }
            s.push_str("</g>\n");
            let _ = writeln!(
                s,
                r#"<rect x="{left}" y="{TOP}" width="{PANEL}" height="{PANEL}" fill="none" stroke="black" shape-rendering="crispEdges"/>"#
            );
            if !panel.title.is_empty() {
                let _ = writeln!(
                    s,
                    r#"<text x="{}" y="{}" text-anchor="middle" font-size="13">{}</text>"#,
                    left + PANEL / 2.0,
                    TOP - 10.0,
                    escape(&panel.title)
                );
            }
            for t in svg::linear_ticks(x0, x1) {
                let x = sx(t.value);
                let _ = writeln!(
                    s,
                    r#"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{}" stroke="black" shape-rendering="crispEdges"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                    bottom + 4.0,
                    bottom + 16.0,
                    escape(&t.label)
                );
            }
            for t in svg::linear_ticks(y0, y1) {
                let y = sy(t.value);
                let _ = writeln!(
                    s,
                    r#"<line x1="{}" y1="{y:.1}" x2="{left}" y2="{y:.1}" stroke="black" shape-rendering="crispEdges"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                    left - 4.0,
                    left - 6.0,
                    y + 4.0,
                    escape(&t.label)
                );
            }
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                left + PANEL / 2.0,
                h - 12.0,
                escape(&self.x_label)
            );
        }
        let mid_y = TOP + PANEL / 2.0;
        let _ = writeln!(
            s,
            r#"<text x="16" y="{mid_y}" text-anchor="middle" transform="rotate(-90 16 {mid_y})">{}</text>"#,
            escape(&self.y_label)
        );
        self.colour_bar(&mut s, w - BAR_RIGHT - BAR_W, limit);
        svg::close(&mut s);
        Ok(s)
    }

    /// The colour bar at `x`, beside the panels: the scale as a gradient from
    /// `-limit` at the bottom to `limit` at the top, ticked on its right.
    fn colour_bar(&self, s: &mut String, x: f64, limit: f64) {
        let _ = writeln!(
            s,
            r#"<defs><linearGradient id="scale" x1="0" y1="1" x2="0" y2="0"><stop offset="0" stop-color="{}"/><stop offset="0.5" stop-color="{}"/><stop offset="1" stop-color="{}"/></linearGradient></defs>
<rect id="colour-bar" x="{x}" y="{TOP}" width="{BAR_W}" height="{PANEL}" fill="url(#scale)" stroke="black" shape-rendering="crispEdges"/>"#,
            hex(BLUE),
            hex(MID),
            hex(RED),
        );
        let right = x + BAR_W;
        for t in svg::linear_ticks(-limit, limit) {
            // Divided before subtracting, which overflows for limits near f64::MAX.
            let y = TOP + (1.0 - t.value / limit) / 2.0 * PANEL;
            let _ = writeln!(
                s,
                r#"<line x1="{right}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="black" shape-rendering="crispEdges"/><text x="{}" y="{:.1}">{}</text>"#,
                right + 4.0,
                right + 6.0,
                y + 4.0,
                escape(&t.label)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use resvg::tiny_skia::Pixmap;

    use super::*;
    use crate::Figure;
    use crate::png::tests::{png_size, svg_size};

    /// The `(x, y, fill)` of each cell rect of panel `k`, in drawing order.
    fn cells(svg: &str, k: usize) -> Vec<(f64, f64, String)> {
        let group = svg.split(&format!(r#"<g id="cells-{k}">"#)).nth(1).unwrap();
        let group = &group[..group.find("</g>").unwrap()];
        let attr = |rect: &str, name: &str| -> String {
            let rest = rect.split(&format!(" {name}=\"")).nth(1).unwrap();
            rest[..rest.find('"').unwrap()].to_string()
        };
        group
            .split("<rect")
            .skip(1)
            .map(|rect| {
                (
                    attr(rect, "x").parse().unwrap(),
                    attr(rect, "y").parse().unwrap(),
                    attr(rect, "fill"),
                )
            })
            .collect()
    }

    /// A target and an output over `[-1, 1]²`, 3 × 4 cells.
    fn two_panels() -> Heatmap {
        let target = vec![
            vec![-2.0, 0.0, 1.0, 2.0],
            vec![0.5, 0.0, 0.0, 0.0],
            vec![0.0, 0.0, 0.0, -1.0],
        ];
        let output = vec![vec![1.0, 0.0, -1.0, 0.0]; 3];
        Heatmap::new(
            "target & output",
            "x1",
            "x2",
            (-1.0, 1.0),
            (-1.0, 1.0),
            vec![Panel::new("target", target), Panel::new("<output>", output)],
        )
    }

    #[test]
    fn one_cell_per_value_coloured_on_a_shared_scale() {
        let svg = two_panels().to_svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        let (target, output) = (cells(&svg, 0), cells(&svg, 1));
        assert_eq!((target.len(), output.len()), (12, 12));
        assert!(!svg.contains(r#"<g id="cells-2">"#));
        // The scale runs from -2 (blue) through 0 (near-white) to 2 (red).
        assert_eq!(target[0].2, hex(BLUE), "the most negative cell");
        assert_eq!(target[3].2, hex(RED), "the most positive cell");
        assert_eq!(target[1].2, hex(MID), "a zero cell");
        assert_eq!(hex(MID), "#f7f7f7");
        // 1 is halfway to red, on the output's panel too: one shared scale.
        let half = hex(colour(1.0, 2.0));
        assert_eq!(half, "#d67e8f");
        assert_eq!(
            (target[2].2.as_str(), output[0].2.as_str()),
            (&*half, &*half)
        );
        assert_eq!(output[2].2, hex(colour(-1.0, 2.0)));
        // Row 0 is at the bottom, column 0 on the left; the output's panel is
        // right of the target's.
        assert!(target[0].1 > target[4].1 && target[4].1 > target[8].1);
        assert!(target[0].0 < target[1].0 && target[1].0 < target[3].0);
        assert_eq!(target[0].0, LEFT);
        assert_eq!(output[0].0, LEFT + PANEL + GAP);
        // Titles, labels and ticks, escaped; the colour bar ticks -2 to 2.
        for text in ["target &amp; output", "&lt;output&gt;", ">x1<", ">x2<"] {
            assert!(svg.contains(text), "no {text}");
        }
        assert!(svg.contains(">-2.0<") && svg.contains(">2.0<") && svg.contains(">-1.0<"));
        assert!(svg.contains(r#"<rect id="colour-bar""#));
    }

    #[test]
    fn all_zero_values_use_a_limit_of_one() {
        let map = Heatmap::new(
            "",
            "",
            "",
            (0.0, 1.0),
            (0.0, 1.0),
            vec![Panel::new("", vec![vec![0.0; 2]; 2])],
        );
        let svg = map.to_svg().unwrap();
        assert!(cells(&svg, 0).iter().all(|(_, _, fill)| *fill == hex(MID)));
        assert!(svg.contains(">-1.0<") && svg.contains(">1.0<"));
    }

    #[test]
    fn bad_input_is_a_typed_error_naming_what_is_wrong() {
        let ok = || Panel::new("ok", vec![vec![0.0; 3]; 2]);
        let map = |panels| Heatmap::new("", "", "", (0.0, 1.0), (0.0, 1.0), panels);
        let err = |m: Heatmap| m.to_svg().unwrap_err();

        let e = err(map(vec![]));
        assert!(matches!(e, PlotError::NoPanels));
        assert_eq!(e.to_string(), "heatmap has no panels: nothing to draw");

        for values in [vec![], vec![vec![]; 2]] {
            let e = err(map(vec![ok(), Panel::new("blank", values)]));
            assert!(matches!(e, PlotError::EmptyPanel { panel: 1, .. }), "{e}");
            assert!(e.to_string().contains("panel 1 (\"blank\")"), "{e}");
        }

        let ragged = vec![vec![0.0; 3], vec![0.0; 3], vec![0.0; 2]];
        let e = err(map(vec![Panel::new("jagged", ragged)]));
        assert!(matches!(
            e,
            PlotError::RaggedPanel {
                panel: 0,
                row: 2,
                len: 2,
                cols: 3,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "heatmap panel 0 (\"jagged\") row 2 has 2 columns, but row 0 has 3"
        );

        let e = err(map(vec![ok(), Panel::new("wide", vec![vec![0.0; 4]; 2])]));
        assert!(matches!(
            e,
            PlotError::PanelShapeMismatch {
                panel: 1,
                rows: 2,
                cols: 4,
                first_rows: 2,
                first_cols: 3,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "heatmap panel 1 (\"wide\") is 2 rows × 4 columns, but panel 0 is 2 × 3"
        );

        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut values = vec![vec![0.0; 3]; 2];
            values[1][2] = bad;
            let e = err(map(vec![ok(), Panel::new("output", values)]));
            assert!(matches!(
                e,
                PlotError::NonFiniteValue {
                    panel: 1,
                    row: 1,
                    col: 2,
                    ..
                }
            ));
            assert_eq!(
                e.to_string(),
                format!(
                    "heatmap panel 1 (\"output\") has the non-finite value {bad} at row 1, column 2"
                )
            );
        }

        let bad_ranges = [
            (1.0, 1.0),
            (2.0, 1.0),
            (f64::NAN, 1.0),
            (0.0, f64::INFINITY),
        ];
        for range in bad_ranges {
            let mut m = map(vec![ok()]);
            m.x_range = range;
            let e = err(m);
            assert!(
                matches!(e, PlotError::InvalidRange { axis: "x", .. }),
                "{e}"
            );
            assert!(e.to_string().starts_with("heatmap x range"), "{e}");
            let mut m = map(vec![ok()]);
            m.y_range = range;
            let e = err(m);
            assert!(
                matches!(e, PlotError::InvalidRange { axis: "y", .. }),
                "{e}"
            );
        }
        let mut m = map(vec![ok()]);
        m.y_range = (3.0, -3.0);
        assert_eq!(
            err(m).to_string(),
            "heatmap y range must be finite with min < max, got (3, -3)"
        );

        assert!(map(vec![ok(), ok()]).validate().is_ok());
        // Figure passes the heatmap's error on.
        assert!(matches!(
            Figure::from(map(vec![])).to_png().unwrap_err(),
            PlotError::NoPanels
        ));
    }

    #[test]
    fn round_trips_through_json_as_a_figure() {
        let figure = Figure::from(two_panels());
        let json = serde_json::to_string(&figure).unwrap();
        assert!(json.contains(r#""kind":"heatmap""#), "{json}");
        assert!(json.contains(r#""x_range":[-1.0,1.0]"#), "{json}");
        let back: Figure = serde_json::from_str(&json).unwrap();
        assert_eq!(back, figure);
        assert_eq!(back.to_svg().unwrap(), figure.to_svg().unwrap());
    }

    #[test]
    fn png_has_the_svg_size_and_no_gaps_between_cells() {
        // Every cell at the red end: every pixel of the plot areas is red.
        let values = vec![vec![1.0; 7]; 9];
        let map = Heatmap::new(
            "all red",
            "x",
            "y",
            (0.0, 7.0),
            (0.0, 3.0),
            vec![Panel::new("a", values.clone()), Panel::new("b", values)],
        );
        let figure = Figure::from(map);
        let png = figure.to_png().unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(png_size(&png), svg_size(&figure.to_svg().unwrap()));
        let pixmap = Pixmap::decode_png(&png).unwrap();
        for k in 0..2 {
            let left = (LEFT + k as f64 * (PANEL + GAP)) as u32;
            for y in TOP as u32 + 1..(TOP + PANEL) as u32 - 1 {
                for x in left + 1..left + PANEL as u32 - 1 {
                    let p = pixmap.pixel(x, y).unwrap();
                    assert_eq!(
                        [p.red(), p.green(), p.blue()],
                        RED,
                        "pixel ({x}, {y}) of panel {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn tiny_and_huge_values_draw() {
        for v in [5e-324, 1e-310, 1e300, f64::MAX] {
            let map = Heatmap::new(
                "",
                "",
                "",
                (0.0, 1.0),
                (0.0, 1.0),
                vec![Panel::new("", vec![vec![-v, 0.0, v]])],
            );
            let svg = map.to_svg().unwrap();
            let fills: Vec<String> = cells(&svg, 0).into_iter().map(|c| c.2).collect();
            assert_eq!(fills, vec![hex(BLUE), hex(MID), hex(RED)], "{v}");
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{v}");
        }
    }
}
