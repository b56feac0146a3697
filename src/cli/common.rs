//! What every API subcommand shares: the connection flags, JSON or table
//! output, and the exit codes.
//!
//! Exit codes (deliberate, for scripts):
//! 0 done / accepted; 1 verify rejected or a local check failed; 2 bad command
//! line (clap); 3 the daemon cannot be reached; 4 unauthenticated or forbidden;
//! 5 not found; 6 refused by a rule (conflict, invalid input, device absent,
//! rate limited); 7 the token or the server failed (device error, unavailable,
//! internal, unexpected answer).

use std::io::Write;

use clap::Args;
use serde::Serialize;

use crate::client::{Client, ClientError, DEFAULT_URL};
use crate::wire::ErrorCode;

/// Where the daemon is and who we are.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The daemon's base URL.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "KEYWARD_URL",
        hide_env_values = true,
        default_value = DEFAULT_URL
    )]
    pub url: String,
    /// API key. Prefer the environment variable: a flag shows in the
    /// process list.
    #[arg(
        long,
        global = true,
        value_name = "KEY",
        env = "KEYWARD_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// Print the server's JSON instead of a table (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
}

impl Connection {
    pub fn client(&self) -> Client {
        // clap takes a set but empty KEYWARD_URL as given; it means "unset".
        let url = match self.url.as_str() {
            "" => DEFAULT_URL,
            url => url,
        };
        Client::new(url, self.api_key.clone())
    }
}

/// A noun's subcommands (`keyward people`, `keyward tokens`, ...): each one is
/// a request to the daemon whose answer is printed.
pub trait DaemonCommand: Sized {
    /// Sends the request(s) and prints the answer: the server's JSON when
    /// `json`, else the human form.
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()>;

    /// Runs against the daemon `conn` points at.
    fn run(self, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
        self.send(&conn.client(), conn.json, out)
    }
}

/// Ends the process with this exit code without printing an error (the
/// command already said what happened, e.g. `reject`).
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct Exit(pub u8);

/// The exit code for an error that ended a command.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(Exit(code)) = err.downcast_ref::<Exit>() {
        return *code;
    }
    for cause in err.chain() {
        if let Some(client) = cause.downcast_ref::<ClientError>() {
            return match client {
                ClientError::Unreachable { .. } => 3,
                ClientError::NoApiKey => 4,
                ClientError::Protocol { .. } => 7,
                ClientError::Api { code, .. } => api_exit_code(*code),
            };
        }
    }
    1
}

/// The exit code for an error answer of the API.
fn api_exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::Unauthenticated | ErrorCode::Forbidden | ErrorCode::OwnAct => 4,
        ErrorCode::NotFound => 5,
        ErrorCode::Conflict
        | ErrorCode::Invalid
        | ErrorCode::DeviceAbsent
        | ErrorCode::BadRequest
        | ErrorCode::PayloadTooLarge
        | ErrorCode::RateLimited => 6,
        ErrorCode::DeviceError | ErrorCode::Unavailable | ErrorCode::Internal => 7,
    }
}

/// A column of a human table: its header and how a row shows in it.
pub type Column<'a, T> = (&'a str, fn(&T) -> String);

/// An optional value as a cell: `-` when absent.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A flag as a cell.
pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// Writes rows as an aligned table (or `(none)`).
pub fn table<T>(out: &mut dyn Write, rows: &[T], columns: &[Column<T>]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "(none)");
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|(_, show)| show(row)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (h, _))| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |out: &mut dyn Write, items: Vec<&str>| -> std::io::Result<()> {
        let mut text = String::new();
        for (i, item) in items.iter().enumerate() {
            if i + 1 == items.len() {
                text.push_str(item);
            } else {
                let pad = widths[i].saturating_sub(item.chars().count());
                text.push_str(item);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, columns.iter().map(|(h, _)| *h).collect())?;
    for row in &cells {
        line(out, row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

/// Writes `name  value` lines, in the given order.
pub fn fields(out: &mut dyn Write, lines: &[(&str, String)]) -> std::io::Result<()> {
    indented_fields(out, "", lines)
}

/// [`fields`] with every line after `indent` (a block under a heading).
pub fn indented_fields(
    out: &mut dyn Write,
    indent: &str,
    lines: &[(&str, String)],
) -> std::io::Result<()> {
    let width = lines.iter().map(|(h, _)| h.len()).max().unwrap_or(0);
    for (header, value) in lines {
        writeln!(out, "{indent}{header:<width$}  {value}")?;
    }
    Ok(())
}

/// Prints an answer as JSON for scripts: pretty, with the keys in the
/// order the server's JSON objects keep them (sorted).
pub fn print_json(out: &mut dyn Write, value: &impl Serialize) -> anyhow::Result<()> {
    let value = serde_json::to_value(value)?;
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    Ok(())
}

/// JSON for scripts, or the human form.
pub fn show<T: Serialize>(
    out: &mut dyn Write,
    json: bool,
    value: &T,
    human: impl FnOnce(&mut dyn Write, &T) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    if json {
        print_json(out, value)
    } else {
        human(out, value)?;
        Ok(())
    }
}

/// A list answer as a table.
pub fn show_list<T: Serialize>(
    out: &mut dyn Write,
    json: bool,
    rows: &[T],
    columns: &[Column<T>],
) -> anyhow::Result<()> {
    show(out, json, &rows, |out, rows| table(out, rows, columns))
}

/// A one-line confirmation, or the server's JSON.
pub fn done(
    out: &mut dyn Write,
    json: bool,
    value: &impl Serialize,
    message: &str,
) -> anyhow::Result<()> {
    show(out, json, value, |out, _| writeln!(out, "{message}"))
}

/// `--serial` when given, else the serial of the token at `reader`.
pub fn serial_or_device(
    client: &Client,
    serial: Option<String>,
    reader: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(serial) = serial {
        return Ok(serial);
    }
    let Some(reader) = reader else {
        anyhow::bail!("give the token's serial (SERIAL) or the --reader it is at");
    };
    match client.device_at(reader)?.and_then(|d| d.serial) {
        Some(serial) => Ok(serial),
        None => anyhow::bail!("no token at reader {reader:?}; insert it or give its serial"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        serial: &'static str,
        state: Option<&'static str>,
        holder: Option<&'static str>,
    }

    #[test]
    fn tables_align_and_show_missing_values() {
        let rows = vec![
            Row {
                serial: "12345678",
                state: Some("active"),
                holder: Some("adurand"),
            },
            Row {
                serial: "1",
                state: None,
                holder: None,
            },
        ];
        let mut out = Vec::new();
        table(
            &mut out,
            &rows,
            &[
                ("SERIAL", |r| r.serial.to_owned()),
                ("STATE", |r| or_dash(r.state)),
                ("HOLDER", |r| or_dash(r.holder)),
            ],
        )
        .unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(
            text,
            "SERIAL    STATE   HOLDER\n12345678  active  adurand\n1         -       -\n"
        );
    }

    #[test]
    fn exit_codes_follow_the_error_code() {
        let api = |code: ErrorCode| {
            anyhow::Error::new(ClientError::Api {
                status: 400,
                code,
                message: "m".into(),
                detail: None,
                field: None,
            })
        };
        assert_eq!(exit_code(&api(ErrorCode::NotFound)), 5);
        assert_eq!(exit_code(&api(ErrorCode::Forbidden)), 4);
        assert_eq!(exit_code(&api(ErrorCode::Conflict)), 6);
        assert_eq!(exit_code(&api(ErrorCode::Internal)), 7);
        assert_eq!(exit_code(&anyhow::Error::new(Exit(1))), 1);
        assert_eq!(exit_code(&anyhow::anyhow!("local")), 1);
        assert_eq!(
            crate::client::query(
                "/v1/tokens",
                &[("state", Some("active")), ("district", None)]
            ),
            "/v1/tokens?state=active"
        );
    }

    #[test]
    fn json_output_keeps_the_servers_key_order() {
        let entry = crate::wire::devices::DeviceCode {
            serial: "1".into(),
            code: "755224".into(),
        };
        let mut out = Vec::new();
        print_json(&mut out, &entry).unwrap_or_default();
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "{\n  \"code\": \"755224\",\n  \"serial\": \"1\"\n}\n"
        );
    }
}
