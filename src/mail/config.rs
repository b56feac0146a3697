//! The `[mail]` table of `keyward.toml` (docs/mail.md): how senders are
//! authenticated, the desk's address, the SMTP server of the outbox, the
//! IMAP mailbox of help requests, the templates' directory.

use std::path::PathBuf;

use crate::config::{bad, string as text, table, wrong, ConfigError};
use crate::domain::MailAddress;
use crate::i18n::Lang;

use super::calendar::{MonthDay, NoticeCalendar};
use super::dkim::DkimKeys;
use super::message::DEFAULT_MAX_BYTES;

/// How the sender of a help request is authenticated.
#[derive(Clone, Debug)]
pub enum SenderAuth {
    /// DKIM verified here, with pinned keys (and DNS when allowed).
    Dkim(DkimKeys),
    /// The topmost `Authentication-Results` of the authority's server.
    AuthResults { authserv_id: String },
}

/// TLS to a mail server: implicit, or STARTTLS on a plain port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Implicit,
    StartTls,
}

/// A mail server and the account keyward uses on it.
#[derive(Clone, Debug)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// A PEM file of further trusted roots (the authority's CA).
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    /// A file holding the password (never the password in the config).
    pub password_file: Option<PathBuf>,
}

/// The IMAP mailbox read for help requests.
#[derive(Clone, Debug)]
pub struct ImapConfig {
    pub server: Server,
    pub mailbox: String,
    /// Where processed messages are moved (never deleted).
    pub processed: String,
    pub poll_seconds: u64,
}

/// The `[mail]` table.
#[derive(Clone, Debug)]
pub struct MailConfig {
    pub lang: Lang,
    pub max_message_bytes: usize,
    /// The help desk's address: notices of new requests.
    pub desk: Option<MailAddress>,
    /// The From of the mails keyward sends.
    pub from: MailAddress,
    pub templates: Option<PathBuf>,
    pub auth: SenderAuth,
    pub smtp: Option<Server>,
    pub imap: Option<ImapConfig>,
    /// When the mails of the school year go out (`[mail.calendar]`).
    pub calendar: NoticeCalendar,
}

fn number<T: TryFrom<i64>>(key: &str, value: &toml::Value) -> Result<T, ConfigError> {
    value
        .as_integer()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| wrong(key, "a positive integer in range"))
}

fn address(key: &str, value: &toml::Value) -> Result<MailAddress, ConfigError> {
    MailAddress::parse(text(key, value)?).map_err(|_| bad(key, "not a mail address"))
}

impl MailConfig {
    /// Parses `[mail]`; `domain` is the authority's mail domain.
    pub fn parse(value: &toml::Value) -> Result<MailConfig, ConfigError> {
        let t = table("mail", value)?;
        let mut config = MailConfig {
            lang: Lang::Fr,
            max_message_bytes: DEFAULT_MAX_BYTES,
            desk: None,
            from: MailAddress::parse("keyward@localhost.localdomain")
                .map_err(|_| bad("mail.from", "default"))?,
            templates: None,
            auth: SenderAuth::Dkim(DkimKeys::default()),
            smtp: None,
            imap: None,
            calendar: NoticeCalendar::default(),
        };
        let mut from = None;
        for (name, value) in t {
            let key = format!("mail.{name}");
            match name.as_str() {
                "lang" => {
                    config.lang = Lang::parse(text(&key, value)?)
                        .ok_or_else(|| bad(&key, "must be \"fr\" or \"en\""))?
                }
                "max_message_bytes" => config.max_message_bytes = number(&key, value)?,
                "desk" => config.desk = Some(address(&key, value)?),
                "from" => from = Some(address(&key, value)?),
                "templates" => config.templates = Some(PathBuf::from(text(&key, value)?)),
                "auth" => config.auth = parse_auth(value)?,
                "smtp" => config.smtp = Some(parse_server(&key, value, 587, TlsMode::StartTls)?.0),
                "imap" => config.imap = Some(parse_imap(value)?),
                "calendar" => config.calendar = parse_calendar(value)?,
                _ => return Err(ConfigError::UnknownKey { key }),
            }
        }
        config.from = from.ok_or(ConfigError::MissingKey { key: "mail.from" })?;
        Ok(config)
    }
}

fn parse_calendar(value: &toml::Value) -> Result<NoticeCalendar, ConfigError> {
    let t = table("mail.calendar", value)?;
    let mut calendar = NoticeCalendar::default();
    let month_day = |key: &str, value: &toml::Value| {
        MonthDay::parse(text(key, value)?).ok_or_else(|| bad(key, "a day of the year, MM-DD"))
    };
    for (name, value) in t {
        let key = format!("mail.calendar.{name}");
        match name.as_str() {
            "meeting" => calendar.meeting = month_day(&key, value)?,
            "meeting_time" => calendar.meeting_time = text(&key, value)?.to_owned(),
            "meeting_place" => calendar.meeting_place = Some(text(&key, value)?.to_owned()),
            "invite_from" => calendar.invite_from = month_day(&key, value)?,
            "remind_from" => calendar.remind_from = month_day(&key, value)?,
            _ => return Err(ConfigError::UnknownKey { key }),
        }
    }
    Ok(calendar)
}

fn parse_auth(value: &toml::Value) -> Result<SenderAuth, ConfigError> {
    let t = table("mail.auth", value)?;
    let mut method = None;
    let mut authserv_id = None;
    let mut dns = false;
    let mut keys: Vec<(String, String)> = Vec::new();
    for (name, value) in t {
        let key = format!("mail.auth.{name}");
        match name.as_str() {
            "method" => method = Some(text(&key, value)?.to_owned()),
            "authserv_id" => authserv_id = Some(text(&key, value)?.to_owned()),
            "dns" => {
                dns = value
                    .as_bool()
                    .ok_or_else(|| wrong(&key, "true or false"))?
            }
            "keys" => {
                for (selector, record) in table(&key, value)? {
                    let k = format!("{key}.{selector}");
                    keys.push((selector.clone(), text(&k, record)?.to_owned()));
                }
            }
            _ => return Err(ConfigError::UnknownKey { key }),
        }
    }
    match method.as_deref() {
        Some("dkim") => {
            if keys.is_empty() && !dns {
                return Err(bad(
                    "mail.auth.keys",
                    "pin at least one DKIM key, or allow DNS with dns = true",
                ));
            }
            let pinned = keys.iter().map(|(n, r)| (n.as_str(), r.as_str()));
            DkimKeys::new(pinned, dns)
                .map(SenderAuth::Dkim)
                .map_err(|e| bad("mail.auth.keys", e.to_string()))
        }
        Some("authentication-results") => Ok(SenderAuth::AuthResults {
            authserv_id: authserv_id.ok_or(ConfigError::MissingKey {
                key: "mail.auth.authserv_id",
            })?,
        }),
        _ => Err(bad(
            "mail.auth.method",
            "must be \"dkim\" or \"authentication-results\"",
        )),
    }
}

/// The keys of a server table that are not the server's.
type OtherKeys<'v> = Vec<(&'v String, &'v toml::Value)>;

/// A server table; returns the server and the rest of the table's keys.
fn parse_server<'v>(
    prefix: &str,
    value: &'v toml::Value,
    default_port: u16,
    default_tls: TlsMode,
) -> Result<(Server, OtherKeys<'v>), ConfigError> {
    let t = table(prefix, value)?;
    let mut server = Server {
        host: String::new(),
        port: default_port,
        tls: default_tls,
        ca_file: None,
        username: None,
        password_file: None,
    };
    let mut rest = Vec::new();
    for (name, value) in t {
        let key = format!("{prefix}.{name}");
        match name.as_str() {
            "host" => server.host = text(&key, value)?.to_owned(),
            "port" => server.port = number(&key, value)?,
            "tls" => {
                server.tls = match text(&key, value)? {
                    "starttls" => TlsMode::StartTls,
                    "implicit" => TlsMode::Implicit,
                    _ => return Err(bad(&key, "must be \"starttls\" or \"implicit\"")),
                }
            }
            "ca_file" => server.ca_file = Some(PathBuf::from(text(&key, value)?)),
            "username" => server.username = Some(text(&key, value)?.to_owned()),
            "password_file" => server.password_file = Some(PathBuf::from(text(&key, value)?)),
            _ => rest.push((name, value)),
        }
    }
    if server.host.is_empty() {
        return Err(bad(&format!("{prefix}.host"), "missing"));
    }
    Ok((server, rest))
}

fn parse_imap(value: &toml::Value) -> Result<ImapConfig, ConfigError> {
    let (server, rest) = parse_server("mail.imap", value, 993, TlsMode::Implicit)?;
    let mut imap = ImapConfig {
        server,
        mailbox: "INBOX".to_owned(),
        processed: "keyward-processed".to_owned(),
        poll_seconds: 60,
    };
    for (name, value) in rest {
        let key = format!("mail.imap.{name}");
        match name.as_str() {
            "mailbox" => imap.mailbox = text(&key, value)?.to_owned(),
            "processed" => imap.processed = text(&key, value)?.to_owned(),
            "poll_seconds" => imap.poll_seconds = number(&key, value)?,
            _ => return Err(ConfigError::UnknownKey { key }),
        }
    }
    Ok(imap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MailConfig, ConfigError> {
        let table: toml::Table = text.parse().map_err(|_| bad("toml", "syntax"))?;
        let mail = table
            .get("mail")
            .ok_or(ConfigError::MissingKey { key: "mail" })?;
        MailConfig::parse(mail)
    }

    #[test]
    fn reads_every_key_and_names_the_bad_one() -> Result<(), ConfigError> {
        let c = parse(
            "[mail]\nfrom = \"keyward@ac-exemple.fr\"\ndesk = \"assistance@ac-exemple.fr\"\n\
             lang = \"en\"\nmax_message_bytes = 1000\ntemplates = \"/etc/keyward/mail\"\n\
             [mail.auth]\nmethod = \"authentication-results\"\nauthserv_id = \"mx.ac-exemple.fr\"\n\
             [mail.smtp]\nhost = \"smtp\"\n[mail.imap]\nhost = \"imap\"\nprocessed = \"Done\"\n",
        )?;
        assert_eq!(c.lang, Lang::En);
        assert_eq!(c.max_message_bytes, 1000);
        assert!(matches!(c.auth, SenderAuth::AuthResults { .. }));
        assert_eq!(
            c.smtp.as_ref().map(|s| (s.port, s.tls)),
            Some((587, TlsMode::StartTls))
        );
        assert_eq!(c.imap.as_ref().map(|i| i.processed.as_str()), Some("Done"));
        for (text, key) in [
            ("[mail]\nfrom=\"k@x.fr\"\ncolour=1\n", "mail.colour"),
            ("[mail]\n", "mail.from"),
            ("[mail]\nfrom=\"k@x.fr\"\n[mail.auth]\nmethod=\"dkim\"\n", "mail.auth.keys"),
            (
                "[mail]\nfrom=\"k@x.fr\"\n[mail.auth]\nmethod=\"dkim\"\n[mail.auth.keys]\n\"s._domainkey.x.fr\"=\"junk\"\n",
                "mail.auth.keys",
            ),
        ] {
            let err = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(key), "{text}: {err}");
        }
        Ok(())
    }
}
