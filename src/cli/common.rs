//! What every API subcommand shares: the connection flags, JSON or table
//! output, and the exit codes.
//!
//! Exit codes (deliberate, for scripts):
//! 0 done / accepted; 1 verify rejected or a local check failed; 2 usage error:
//! a bad command line (clap) or missing input (`verify` read no passcode); 3 the daemon cannot be reached; 4 unauthenticated or forbidden;
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
        self.client_of(url)
    }

    /// A client of another daemon (`url`), with the same key.
    pub fn client_of(&self, url: &str) -> Client {
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

/// The command was used wrongly (input it needs is missing): exit code 2,
/// as for a bad command line, never mistaken for a refusal.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for an error that ended a command.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(Exit(code)) = err.downcast_ref::<Exit>() {
        return *code;
    }
    if err.downcast_ref::<UsageError>().is_some() {
        return 2;
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

/// A column of a human table: its header (a message id of the catalogue,
/// `col-…`) and how a row shows in it.
pub type Column<'a, T> = (&'a str, fn(&T) -> String);

/// A word of the API (a token state, a revocation reason, a right's origin, a
/// role) as people read it: the catalogue's `<kind>-<word>`, else the word.
pub fn word(kind: &str, value: &str) -> String {
    crate::i18n::text_or(super::lang(), &format!("{kind}-{value}"), value)
}

/// An error that ended a command, as the person reads it: API refusals in
/// their language (what the code means, then the server's words), the rest
/// as the error says, causes after a colon.
pub fn error_text(err: &anyhow::Error) -> String {
    let parts: Vec<String> = err
        .chain()
        .map(|cause| {
            if let Some(client) = cause.downcast_ref::<ClientError>() {
                client_error_text(client)
            } else if let Some(crypto) = cause.downcast_ref::<crate::crypto::CryptoError>() {
                crypto_error_text(crypto)
            } else if let Some(crate::store::StoreError::DiskNearlyFull {
                path,
                available_mib,
                needed_mib,
            }) = cause.downcast_ref()
            {
                t!(
                    "error-disk-nearly-full",
                    path = path,
                    available = available_mib,
                    needed = needed_mib
                )
            } else {
                cause.to_string()
            }
        })
        .collect();
    t!("error-prefix", error = parts.join(": "))
}

/// What checking a receipt offline found, in the command line's language.
fn crypto_error_text(err: &crate::crypto::CryptoError) -> String {
    use crate::crypto::CryptoError;
    match err {
        CryptoError::BadPublicKey => t!("error-bad-public-key"),
        CryptoError::WrongReceiptKey { expected, found } => {
            t!(
                "error-wrong-receipt-key",
                expected = expected,
                found = found
            )
        }
        CryptoError::BadSignature => t!("error-bad-signature"),
        other => other.to_string(),
    }
}

/// A PIN the policy refuses, said to the holder in their language.
pub fn pin_problem_text(problem: crate::crypto::PinProblem) -> String {
    use crate::crypto::pin::{MAX_PIN_DIGITS, MIN_PIN_DIGITS};
    use crate::crypto::PinProblem;
    match problem {
        PinProblem::Length => t!("pin-length", min = MIN_PIN_DIGITS, max = MAX_PIN_DIGITS),
        PinProblem::NotDigits => t!("pin-not-digits"),
        PinProblem::TooCommon => t!("pin-too-common"),
    }
}

/// A client error in the command line's language.
pub fn client_error_text(err: &ClientError) -> String {
    let lang = super::lang();
    match err {
        ClientError::Api {
            code,
            message,
            detail,
            field,
            ..
        } => {
            let meaning = match detail {
                Some(detail) => {
                    crate::i18n::text_or(lang, &format!("detail-{detail}"), detail.as_str())
                }
                None => crate::i18n::text_or(lang, &format!("error-{code}"), code.as_str()),
            };
            let code = match detail {
                Some(detail) => format!("{code}: {detail}"),
                None => code.to_string(),
            };
            match field {
                Some(field) => t!(
                    "api-error-field",
                    meaning = meaning,
                    field = field,
                    code = code,
                    message = message
                ),
                None => t!(
                    "api-error",
                    meaning = meaning,
                    code = code,
                    message = message
                ),
            }
        }
        ClientError::Unreachable { url, why } => t!("error-unreachable", url = url, why = why),
        ClientError::Protocol { status, why } => {
            t!("error-protocol", status = status.to_string(), why = why)
        }
        ClientError::NoApiKey => t!("error-no-api-key"),
    }
}

/// An optional value as a cell: `-` when absent.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A day the API sent (`YYYY-MM-DD`) as people read it.
pub fn day(text: &str) -> String {
    crate::i18n::date_text(super::lang(), text)
}

/// A flag as a cell.
pub fn yes_no(value: bool) -> String {
    if value {
        t!("yes")
    } else {
        t!("no")
    }
}

/// Writes rows as an aligned table (or `(none)`).
pub fn table<T>(out: &mut dyn Write, rows: &[T], columns: &[Column<T>]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "{}", t!("none"));
    }
    let headers: Vec<String> = columns
        .iter()
        .map(|(id, _)| crate::i18n::text(super::lang(), id, &[]))
        .collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|(_, show)| show(row)).collect())
        .collect();
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
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
    line(out, headers.iter().map(String::as_str).collect())?;
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
    let width = lines
        .iter()
        .map(|(h, _)| h.chars().count())
        .max()
        .unwrap_or(0);
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
        anyhow::bail!(t!("serial-or-reader"));
    };
    match client.device_at(reader)?.and_then(|d| d.serial) {
        Some(serial) => Ok(serial),
        None => anyhow::bail!(t!("no-token-at-reader", reader = reader)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon's refusal to start on a nearly full disk, in French (the
    /// default) and English.
    #[test]
    fn a_nearly_full_disk_is_said_in_both_languages() {
        let err = anyhow::Error::new(crate::store::StoreError::DiskNearlyFull {
            path: "/var/lib/keyward".into(),
            available_mib: 100,
            needed_mib: 256,
        });
        let args = [
            ("path", "/d".into()),
            ("available", 100.into()),
            ("needed", 256.into()),
        ];
        let fr = crate::i18n::text(crate::i18n::Lang::Fr, "error-disk-nearly-full", &args);
        let en = crate::i18n::text(crate::i18n::Lang::En, "error-disk-nearly-full", &args);
        assert!(fr.contains("presque plein") && fr.contains("100"), "{fr}");
        assert!(en.contains("nearly full") && en.contains("256"), "{en}");
        let shown = error_text(&err);
        assert!(shown.contains("100") && shown.contains("256"), "{shown}");
        assert!(!shown.contains("error-disk"), "{shown}");
    }

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
                ("col-serial", |r| r.serial.to_owned()),
                ("col-state", |r| or_dash(r.state)),
                ("col-holder", |r| or_dash(r.holder)),
            ],
        )
        .unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(
            text,
            // The headers from the catalogue, in the default language.
            "NUMÉRO    ÉTAT    TITULAIRE\n12345678  active  adurand\n1         -       -\n"
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
        assert_eq!(exit_code(&anyhow::Error::new(UsageError("u".into()))), 2);
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
    fn every_api_code_and_word_shown_has_a_message_in_both_languages() {
        use crate::domain::receipt::ReceiptKind;
        use crate::domain::{RevokeReason, RightOrigin, Role, TokenState};
        use crate::wire::ErrorDetail;
        let mut ids: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| format!("error-{c}"))
            .collect();
        ids.extend(
            ErrorDetail::CONFLICT
                .iter()
                .chain(&ErrorDetail::DEVICE)
                .map(|d| format!("detail-{d}")),
        );
        fn words<T: Copy>(kind: &str, values: &[T], name: fn(T) -> &'static str) -> Vec<String> {
            values
                .iter()
                .map(|v| format!("{kind}-{}", name(*v)))
                .collect()
        }
        use RevokeReason as R;
        use RightOrigin as O;
        ids.extend(words("state", &TokenState::ALL, TokenState::as_str));
        let reasons = [R::Lost, R::Stolen, R::Broken, R::Faulty];
        ids.extend(words("reason", &reasons, R::as_str));
        ids.extend(words("origin", &[O::Appointment, O::Delegation], O::as_str));
        let roles = [
            Role::Admin,
            Role::Desk,
            Role::Inspector,
            Role::Station,
            Role::Gateway,
        ];
        ids.extend(words("role", &roles, Role::as_str));
        let kinds = [ReceiptKind::Handover, ReceiptKind::Return];
        ids.extend(words("receipt-kind", &kinds, ReceiptKind::as_str));
        for lang in crate::i18n::Lang::ALL {
            let missing: Vec<&String> = ids
                .iter()
                .filter(|id| !crate::i18n::has(lang, id))
                .collect();
            assert!(
                missing.is_empty(),
                "add these messages to src/i18n/{}.ftl: {missing:?}",
                lang.code()
            );
        }
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
