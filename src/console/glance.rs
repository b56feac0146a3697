//! At a glance: keys by state, and returns overdue and in transit by
//! district, each as a chart drawn on the server (SVG, no script) with the
//! table behind it. An inspector sees their district only (the API's
//! scope).

use askama::Template;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;

use super::session::Session;
use super::view::{html, Chrome};
use super::{ConsoleState, Who};
use crate::domain::TokenState;
use crate::wire::reports::TokenStateCounts;
use crate::wire::reports::{InTransitReport, OverdueReport};

/// One bar of a chart: its label, value, and geometry.
#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub value: u64,
    pub y: usize,
    pub width: usize,
}

/// A horizontal bar chart (pure): bars scaled to `width` pixels.
#[derive(Clone, Debug)]
pub struct Chart {
    pub id: &'static str,
    pub title: String,
    pub bars: Vec<Bar>,
    pub height: usize,
}

/// Pixels of the longest bar, and of one row.
const WIDTH: usize = 400;
const ROW: usize = 28;

impl Chart {
    pub fn new(id: &'static str, title: String, items: Vec<(String, u64)>) -> Chart {
        let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
        let bars = items
            .into_iter()
            .enumerate()
            .map(|(i, (label, value))| Bar {
                label,
                value,
                y: i * ROW,
                width: usize::try_from(value.saturating_mul(WIDTH as u64) / max).unwrap_or(WIDTH),
            })
            .collect::<Vec<_>>();
        Chart {
            id,
            title,
            height: bars.len().max(1) * ROW,
            bars,
        }
    }
}

#[derive(Template)]
#[template(path = "glance.html")]
struct GlancePage {
    c: Chrome,
    charts: Vec<Chart>,
}

fn by_district<T>(report: &std::collections::BTreeMap<String, Vec<T>>) -> Vec<(String, u64)> {
    report
        .iter()
        .map(|(d, items)| (d.clone(), items.len() as u64))
        .collect()
}

pub async fn glance(State(state): State<ConsoleState>, session: Session) -> Response {
    let mut c = Chrome::new(&session, "console-glance-title", "/glance");
    let who = Who::Session(&session.caller);
    let mut charts = Vec::new();
    match state
        .call::<Vec<TokenStateCounts>>(who, Method::GET, "/v1/reports/token-states", None)
        .await
    {
        Ok(counts) => {
            let items = TokenState::ALL
                .iter()
                .map(|s| {
                    let n: u64 = counts
                        .iter()
                        .flat_map(|d| &d.states)
                        .filter(|c| c.state == *s)
                        .map(|c| c.count)
                        .sum();
                    (c.t.state(s.as_str()), n)
                })
                .collect();
            charts.push(Chart::new(
                "states",
                c.t.get("console-glance-states"),
                items,
            ));
            let items = counts
                .iter()
                .map(|d| {
                    let label = d
                        .district
                        .clone()
                        .unwrap_or_else(|| c.t.get("console-glance-no-district"));
                    (label, d.total)
                })
                .collect();
            charts.push(Chart::new(
                "districts",
                c.t.get("console-glance-districts"),
                items,
            ));
        }
        Err(r) => c = c.refused(&r),
    }
    match state
        .call::<OverdueReport>(who, Method::GET, "/v1/reports/overdue", None)
        .await
    {
        Ok(report) => charts.push(Chart::new(
            "overdue",
            c.t.get("console-glance-overdue"),
            by_district(&report),
        )),
        Err(r) => c = c.refused(&r),
    }
    match state
        .call::<InTransitReport>(who, Method::GET, "/v1/reports/in-transit", None)
        .await
    {
        Ok(report) => charts.push(Chart::new(
            "in-transit",
            c.t.get("console-glance-in-transit"),
            by_district(&report),
        )),
        Err(r) => c = c.refused(&r),
    }
    html(&GlancePage { c, charts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_empty_charts_keep_a_row() {
        let chart = Chart::new(
            "x",
            "t".into(),
            vec![("a".into(), 10), ("b".into(), 5), ("c".into(), 0)],
        );
        let widths: Vec<_> = chart.bars.iter().map(|b| b.width).collect();
        assert_eq!(widths, [WIDTH, WIDTH / 2, 0]);
        assert_eq!(chart.bars[2].y, 2 * ROW);
        assert_eq!(Chart::new("y", "t".into(), vec![]).height, ROW);
    }
}
