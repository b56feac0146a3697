//! Reports by district: keys overdue, keys returned but not yet received.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{effective_district, ok, Answer};
use crate::api::{Params, Permit};
use crate::domain::reports::{InTransit, OverdueReturn};
use crate::store::{StoreError, Tx};
use crate::wire::people::DistrictFilter;
use crate::wire::reports::{
    InTransitItem, OverdueItem, ReturnWeekItem, StateCount, TokenStateCounts, VerifyDayItem,
};

pub(super) async fn report_overdue(permit: Permit) -> Answer {
    district_report(&permit, |tx| tx.overdue_returns(), overdue_item).await
}

pub(super) async fn report_in_transit(permit: Permit) -> Answer {
    district_report(&permit, |tx| tx.awaiting_it_centre(), in_transit_item).await
}

fn overdue_item(i: OverdueReturn) -> OverdueItem {
    OverdueItem {
        days_late: i.days_late,
        due: i.due.to_string(),
        holder: i.holder,
        serial: i.serial,
    }
}

fn in_transit_item(i: InTransit) -> InTransitItem {
    InTransitItem {
        days_waiting: i.days_waiting,
        holder: i.holder,
        returned_on: i.returned_on.to_string(),
        serial: i.serial,
    }
}

/// Reads one district-keyed report in the caller's scope.
type ReadReport<T> = fn(&mut Tx<'_>) -> Result<BTreeMap<String, Vec<T>>, StoreError>;

/// A per-district report as `{"<district>": [item, ...]}`, read in the
/// caller's scope (an inspector sees only their own district).
async fn district_report<T: Send + 'static, I: Serialize>(
    permit: &Permit,
    read: ReadReport<T>,
    item: fn(T) -> I,
) -> Answer {
    let report = permit.read_as_caller(read).await?;
    let report: BTreeMap<String, Vec<I>> = report
        .into_iter()
        .map(|(district, items)| (district, items.into_iter().map(item).collect()))
        .collect();
    ok(report)
}

/// Keys by state and district, counted by the store (an inspector: their
/// own district whatever they ask).
pub(super) async fn report_token_states(
    permit: Permit,
    Params(filter): Params<DistrictFilter>,
) -> Answer {
    let district = effective_district(permit.caller(), filter.district);
    let counts = permit
        .read(move |tx| tx.token_counts(district.as_deref()))
        .await?;
    let answer: Vec<TokenStateCounts> = counts
        .into_iter()
        .map(|(district, states)| TokenStateCounts {
            district: Some(district).filter(|d| !d.is_empty()),
            total: states.iter().map(|(_, n)| n).sum(),
            states: states
                .into_iter()
                .map(|(state, count)| StateCount { state, count })
                .collect(),
        })
        .collect();
    ok(answer)
}

/// Returns around this year's deadline, week by week, in the caller's scope.
pub(super) async fn report_return_weeks(permit: Permit) -> Answer {
    let weeks = permit.read_as_caller(|tx| tx.return_weeks()).await?;
    let deadline_week = crate::domain::return_weeks::WEEKS_BEFORE;
    let answer: Vec<ReturnWeekItem> = weeks
        .into_iter()
        .enumerate()
        .map(|(i, w)| ReturnWeekItem {
            starts: w.starts.to_string(),
            deadline: i as u64 == deadline_week,
            overdue: w.overdue,
            due: w.due,
            returned: w.returned,
        })
        .collect();
    ok(answer)
}

/// Verify outcomes and locks of the last days, from the audit.
pub(super) async fn report_verify_outcomes(permit: Permit) -> Answer {
    let days = permit.read(|tx| tx.verify_days()).await?;
    let answer: Vec<VerifyDayItem> = days
        .into_iter()
        .map(|d| VerifyDayItem {
            day: d.day.to_string(),
            accepted: d.accepted,
            refused: d.refused,
            locked: d.locked,
        })
        .collect();
    ok(answer)
}
