//! At a glance: keys by state and by district, returns overdue and in
//! transit by district, returns week by week around the July deadline, the
//! August meeting's preparation (keys prepared, keys asked for and not yet
//! prepared) and verify outcomes and locks per day — each a chart drawn on
//! the server ([`super::charts`], SVG, no script) with the table behind it.
//! Every number comes from an API report, in the caller's scope (an
//! inspector sees their district; the verify outcomes are the desk's and
//! the admin's, and an inspector's page leaves that chart out).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::Method;
use axum::response::Response;

use super::charts::Chart;
use super::session::Session;
use super::view::{html, Chrome, Texts};
use super::{ConsoleState, Refusal, Who};
use crate::api::Operation;
use crate::domain::TokenState;
use crate::wire::reports::{
    InTransitReport, OverdueReport, ReturnWeekItem, TokenStateCounts, VerifyDayItem,
};
use crate::wire::requests::KeyRequestEntry;

#[derive(Template)]
#[template(path = "glance.html")]
struct GlancePage {
    c: Chrome,
    charts: Vec<Chart>,
}

fn by_district<T>(report: &BTreeMap<String, Vec<T>>) -> Vec<(String, u64)> {
    report
        .iter()
        .map(|(d, items)| (d.clone(), items.len() as u64))
        .collect()
}

fn district_label(t: &Texts, district: &Option<String>) -> String {
    district
        .clone()
        .unwrap_or_else(|| t.get("console-glance-no-district"))
}

/// Keys by state (every district summed) and keys by district.
fn state_charts(t: &Texts, counts: &[TokenStateCounts]) -> [Chart; 2] {
    let items = TokenState::ALL
        .iter()
        .map(|s| {
            let n: u64 = counts
                .iter()
                .flat_map(|d| &d.states)
                .filter(|c| c.state == *s)
                .map(|c| c.count)
                .sum();
            (t.state(s.as_str()), n)
        })
        .collect();
    let districts = counts
        .iter()
        .map(|d| (district_label(t, &d.district), d.total))
        .collect();
    [
        Chart::single(
            "states",
            t.get("console-glance-states"),
            t.get("console-glance-states-desc"),
            items,
        ),
        Chart::single(
            "districts",
            t.get("console-glance-districts"),
            t.get("console-glance-districts-desc"),
            districts,
        ),
    ]
}

/// The August meeting, per district: keys prepared (waiting for their
/// handover) and keys asked for by an inspector, not yet prepared.
fn preparation_chart(
    t: &Texts,
    counts: &[TokenStateCounts],
    requests: &[KeyRequestEntry],
) -> Chart {
    let mut rows: BTreeMap<String, [u64; 2]> = BTreeMap::new();
    for d in counts {
        let prepared = d
            .states
            .iter()
            .filter(|c| c.state == TokenState::Prepared)
            .map(|c| c.count)
            .sum::<u64>();
        if let (Some(district), true) = (&d.district, prepared > 0) {
            rows.entry(district.clone()).or_default()[0] += prepared;
        }
    }
    for r in requests.iter().filter(|r| r.status == "open") {
        rows.entry(r.district.clone()).or_default()[1] += 1;
    }
    let total = rows
        .values()
        .fold([0, 0], |a, v| [a[0] + v[0], a[1] + v[1]]);
    let rows = std::iter::once((t.get("console-glance-all-districts"), total.to_vec()))
        .chain(rows.into_iter().map(|(d, v)| (d, v.to_vec())))
        .collect();
    Chart::stacked(
        "preparation",
        t.get("console-glance-preparation"),
        t.get("console-glance-preparation-desc"),
        vec![
            t.get("console-glance-prepared"),
            t.get("console-glance-to-prepare"),
        ],
        rows,
    )
}

/// Eight weeks around the deadline: overdue, due, returned.
fn returns_chart(t: &Texts, weeks: &[ReturnWeekItem]) -> Chart {
    let rows = weeks
        .iter()
        .map(|w| {
            let mut label = t.with("console-glance-week-of", "day", &w.starts);
            if w.deadline {
                label.push_str(" *");
            }
            (label, vec![w.overdue, w.due, w.returned])
        })
        .collect();
    Chart::stacked(
        "returns",
        t.get("console-glance-returns"),
        t.get("console-glance-returns-desc"),
        vec![
            t.get("console-glance-overdue-series"),
            t.get("console-glance-due-series"),
            t.get("console-glance-returned-series"),
        ],
        rows,
    )
}

/// Verify decisions per day: accepted, refused without a lock, locks.
fn verify_chart(t: &Texts, days: &[VerifyDayItem]) -> Chart {
    let rows = days
        .iter()
        .map(|d| {
            (
                d.day.clone(),
                vec![d.accepted, d.refused.saturating_sub(d.locked), d.locked],
            )
        })
        .collect();
    Chart::stacked(
        "verify",
        t.get("console-glance-verify"),
        t.get("console-glance-verify-desc"),
        vec![
            t.get("console-glance-accepted"),
            t.get("console-glance-refused"),
            t.get("console-glance-locked"),
        ],
        rows,
    )
}

pub async fn glance(State(state): State<ConsoleState>, session: Session) -> Response {
    let mut c = Chrome::new(&session, "console-glance-title", "/glance");
    let t = c.t;
    let who = Who::Session(&session.caller);
    let mut charts = Vec::new();
    let mut refusals: Vec<Refusal> = Vec::new();
    let counts = state
        .call::<Vec<TokenStateCounts>>(who, Method::GET, "/v1/reports/token-states", None)
        .await;
    match &counts {
        Ok(counts) => charts.extend(state_charts(&t, counts)),
        Err(r) => refusals.push(r.clone()),
    }
    match state
        .call::<OverdueReport>(who, Method::GET, "/v1/reports/overdue", None)
        .await
    {
        Ok(report) => charts.push(Chart::single(
            "overdue",
            t.get("console-glance-overdue"),
            t.get("console-glance-overdue-desc"),
            by_district(&report),
        )),
        Err(r) => refusals.push(r),
    }
    match state
        .call::<InTransitReport>(who, Method::GET, "/v1/reports/in-transit", None)
        .await
    {
        Ok(report) => charts.push(Chart::single(
            "in-transit",
            t.get("console-glance-in-transit"),
            t.get("console-glance-in-transit-desc"),
            by_district(&report),
        )),
        Err(r) => refusals.push(r),
    }
    match state
        .call::<Vec<ReturnWeekItem>>(who, Method::GET, "/v1/reports/return-weeks", None)
        .await
    {
        Ok(weeks) => charts.push(returns_chart(&t, &weeks)),
        Err(r) => refusals.push(r),
    }
    if let Ok(counts) = &counts {
        match state
            .call::<Vec<KeyRequestEntry>>(who, Method::GET, "/v1/key-requests", None)
            .await
        {
            Ok(requests) => charts.push(preparation_chart(&t, counts, &requests)),
            Err(r) => refusals.push(r),
        }
    }
    // Not the inspector's (the operation's roles): the chart is left out
    // rather than asked for and refused.
    if Operation::ReportVerifyOutcomes.allows(session.role()) {
        match state
            .call::<Vec<VerifyDayItem>>(who, Method::GET, "/v1/reports/verify-outcomes", None)
            .await
        {
            Ok(days) => charts.push(verify_chart(&t, &days)),
            Err(r) => refusals.push(r),
        }
    }
    if let Some(r) = refusals.first() {
        c = c.refused(r);
    }
    html(&GlancePage { c, charts })
}
