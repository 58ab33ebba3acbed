//! Minimal SVG line charts: learning curves a person can open in a browser.

use std::fmt::Write;

/// One named series of (x, y) points.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Points in data coordinates.
    pub points: Vec<(f64, f64)>,
}

const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

/// Renders `series` as an SVG line chart with axes, ticks and a legend.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 400.0, 70.0, 20.0, 40.0, 50.0);
    let all = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    if y1 == y0 {
        y1 = y0 + 1.0;
    }
    let pad = 0.05 * (y1 - y0);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let sy = |y: f64| top + (y1 - y) / (y1 - y0) * (h - top - bottom);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>
<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/>
<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>
"#,
        w / 2.0,
        escape(title),
        h - bottom,
        w - right,
        h - bottom,
        h - bottom,
        (left + w - right) / 2.0,
        h - 12.0,
        escape(x_label),
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0,
        escape(y_label),
    );
    for fx in nice_ticks(x0, x1) {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            sx(fx),
            h - bottom + 16.0,
            tick(fx)
        );
    }
    for fy in nice_ticks(y0, y1) {
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ddd"/>"##,
            left - 6.0,
            sy(fy) + 4.0,
            tick(fy),
            sy(fy),
            w - right,
            sy(fy)
        );
    }
    for (k, series) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let path: Vec<String> = series
            .points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
            path.join(" ")
        );
    }
    // Legend on a white box, wide enough for the longest label, drawn last so
    // no line crosses it.
    let longest = series
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(0);
    let box_w = 34.0 + 6.8 * longest as f64;
    let lx = (w - right - box_w - 4.0).max(left + 4.0);
    let _ = writeln!(
        s,
        r#"<rect x="{lx:.1}" y="{}" width="{box_w:.1}" height="{}" fill="white" fill-opacity="0.85" stroke="lightgray"/>"#,
        top,
        16.0 * series.len() as f64 + 4.0
    );
    for (k, series) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let ly = top + 10.0 + 16.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{}">{}</text>"#,
            lx + 4.0,
            lx + 24.0,
            lx + 29.0,
            ly + 4.0,
            escape(series.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Round tick positions (steps of 1, 2 or 5 × 10ᵏ) covering `[lo, hi]`, 4–10 of them.
fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| span / s <= 8.0)
        .unwrap_or(10.0 * magnitude);
    // The small slack keeps ticks that land on an end despite rounding (0.6/0.1).
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn tick(v: f64) -> String {
    if v.abs() >= 1000.0 || (v != 0.0 && v.abs() < 0.01) {
        format!("{v:.1e}")
    } else {
        format!("{:.3}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders a spike raster: one row per neuron, a tick per spike. `spikes` is
/// `[steps][neurons]` (0/1); `bands` shades time ranges (e.g. recall periods)
/// with a label.
pub fn raster(
    title: &str,
    spikes: &[Vec<f32>],
    dt_ms: f64,
    bands: &[(usize, usize, &str)],
) -> String {
    let steps = spikes.len();
    let neurons = spikes.first().map_or(0, Vec::len);
    let (w, left, right, top, bottom) = (900.0, 60.0, 20.0, 40.0, 45.0);
    let row_h = (360.0 / neurons.max(1) as f64).clamp(2.0, 14.0);
    let h = top + bottom + row_h * neurons as f64;
    let sx = |t: f64| left + t / steps.max(1) as f64 * (w - left - right);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>
"#,
        w / 2.0,
        escape(title)
    );
    for &(start, end, label) in bands {
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{top}" width="{:.1}" height="{:.1}" fill="#ffe9b3"/><text x="{:.1}" y="{:.1}" font-size="10">{}</text>"##,
            sx(start as f64),
            sx(end as f64) - sx(start as f64),
            row_h * neurons as f64,
            sx(start as f64) + 2.0,
            top - 4.0,
            escape(label)
        );
    }
    for (t, row) in spikes.iter().enumerate() {
        for (j, &z) in row.iter().enumerate() {
            if z != 0.0 {
                let y = top + row_h * j as f64;
                let _ = writeln!(
                    s,
                    r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
                    sx(t as f64),
                    y + 0.5,
                    sx(t as f64),
                    y + row_h - 0.5
                );
            }
        }
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">time (ms), {} ms in all</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">neuron</text>
</svg>
"#,
        (left + w - right) / 2.0,
        h - 14.0,
        (steps as f64 * dt_ms).round(),
        top + row_h * neurons as f64 / 2.0,
        top + row_h * neurons as f64 / 2.0,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_contains_one_polyline_per_series_and_escapes_text() {
        let svg = line_chart(
            "loss <train>",
            "iteration",
            "loss",
            &[
                Series {
                    label: "train",
                    points: vec![(0.0, 2.0), (1.0, 1.0)],
                },
                Series {
                    label: "test",
                    points: vec![(0.0, 2.5), (1.0, f64::NAN)],
                },
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("loss &lt;train&gt;"));
        assert_eq!(nice_ticks(0.0, 199.0), vec![0.0, 50.0, 100.0, 150.0]);
        assert_eq!(nice_ticks(0.06, 0.6).len(), 6);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn raster_draws_one_tick_per_spike() {
        let spikes = vec![vec![1.0, 0.0], vec![0.0, 0.0], vec![1.0, 1.0]];
        let svg = raster("r", &spikes, 1.0, &[(1, 2, "recall")]);
        assert_eq!(svg.matches("stroke=\"black\"").count(), 3);
        assert!(svg.contains("recall"));
    }
}
