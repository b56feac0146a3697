//! The admin's list of every appointment (`/admin/appointment-list`):
//! school, person, start, end, in force or ended in words, when and why it
//! was ended, filtered by school, person and state, 50 a page, and its CSV
//! export — read through `GET /v1/rights/appointments`, which filters,
//! decides "in force" by the rights' own rule and pages.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::paging::{offset, Pager};
use super::session::Session;
use super::tokens::{csv_field, encode};
use super::view::{html, refused_with, Chrome, Texts};
use super::{ConsoleState, Who};
use crate::wire::rights::AppointmentEntry;

const PAGE: u64 = 50;
const BASE: &str = "/admin/appointment-list";

/// One appointment as a row, its times in the authority's zone.
#[derive(Clone, Debug)]
pub struct ListLine {
    pub person: String,
    pub full_name: String,
    pub school: String,
    pub school_name: String,
    pub from: String,
    pub until: String,
    pub status: String,
    pub ended_at: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "appointment_list.html")]
struct ListPage {
    c: Chrome,
    f: ListFilter,
    lines: Vec<ListLine>,
    found: u64,
    pager: Pager,
    csv: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListFilter {
    #[serde(default)]
    pub school: String,
    #[serde(default)]
    pub person: String,
    /// `in_force`, `ended`, or empty for both.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub page: u64,
}

impl ListFilter {
    fn fields(&self) -> [(&'static str, &str); 3] {
        [
            ("school", &self.school),
            ("person", &self.person),
            ("state", &self.state),
        ]
    }

    /// The API's query for these filters.
    fn api_query(&self) -> String {
        let mut q = format!(
            "school={}&person={}",
            encode(self.school.trim()),
            encode(self.person.trim())
        );
        match self.state.as_str() {
            "in_force" => q.push_str("&in_force=true"),
            "ended" => q.push_str("&in_force=false"),
            _ => {}
        }
        q
    }

    fn query(&self) -> String {
        self.fields()
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn local(t: &Texts, zone: &jiff::tz::TimeZone, rfc3339: Option<String>) -> String {
    rfc3339
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .and_then(|s| u64::try_from(s.as_second()).ok())
        .map(|at| crate::i18n::date_time(t.0, at, zone))
        .unwrap_or_default()
}

fn line(t: &Texts, zone: &jiff::tz::TimeZone, a: AppointmentEntry) -> ListLine {
    let status = if a.in_force {
        "console-appointment-in-force"
    } else {
        "console-appointment-not-in-force"
    };
    ListLine {
        person: a.person,
        full_name: a.full_name,
        school: a.school,
        school_name: a.school_name,
        from: a.from,
        until: a.until.unwrap_or_default(),
        status: t.get(status),
        ended_at: local(t, zone, a.ended_at),
        reason: a
            .end_reason
            .map(|e| crate::i18n::text_or(t.0, &format!("end-reason-{e}"), &e))
            .unwrap_or_default(),
    }
}

pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(f): Query<ListFilter>,
) -> Response {
    let c = Chrome::new(&session, "console-appointment-list-title", BASE);
    let path = format!(
        "/v1/rights/appointments?{}&limit={PAGE}&offset={}",
        f.api_query(),
        offset(f.page, PAGE)
    );
    let (entries, found) = match state
        .page::<Vec<AppointmentEntry>>(Who::Session(&session.caller), &path)
        .await
    {
        Ok(page) => page,
        Err(r) => {
            let page = html(&ListPage {
                c: c.refused(&r),
                f,
                lines: vec![],
                found: 0,
                pager: Pager::default(),
                csv: String::new(),
            });
            return refused_with(&r, page);
        }
    };
    let zone = state.app().store().time_zone().clone();
    let lines: Vec<ListLine> = entries.into_iter().map(|a| line(&c.t, &zone, a)).collect();
    let pager = Pager::new(&c.t, BASE, &f.fields(), f.page, PAGE, lines.len(), found);
    let csv = format!("{BASE}.csv?{}", f.query());
    html(&ListPage {
        c,
        f,
        lines,
        found,
        pager,
        csv,
    })
}

/// Every match as CSV (the same columns, times in the authority's zone).
pub async fn export_csv(
    State(state): State<ConsoleState>,
    session: Session,
    Query(f): Query<ListFilter>,
) -> Response {
    let path = format!("/v1/rights/appointments?{}", f.api_query());
    let c = Chrome::new(&session, "console-appointment-list-title", BASE);
    let entries = match state
        .call::<Vec<AppointmentEntry>>(Who::Session(&session.caller), Method::GET, &path, None)
        .await
    {
        Ok(e) => e,
        Err(r) => {
            let page = html(&ListPage {
                c: c.refused(&r),
                f,
                lines: vec![],
                found: 0,
                pager: Pager::default(),
                csv: String::new(),
            });
            return refused_with(&r, page);
        }
    };
    let zone = state.app().store().time_zone().clone();
    let mut out =
        String::from("person,full_name,school,school_name,from,until,status,ended_at,reason\r\n");
    for a in entries {
        let l = line(&c.t, &zone, a);
        let fields = [
            &l.person,
            &l.full_name,
            &l.school,
            &l.school_name,
            &l.from,
            &l.until,
            &l.status,
            &l.ended_at,
            &l.reason,
        ];
        let row: Vec<String> = fields.iter().map(|v| csv_field(v)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"appointments.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}
