//! The audit chain's check: intact up to its head, or where it breaks.

use std::sync::Arc;

use super::{ok, with_total, Answer};
use crate::api::{blocking, ApiError, Params, Permit};
use crate::domain::Date;
use crate::store::ops::AuditQuery;
use crate::store::{AuditReport, RowCheck};
use crate::wire::audit::{AuditCheck, AuditEntryWire, AuditFilter};

/// The first instant of a day given as `YYYY-MM-DD` in the authority's
/// zone (422 naming `field` if it is not a day).
fn day_start(
    text: Option<&str>,
    field: &'static str,
    zone: &jiff::tz::TimeZone,
    next: bool,
) -> Result<Option<u64>, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let day = Date::parse(text).map_err(|e| ApiError::invalid(field, e.to_string()))?;
    let day = if next { day.add_days(1) } else { day };
    Ok(Some(day.start_in(zone)))
}

pub(super) async fn audit_search(permit: Permit, Params(filter): Params<AuditFilter>) -> Answer {
    let zone = permit.state().store().time_zone().clone();
    let range = day_start(filter.from.as_deref(), "from", &zone, false).and_then(|from| {
        Ok((
            from,
            day_start(filter.until.as_deref(), "until", &zone, true)?,
        ))
    });
    let (from, before) = match range {
        Ok(range) => range,
        Err(e) => return Err(permit.refuse(e).await),
    };
    let query = AuditQuery {
        action: filter.action.unwrap_or_default(),
        subject: filter.subject.unwrap_or_default(),
        actor: filter.actor.unwrap_or_default(),
        from,
        before,
        offset: filter.offset.unwrap_or(0),
        limit: filter.limit.unwrap_or(u64::MAX),
    };
    let page = permit.read(move |tx| tx.audit_page(&query)).await?;
    let list: Vec<AuditEntryWire> = page
        .items
        .into_iter()
        .map(|r| AuditEntryWire {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            detail: r.detail,
        })
        .collect();
    with_total(list, page.total)
}

pub(super) async fn audit_verify(permit: Permit) -> Answer {
    let store = Arc::clone(permit.state().store());
    // The whole chain, not a transaction's view: outside `Permit::read`.
    let result = blocking(move || store.verify_audit().map_err(ApiError::from)).await?;
    ok(audit_check(&result))
}

fn audit_check(report: &AuditReport) -> AuditCheck {
    let check = match &report.chain {
        Ok(head) => AuditCheck::intact(head.seq, data_encoding::HEXLOWER.encode(&head.mac)),
        Err(broken) => AuditCheck::broken(broken.first_bad(), broken.to_string()),
    };
    match &report.rows {
        RowCheck::Checked { bad, .. } => check.with_bad_rows(
            bad.len() as u64,
            bad.iter()
                .map(|r| format!("{} {}", r.table, r.key))
                .collect(),
        ),
        RowCheck::NotSealedYet => check,
    }
}
