//! `keyward people|districts|schools`: the authority's directory (admin writes;
//! the desk may add people).

use std::io::Write;

use super::common::{done, fields, or_dash, show, show_list, table, word, Column, DaemonCommand};
use crate::client::Client;
use crate::wire::people::{
    DistrictBody, DistrictEntry, PersonBody, PersonEntry, SchoolBody, SchoolEntry,
};
use clap::Subcommand;

const PERSON_COLUMNS: &[Column<'static, PersonEntry>] = &[
    ("col-id", |p| p.id.clone()),
    ("col-name", |p| p.full_name.clone()),
    ("col-mail", |p| p.mail.clone()),
];

const DISTRICT_COLUMNS: &[Column<'static, DistrictEntry>] = &[
    ("col-code", |d| d.code.clone()),
    ("col-name", |d| d.name.clone()),
    ("col-inspector", |d| or_dash(d.inspector.as_deref())),
];

const SCHOOL_COLUMNS: &[Column<'static, SchoolEntry>] = &[
    ("col-uai", |s| s.uai.clone()),
    ("col-name", |s| s.name.clone()),
    ("col-district", |s| s.district.clone()),
];

#[derive(Debug, Subcommand)]
pub enum PeopleCommand {
    /// Adds a person (director, deputy or inspector) with their personal address
    /// in the authority's mail domain.
    #[command(
        after_help = "Example:\n  keyward people add --id adurand --name \"Anne Durand\" --mail anne.durand@ac-exemple.fr"
    )]
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        mail: String,
    },
    /// Lists people (an inspector sees their district's only).
    #[command(after_help = "Example:\n  keyward people list --district D-EST")]
    List {
        #[arg(long)]
        district: Option<String>,
    },
    /// Shows a person with their rights and live token.
    #[command(after_help = "Example:\n  keyward people show adurand")]
    Show { id: String },
    /// Records that a person left the authority (admin): their staff API
    /// keys stop working and their rights end at once.
    #[command(after_help = "Example:\n  keyward people leave amorel")]
    Leave { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DistrictsCommand {
    /// Adds a district (circonscription) with its inspector (an existing person).
    #[command(
        after_help = "Example:\n  keyward districts add --code D-EST --name \"Circonscription Est\" --inspector pmartin"
    )]
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        inspector: String,
    },
    /// Lists districts.
    #[command(after_help = "Example:\n  keyward districts list --json")]
    List,
}

#[derive(Debug, Subcommand)]
pub enum SchoolsCommand {
    /// Adds a school by its official code (UAI: 7 digits and a check letter).
    #[command(
        after_help = "Example:\n  keyward schools add --uai 0751710B --name \"École des Lilas\" --district D-EST"
    )]
    Add {
        #[arg(long)]
        uai: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        district: String,
    },
    /// Lists schools.
    #[command(after_help = "Example:\n  keyward schools list --district D-EST")]
    List {
        #[arg(long)]
        district: Option<String>,
    },
}

impl DaemonCommand for PeopleCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            PeopleCommand::Add { id, name, mail } => {
                let answer = client.add_person(&PersonBody {
                    id: id.clone(),
                    full_name: name,
                    mail,
                })?;
                done(out, json, &answer, &t!("person-added", id = id))
            }
            PeopleCommand::List { district } => show_list(
                out,
                json,
                &client.people(district.as_deref())?,
                PERSON_COLUMNS,
            ),
            PeopleCommand::Leave { id } => {
                let answer = client.person_leaves(&id)?;
                done(out, json, &answer, &t!("person-left", id = id))
            }
            PeopleCommand::Show { id } => {
                let answer = client.person(&id)?;
                show(out, json, &answer, |out, v| {
                    fields(
                        out,
                        &[
                            (&t!("field-id"), v.id.clone()),
                            (&t!("field-name"), v.full_name.clone()),
                            (&t!("field-mail"), v.mail.clone()),
                            (&t!("field-left"), if v.left { t!("yes") } else { t!("no") }),
                        ],
                    )?;
                    if let Some(token) = &v.token {
                        let state = word("state", token.state.as_str());
                        let value = t!("live-token-value", serial = token.serial, state = state);
                        writeln!(out, "{}  {value}", t!("field-live-token"))?;
                    }
                    writeln!(out, "{}", t!("field-rights"))?;
                    table(out, &v.rights, super::rights::RIGHT_COLUMNS)
                })
            }
        }
    }
}

impl DaemonCommand for DistrictsCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            DistrictsCommand::Add {
                code,
                name,
                inspector,
            } => {
                let answer = client.add_district(&DistrictBody {
                    code: code.clone(),
                    name,
                    inspector,
                })?;
                done(out, json, &answer, &t!("district-added", code = code))
            }
            DistrictsCommand::List => show_list(out, json, &client.districts()?, DISTRICT_COLUMNS),
        }
    }
}

impl DaemonCommand for SchoolsCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            SchoolsCommand::Add {
                uai,
                name,
                district,
            } => {
                let answer = client.add_school(&SchoolBody {
                    uai: uai.clone(),
                    name,
                    district,
                })?;
                done(out, json, &answer, &t!("school-added", uai = uai))
            }
            SchoolsCommand::List { district } => show_list(
                out,
                json,
                &client.schools(district.as_deref())?,
                SCHOOL_COLUMNS,
            ),
        }
    }
}
