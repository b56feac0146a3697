//! `keyward reports`: overdue returns and keys in transit to the IT centre,
//! per district (an inspector sees their own only).

use std::io::Write;

use clap::Subcommand;
use serde::Serialize;

use super::common::{day, show, table, Column, DaemonCommand};
use crate::client::Client;
use crate::wire::reports::{InTransitItem, OverdueItem};
use std::collections::BTreeMap;

const OVERDUE_COLUMNS: &[Column<'static, OverdueItem>] = &[
    ("col-serial", |i| i.serial.clone()),
    ("col-holder", |i| i.holder.clone()),
    ("col-due", |i| day(&i.due)),
    ("col-days-late", |i| i.days_late.to_string()),
];

const IN_TRANSIT_COLUMNS: &[Column<'static, InTransitItem>] = &[
    ("col-serial", |i| i.serial.clone()),
    ("col-holder", |i| i.holder.clone()),
    ("col-returned", |i| day(&i.returned_on)),
    ("col-days-waiting", |i| i.days_waiting.to_string()),
];

#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// Keys whose return deadline has passed, per district (case 4).
    #[command(after_help = "Example:\n  keyward reports overdue --json")]
    Overdue,
    /// Keys returned to an inspector and not yet received at the IT centre.
    #[command(
        name = "in-transit",
        after_help = "Example:\n  keyward reports in-transit"
    )]
    InTransit,
}

/// `{"district": [rows]}` as one table per district.
fn per_district<T: Serialize>(
    out: &mut dyn Write,
    json: bool,
    report: &BTreeMap<String, Vec<T>>,
    columns: &[Column<T>],
) -> anyhow::Result<()> {
    show(out, json, report, |out, report| {
        if report.is_empty() {
            return writeln!(out, "{}", t!("none"));
        }
        for (district, rows) in report {
            writeln!(out, "{}", t!("report-district", district = district))?;
            table(out, rows, columns)?;
        }
        Ok(())
    })
}

impl DaemonCommand for ReportsCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            ReportsCommand::Overdue => per_district(out, json, &client.overdue()?, OVERDUE_COLUMNS),
            ReportsCommand::InTransit => {
                per_district(out, json, &client.in_transit()?, IN_TRANSIT_COLUMNS)
            }
        }
    }
}
