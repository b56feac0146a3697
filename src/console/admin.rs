//! The admin's audit page: the audit searched by action, subject, actor and
//! days, paged, with its CSV export and the status of the signed
//! checkpoints. The entries come from the API's `GET /v1/audit` run as the
//! session (admin only: anyone else gets the API's refusal).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::paging::{offset, Pager};
use super::session::Session;
use super::tokens::{csv_field, encode};
use super::view::{html, refused_with, Chrome};
use super::{ConsoleState, Who};
use crate::wire::audit::AuditEntryWire;

/// Entries on one page.
const PAGE: u64 = 50;

/// An entry as a row, its time in the authority's zone.
#[derive(Clone, Debug)]
pub struct AuditLine {
    pub seq: u64,
    pub when: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// The signed checkpoints' status.
#[derive(Clone, Debug)]
pub struct CheckpointLine {
    pub file: String,
    pub every: u64,
    pub last: u64,
    pub head: u64,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    f: AuditSearch,
    lines: Vec<AuditLine>,
    found: u64,
    pager: Pager,
    csv: String,
    checkpoints: Option<CheckpointLine>,
}

/// The search's fields, as `GET /v1/audit` takes them, and the page.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuditSearch {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub page: u64,
}

impl AuditSearch {
    fn fields(&self) -> [(&'static str, &str); 5] {
        [
            ("action", &self.action),
            ("subject", &self.subject),
            ("actor", &self.actor),
            ("from", &self.from),
            ("until", &self.until),
        ]
    }

    fn query(&self) -> String {
        self.fields()
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }
}

pub async fn audit(
    State(state): State<ConsoleState>,
    session: Session,
    Query(f): Query<AuditSearch>,
) -> Response {
    let c = Chrome::new(&session, "console-audit-title", "/admin/audit");
    let path = format!(
        "/v1/audit?{}&limit={PAGE}&offset={}",
        f.query(),
        offset(f.page, PAGE)
    );
    let zone = state.app().store().time_zone().clone();
    let (entries, found, checkpoints) = match state
        .page::<Vec<AuditEntryWire>>(Who::Session(&session.caller), &path)
        .await
    {
        Ok(page) => {
            // The head: the newest entry of the whole audit.
            let head = state
                .call::<Vec<AuditEntryWire>>(
                    Who::Session(&session.caller),
                    Method::GET,
                    "/v1/audit?limit=1",
                    None,
                )
                .await
                .ok()
                .and_then(|e| e.first().map(|e| e.seq))
                .unwrap_or(0);
            let store = state.app().store();
            let (every, last) = store.audit_checkpoint_status();
            let status = CheckpointLine {
                file: store.audit_checkpoint_file().display().to_string(),
                every,
                last,
                head,
            };
            (page.0, page.1, Some(status))
        }
        Err(r) => {
            let page = html(&AuditPage {
                c: c.refused(&r),
                f,
                lines: vec![],
                found: 0,
                pager: Pager::default(),
                csv: String::new(),
                checkpoints: None,
            });
            return refused_with(&r, page);
        }
    };
    let lines = entries
        .into_iter()
        .map(|e| AuditLine {
            seq: e.seq,
            when: crate::i18n::date_time(c.t.0, e.at, &zone),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            detail: e.detail,
        })
        .collect::<Vec<_>>();
    let pager = Pager::new(
        &c.t,
        "/admin/audit",
        &f.fields(),
        f.page,
        PAGE,
        lines.len(),
        found,
    );
    let csv = format!("/admin/audit.csv?{}", f.query());
    html(&AuditPage {
        c,
        f,
        lines,
        found,
        pager,
        csv,
        checkpoints,
    })
}

/// Every entry the search finds, as CSV (times in Unix seconds and in the
/// authority's zone; formula characters defused).
pub async fn export_csv(
    State(state): State<ConsoleState>,
    session: Session,
    Query(f): Query<AuditSearch>,
) -> Response {
    let path = format!("/v1/audit?{}", f.query());
    let entries = match state
        .call::<Vec<AuditEntryWire>>(Who::Session(&session.caller), Method::GET, &path, None)
        .await
    {
        Ok(e) => e,
        Err(r) => {
            let c = Chrome::new(&session, "console-audit-title", "/admin/audit").refused(&r);
            let page = html(&AuditPage {
                c,
                f,
                lines: vec![],
                found: 0,
                pager: Pager::default(),
                csv: String::new(),
                checkpoints: None,
            });
            return refused_with(&r, page);
        }
    };
    let zone = state.app().store().time_zone().clone();
    let mut out = String::from("seq,unix_time,local_time,actor,action,subject,detail\r\n");
    for e in entries {
        let local = jiff::Timestamp::from_second(i64::try_from(e.at).unwrap_or(0))
            .map(|t| {
                zone.to_datetime(t)
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\r\n",
            e.seq,
            e.at,
            csv_field(&local),
            csv_field(&e.actor),
            csv_field(&e.action),
            csv_field(&e.subject),
            csv_field(&e.detail)
        ));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"keyward-audit.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}
