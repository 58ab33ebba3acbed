//! Pieces shared by every figure: the document head, text escaping, and round
//! tick positions with their labels.

use std::fmt::Write;

/// Line colours, in series order (matplotlib's tab10, reordered so the
/// first two contrast most).
pub(crate) const COLOURS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22",
];

/// Opens an SVG document of `w` × `h` pixels on a white background, with
/// `title` centred at the top (nothing is drawn for an empty title).
pub(crate) fn open(w: f64, h: f64, title: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    s.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    if !title.is_empty() {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            w / 2.0,
            escape(title)
        );
    }
    s
}

/// Closes a document opened by [`open`].
pub(crate) fn close(s: &mut String) {
    s.push_str("</svg>\n");
}

/// Escapes `text` for XML character data and attribute values, and drops the
/// control characters that XML 1.0 does not allow at all (they would make the
/// document unreadable for any parser, resvg's included).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A tick: its position in data units and the text written beside it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tick {
    pub value: f64,
    pub label: String,
}

/// `10^e`, correctly rounded also for negative `e` (`10f64.powi(-3)` is not
/// exactly the double nearest 0.001).
fn pow10(e: i32) -> f64 {
    if e >= 0 {
        10f64.powi(e)
    } else {
        1.0 / 10f64.powi(-e)
    }
}

/// `m × 10^e` as the double nearest that decimal.
fn scaled(m: i64, e: i32) -> f64 {
    if e >= 0 {
        m as f64 * 10f64.powi(e)
    } else {
        m as f64 / 10f64.powi(-e)
    }
}

/// Round ticks on a linear axis covering `[lo, hi]`: the multiples of a step
/// of 1, 2 or 5 × 10ᵏ, the step chosen so that 3 to 9 of them fall in the
/// range. Labels all have the decimals the step needs; values of a million
/// and more, or steps under 10⁻⁴, are written in scientific notation.
///
/// `lo < hi`, both finite, `hi - lo` finite and at least 10⁻³⁰⁰; otherwise
/// the one tick `lo` (or none for NaN).
pub(crate) fn linear_ticks(lo: f64, hi: f64) -> Vec<Tick> {
    let span = hi - lo;
    // Spans under 1e-300 get one tick too: their steps, 10ᵏ with k < -300,
    // would round to 0 or overflow k's arithmetic.
    if !(span >= 1e-300 && span.is_finite()) {
        return if lo.is_finite() {
            vec![Tick {
                value: lo,
                label: format_value(lo),
            }]
        } else {
            Vec::new()
        };
    }
    // span / 5 lies in [10^e, 10^(e+1)), so span / 10^e lies in [5, 50): one
    // of the steps 1, 2, 5 or 10 × 10^e gives at most 8 intervals, and the
    // first that does gives more than 3.2 (the steps grow by at most 2.5×).
    let e = (span / 5.0).log10().floor() as i32;
    let (m, e) = [1, 2, 5, 10]
        .into_iter()
        .find(|&m| span / scaled(m, e) <= 8.0)
        .map_or((1, e + 1), |m| if m == 10 { (1, e + 1) } else { (m, e) });
    let step = scaled(m, e);
    // The slack keeps ticks that land on an end despite rounding (0.6 / 0.1).
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let big = lo.abs().max(hi.abs()) >= 1e6;
    let tiny = e < -4;
    let decimals = (-e).max(0) as usize;
    (first..=last)
        .map(|i| {
            let value = scaled(i * m, e);
            let label = if big || tiny {
                if value == 0.0 {
                    "0".to_string()
                } else {
                    format!("{value:e}")
                }
            } else {
                format!("{value:.decimals$}")
            };
            Tick { value, label }
        })
        .collect()
}

/// Ticks on a logarithmic axis covering `[lo, hi]` (`0 < lo < hi`): the powers
/// of ten in the range (every second, third, ... one when there are more than
/// 9); where fewer than two fall in it, 1, 2 and 5 × 10ᵏ; where those too are
/// fewer than two, the linear ticks of the range.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<Tick> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return linear_ticks(lo, hi);
    }
    let (a, b) = (lo.log10(), hi.log10());
    let first = (a - 1e-9).ceil() as i32;
    let last = (b + 1e-9).floor() as i32;
    let decades = (last - first + 1).max(0);
    let tick = |value: f64| Tick {
        value,
        label: format_value(value),
    };
    if decades >= 2 {
        let every = ((decades + 8) / 9).max(1) as usize;
        return (first..=last)
            .step_by(every)
            .map(|e| tick(pow10(e)))
            .collect();
    }
    let in_range = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    let candidates: Vec<Tick> = (first - 1..=last)
        .flat_map(|e| [1, 2, 5].map(|m| scaled(m, e)))
        .filter(|&v| in_range(v))
        .map(tick)
        .collect();
    if candidates.len() >= 2 {
        candidates
    } else {
        linear_ticks(lo, hi)
    }
}

/// The shortest text that reads back as `v`, scientific outside [10⁻³, 10⁵).
fn format_value(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(ticks: &[Tick]) -> Vec<f64> {
        ticks.iter().map(|t| t.value).collect()
    }

    fn labels(ticks: &[Tick]) -> Vec<&str> {
        ticks.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn escape_handles_markup_quotes_and_forbidden_controls() {
        assert_eq!(
            escape("a<b> & \"c\" 'd'\u{1}\u{1b}\té"),
            "a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;\té"
        );
    }

    #[test]
    fn linear_ticks_known_ranges() {
        assert_eq!(
            values(&linear_ticks(0.0, 199.0)),
            vec![0.0, 50.0, 100.0, 150.0]
        );
        assert_eq!(
            labels(&linear_ticks(0.06, 0.6)),
            vec!["0.1", "0.2", "0.3", "0.4", "0.5", "0.6"]
        );
        assert_eq!(
            labels(&linear_ticks(0.0, 2000.0)),
            vec!["0", "500", "1000", "1500", "2000"]
        );
        assert_eq!(
            labels(&linear_ticks(-1.0, 1.0)),
            vec!["-1.0", "-0.5", "0.0", "0.5", "1.0"]
        );
        assert_eq!(
            labels(&linear_ticks(0.0, 3e6)),
            vec!["0", "5e5", "1e6", "1.5e6", "2e6", "2.5e6", "3e6"]
        );
        assert_eq!(linear_ticks(2.0, 2.0).len(), 1);
        assert!(linear_ticks(f64::NAN, 1.0).is_empty());
        // Spans too small for a step of 10^e: one tick, not an overflow.
        assert_eq!(values(&linear_ticks(-5e-324, 5e-324)), vec![-5e-324]);
        assert_eq!(linear_ticks(0.0, 1e-310).len(), 1);
    }

    /// Over ranges of every size and offset: 3 to 9 ticks inside the range,
    /// evenly spaced by 1, 2 or 5 × 10ᵏ, each a multiple of the step.
    #[test]
    fn linear_ticks_are_nice_over_many_ranges() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..5000 {
            let span = 10f64.powf(next() * 16.0 - 8.0);
            let lo = (next() - 0.5) * span * 10f64.powf(next() * 4.0 - 1.0);
            let hi = lo + span;
            let ticks = values(&linear_ticks(lo, hi));
            assert!(
                (3..=9).contains(&ticks.len()),
                "{} ticks for [{lo}, {hi}]",
                ticks.len()
            );
            let step = ticks[1] - ticks[0];
            let mantissa = step / pow10(step.log10().floor() as i32);
            assert!(
                [1.0, 2.0, 5.0, 10.0]
                    .iter()
                    .any(|m| (mantissa - m).abs() < 1e-6),
                "step {step} for [{lo}, {hi}]"
            );
            for (k, &t) in ticks.iter().enumerate() {
                let slack = 1e-6 * step;
                assert!(
                    t >= lo - slack && t <= hi + slack,
                    "{t} outside [{lo}, {hi}]"
                );
                assert!(((t / step) - (t / step).round()).abs() < 1e-6);
                if k > 0 {
                    assert!(((t - ticks[k - 1]) / step - 1.0).abs() < 1e-6);
                }
            }
        }
    }

    #[test]
    fn log_ticks_use_decades_then_125_then_linear() {
        assert_eq!(
            labels(&log_ticks(0.001, 10.0)),
            vec!["0.001", "0.01", "0.1", "1", "10"]
        );
        let many = log_ticks(1e-12, 1e8);
        assert!(many.len() <= 9 && many.len() >= 2, "{}", many.len());
        assert_eq!(values(&log_ticks(1.5, 30.0)), vec![2.0, 5.0, 10.0, 20.0]);
        assert_eq!(
            values(&log_ticks(2.1, 4.9)),
            values(&linear_ticks(2.1, 4.9))
        );
        assert_eq!(
            labels(&log_ticks(1e-5, 1e-3)),
            vec!["1e-5", "1e-4", "0.001"]
        );
    }
}
