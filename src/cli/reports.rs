//! `keyward reports`: overdue returns and keys in transit to the IT centre,
//! per district (an inspector sees their own only).

use std::io::Write;

use clap::Subcommand;
use serde_json::Value;

use super::common::{show, table, Column, Connection};

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
fn per_district(out: &mut dyn Write, value: &Value, columns: &[Column]) -> std::io::Result<()> {
    let Some(map) = value.as_object().filter(|m| !m.is_empty()) else {
        return writeln!(out, "(none)");
    };
    for (district, rows) in map {
        writeln!(out, "{district}:")?;
        table(out, &rows.as_array().cloned().unwrap_or_default(), columns)?;
    }
    Ok(())
}

pub fn run(command: ReportsCommand, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = conn.client();
    let (path, columns): (&str, &[Column]) = match command {
        ReportsCommand::Overdue => (
            "/v1/reports/overdue",
            &[
                ("SERIAL", "serial"),
                ("HOLDER", "holder"),
                ("DUE", "due"),
                ("DAYS LATE", "days_late"),
            ],
        ),
        ReportsCommand::InTransit => (
            "/v1/reports/in-transit",
            &[
                ("SERIAL", "serial"),
                ("HOLDER", "holder"),
                ("RETURNED", "returned_on"),
                ("DAYS WAITING", "days_waiting"),
            ],
        ),
    };
    let answer = client.get(path)?;
    show(out, conn.json, &answer, |out, v| {
        per_district(out, v, columns)
    })
}
