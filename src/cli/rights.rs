//! `keyward rights`: appointments (admin; they start and end by themselves)
//! and the inspector's delegations (cases 1 and 2).

use std::io::Write;

use clap::Subcommand;
use serde_json::{json, Value};

use super::common::{body, cell, done, segment_path, show_list, Column, Connection};

pub const RIGHT_COLUMNS: &[Column<'static>] = &[
    ("ID", "id"),
    ("SCHOOL", "school"),
    ("ORIGIN", "origin"),
    ("FROM", "from"),
    ("UNTIL", "until"),
    ("IN FORCE", "in_force"),
];

#[derive(Debug, Subcommand)]
pub enum RightsCommand {
    /// Records an appointment as director of a school (admin): rights start on
    /// FROM and end on UNTIL by themselves (cases 4 and 5).
    #[command(
        after_help = "Example:\n  keyward rights appoint --person adurand --school 0751710B --from 2026-09-01 --until 2027-07-06"
    )]
    Appoint {
        #[arg(long)]
        person: String,
        #[arg(long)]
        school: String,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD (open-ended when absent).
        #[arg(long)]
        until: Option<String>,
    },
    /// Grants a deputy director rights for a school of the inspector's district
    /// (case 1).
    #[command(
        after_help = "Example:\n  keyward rights delegate --person bleroy --school 0751710B --from 2026-11-02 --until 2026-12-18"
    )]
    Delegate {
        #[arg(long)]
        person: String,
        #[arg(long)]
        school: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        until: Option<String>,
    },
    /// Ends a delegation now (case 2: the deputy is rejected at once).
    #[command(after_help = "Example:\n  keyward rights end 17")]
    End {
        /// The right's id (see `keyward rights list --person P`).
        id: i64,
    },
    /// Lists a person's rights and whether each is in force today.
    #[command(after_help = "Example:\n  keyward rights list --person bleroy")]
    List {
        #[arg(long)]
        person: String,
    },
}

pub fn run(command: RightsCommand, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = conn.client();
    match command {
        RightsCommand::Appoint {
            person,
            school,
            from,
            until,
        } => {
            let answer = client.post(
                "/v1/rights/appointments",
                Some(&body(
                    json!({"person": person, "school": school, "from": from, "until": until}),
                )),
            )?;
            done(
                out,
                conn.json,
                &answer,
                &format!("appointment {} recorded", id_of(&answer)),
            )
        }
        RightsCommand::Delegate {
            person,
            school,
            from,
            until,
        } => {
            let answer = client.post(
                "/v1/rights/delegations",
                Some(&body(
                    json!({"person": person, "school": school, "from": from, "until": until}),
                )),
            )?;
            done(
                out,
                conn.json,
                &answer,
                &format!("delegation {} granted", id_of(&answer)),
            )
        }
        RightsCommand::End { id } => {
            let answer = client.post(&format!("/v1/rights/{id}/end"), None)?;
            done(out, conn.json, &answer, &format!("right {id} ended"))
        }
        RightsCommand::List { person } => {
            let answer = client.get(&segment_path(&["v1", "people", &person, "rights"]))?;
            show_list(out, conn.json, &answer, RIGHT_COLUMNS)
        }
    }
}

pub fn id_of(answer: &Value) -> String {
    cell(answer.get("id"))
}
