//! `keyward rights`: appointments (admin; they start and end by themselves)
//! and the inspector's delegations (cases 1 and 2).

use std::io::Write;

use super::common::{day, done, or_dash, show_list, word, yes_no, Column, DaemonCommand};
use crate::client::Client;
use crate::domain::EndReason;
use crate::wire::rights::{EndRightBody, Right, RightBody};
use clap::{Args, Subcommand};

pub const RIGHT_COLUMNS: &[Column<'static, Right>] = &[
    ("col-id", |r| r.id.to_string()),
    ("col-school", |r| r.school.clone()),
    ("col-origin", |r| word("origin", r.origin.as_str())),
    ("col-from", |r| day(&r.from)),
    ("col-until", |r| or_dash(r.until.as_deref().map(day))),
    ("col-in-force", |r| yes_no(r.in_force)),
    ("col-ended", |r| or_dash(r.ended_at.as_ref())),
    ("col-end-reason", |r| {
        or_dash(r.end_reason.as_deref().map(|w| word("end-reason", w)))
    }),
];

/// Who gets a right, where and when: an appointment or a delegation.
#[derive(Debug, Args)]
pub struct RightArgs {
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
}

impl RightArgs {
    fn into_body(self, ends_previous: Option<EndReason>) -> RightBody {
        RightBody {
            ends_previous: ends_previous.map(|r| r.as_str().to_owned()),
            from: self.from,
            person: self.person,
            school: self.school,
            until: self.until,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RightsCommand {
    /// Records an appointment as director of a school (admin): rights start on
    /// FROM and end on UNTIL by themselves (cases 4 and 5). A school has one
    /// appointed director at a time: `--ends-previous REASON` ends the one in
    /// place (the day before FROM) in the same request.
    #[command(
        after_help = "Examples:\n  keyward rights appoint --person adurand --school 0751710B --from 2026-09-01 --until 2027-07-06\n  keyward rights appoint --person bleroy --school 0751710B --from 2027-01-05 --ends-previous mutation"
    )]
    Appoint {
        #[command(flatten)]
        right: RightArgs,
        /// End the school's appointment in place, for this reason.
        #[arg(long, value_enum, value_name = "REASON")]
        ends_previous: Option<EndReason>,
    },
    /// Grants a deputy director rights for a school of the inspector's district
    /// (case 1).
    #[command(
        after_help = "Example:\n  keyward rights delegate --person bleroy --school 0751710B --from 2026-11-02 --until 2026-12-18"
    )]
    Delegate(RightArgs),
    /// Ends a delegation now (case 2: the deputy is rejected at once); an
    /// admin ends an appointment (now, or shortened with --on) for a reason
    /// from the fixed list: its holder's key then falls due back.
    #[command(
        after_help = "Examples:\n  keyward rights end 17\n  keyward rights end 4 --reason mutation --on 2027-01-04"
    )]
    End {
        /// The right's id (see `keyward rights list --person P`).
        id: i64,
        /// Why the administration ends an appointment (appointments only).
        #[arg(long, value_enum)]
        reason: Option<EndReason>,
        /// Last day in force, YYYY-MM-DD (appointments only; default: now).
        #[arg(long, requires = "reason")]
        on: Option<String>,
    },
    /// Lists a person's rights and whether each is in force today.
    #[command(after_help = "Example:\n  keyward rights list --person bleroy")]
    List {
        #[arg(long)]
        person: String,
    },
}

impl DaemonCommand for RightsCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            RightsCommand::Appoint {
                right,
                ends_previous,
            } => {
                let answer = client.appoint(&right.into_body(ends_previous))?;
                let message = t!("appointment-recorded", id = answer.id);
                done(out, json, &answer, &message)
            }
            RightsCommand::Delegate(right) => {
                let answer = client.delegate(&right.into_body(None))?;
                let message = t!("delegation-granted", id = answer.id);
                done(out, json, &answer, &message)
            }
            RightsCommand::End { id, reason, on } => {
                let body = EndRightBody {
                    on,
                    reason: reason.map(|r| r.as_str().to_owned()),
                };
                let answer = client.end_right(id, &body)?;
                done(out, json, &answer, &t!("right-ended", id = id))
            }
            RightsCommand::List { person } => {
                let answer = client.rights_of(&person)?;
                show_list(out, json, &answer, RIGHT_COLUMNS)
            }
        }
    }
}
