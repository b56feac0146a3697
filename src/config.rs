//! The daemon's configuration: `keyward.toml` in the data directory, parsed
//! into validated types ([`DaemonConfig`]), the request limits shared by the
//! server ([`Limits`]; the body limit is the API contract's
//! [`crate::wire::MAX_REQUEST_BODY`], not a key), and the daemon's clock
//! ([`daemon_clock`]). `docs/config.md` documents every key.
//!
//! A file names only known keys; each value is checked here, so a bad file
//! stops the daemon at start with the key named, never at first use.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::domain::reports::ReturnDeadline;
use crate::domain::Clock;
use crate::secure_fs::FsError;
use crate::store::{Config as StoreConfig, StoreError, SystemClock};

/// The config file in a data directory.
pub const CONFIG_FILE: &str = "keyward.toml";
/// Where `keyward init` and `keyward serve` look by default.
pub const DEFAULT_DATA_DIR: &str = "./keyward-data";
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 7390);
pub const DEFAULT_DOMAIN: &str = "ac-exemple.fr";
/// Dates are UTC days unless the file names the authority's zone.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// The master key's name among systemd's credentials (`LoadCredential=`).
pub const MASTER_KEY_CREDENTIAL: &str = "master.key";

/// Where one installation's files are: its data directory, its config file
/// and its master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub data: PathBuf,
    pub config: PathBuf,
    pub master_key: PathBuf,
    /// The master key came from systemd's credentials directory.
    pub key_from_credentials: bool,
}

impl Paths {
    /// The config file is `config` or the data directory's `keyward.toml`.
    /// The master key is `master_key`, else the `master.key` credential
    /// systemd passed in `credentials` (`$CREDENTIALS_DIRECTORY`) when it
    /// exists there, else the data directory's `master.key`.
    pub fn resolve(
        data: &Path,
        config: Option<&Path>,
        master_key: Option<&Path>,
        credentials: Option<&Path>,
    ) -> Paths {
        let credential = credentials
            .map(|dir| dir.join(MASTER_KEY_CREDENTIAL))
            .filter(|path| master_key.is_none() && path.exists());
        let key_from_credentials = credential.is_some();
        let master_key = master_key
            .map(Path::to_path_buf)
            .or(credential)
            .unwrap_or_else(|| data.join(crate::store::MASTER_KEY_FILE));
        Paths {
            data: data.to_path_buf(),
            config: config.map_or_else(|| data.join(CONFIG_FILE), Path::to_path_buf),
            master_key,
            key_from_credentials,
        }
    }

    /// A master key kept apart (systemd credential or `--master-key`)
    /// must not also lie in the data directory, where a copy of the
    /// directory would carry it.
    pub fn stray_master_key(&self) -> Option<PathBuf> {
        let inside = self.data.join(crate::store::MASTER_KEY_FILE);
        (self.master_key != inside && std::fs::symlink_metadata(&inside).is_ok()).then_some(inside)
    }
}

/// Largest config file read; a real one is a few hundred bytes.
const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// Why a config file was refused. Every variant names the file's key at
/// fault, so the operator knows which line to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: FsError },
    #[error("{path} is not UTF-8")]
    NotUtf8 { path: String },
    #[error("{path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("unknown key `{key}` (see docs/config.md)")]
    UnknownKey { key: String },
    #[error("missing key `{key}`")]
    MissingKey { key: &'static str },
    #[error("`{key}` must be {expected}")]
    WrongType { key: String, expected: &'static str },
    #[error("`{key}`: {why}")]
    BadValue { key: String, why: String },
}

/// Limits applied to every connection and request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once. When full, the connection idle for the
    /// longest is closed to make room; when every one is busy, the new
    /// client gets an immediate `503` with `Retry-After`.
    pub max_connections: usize,
    /// Connections open at once from one source address (further ones get
    /// the immediate `503`).
    pub max_connections_per_source: usize,
    /// A request head (line and headers) must arrive whole within this
    /// time of the connection opening or of the previous answer.
    pub header_timeout: Duration,
    /// A connection with no request in flight that sends nothing for this
    /// long is closed.
    pub idle_timeout: Duration,
    /// A request that takes longer is answered 408 and its handler dropped.
    pub request_timeout: Duration,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
}

impl Limits {
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
    pub const DEFAULT_MAX_CONNECTIONS_PER_SOURCE: usize = 128;
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_connections_per_source: Self::DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_body_bytes: crate::wire::MAX_REQUEST_BODY,
        }
    }
}

/// `keyward.toml`, validated.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Addresses the daemon listens on (at least one).
    pub listen: Vec<SocketAddr>,
    pub limits: Limits,
    /// What the store needs: mail domain, verify windows, return deadline,
    /// time zone.
    pub store: StoreConfig,
    /// The RADIUS service, off unless the file has a `[radius]` table.
    pub radius: Option<crate::radius::RadiusConfig>,
    /// Mail (case 3 and the notices), off unless the file has a `[mail]`
    /// table (docs/mail.md).
    pub mail: Option<crate::mail::config::MailConfig>,
    /// TLS on every HTTP listener, when the file has a `[tls]` table.
    pub tls: Option<crate::server::tls::TlsFiles>,
    /// The academic directory sync, off unless the file has `[directory]`.
    pub directory: Option<crate::directory::DirectoryConfig>,
    /// Where the state is kept: SQLite in the data directory unless the
    /// file has `[store] url = "postgres://…"` (docs/postgres.md).
    pub backend: crate::store::postgres::StoreBackend,
}

impl DaemonConfig {
    /// What `keyward init` writes for a new data directory: the defaults
    /// with the authority's mail domain, and RADIUS for a gateway on this
    /// machine only.
    pub fn new(domain: &str) -> Result<DaemonConfig, StoreError> {
        let store = StoreConfig::new(domain);
        store.validate()?;
        Ok(DaemonConfig {
            listen: vec![DEFAULT_LISTEN],
            limits: Limits::default(),
            store,
            radius: Some(crate::radius::RadiusConfig::local()),
            mail: None,
            tls: None,
            directory: None,
            backend: crate::store::postgres::StoreBackend::Sqlite,
        })
    }

    /// Reads and validates `keyward.toml` in `data`.
    pub fn load(data: &Path) -> Result<DaemonConfig, ConfigError> {
        Self::load_file(&data.join(CONFIG_FILE))
    }

    /// Reads and validates a config file (`/etc/keyward/keyward.toml` when
    /// installed from the package).
    pub fn load_file(path: &Path) -> Result<DaemonConfig, ConfigError> {
        let shown = || path.display().to_string();
        let bytes =
            crate::secure_fs::read_config_file(path, MAX_CONFIG_BYTES).map_err(|source| {
                ConfigError::Read {
                    path: shown(),
                    source,
                }
            })?;
        let text =
            std::str::from_utf8(&bytes).map_err(|_| ConfigError::NotUtf8 { path: shown() })?;
        Self::parse(text).map_err(|err| match err {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax {
                path: shown(),
                message,
            },
            other => other,
        })
    }

    /// Parses the text of a config file.
    pub fn parse(text: &str) -> Result<DaemonConfig, ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|err: toml::de::Error| ConfigError::Syntax {
                    path: CONFIG_FILE.to_owned(),
                    message: err.message().to_owned(),
                })?;
        let mut domain = None;
        let mut listen = vec![DEFAULT_LISTEN];
        let mut totp_behind = crate::otp::Totp::DEFAULT_BEHIND;
        let mut hotp_look_ahead = crate::otp::Hotp::DEFAULT_LOOK_AHEAD;
        let mut refusal_floor = StoreConfig::DEFAULT_REFUSAL_FLOOR;
        let mut return_deadline = ReturnDeadline::DEFAULT;
        let mut time_zone = TimeZone::UTC;
        let mut limits = Limits::default();
        let mut radius = None;
        let mut mail = None;
        let mut tls = None;
        let mut directory = None;
        let mut seeded_reuse = crate::store::SeededReuse::AfterImport;
        let mut audit = (None, crate::store::DEFAULT_CHECKPOINT_EVERY);
        let mut backend = crate::store::postgres::StoreBackend::Sqlite;
        for (key, value) in &table {
            match key.as_str() {
                "authority_domain" => domain = Some(string(key, value)?.to_ascii_lowercase()),
                "listen" => listen = addresses(key, value)?,
                "totp_behind" => totp_behind = integer(key, value)?,
                "hotp_look_ahead" => hotp_look_ahead = integer(key, value)?,
                "refusal_floor_ms" => {
                    refusal_floor = Duration::from_millis(integer(key, value)?);
                    if refusal_floor > StoreConfig::MAX_REFUSAL_FLOOR {
                        return Err(bad(key, "at most 1000 (one second)"));
                    }
                }
                "return_deadline" => return_deadline = month_day(key, value)?,
                "time_zone" => time_zone = zone(key, value)?,
                "limits" => limits = parse_limits(value)?,
                "radius" => radius = Some(crate::radius::RadiusConfig::parse(value)?),
                "mail" => mail = Some(crate::mail::config::MailConfig::parse(value)?),
                "directory" => directory = Some(crate::directory::DirectoryConfig::parse(value)?),
                "seeded_reuse" => {
                    seeded_reuse = match string(key, value)? {
                        "after-import" => crate::store::SeededReuse::AfterImport,
                        "never" => crate::store::SeededReuse::Never,
                        _ => {
                            return Err(ConfigError::BadValue {
                                key: key.clone(),
                                why: "expected \"after-import\" or \"never\"".to_owned(),
                            })
                        }
                    }
                }
                "audit" => audit = parse_audit(value)?,
                "tls" => tls = Some(crate::server::tls::TlsFiles::parse(value)?),
                "store" => backend = crate::store::postgres::config::parse_table(value)?,
                _ => return Err(ConfigError::UnknownKey { key: key.clone() }),
            }
        }
        let domain = domain.ok_or(ConfigError::MissingKey {
            key: "authority_domain",
        })?;
        let mut store = StoreConfig::new(&domain);
        store.totp_behind = totp_behind;
        store.hotp_look_ahead = hotp_look_ahead;
        store.refusal_floor = refusal_floor;
        store.return_deadline = return_deadline;
        store.time_zone = time_zone;
        store.seeded_reuse = seeded_reuse;
        (store.checkpoint_file, store.checkpoint_every) = audit;
        if let Err(err) = store.validate() {
            let key = if store.check_domain().is_err() {
                "authority_domain"
            } else {
                "totp_behind, hotp_look_ahead"
            };
            return Err(ConfigError::BadValue {
                key: key.to_owned(),
                why: err.to_string(),
            });
        }
        Ok(DaemonConfig {
            listen,
            limits,
            store,
            radius,
            mail,
            tls,
            directory,
            backend,
        })
    }

    /// The file `keyward init` writes: the keys an operator is most likely
    /// to change, with their values (`return_deadline` keeps its default
    /// unless written by hand).
    pub fn to_toml(&self) -> String {
        let listen = if let [one] = self.listen.as_slice() {
            toml_string(&one.to_string())
        } else {
            let all: Vec<String> = self
                .listen
                .iter()
                .map(|a| toml_string(&a.to_string()))
                .collect();
            format!("[{}]", all.join(", "))
        };
        let zone = self
            .store
            .time_zone
            .iana_name()
            .unwrap_or(DEFAULT_TIME_ZONE);
        let radius = self
            .radius
            .as_ref()
            .map(|r| format!("\n{}", r.to_toml()))
            .unwrap_or_default();
        let tls = self
            .tls
            .as_ref()
            .map(|t| {
                format!(
                    "\n[tls]\ncertificate = {}\nkey = {}\n",
                    toml_string(&t.certificate.display().to_string()),
                    toml_string(&t.key.display().to_string())
                )
            })
            .unwrap_or_default();
        format!(
            "authority_domain = {domain}\nlisten = {listen}\ntotp_behind = {behind}\n\
             hotp_look_ahead = {ahead}\ntime_zone = {zone}\n\n\
             [limits]\nmax_connections = {connections}\nrequest_timeout_seconds = {timeout}\n{radius}{tls}",
            domain = toml_string(&self.store.authority_domain),
            behind = self.store.totp_behind,
            ahead = self.store.hotp_look_ahead,
            zone = toml_string(zone),
            connections = self.limits.max_connections,
            timeout = self.limits.request_timeout.as_secs(),
        )
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

// Reading one value of the file: shared by every table's parser (here, and
// the `[mail]`, `[radius]` and `[directory]` parsers beside their modules).

pub(crate) fn string<'v>(key: &str, value: &'v toml::Value) -> Result<&'v str, ConfigError> {
    value.as_str().ok_or_else(|| wrong(key, "a string"))
}

pub(crate) fn table<'v>(key: &str, value: &'v toml::Value) -> Result<&'v toml::Table, ConfigError> {
    value.as_table().ok_or_else(|| wrong(key, "a table"))
}

pub(crate) fn wrong(key: &str, expected: &'static str) -> ConfigError {
    ConfigError::WrongType {
        key: key.to_owned(),
        expected,
    }
}

fn integer<T: TryFrom<i64>>(key: &str, value: &toml::Value) -> Result<T, ConfigError> {
    let wrong = || ConfigError::WrongType {
        key: key.to_owned(),
        expected: "a non-negative integer in range",
    };
    let number = value.as_integer().ok_or_else(wrong)?;
    T::try_from(number).map_err(|_| wrong())
}

pub(crate) fn bad(key: &str, why: impl Into<String>) -> ConfigError {
    ConfigError::BadValue {
        key: key.to_owned(),
        why: why.into(),
    }
}

fn parse_addr(key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse()
        .map_err(|_| bad(key, "not an IP address and port, e.g. \"127.0.0.1:7390\""))
}

fn addresses(key: &str, value: &toml::Value) -> Result<Vec<SocketAddr>, ConfigError> {
    let all = match value {
        toml::Value::String(one) => vec![parse_addr(key, one)?],
        toml::Value::Array(many) => many
            .iter()
            .map(|v| parse_addr(key, string(key, v)?))
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(ConfigError::WrongType {
                key: key.to_owned(),
                expected: "an address string or an array of them",
            })
        }
    };
    if all.is_empty() {
        return Err(bad(key, "names no address"));
    }
    Ok(all)
}

fn month_day(key: &str, value: &toml::Value) -> Result<ReturnDeadline, ConfigError> {
    let text = string(key, value)?;
    let parsed = text
        .split_once('-')
        .filter(|(m, d)| m.len() == 2 && d.len() == 2)
        .and_then(|(m, d)| Some((m.parse().ok()?, d.parse().ok()?)))
        .and_then(|(m, d)| ReturnDeadline::new(m, d).ok());
    parsed.ok_or_else(|| bad(key, "not a day of the year as \"MM-DD\", e.g. \"07-07\""))
}

fn zone(key: &str, value: &toml::Value) -> Result<TimeZone, ConfigError> {
    let name = string(key, value)?;
    TimeZone::get(name).map_err(|_| bad(key, "not an IANA time zone, e.g. \"Europe/Paris\""))
}

fn parse_limits(value: &toml::Value) -> Result<Limits, ConfigError> {
    let table = value.as_table().ok_or_else(|| ConfigError::WrongType {
        key: "limits".to_owned(),
        expected: "a table",
    })?;
    let mut limits = Limits::default();
    for (name, value) in table {
        let key = format!("limits.{name}");
        match name.as_str() {
            "max_connections" => {
                limits.max_connections = integer(&key, value)?;
                if limits.max_connections == 0 {
                    return Err(bad(&key, "must be at least 1"));
                }
            }
            "request_timeout_seconds" => {
                let seconds: u64 = integer(&key, value)?;
                if !(1..=3600).contains(&seconds) {
                    return Err(bad(&key, "must be between 1 and 3600"));
                }
                limits.request_timeout = Duration::from_secs(seconds);
            }
            "max_connections_per_source" => {
                limits.max_connections_per_source = integer(&key, value)?;
                if limits.max_connections_per_source == 0 {
                    return Err(bad(&key, "must be at least 1"));
                }
            }
            "header_timeout_seconds" | "idle_timeout_seconds" => {
                let seconds: u64 = integer(&key, value)?;
                if !(1..=600).contains(&seconds) {
                    return Err(bad(&key, "must be between 1 and 600"));
                }
                if name == "header_timeout_seconds" {
                    limits.header_timeout = Duration::from_secs(seconds);
                } else {
                    limits.idle_timeout = Duration::from_secs(seconds);
                }
            }
            _ => return Err(ConfigError::UnknownKey { key }),
        }
    }
    Ok(limits)
}

/// `[audit]`: the checkpoint file (relative paths are in the data
/// directory) and the entries between two checkpoints.
fn parse_audit(value: &toml::Value) -> Result<(Option<PathBuf>, u64), ConfigError> {
    let table = value.as_table().ok_or_else(|| ConfigError::WrongType {
        key: "audit".to_owned(),
        expected: "a table",
    })?;
    let mut audit = (None, crate::store::DEFAULT_CHECKPOINT_EVERY);
    for (name, value) in table {
        let key = format!("audit.{name}");
        match name.as_str() {
            "checkpoint_file" => {
                let path = string(&key, value)?;
                if path.is_empty() {
                    return Err(bad(&key, "must name a file"));
                }
                audit.0 = Some(PathBuf::from(path));
            }
            "checkpoint_every" => {
                audit.1 = integer(&key, value)?;
                if !(1..=1_000_000).contains(&audit.1) {
                    return Err(bad(&key, "must be between 1 and 1000000"));
                }
            }
            _ => return Err(ConfigError::UnknownKey { key }),
        }
    }
    Ok(audit)
}

/// The daemon's clock: the system's. Builds with the `test-clock` feature
/// (the test suite's) read it instead from the file named by
/// `KEYWARD_TEST_CLOCK` (Unix seconds, re-read at every use), so end-to-end
/// tests can move time while the daemon runs; other builds have no such
/// code and never read the variable.
pub fn daemon_clock() -> Arc<dyn Clock> {
    #[cfg(feature = "test-clock")]
    if let Some(path) = std::env::var_os("KEYWARD_TEST_CLOCK") {
        tracing::warn!("KEYWARD_TEST_CLOCK set: the daemon's time comes from a file (test build)");
        return Arc::new(FileClock(std::path::PathBuf::from(path)));
    }
    Arc::new(SystemClock)
}

/// A clock read from a file of Unix seconds (see [`daemon_clock`]).
#[cfg(feature = "test-clock")]
#[derive(Debug)]
struct FileClock(std::path::PathBuf);

#[cfg(feature = "test-clock")]
impl Clock for FileClock {
    fn now(&self) -> crate::domain::UnixTime {
        match std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            Some(now) => now,
            None => {
                tracing::warn!(path = %self.0.display(), "test clock unreadable; using the system clock");
                SystemClock.now()
            }
        }
    }

    /// The file is moved by the test while an answer is held.
    fn moved_from_outside(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `keyward init` wrote before this module existed.
    const OLD_FILE: &str = "authority_domain = \"ac-exemple.fr\"\nlisten = \"127.0.0.1:7390\"\ntotp_behind = 1\nhotp_look_ahead = 10\n";

    #[test]
    fn files_written_by_earlier_inits_still_load() {
        let config = DaemonConfig::parse(OLD_FILE).unwrap();
        assert_eq!(config.listen, vec!["127.0.0.1:7390".parse().unwrap()]);
        assert_eq!(config.store.authority_domain, "ac-exemple.fr");
        assert_eq!(config.store.totp_behind, 1);
        assert_eq!(config.store.hotp_look_ahead, 10);
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.store.time_zone, TimeZone::UTC);
        assert_eq!(config.store.refusal_floor, Duration::from_millis(2));
        assert_eq!(config.radius, None);
        let off = DaemonConfig::parse(&format!("{OLD_FILE}refusal_floor_ms = 0\n")).unwrap();
        assert_eq!(off.store.refusal_floor, Duration::ZERO);
    }

    #[test]
    fn what_init_writes_reads_back_the_same() {
        let mut config = DaemonConfig::new("AC-Exemple.fr").unwrap();
        config.listen.push("[::1]:7390".parse().unwrap());
        config.store.time_zone = TimeZone::get("Europe/Paris").unwrap();
        let again = DaemonConfig::parse(&config.to_toml()).unwrap();
        assert_eq!(again.listen, config.listen);
        assert_eq!(again.limits, config.limits);
        assert_eq!(again.store.authority_domain, "ac-exemple.fr");
        assert_eq!(again.store.return_deadline, ReturnDeadline::DEFAULT);
        assert_eq!(again.store.time_zone.iana_name(), Some("Europe/Paris"));
        assert_eq!(again.radius, Some(crate::radius::RadiusConfig::local()));
    }

    #[test]
    fn init_refuses_a_bad_domain_as_the_store_does() {
        assert!(matches!(
            DaemonConfig::new("not a domain"),
            Err(StoreError::BadConfig(_))
        ));
    }

    #[test]
    fn every_key_is_read() {
        let config = DaemonConfig::parse(
            "authority_domain = \"ac-exemple.fr\"\nlisten = [\"127.0.0.1:1\", \"[::1]:2\"]\n\
             return_deadline = \"07-14\"\ntime_zone = \"Europe/Paris\"\nseeded_reuse = \"never\"\n\
             [limits]\nmax_connections = 8\nrequest_timeout_seconds = 30\n\
             [audit]\ncheckpoint_file = \"/var/log/keyward/audit-checkpoints\"\n\
             checkpoint_every = 50\n",
        )
        .unwrap();
        assert_eq!(
            config.store.checkpoint_file.as_deref(),
            Some(std::path::Path::new("/var/log/keyward/audit-checkpoints"))
        );
        assert_eq!(config.store.checkpoint_every, 50);
        assert_eq!(config.listen.len(), 2);
        assert_eq!(config.limits.max_connections, 8);
        assert_eq!(config.store.seeded_reuse, crate::store::SeededReuse::Never);
        assert_eq!(config.limits.request_timeout, Duration::from_secs(30));
        assert_eq!(config.limits.max_body_bytes, crate::wire::MAX_REQUEST_BODY);
        assert_eq!(
            config.store.return_deadline,
            ReturnDeadline::new(7, 14).unwrap()
        );
    }

    fn refusal(extra: &str) -> ConfigError {
        DaemonConfig::parse(&format!("{OLD_FILE}{extra}")).unwrap_err()
    }

    /// The rule a refusal names (`unknown`, `bad value`, `wrong type`) and
    /// its key.
    fn refused_key(err: ConfigError) -> (&'static str, String) {
        match err {
            ConfigError::UnknownKey { key } => ("unknown", key),
            ConfigError::BadValue { key, .. } => ("bad value", key),
            ConfigError::WrongType { key, .. } => ("wrong type", key),
            other => panic!("not a refused key: {other:?}"),
        }
    }

    #[test]
    fn bad_files_name_the_key() {
        // After the lines of an old file ...
        for (extra, rule, key) in [
            ("colour = 1\n", "unknown", "colour"),
            (
                "seeded_reuse = \"sometimes\"\n",
                "bad value",
                "seeded_reuse",
            ),
            ("[limits]\nmax_body = 1\n", "unknown", "limits.max_body"),
            ("time_zone = \"Mars/Olympus\"\n", "bad value", "time_zone"),
            (
                "return_deadline = \"02-30\"\n",
                "bad value",
                "return_deadline",
            ),
            (
                "[limits]\nmax_connections = -1\n",
                "wrong type",
                "limits.max_connections",
            ),
            (
                "[audit]\ncheckpoint_every = 0\n",
                "bad value",
                "audit.checkpoint_every",
            ),
            (
                "[audit]\ncheckpoint_file = 3\n",
                "wrong type",
                "audit.checkpoint_file",
            ),
            ("[audit]\nevery = 3\n", "unknown", "audit.every"),
            (
                "[limits]\nrequest_timeout_seconds = 0\n",
                "bad value",
                "limits.request_timeout_seconds",
            ),
        ] {
            assert_eq!(
                refused_key(refusal(extra)),
                (rule, key.to_owned()),
                "{extra}"
            );
        }
        // ... and as whole files.
        for (file, rule, key) in [
            (
                "listen = \"nowhere\"\nauthority_domain = \"a.fr\"\n",
                "bad value",
                "listen",
            ),
            (
                "authority_domain = \"not a domain\"\n",
                "bad value",
                "authority_domain",
            ),
            (
                "authority_domain = \"a.fr\"\nhotp_look_ahead = 1000\n",
                "bad value",
                "totp_behind, hotp_look_ahead",
            ),
            ("authority_domain = 3\n", "wrong type", "authority_domain"),
            (
                "authority_domain = \"a.fr\"\nrefusal_floor_ms = 1001\n",
                "bad value",
                "refusal_floor_ms",
            ),
            (
                "authority_domain = \"a.fr\"\nrefusal_floor_ms = -1\n",
                "wrong type",
                "refusal_floor_ms",
            ),
        ] {
            let err = DaemonConfig::parse(file).unwrap_err();
            assert_eq!(refused_key(err), (rule, key.to_owned()), "{file}");
        }
        assert!(matches!(
            refusal("listen = 7390\n"),
            ConfigError::Syntax { .. }
        ));
        assert!(matches!(
            DaemonConfig::parse("listen = \"127.0.0.1:1\"\n").unwrap_err(),
            ConfigError::MissingKey {
                key: "authority_domain"
            }
        ));
    }
}
