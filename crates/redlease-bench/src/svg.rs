//! A latency histogram as an SVG bar chart, written by hand.
//!
//! Percentiles hide the shape of a distribution: a bimodal wait (most hand-overs fast, some
//! stuck behind a retry back-off) has the same p50/p99 as many unimodal ones. One picture
//! per scenario shows it: log-scaled latency buckets on x, each implementation's share of
//! its acquisitions on y, bars grouped per bucket. A chart needs nothing more than
//! rectangles and text, so no plotting crate is pulled in.

use std::fmt::Write as _;

use crate::report::ScenarioReport;
use crate::stats::{BUCKETS_PER_DECADE, LatencyBucket};

const WIDTH: f64 = 880.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 64.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];

/// The acquire-wait distribution of every implementation in `scenario`.
pub fn scenario_chart(scenario: &ScenarioReport) -> String {
    let series: Vec<(&str, &[LatencyBucket])> = scenario
        .results
        .iter()
        .map(|r| (r.implementation.name(), r.latency_buckets.as_slice()))
        .collect();
    latency_chart(&format!("Acquire wait: {}", scenario.title()), &series)
}

/// A grouped bar chart of several latency distributions (name, buckets), each bar the
/// share of that series' samples in the bucket.
pub fn latency_chart(title: &str, series: &[(&str, &[LatencyBucket])]) -> String {
    // Align every series on the global bucket index (bounds are powers of 10^(1/4)).
    let index = |b: &LatencyBucket| -> i64 {
        (f64::from(BUCKETS_PER_DECADE) * b.from_us.max(1.0).log10()).round() as i64
    };
    let all = series.iter().flat_map(|(_, buckets)| buckets.iter());
    let lo = all.clone().filter(|b| b.count > 0).map(index).min();
    let hi = all.filter(|b| b.count > 0).map(index).max();

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>
<text x="{x}" y="24" text-anchor="middle" font-size="15">{t}</text>"#,
        x = (LEFT + (WIDTH - LEFT - RIGHT) / 2.0),
        t = escape(title)
    );
    let (Some(lo), Some(hi)) = (lo, hi) else {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">no samples</text>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        svg.push_str("</svg>\n");
        return svg;
    };

    let buckets = usize::try_from(hi - lo + 1).unwrap_or(1).max(1);
    let mut shares = vec![vec![0f64; buckets]; series.len()];
    for (s, (_, data)) in series.iter().enumerate() {
        let total: u64 = data.iter().map(|b| b.count).sum();
        if total == 0 {
            continue;
        }
        for b in data.iter() {
            if let Ok(i) = usize::try_from(index(b) - lo)
                && i < buckets
            {
                shares[s][i] += b.count as f64 / total as f64;
            }
        }
    }
    let peak = shares.iter().flatten().copied().fold(0.0, f64::max);
    // A scale whose quarter lines are round percentages (2.5, 5, 10, 15, 20, 25 %).
    let y_max = [0.1, 0.2, 0.4, 0.6, 0.8]
        .into_iter()
        .find(|&m| peak <= m)
        .unwrap_or(1.0);

    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_h;
    let group = plot_w / buckets as f64;
    let bar = group * 0.8 / series.len().max(1) as f64;

    // Grid and y labels.
    for step in 0..=4 {
        let frac = f64::from(step) / 4.0;
        let y = base - frac * plot_h;
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}" stroke="#dddddd"/>
<text x="{lx:.1}" y="{ty:.1}" text-anchor="end">{label}%</text>"##,
            x2 = LEFT + plot_w,
            lx = LEFT - 6.0,
            ty = y + 4.0,
            label = percent(frac * y_max * 100.0)
        );
    }
    // Bars.
    for (s, row) in shares.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        for (i, &share) in row.iter().enumerate() {
            if share <= 0.0 {
                continue;
            }
            let h = (share / y_max).min(1.0) * plot_h;
            let x = LEFT + i as f64 * group + group * 0.1 + s as f64 * bar;
            let _ = writeln!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{color}"><title>{name}: {pct:.1}%</title></rect>"#,
                y = base - h,
                w = bar.max(0.5),
                name = escape(series[s].0),
                pct = share * 100.0
            );
        }
    }
    // X axis and decade labels (every bucket when the range is under one decade).
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{base:.1}" x2="{x2:.1}" y2="{base:.1}" stroke="#333333"/>"##,
        x2 = LEFT + plot_w
    );
    let per = i64::from(BUCKETS_PER_DECADE);
    let label_all = hi - lo < per;
    for i in 0..buckets {
        let global = lo + i as i64;
        if !label_all && global.rem_euclid(per) != 0 {
            continue;
        }
        let x = LEFT + i as f64 * group;
        let us = 10f64.powf(global as f64 / per as f64);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{base:.1}" x2="{x:.1}" y2="{y2:.1}" stroke="#333333"/>
<text x="{x:.1}" y="{ty:.1}" text-anchor="middle">{label}</text>"##,
            y2 = base + 5.0,
            ty = base + 18.0,
            label = escape(&short_duration(us))
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">acquire wait (log scale, {BUCKETS_PER_DECADE} buckets per decade)</text>
<text x="16" y="{ym:.1}" text-anchor="middle" transform="rotate(-90 16 {ym:.1})">share of acquisitions</text>"#,
        x = LEFT + plot_w / 2.0,
        y = HEIGHT - 16.0,
        ym = TOP + plot_h / 2.0
    );
    // Legend.
    for (s, (name, _)) in series.iter().enumerate() {
        let y = TOP + 10.0 + s as f64 * 20.0;
        let x = WIDTH - RIGHT + 16.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{ry:.1}" width="12" height="12" fill="{c}"/>
<text x="{tx:.1}" y="{y:.1}">{n}</text>"#,
            ry = y - 10.0,
            c = COLORS[s % COLORS.len()],
            tx = x + 18.0,
            n = escape(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// `25`, `2.5`: a percentage without a needless `.0`.
fn percent(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// `1 µs`, `10 µs`, `1 ms`, `1 s`; fractional values keep up to 3 significant digits.
fn short_duration(us: f64) -> String {
    let (value, unit) = if us < 1_000.0 {
        (us, "µs")
    } else if us < 1_000_000.0 {
        (us / 1_000.0, "ms")
    } else {
        (us / 1_000_000.0, "s")
    };
    let text = if value >= 100.0 || (value - value.round()).abs() < 1e-6 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    format!("{text} {unit}")
}

/// Escape text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small XML well-formedness check: tags nest and close, attributes are quoted,
    /// text has no raw `<` or stray `&`, one root element.
    fn well_formed(doc: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut roots = 0;
        let mut rest = doc;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open])?;
            let after = &rest[open + 1..];
            let close = after.find('>').ok_or("unclosed tag")?;
            let tag = &after[..close];
            rest = &after[close + 1..];
            if tag.starts_with('?') {
                if !tag.ends_with('?') {
                    return Err(format!("bad declaration {tag}"));
                }
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                let top = stack.pop().ok_or(format!("stray </{name}>"))?;
                if top != name.trim() {
                    return Err(format!("</{name}> closes <{top}>"));
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().ok_or("empty tag")?;
            if !body.matches('"').count().is_multiple_of(2) {
                return Err(format!("unbalanced quotes in <{body}>"));
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name.to_owned());
            }
        }
        check_text(rest)?;
        if !stack.is_empty() {
            return Err(format!("unclosed {stack:?}"));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(())
    }

    fn check_text(text: &str) -> Result<(), String> {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            let ok = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| entity.starts_with(e));
            if !ok {
                return Err(format!("stray & in {text:?}"));
            }
        }
        Ok(())
    }

    #[test]
    fn the_checker_catches_broken_documents() {
        assert!(well_formed("<svg><g></g></svg>").is_ok());
        assert!(well_formed("<svg><g></svg>").is_err());
        assert!(well_formed("<svg>a & b</svg>").is_err());
        assert!(well_formed("<svg/><svg/>").is_err());
        assert!(well_formed("<svg a=\"1></svg>").is_err());
    }

    #[test]
    fn chart_is_well_formed_with_every_series() {
        let report = crate::report::tests::sample();
        let svg = scenario_chart(&report.scenarios[0]);
        well_formed(&svg).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(">redlease</text>") && svg.contains(">floor</text>"));
        assert!(svg.contains("<rect"), "bars drawn");
    }

    #[test]
    fn awkward_names_and_empty_data_stay_well_formed() {
        let buckets = [
            LatencyBucket {
                from_us: 10.0,
                to_us: 17.8,
                count: 3,
            },
            LatencyBucket {
                from_us: 100_000.0,
                to_us: 177_827.9,
                count: 1,
            },
        ];
        let svg = latency_chart("a <b> & \"c\"", &[("x&y", &buckets), ("empty", &[])]);
        well_formed(&svg).unwrap();
        assert!(svg.contains("100 ms"), "decade labels");
        let empty = latency_chart("nothing", &[]);
        well_formed(&empty).unwrap();
        assert!(empty.contains("no samples"));
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(1.0), "1 µs");
        assert_eq!(short_duration(1_000.0), "1 ms");
        assert_eq!(short_duration(3_162.3), "3.16 ms");
        assert_eq!(short_duration(10_000_000.0), "10 s");
        assert_eq!(percent(25.0), "25");
        assert_eq!(percent(2.5), "2.5");
    }
}
