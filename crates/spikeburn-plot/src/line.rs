//! Line charts: learning curves, accuracies, firing rates over time.

use std::fmt::Write;
use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use crate::svg::{self, COLOURS, Tick, escape};

/// One named series of `(x, y)` points, drawn as one line.
///
/// Points that are not finite (a diverged loss, say) are skipped when drawn;
/// they serialise as `null` (JSON has no NaN) and read back as NaN, so a
/// figure round-trips through a JSON report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points in data coordinates, drawn in this order.
    #[serde(with = "points_serde")]
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series called `label` through `points`.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
        }
    }

    /// The series as means over consecutive runs of `window` points (the
    /// last run may be shorter), each mean drawn at its run's mean x: a
    /// noisy per-iteration training curve made readable without hiding
    /// drops longer than a window. Points with a non-finite coordinate are
    /// left out of the means; a run with none left gives no point.
    pub fn windowed_mean(self, window: NonZeroUsize) -> Self {
        let points = self
            .points
            .chunks(window.get())
            .filter_map(|run| {
                let (sx, sy, n) = run
                    .iter()
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .fold((0.0, 0.0, 0.0), |(a, b, n), (x, y)| (a + x, b + y, n + 1.0));
                (n > 0.0).then(|| (sx / n, sy / n))
            })
            .collect();
        Self { points, ..self }
    }
}

/// A line chart: one line per [`Series`], with axes, round ticks, grid lines
/// and a legend, 640 × 400 pixels.
///
/// Every input draws; nothing is an error:
/// - points with a NaN or infinite coordinate are skipped (and, with
///   [`log_y`](Self::log_y), points with `y <= 0`); the line joins the
///   remaining points;
/// - a series left with one point is drawn as a dot, one left with none draws
///   nothing; either way it keeps its legend entry;
/// - with no drawable point at all the axes span 0 to 1 (1 to 10 on a log
///   axis); a single x or y value gets a range around it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineChart {
    /// Title above the chart (none drawn when empty).
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// The lines, coloured in order.
    pub series: Vec<Series>,
    /// Logarithmic vertical axis, ticked at powers of ten where the range
    /// spans them. Absent in serialised charts means `false`.
    #[serde(default)]
    pub log_y: bool,
    /// One unit is as long on both axes (maps, trajectories): the shorter
    /// range is widened about its centre. Ignored on a log axis. Absent in
    /// serialised charts means `false`.
    #[serde(default)]
    pub equal_aspect: bool,
}

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

impl LineChart {
    /// A chart with linear axes.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        series: Vec<Series>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series,
            log_y: false,
            equal_aspect: false,
        }
    }

    /// The same chart with a logarithmic vertical axis.
    pub fn with_log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// The same chart with equal units on both axes.
    pub fn with_equal_aspect(mut self) -> Self {
        self.equal_aspect = true;
        self
    }

    /// The points of `series` that are drawn, with y in axis units (its
    /// logarithm on a log axis).
    fn drawable<'a>(&self, series: &'a Series) -> impl Iterator<Item = (f64, f64)> + 'a {
        let log = self.log_y;
        series
            .points
            .iter()
            .filter(move |(x, y)| x.is_finite() && y.is_finite() && (!log || *y > 0.0))
            .map(move |&(x, y)| (x, if log { y.log10() } else { y }))
    }

    /// The chart as an SVG document.
    pub fn to_svg(&self) -> String {
        let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut u0, mut u1) = (f64::INFINITY, f64::NEG_INFINITY);
        for (x, u) in self.series.iter().flat_map(|s| self.drawable(s)) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            u0 = u0.min(u);
            u1 = u1.max(u);
        }
        if x0 > x1 {
            (x0, x1, u0, u1) = (0.0, 1.0, 0.0, 1.0);
        }
        if x0 == x1 {
            let half = (x0.abs() * 0.05).max(0.5);
            (x0, x1) = (x0 - half, x1 + half);
        }
        if u0 == u1 {
            let half = if self.log_y {
                0.5
            } else {
                (u0.abs() * 0.05).max(0.5)
            };
            (u0, u1) = (u0 - half, u1 + half);
        }
        let pad = 0.05 * (u1 - u0);
        let (mut u0, mut u1) = (u0 - pad, u1 + pad);
        if self.equal_aspect && !self.log_y {
            let (w, h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
            let per_pixel = ((x1 - x0) / w).max((u1 - u0) / h);
            let (cx, cu) = ((x0 + x1) / 2.0, (u0 + u1) / 2.0);
            (x0, x1) = (cx - per_pixel * w / 2.0, cx + per_pixel * w / 2.0);
            (u0, u1) = (cu - per_pixel * h / 2.0, cu + per_pixel * h / 2.0);
        }
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        let su = |u: f64| TOP + (u1 - u) / (u1 - u0) * (H - TOP - BOTTOM);
        let (y_ticks, y_pos): (Vec<Tick>, Box<dyn Fn(f64) -> f64>) = if self.log_y {
            (
                svg::log_ticks(10f64.powf(u0), 10f64.powf(u1)),
                Box::new(move |y: f64| su(y.log10())),
            )
        } else {
            (svg::linear_ticks(u0, u1), Box::new(su))
        };

        let mut s = svg::open(W, H, &self.title);
        // Grid and tick labels first, so the axes and lines lie on top.
        for t in &y_ticks {
            let y = y_pos(t.value);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd" shape-rendering="crispEdges"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                escape(&t.label)
            );
        }
        for t in svg::linear_ticks(x0, x1) {
            let x = sx(t.value);
            let _ = writeln!(
                s,
                r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="black" shape-rendering="crispEdges"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                H - BOTTOM,
                H - BOTTOM + 4.0,
                H - BOTTOM + 16.0,
                escape(&t.label)
            );
        }
        let mid_y = (TOP + H - BOTTOM) / 2.0;
        let _ = write!(
            s,
            r#"<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="black" shape-rendering="crispEdges"/>
<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="black" shape-rendering="crispEdges"/>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{mid_y}" text-anchor="middle" transform="rotate(-90 16 {mid_y})">{}</text>
"#,
            (LEFT + W - RIGHT) / 2.0,
            H - 12.0,
            escape(&self.x_label),
            escape(&self.y_label),
            bottom = H - BOTTOM,
            right = W - RIGHT,
        );
        for (k, series) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let points: Vec<(f64, f64)> =
                self.drawable(series).map(|(x, u)| (sx(x), su(u))).collect();
            let list: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
                list.join(" ")
            );
            if let [(x, y)] = points[..] {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="{colour}"/>"#
                );
            }
        }
        if !self.series.is_empty() {
            self.legend(&mut s);
        }
        svg::close(&mut s);
        s
    }

    /// The legend, top right on a white box wide enough for the longest label,
    /// drawn last so that no line crosses it.
    fn legend(&self, s: &mut String) {
        let longest = self
            .series
            .iter()
            .map(|s| s.label.chars().count())
            .max()
            .unwrap_or(0);
        let box_w = 34.0 + 6.8 * longest as f64;
        let lx = (W - RIGHT - box_w - 4.0).max(LEFT + 4.0);
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{TOP}" width="{box_w:.1}" height="{}" fill="white" fill-opacity="0.85" stroke="lightgray"/>"#,
            16.0 * self.series.len() as f64 + 4.0
        );
        for (k, series) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let ly = TOP + 10.0 + 16.0 * k as f64;
            let _ = writeln!(
                s,
                r#"<line x1="{:.1}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{}">{}</text>"#,
                lx + 4.0,
                lx + 24.0,
                lx + 29.0,
                ly + 4.0,
                escape(&series.label)
            );
        }
    }
}

/// Points as `[x, y]` pairs whose non-finite coordinates are `null`.
mod points_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    fn finite(v: f64) -> Option<f64> {
        v.is_finite().then_some(v)
    }

    pub fn serialize<S: Serializer>(points: &[(f64, f64)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(points.iter().map(|&(x, y)| (finite(x), finite(y))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
        let raw = Vec::<(Option<f64>, Option<f64>)>::deserialize(d)?;
        Ok(raw
            .into_iter()
            .map(|(x, y)| (x.unwrap_or(f64::NAN), y.unwrap_or(f64::NAN)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_means_average_each_run_of_points() {
        let points = vec![
            (0.0, 1.0),
            (1.0, 3.0),
            (2.0, f64::NAN),
            (3.0, 5.0),
            (4.0, 2.0),
            (5.0, f64::NAN),
            (6.0, f64::NAN),
        ];
        let three = NonZeroUsize::new(3).unwrap();
        let means = Series::new("s", points).windowed_mean(three);
        assert_eq!(means.label, "s");
        // Runs {0, 1, 2 (NaN)}, {3, 4, 5 (NaN)}, {6 (NaN)}: the last gives none.
        assert_eq!(means.points, vec![(0.5, 2.0), (3.5, 3.5)]);
    }

    #[test]
    fn equal_aspect_draws_a_square_square() {
        let square = vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)];
        let chart = LineChart::new("", "x", "y", vec![Series::new("s", square)]);
        let extent = |svg: &str| {
            let p = &polylines(svg)[0];
            let span = |f: fn(&(f64, f64)) -> f64| {
                let v: Vec<f64> = p.iter().map(f).collect();
                v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                    - v.iter().cloned().fold(f64::INFINITY, f64::min)
            };
            (span(|q| q.0), span(|q| q.1))
        };
        let (w, h) = extent(&chart.to_svg());
        assert!(w > 1.5 * h, "stretched to the frame: {w} × {h}");
        let (w, h) = extent(&chart.with_equal_aspect().to_svg());
        assert!((w - h).abs() < 0.2, "{w} × {h}");
    }

    /// The `points` attribute of each polyline, parsed.
    fn polylines(svg: &str) -> Vec<Vec<(f64, f64)>> {
        svg.split("<polyline")
            .skip(1)
            .map(|rest| {
                let list = rest.split("points=\"").nth(1).unwrap();
                let list = &list[..list.find('"').unwrap()];
                list.split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    fn two_series() -> LineChart {
        LineChart::new(
            "loss <train> & \"test\"",
            "iteration",
            "loss",
            vec![
                Series::new("train", vec![(0.0, 2.0), (1.0, 1.0), (2.0, 0.5)]),
                Series::new(
                    "test <held out>",
                    vec![(0.0, 2.5), (1.0, f64::NAN), (2.0, 0.7)],
                ),
            ],
        )
    }

    #[test]
    fn one_polyline_per_series_with_nan_points_skipped() {
        let svg = two_series().to_svg();
        let lines = polylines(&svg);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 3);
        assert_eq!(lines[1].len(), 2, "the NaN point is skipped");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        // Every drawn point lies in the plot area, and y grows downwards.
        for p in lines.iter().flatten() {
            assert!(p.0 >= LEFT && p.0 <= W - RIGHT && p.1 >= TOP && p.1 <= H - BOTTOM);
        }
        assert!(
            lines[0][0].1 < lines[0][2].1,
            "larger values are drawn higher"
        );
        assert!(lines[0][0].0 < lines[0][2].0);
    }

    #[test]
    fn text_is_escaped() {
        let svg = two_series().to_svg();
        assert!(svg.contains("loss &lt;train&gt; &amp; &quot;test&quot;"));
        assert!(svg.contains("test &lt;held out&gt;"));
        assert!(!svg.contains("<train>") && !svg.contains("<held"));
    }

    #[test]
    fn degenerate_input_draws_without_panicking() {
        let empty = LineChart::new("t", "x", "y", vec![]).to_svg();
        assert_eq!(polylines(&empty).len(), 0);
        let chart = LineChart::new(
            "t",
            "x",
            "y",
            vec![
                Series::new("none", vec![]),
                Series::new("skipped", vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)]),
                Series::new("one", vec![(3.0, 3.0)]),
            ],
        );
        let svg = chart.to_svg();
        let lines = polylines(&svg);
        assert_eq!(
            lines.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![0, 0, 1]
        );
        assert_eq!(svg.matches("<circle").count(), 1, "the lone point is a dot");
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn log_axis_skips_non_positive_points_and_ticks_decades() {
        let chart = LineChart::new(
            "",
            "iteration",
            "gradient norm",
            vec![Series::new(
                "norm",
                vec![(0.0, 1e5), (1.0, 0.0), (2.0, -3.0), (3.0, 1.0), (4.0, 1e-2)],
            )],
        )
        .with_log_y();
        let svg = chart.to_svg();
        let line = &polylines(&svg)[0];
        assert_eq!(line.len(), 3);
        // Equal ratios are equal distances: 1e5 → 1 and 1 → 1e-2 are 5 : 2.
        let (a, b) = (line[1].1 - line[0].1, line[2].1 - line[1].1);
        assert!((a / b - 2.5).abs() < 0.01, "{a} {b}");
        for label in ["0.01", "1", "100", "10000", "1e5"] {
            assert!(svg.contains(&format!(">{label}</text>")), "no tick {label}");
        }
    }

    #[test]
    fn series_round_trip_through_json_with_nan() {
        let chart = two_series().with_log_y();
        let json = serde_json::to_string(&chart).unwrap();
        assert!(json.contains("[1.0,null]"), "{json}");
        let back: LineChart = serde_json::from_str(&json).unwrap();
        assert!(back.series[1].points[1].1.is_nan());
        assert_eq!(back.to_svg(), chart.to_svg());
        let old: LineChart =
            serde_json::from_str(r#"{"title":"","x_label":"","y_label":"","series":[]}"#).unwrap();
        assert!(!old.log_y);
    }
}
