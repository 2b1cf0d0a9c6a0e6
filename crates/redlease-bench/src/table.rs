//! Plain-text tables and the number formats used in them.
//!
//! Benchmark output is read by people comparing columns, so every table aligns its
//! columns (first column left, the others right) and every duration picks a readable unit.

/// A table of strings, rendered with aligned columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row (missing cells are blank, extra cells are kept).
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// The table as text, one line per row, with a rule under the header.
    pub fn render(&self) -> String {
        let columns = std::iter::once(&self.header)
            .chain(&self.rows)
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |row: &Vec<String>| {
            let cells: Vec<String> = (0..columns)
                .map(|i| {
                    let cell = row.get(i).map(String::as_str).unwrap_or("");
                    if i == 0 {
                        format!("{cell:<w$}", w = widths[i])
                    } else {
                        format!("{cell:>w$}", w = widths[i])
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_owned()
        };
        let mut out = line(&self.header);
        out.push('\n');
        let rule: usize = widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1);
        out.push_str(&"-".repeat(rule));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }
}

/// A latency in µs with a readable unit: `850 µs`, `1.25 ms`, `2.00 s`; `-` when unknown.
pub fn fmt_us(us: Option<f64>) -> String {
    match us {
        None => "-".to_owned(),
        Some(us) if us < 1_000.0 => format!("{us:.0} µs"),
        Some(us) if us < 1_000_000.0 => format!("{:.2} ms", us / 1_000.0),
        Some(us) => format!("{:.2} s", us / 1_000_000.0),
    }
}

/// A rate with no decimals (or one below 100); `-` when unknown.
pub fn fmt_rate(rate: Option<f64>) -> String {
    match rate {
        None => "-".to_owned(),
        Some(r) if r < 100.0 => format!("{r:.1}"),
        Some(r) => format!("{r:.0}"),
    }
}

/// A ratio as `0.42x`; `-` when unknown.
pub fn fmt_ratio(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"))
}

/// A share (0 to 1) with two decimals; `-` when unknown.
pub fn fmt_share(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_owned(), |s| format!("{s:.2}"))
}

/// Bytes as MiB with one decimal; `-` when unknown.
pub fn fmt_mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "-".to_owned(),
        |b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let mut t = Table::new(["name", "ops/s"]);
        t.row(["redlease", "12"]).row(["floor", "1234"]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "name      ops/s");
        assert_eq!(lines[1], "---------------");
        assert_eq!(lines[2], "redlease     12");
        assert_eq!(lines[3], "floor      1234");
    }

    #[test]
    fn units() {
        assert_eq!(fmt_us(Some(850.0)), "850 µs");
        assert_eq!(fmt_us(Some(1_250.0)), "1.25 ms");
        assert_eq!(fmt_us(Some(2_000_000.0)), "2.00 s");
        assert_eq!(fmt_us(None), "-");
        assert_eq!(fmt_rate(Some(12.34)), "12.3");
        assert_eq!(fmt_rate(Some(1234.4)), "1234");
        assert_eq!(fmt_ratio(Some(0.5)), "0.50x");
        assert_eq!(fmt_mib(Some(3 * 1024 * 1024)), "3.0 MiB");
    }
}
