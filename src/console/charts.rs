//! The charts of the "at a glance" page, as data the template draws in
//! SVG (no script): horizontal bars, one row per label, each row's values
//! stacked, each series told apart by a fill pattern named in a legend
//! (never by colour alone), and the same numbers as a table. Pure.

/// The fill patterns, in the order series take them: solid, diagonal
/// hatching, dots, cross-hatching (defined in `glance.html`).
pub const PATTERNS: [&str; 4] = ["solid", "hatch", "dots", "cross"];

/// Pixels: left margin for labels, the longest bar, one row.
pub const LABEL: usize = 150;
pub const WIDTH: usize = 400;
pub const ROW: usize = 28;
/// The legend's height above the bars of a chart with several series.
pub const LEGEND: usize = 28;

/// One series: its name and its pattern.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub pattern: &'static str,
    /// The legend swatch's x.
    pub x: usize,
}

/// One piece of a row's bar.
#[derive(Clone, Debug)]
pub struct Segment {
    pub name: String,
    pub pattern: &'static str,
    pub value: u64,
    pub x: usize,
    pub width: usize,
}

/// One label's bar.
#[derive(Clone, Debug)]
pub struct Row {
    pub label: String,
    /// Each series' value, in the order of the series (the table's cells).
    pub values: Vec<u64>,
    pub total: u64,
    pub y: usize,
    pub segments: Vec<Segment>,
    /// Where the bar ends (its total is written after it).
    pub end: usize,
}

/// A chart: a title, a sentence saying what it shows, series and rows.
#[derive(Clone, Debug)]
pub struct Chart {
    pub id: &'static str,
    pub title: String,
    pub desc: String,
    pub series: Vec<Series>,
    pub rows: Vec<Row>,
    pub height: usize,
}

impl Chart {
    /// A chart of one series.
    pub fn single(
        id: &'static str,
        title: String,
        desc: String,
        items: Vec<(String, u64)>,
    ) -> Chart {
        let name = title.clone();
        Chart::stacked(
            id,
            title,
            desc,
            vec![name],
            items.into_iter().map(|(l, v)| (l, vec![v])).collect(),
        )
    }

    /// A chart of several series stacked in each row, scaled so that the
    /// largest row's total is [`WIDTH`] pixels.
    pub fn stacked(
        id: &'static str,
        title: String,
        desc: String,
        names: Vec<String>,
        rows: Vec<(String, Vec<u64>)>,
    ) -> Chart {
        let series: Vec<Series> = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| Series {
                name,
                pattern: PATTERNS[i % PATTERNS.len()],
                x: i * 150,
            })
            .collect();
        let top = if series.len() > 1 { LEGEND } else { 0 };
        let max = rows
            .iter()
            .map(|(_, v)| v.iter().sum::<u64>())
            .max()
            .unwrap_or(0)
            .max(1);
        let scale = |v: u64| usize::try_from(v.saturating_mul(WIDTH as u64) / max).unwrap_or(WIDTH);
        let rows: Vec<Row> = rows
            .into_iter()
            .enumerate()
            .map(|(i, (label, values))| {
                let mut x = LABEL;
                let mut sum = 0;
                let mut segments = Vec::new();
                for (s, value) in series.iter().zip(&values) {
                    sum += value;
                    // Each piece ends where the running total ends: no
                    // rounding gap between pieces.
                    let end = LABEL + scale(sum);
                    segments.push(Segment {
                        name: s.name.clone(),
                        pattern: s.pattern,
                        value: *value,
                        x,
                        width: end - x,
                    });
                    x = end;
                }
                Row {
                    label,
                    total: sum,
                    values,
                    y: top + i * ROW,
                    segments,
                    end: x,
                }
            })
            .collect();
        Chart {
            id,
            title,
            desc,
            height: top + rows.len().max(1) * ROW,
            series,
            rows,
        }
    }

    /// Whether it has several series (a legend and a column each).
    pub fn has_legend(&self) -> bool {
        self.series.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_empty_charts_keep_a_row() {
        let chart = Chart::single(
            "x",
            "t".into(),
            "d".into(),
            vec![("a".into(), 10), ("b".into(), 5), ("c".into(), 0)],
        );
        let widths: Vec<_> = chart.rows.iter().map(|r| r.end - LABEL).collect();
        assert_eq!(widths, [WIDTH, WIDTH / 2, 0]);
        assert_eq!(chart.rows[2].y, 2 * ROW);
        assert!(!chart.has_legend());
        let empty = Chart::single("y", "t".into(), "d".into(), vec![]);
        assert_eq!(empty.height, ROW);
    }

    #[test]
    fn stacked_pieces_follow_each_other_with_their_own_pattern() {
        let chart = Chart::stacked(
            "s",
            "t".into(),
            "d".into(),
            vec!["late".into(), "due".into(), "back".into()],
            vec![("w1".into(), vec![1, 2, 1]), ("w2".into(), vec![0, 0, 2])],
        );
        assert!(chart.has_legend());
        let row = &chart.rows[0];
        assert_eq!(row.total, 4);
        assert_eq!(row.end, LABEL + WIDTH);
        assert_eq!(row.segments[0].x, LABEL);
        assert_eq!(row.segments[1].x, row.segments[0].x + row.segments[0].width);
        assert_eq!(row.segments[2].x + row.segments[2].width, row.end);
        let patterns: Vec<_> = row.segments.iter().map(|s| s.pattern).collect();
        assert_eq!(patterns, ["solid", "hatch", "dots"]);
        assert_eq!(chart.rows[1].end, LABEL + WIDTH / 2);
        assert_eq!(chart.rows[0].y, LEGEND);
    }
}
