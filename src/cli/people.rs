//! `keyward people|districts|schools`: the authority's directory (admin writes;
//! the desk may add people).

use std::io::Write;

use clap::Subcommand;
use serde_json::json;

use super::common::{body, done, fields, query, segment_path, show, show_list, Connection};

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

pub fn run_people(
    command: PeopleCommand,
    conn: &Connection,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let client = conn.client();
    match command {
        PeopleCommand::Add { id, name, mail } => {
            let answer = client.post(
                "/v1/people",
                Some(&json!({"id": id, "full_name": name, "mail": mail})),
            )?;
            done(out, conn.json, &answer, &format!("person {id} added"))
        }
        PeopleCommand::List { district } => {
            let answer = client.get(&query("/v1/people", &[("district", district.as_deref())]))?;
            show_list(
                out,
                conn.json,
                &answer,
                &[("ID", "id"), ("NAME", "full_name"), ("MAIL", "mail")],
            )
        }
        PeopleCommand::Show { id } => {
            let answer = client.get(&segment_path(&["v1", "people", &id]))?;
            show(out, conn.json, &answer, |out, v| {
                fields(
                    out,
                    v,
                    &[("id", "id"), ("name", "full_name"), ("mail", "mail")],
                )?;
                if let Some(token) = v.get("token").filter(|t| !t.is_null()) {
                    writeln!(
                        out,
                        "live token  {} ({})",
                        super::common::cell(token.get("serial")),
                        super::common::cell(token.get("state"))
                    )?;
                }
                writeln!(out, "rights:")?;
                let rights = v
                    .get("rights")
                    .and_then(|r| r.as_array())
                    .cloned()
                    .unwrap_or_default();
                super::common::table(out, &rights, super::rights::RIGHT_COLUMNS)
            })
        }
    }
}

pub fn run_districts(
    command: DistrictsCommand,
    conn: &Connection,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let client = conn.client();
    match command {
        DistrictsCommand::Add {
            code,
            name,
            inspector,
        } => {
            let answer = client.post(
                "/v1/districts",
                Some(&json!({"code": code, "name": name, "inspector": inspector})),
            )?;
            done(out, conn.json, &answer, &format!("district {code} added"))
        }
        DistrictsCommand::List => {
            let answer = client.get("/v1/districts")?;
            show_list(
                out,
                conn.json,
                &answer,
                &[
                    ("CODE", "code"),
                    ("NAME", "name"),
                    ("INSPECTOR", "inspector"),
                ],
            )
        }
    }
}

pub fn run_schools(
    command: SchoolsCommand,
    conn: &Connection,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let client = conn.client();
    match command {
        SchoolsCommand::Add {
            uai,
            name,
            district,
        } => {
            let answer = client.post(
                "/v1/schools",
                Some(&body(
                    json!({"uai": uai, "name": name, "district": district}),
                )),
            )?;
            done(out, conn.json, &answer, &format!("school {uai} added"))
        }
        SchoolsCommand::List { district } => {
            let answer = client.get(&query("/v1/schools", &[("district", district.as_deref())]))?;
            show_list(
                out,
                conn.json,
                &answer,
                &[("UAI", "uai"), ("NAME", "name"), ("DISTRICT", "district")],
            )
        }
    }
}
