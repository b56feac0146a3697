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
use serde_json::Value;

use crate::client::{Client, ClientError};

/// Where the daemon is and who we are.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The daemon's base URL [env: KEYWARD_URL; default http://127.0.0.1:7390].
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// API key [env: KEYWARD_API_KEY]. Prefer the environment variable: a flag
    /// shows in the process list.
    #[arg(long, global = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Print the server's JSON instead of a table (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
}

impl Connection {
    pub fn client(&self) -> Client {
        Client::from_env(self.url.clone(), self.api_key.clone())
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
                ClientError::Api { code, .. } => match code.as_str() {
                    "unauthenticated" | "forbidden" => 4,
                    "not_found" => 5,
                    "conflict" | "invalid" | "device_absent" | "bad_request"
                    | "payload_too_large" | "rate_limited" => 6,
                    _ => 7,
                },
            };
        }
    }
    1
}

/// A column of a human table: header and the JSON key (dotted for nesting).
pub type Column<'a> = (&'a str, &'a str);

fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// One cell: strings as they are, null as `-`, lists joined, others as JSON.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.to_owned(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Writes rows as an aligned table (or `(none)`).
pub fn table(out: &mut dyn Write, rows: &[Value], columns: &[Column]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "(none)");
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|(_, k)| cell(lookup(row, k))).collect())
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

/// Writes an object as `key: value` lines, in the given order.
pub fn fields(out: &mut dyn Write, value: &Value, columns: &[Column]) -> std::io::Result<()> {
    let width = columns.iter().map(|(h, _)| h.len()).max().unwrap_or(0);
    for (header, key) in columns {
        writeln!(out, "{header:<width$}  {}", cell(lookup(value, key)))?;
    }
    Ok(())
}

/// JSON for scripts, or the human form.
pub fn show(
    out: &mut dyn Write,
    json: bool,
    value: &Value,
    human: impl FnOnce(&mut dyn Write, &Value) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    } else {
        human(out, value)?;
    }
    Ok(())
}

/// A list answer as a table.
pub fn show_list(
    out: &mut dyn Write,
    json: bool,
    value: &Value,
    columns: &[Column],
) -> anyhow::Result<()> {
    show(out, json, value, |out, v| {
        let rows = v.as_array().cloned().unwrap_or_default();
        table(out, &rows, columns)
    })
}

/// A one-line confirmation, or the server's JSON.
pub fn done(out: &mut dyn Write, json: bool, value: &Value, message: &str) -> anyhow::Result<()> {
    show(out, json, value, |out, _| writeln!(out, "{message}"))
}

/// Adds `?k=v&…` for the options that are set.
pub fn query(path: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut text = path.to_owned();
    let mut sep = '?';
    for (k, v) in params {
        if let Some(v) = v {
            text.push(sep);
            text.push_str(k);
            text.push('=');
            text.push_str(&crate::client::segment(v));
            sep = '&';
        }
    }
    text
}

/// The serial of the token present at `reader`, from `GET /v1/devices`.
pub fn device_at(client: &Client, reader: &str) -> anyhow::Result<Option<Value>> {
    let devices = client.get("/v1/devices")?;
    Ok(devices
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| {
            d.get("reader").and_then(Value::as_str) == Some(reader)
                && d.get("present").and_then(Value::as_bool).unwrap_or(true)
                && d.get("serial").is_some_and(|s| !s.is_null())
        })
        .cloned())
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
    match device_at(client, reader)? {
        Some(device) => Ok(cell(device.get("serial"))),
        None => anyhow::bail!("no token at reader {reader:?}; insert it or give its serial"),
    }
}

/// A request body without its unset (null) optional fields.
pub fn body(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// `/a/b/c` with each segment percent-encoded.
pub fn segment_path(segments: &[&str]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", crate::client::segment(s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_show_missing_values() {
        let rows = vec![
            serde_json::json!({"serial": "12345678", "state": "active", "holder": {"id": "adurand"}}),
            serde_json::json!({"serial": "1", "state": null}),
        ];
        let mut out = Vec::new();
        table(
            &mut out,
            &rows,
            &[
                ("SERIAL", "serial"),
                ("STATE", "state"),
                ("HOLDER", "holder.id"),
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
        let api = |code: &str| {
            anyhow::Error::new(ClientError::Api {
                status: 400,
                code: code.into(),
                message: "m".into(),
                detail: None,
                field: None,
            })
        };
        assert_eq!(exit_code(&api("not_found")), 5);
        assert_eq!(exit_code(&api("forbidden")), 4);
        assert_eq!(exit_code(&api("conflict")), 6);
        assert_eq!(exit_code(&api("internal")), 7);
        assert_eq!(exit_code(&anyhow::Error::new(Exit(1))), 1);
        assert_eq!(exit_code(&anyhow::anyhow!("local")), 1);
        assert_eq!(
            query(
                "/v1/tokens",
                &[("state", Some("active")), ("district", None)]
            ),
            "/v1/tokens?state=active"
        );
    }
}
