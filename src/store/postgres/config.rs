//! `[store]` in `keyward.toml`: which database holds the state.
//!
//! ```toml
//! [store]
//! url = "postgres://keyward@db1.ac-exemple.fr:5432/keyward?sslmode=verify-full"
//! password_file = "/etc/keyward/postgres.password"
//! ca_file = "/etc/keyward/postgres-ca.pem"
//! ```
//!
//! `sslmode=verify-full` encrypts every connection with TLS and checks the
//! server's certificate against the CAs of `ca_file` (required with it:
//! the database server is the authority's own, under its own CA, and no
//! certificate from a public CA should pass for it) and its name against
//! the host of the URL. No mode encrypts without checking. A server beyond
//! loopback needs verify-full or, written out, `sslmode=disable`.
//!
//! Without a `[store]` table (or with `url = "sqlite"`) the embedded SQLite
//! database of the data directory is used, as before.
//!
//! For high availability the URL names every server of the cluster, the
//! primary and its standbys (`postgres://keyward@db1:5432,db2:5432/keyward`):
//! a node tries them in order and keeps the one that accepts writes
//! (`target_session_attrs=read-write`, always asked for, since a node writes
//! at every verify), so after a standby is promoted its next connection
//! goes to the new primary. Dead peers are noticed by TCP keepalives and a
//! TCP user timeout, not after the system's two hours. The password is
//! never written in the URL (refused: configuration files are read by
//! more people than the database's password should be) but in a private
//! file (0600, owned by keyward), read when the store connects; it never
//! appears in a log, an error or `Debug`.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Where the state is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StoreBackend {
    /// `keyward.db` in the data directory (the default).
    #[default]
    Sqlite,
    /// A PostgreSQL database shared by several nodes.
    Postgres(PgTarget),
}

/// A PostgreSQL database and how to log in to it. Holds no password, only
/// where to read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgTarget {
    pub user: String,
    /// The servers, tried in this order; the node keeps the first that
    /// accepts writes (the primary).
    pub servers: Vec<PgServer>,
    pub dbname: String,
    pub password_file: PathBuf,
    /// This node's name (`[store] node`, default the host's name): written
    /// in the audit entries the node appends.
    pub node: String,
    /// Whether connections are encrypted, and whom they trust.
    pub tls: PgTls,
}

/// TLS between the node and its servers (`sslmode` in the URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PgTls {
    /// `sslmode=disable` (or nothing, on loopback only): cleartext.
    Disabled,
    /// `sslmode=verify-full`: TLS only, the server's certificate chained to
    /// a CA of `ca_file` (read when connecting) and naming the host.
    VerifyFull { ca_file: PathBuf },
}

/// One PostgreSQL server of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgServer {
    pub host: String,
    pub port: u16,
}

/// Most servers one URL names.
pub const MAX_SERVERS: usize = 8;

/// How long connecting to one server may take (each server of the URL in
/// turn).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// Idle time before TCP keepalives probe a connection, the time between
/// probes and how many go unanswered before the connection is dropped: a
/// primary that vanished (power lost, network cut) is noticed within
/// about 15 s.
const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(5);
const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
const KEEPALIVE_RETRIES: u32 = 3;
/// Longest time data sent may stay unacknowledged by a server before the
/// connection is dropped (a batch's statements or its commit to a server
/// that stopped answering).
const TCP_USER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Longest node name.
const MAX_NODE_NAME: usize = 64;

/// The host's name, when it makes a node name; else "keyward".
fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| name_ok(name) && name.len() <= MAX_NODE_NAME)
        .unwrap_or_else(|| "keyward".to_owned())
}

/// Why `[store]` was refused. Never echoes a password, nor the URL (which
/// may hold one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PgConfigError {
    #[error("`store.url` must start with postgres:// or postgresql:// (or be \"sqlite\")")]
    Scheme,
    #[error(
        "`store.url` holds a password: put it in the file named by `store.password_file` instead"
    )]
    PasswordInUrl,
    #[error("`store.url` names no user (postgres://USER@HOST/DATABASE)")]
    NoUser,
    #[error("`store.url` names no host")]
    NoHost,
    #[error("`store.url` has a bad port")]
    BadPort,
    #[error("`store.url` names more than 8 servers")]
    TooManyServers,
    #[error("`store.url` names the server {0} twice")]
    RepeatedServer(String),
    #[error(
        "`store.url`: target_session_attrs must be read-write (a node writes at every verify)"
    )]
    SessionAttrs,
    #[error("`store.url` names no database (postgres://USER@HOST/DATABASE)")]
    NoDatabase,
    #[error("`store.url`: unsupported option `{0}` (only sslmode and target_session_attrs=read-write are known)")]
    UnknownOption(String),
    #[error("`store.url`: {0} is not a loopback host; the connection is not encrypted: write ?sslmode=verify-full (with `store.ca_file`), or ?sslmode=disable to accept cleartext")]
    Unencrypted(String),
    /// An `sslmode` other than `verify-full` and `disable` (`require`,
    /// `verify-ca`, `prefer`… check less, or nothing): the value is shown
    /// only when it is a plain word.
    #[error("`store.url`: sslmode `{0}` is not offered; write sslmode=verify-full (TLS, the server's certificate and name checked) or sslmode=disable")]
    UnknownSslMode(String),
    #[error("`store.url` gives sslmode more than once")]
    RepeatedSslMode,
    #[error("`store.url` has sslmode=verify-full: `store.ca_file` must name the PEM file of the CA that signed the PostgreSQL server's certificate")]
    NoCaFile,
    #[error("`store.ca_file` is only for sslmode=verify-full (the url asks for no TLS)")]
    CaFileWithoutTls,
    #[error("the PostgreSQL CA file {path} {problem}")]
    CaFile {
        path: String,
        problem: crate::directory::tls::CaProblem,
    },
    #[error("`store.url`: user, host and database take letters, digits, '.', '_' and '-' only")]
    BadName,
    #[error("`store.password_file` is required with a PostgreSQL url")]
    NoPasswordFile,
    #[error("`store.password_file` is only for a PostgreSQL url")]
    PasswordFileWithoutPostgres,
    #[error("reading the PostgreSQL password file {path}: {why}")]
    PasswordFile { path: String, why: String },
    #[error("the PostgreSQL password file {path} is empty or has more than one line")]
    PasswordFileContent { path: String },
}

/// Largest password file read.
const MAX_PASSWORD_FILE: usize = 1024;

fn name_ok(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl StoreBackend {
    /// Parses `url`, `password_file` and `ca_file` (the keys of
    /// `[store]`).
    pub fn from_keys(
        url: &str,
        password_file: Option<&Path>,
        ca_file: Option<&Path>,
    ) -> Result<Self, PgConfigError> {
        if url == "sqlite" {
            return match (password_file, ca_file) {
                (Some(_), _) => Err(PgConfigError::PasswordFileWithoutPostgres),
                (None, Some(_)) => Err(PgConfigError::CaFileWithoutTls),
                (None, None) => Ok(StoreBackend::Sqlite),
            };
        }
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or(PgConfigError::Scheme)?;
        let (authority, path) = rest.split_once('/').ok_or(PgConfigError::NoDatabase)?;
        let (user, hostport) = authority.rsplit_once('@').ok_or(PgConfigError::NoUser)?;
        if user.contains(':') {
            return Err(PgConfigError::PasswordInUrl);
        }
        if user.is_empty() {
            return Err(PgConfigError::NoUser);
        }
        let servers = hostport
            .split(',')
            .map(parse_server)
            .collect::<Result<Vec<_>, _>>()?;
        if servers.len() > MAX_SERVERS {
            return Err(PgConfigError::TooManyServers);
        }
        for (n, server) in servers.iter().enumerate() {
            if servers[..n].contains(server) {
                return Err(PgConfigError::RepeatedServer(server.to_string()));
            }
        }
        let (dbname, query) = match path.split_once('?') {
            Some((db, q)) => (db, Some(q)),
            None => (path, None),
        };
        if dbname.is_empty() {
            return Err(PgConfigError::NoDatabase);
        }
        if !(name_ok(user) && name_ok(dbname)) {
            return Err(PgConfigError::BadName);
        }
        let mut sslmode = None;
        for option in query.into_iter().flat_map(|q| q.split('&')) {
            match option.split_once('=') {
                Some(("sslmode", mode)) => {
                    if sslmode.is_some() {
                        return Err(PgConfigError::RepeatedSslMode);
                    }
                    sslmode = Some(match mode {
                        "disable" => SslMode::Disable,
                        "verify-full" => SslMode::VerifyFull,
                        _ if name_ok(mode) && mode.len() <= 32 => {
                            return Err(PgConfigError::UnknownSslMode(mode.to_owned()))
                        }
                        _ => return Err(PgConfigError::UnknownSslMode(String::new())),
                    });
                }
                // What the node always asks for; written or not.
                Some(("target_session_attrs", "read-write")) => {}
                Some(("target_session_attrs", _)) => return Err(PgConfigError::SessionAttrs),
                _ => {
                    let key = option.split('=').next().unwrap_or_default();
                    return Err(PgConfigError::UnknownOption(key.to_owned()));
                }
            }
        }
        let tls = match (sslmode, ca_file) {
            (Some(SslMode::VerifyFull), Some(ca_file)) => PgTls::VerifyFull {
                ca_file: ca_file.to_owned(),
            },
            (Some(SslMode::VerifyFull), None) => return Err(PgConfigError::NoCaFile),
            (_, Some(_)) => return Err(PgConfigError::CaFileWithoutTls),
            (Some(SslMode::Disable), None) => PgTls::Disabled,
            // Cleartext unasked: on loopback only.
            (None, None) => match servers.iter().find(|s| !s.is_loopback()) {
                Some(remote) => return Err(PgConfigError::Unencrypted(remote.host.clone())),
                None => PgTls::Disabled,
            },
        };
        let password_file = password_file.ok_or(PgConfigError::NoPasswordFile)?;
        Ok(StoreBackend::Postgres(PgTarget {
            user: user.to_owned(),
            servers,
            dbname: dbname.to_owned(),
            password_file: password_file.to_owned(),
            node: default_node_name(),
            tls,
        }))
    }
}

/// The `sslmode` values offered.
#[derive(Clone, Copy)]
enum SslMode {
    Disable,
    VerifyFull,
}

/// One `host[:port]` of the URL's list.
fn parse_server(text: &str) -> Result<PgServer, PgConfigError> {
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or(PgConfigError::BadPort)?,
        ),
        None => (text, 5432),
    };
    if host.is_empty() {
        return Err(PgConfigError::NoHost);
    }
    if !name_ok(host) {
        return Err(PgConfigError::BadName);
    }
    Ok(PgServer {
        host: host.to_owned(),
        port,
    })
}

impl PgServer {
    fn is_loopback(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "::1") || self.host.starts_with("127.")
    }
}

impl std::fmt::Display for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Parses the `[store]` table of `keyward.toml`.
pub fn parse_table(value: &toml::Value) -> Result<StoreBackend, crate::config::ConfigError> {
    use crate::config::{bad, string, ConfigError};
    let table = value.as_table().ok_or_else(|| ConfigError::WrongType {
        key: "store".to_owned(),
        expected: "a table",
    })?;
    let mut url = None;
    let mut password_file = None;
    let mut ca_file = None;
    let mut node = None;
    for (name, value) in table {
        let key = format!("store.{name}");
        match name.as_str() {
            "url" => url = Some(string(&key, value)?),
            "password_file" => {
                let path = string(&key, value)?;
                if path.is_empty() {
                    return Err(bad(&key, "must name a file"));
                }
                password_file = Some(PathBuf::from(path));
            }
            "ca_file" => {
                let path = string(&key, value)?;
                if path.is_empty() {
                    return Err(bad(&key, "must name a file"));
                }
                ca_file = Some(PathBuf::from(path));
            }
            "node" => {
                let name = string(&key, value)?;
                if !name_ok(name) || name.len() > MAX_NODE_NAME {
                    return Err(bad(
                        &key,
                        "1 to 64 letters, digits, '.', '_' and '-' (the node's name)",
                    ));
                }
                node = Some(name.to_owned());
            }
            _ => return Err(ConfigError::UnknownKey { key }),
        }
    }
    let url = url.ok_or(ConfigError::MissingKey { key: "store.url" })?;
    let backend = StoreBackend::from_keys(url, password_file.as_deref(), ca_file.as_deref())
        .map_err(|err| {
            let key = match err {
                PgConfigError::NoPasswordFile | PgConfigError::PasswordFileWithoutPostgres => {
                    "store.password_file"
                }
                PgConfigError::NoCaFile | PgConfigError::CaFileWithoutTls => "store.ca_file",
                _ => "store.url",
            };
            // The message never holds the url's text (nor a password in it).
            bad(key, err.to_string())
        })?;
    match (backend, node) {
        (StoreBackend::Postgres(mut target), Some(node)) => {
            target.node = node;
            Ok(StoreBackend::Postgres(target))
        }
        (StoreBackend::Sqlite, Some(_)) => Err(bad("store.node", "only for a PostgreSQL url")),
        (backend, None) => Ok(backend),
    }
}

impl PgTarget {
    /// Reads the password file: private (0600, our own), one line.
    pub fn read_password(&self) -> Result<Zeroizing<String>, PgConfigError> {
        let path = || self.password_file.display().to_string();
        let bytes = crate::secure_fs::read_private_file(&self.password_file, MAX_PASSWORD_FILE)
            .map_err(|err| PgConfigError::PasswordFile {
                path: path(),
                why: err.to_string(),
            })?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| PgConfigError::PasswordFileContent { path: path() })?;
        let line = text.strip_suffix('\n').unwrap_or(text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.contains(['\n', '\r']) {
            return Err(PgConfigError::PasswordFileContent { path: path() });
        }
        Ok(Zeroizing::new(line.to_owned()))
    }

    /// The servers, as the URL lists them (`db1:5432,db2:5432`).
    pub fn servers_text(&self) -> String {
        let servers: Vec<String> = self.servers.iter().map(PgServer::to_string).collect();
        servers.join(",")
    }

    /// The client's connection settings, with the password read now.
    pub fn client_config(&self) -> Result<tokio_postgres::Config, PgConfigError> {
        let password = self.read_password()?;
        let mut config = self.connection_settings();
        config.password(password.as_bytes());
        Ok(config)
    }

    /// Every server in order, a read-write session only (the primary),
    /// dead peers noticed within seconds, TLS required or never tried;
    /// no password.
    fn connection_settings(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config.ssl_mode(match self.tls {
            PgTls::Disabled => tokio_postgres::config::SslMode::Disable,
            // What is checked is the connector's business (super::tls);
            // here: no connection without TLS.
            PgTls::VerifyFull { .. } => tokio_postgres::config::SslMode::Require,
        });
        for server in &self.servers {
            config.host(&server.host).port(server.port);
        }
        config
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("keyward")
            .target_session_attrs(tokio_postgres::config::TargetSessionAttrs::ReadWrite)
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES)
            .tcp_user_timeout(TCP_USER_TIMEOUT);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(url: &str) -> Result<StoreBackend, PgConfigError> {
        StoreBackend::from_keys(url, Some(Path::new("/etc/keyward/pg.password")), None)
    }

    #[test]
    fn a_loopback_url_with_a_password_file_is_a_postgres_target() {
        let StoreBackend::Postgres(t) = pg("postgres://keyward@127.0.0.1:6543/kw").unwrap() else {
            panic!("not postgres");
        };
        assert_eq!(
            (t.user.as_str(), t.servers_text(), t.dbname.as_str()),
            ("keyward", "127.0.0.1:6543".to_owned(), "kw")
        );
        let StoreBackend::Postgres(t) = pg("postgresql://k@localhost/kw").unwrap() else {
            panic!("not postgres");
        };
        assert_eq!(t.servers[0].port, 5432);
    }

    #[test]
    fn a_url_may_name_the_primary_and_its_standbys_tried_in_order() {
        let StoreBackend::Postgres(t) = pg(
            "postgres://k@db1.ac-exemple.fr:5433,db2.ac-exemple.fr/kw?sslmode=disable&target_session_attrs=read-write",
        )
        .unwrap() else {
            panic!("not postgres");
        };
        assert_eq!(
            t.servers_text(),
            "db1.ac-exemple.fr:5433,db2.ac-exemple.fr:5432"
        );
        let config = t.connection_settings();
        assert_eq!(
            config.get_hosts(),
            [
                tokio_postgres::config::Host::Tcp("db1.ac-exemple.fr".into()),
                tokio_postgres::config::Host::Tcp("db2.ac-exemple.fr".into())
            ]
        );
        assert_eq!(config.get_ports(), [5433, 5432]);
        // Read-write is asked for whether the URL says so or not.
        assert_eq!(
            config.get_target_session_attrs(),
            tokio_postgres::config::TargetSessionAttrs::ReadWrite
        );
        assert_eq!(config.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        let StoreBackend::Postgres(t) = pg("postgres://k@127.0.0.1:1,127.0.0.2:2/kw").unwrap()
        else {
            panic!("not postgres");
        };
        assert_eq!(
            t.connection_settings().get_target_session_attrs(),
            tokio_postgres::config::TargetSessionAttrs::ReadWrite
        );
    }

    #[test]
    fn a_list_of_servers_is_checked_server_by_server() {
        // One server beyond loopback needs sslmode=disable, named.
        assert_eq!(
            pg("postgres://k@127.0.0.1,db2.ac-exemple.fr/kw"),
            Err(PgConfigError::Unencrypted("db2.ac-exemple.fr".into()))
        );
        assert_eq!(pg("postgres://k@127.0.0.1,/kw"), Err(PgConfigError::NoHost));
        assert_eq!(
            pg("postgres://k@127.0.0.1:5432,127.0.0.1:x/kw"),
            Err(PgConfigError::BadPort)
        );
        assert_eq!(
            pg("postgres://k@127.0.0.1,db 2/kw"),
            Err(PgConfigError::BadName)
        );
        assert_eq!(
            pg("postgres://k@127.0.0.1:5432,127.0.0.1/kw"),
            Err(PgConfigError::RepeatedServer("127.0.0.1:5432".into()))
        );
        let nine: Vec<String> = (1..=9).map(|n| format!("127.0.0.{n}")).collect();
        assert_eq!(
            pg(&format!("postgres://k@{}/kw", nine.join(","))),
            Err(PgConfigError::TooManyServers)
        );
        // A node writes: a standby (or any session) is never what it wants.
        for attrs in ["any", "read-only", "prefer-standby", ""] {
            assert_eq!(
                pg(&format!(
                    "postgres://k@127.0.0.1,127.0.0.2/kw?target_session_attrs={attrs}"
                )),
                Err(PgConfigError::SessionAttrs)
            );
        }
    }

    #[test]
    fn sqlite_is_the_default_and_takes_no_password_file() {
        assert_eq!(StoreBackend::default(), StoreBackend::Sqlite);
        assert_eq!(
            StoreBackend::from_keys("sqlite", None, None),
            Ok(StoreBackend::Sqlite)
        );
        assert_eq!(
            pg("sqlite"),
            Err(PgConfigError::PasswordFileWithoutPostgres)
        );
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_being_echoed() {
        let err = pg("postgres://keyward:hunter2secret@127.0.0.1/kw").unwrap_err();
        assert_eq!(err, PgConfigError::PasswordInUrl);
        assert!(!err.to_string().contains("hunter2secret"));
        assert!(!format!("{err:?}").contains("hunter2secret"));
    }

    #[test]
    fn bad_urls_get_typed_errors() {
        assert_eq!(pg("mysql://k@h/db"), Err(PgConfigError::Scheme));
        assert_eq!(pg("postgres://127.0.0.1/db"), Err(PgConfigError::NoUser));
        assert_eq!(pg("postgres://k@127.0.0.1"), Err(PgConfigError::NoDatabase));
        assert_eq!(
            pg("postgres://k@127.0.0.1/"),
            Err(PgConfigError::NoDatabase)
        );
        assert_eq!(pg("postgres://k@/db"), Err(PgConfigError::NoHost));
        assert_eq!(
            pg("postgres://k@h:0/db?sslmode=disable"),
            Err(PgConfigError::BadPort)
        );
        assert_eq!(pg("postgres://k@h:x/db"), Err(PgConfigError::BadPort));
        assert_eq!(
            pg("postgres://k@h/d;b?sslmode=disable"),
            Err(PgConfigError::BadName)
        );
        assert_eq!(
            pg("postgres://k@127.0.0.1/db?password=x"),
            Err(PgConfigError::UnknownOption("password".into()))
        );
        assert_eq!(
            pg("postgres://k@db1.ac-exemple.fr/db"),
            Err(PgConfigError::Unencrypted("db1.ac-exemple.fr".into()))
        );
        assert!(pg("postgres://k@db1.ac-exemple.fr/db?sslmode=disable").is_ok());
        assert_eq!(
            StoreBackend::from_keys("postgres://k@127.0.0.1/db", None, None),
            Err(PgConfigError::NoPasswordFile)
        );
    }

    #[test]
    fn verify_full_needs_a_ca_file_and_a_ca_file_needs_verify_full() {
        let ca = Path::new("/etc/keyward/postgres-ca.pem");
        let pw = Some(Path::new("/etc/keyward/pg.password"));
        let keys = |url: &str, ca_file| StoreBackend::from_keys(url, pw, ca_file);
        let remote = "postgres://k@db1.ac-exemple.fr,db2.ac-exemple.fr/kw";
        let Ok(StoreBackend::Postgres(t)) =
            keys(&format!("{remote}?sslmode=verify-full"), Some(ca))
        else {
            panic!("not postgres");
        };
        assert_eq!(
            t.tls,
            PgTls::VerifyFull {
                ca_file: ca.to_owned()
            }
        );
        // TLS is required of every server, never merely preferred.
        assert_eq!(
            t.connection_settings().get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert_eq!(
            keys(&format!("{remote}?sslmode=verify-full"), None),
            Err(PgConfigError::NoCaFile)
        );
        // disable stays what it was: cleartext, TLS never asked for.
        let Ok(StoreBackend::Postgres(t)) = keys(&format!("{remote}?sslmode=disable"), None) else {
            panic!("not postgres");
        };
        assert_eq!(t.tls, PgTls::Disabled);
        assert_eq!(
            t.connection_settings().get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
        for url in [
            format!("{remote}?sslmode=disable"),
            "postgres://k@127.0.0.1/kw".to_owned(),
            "sqlite".to_owned(),
        ] {
            assert_eq!(
                StoreBackend::from_keys(&url, pw.filter(|_| url != "sqlite"), Some(ca)),
                Err(PgConfigError::CaFileWithoutTls),
                "{url}"
            );
        }
        // Loopback without sslmode: cleartext, as before.
        let Ok(StoreBackend::Postgres(t)) = keys("postgres://k@127.0.0.1/kw", None) else {
            panic!("not postgres");
        };
        assert_eq!(t.tls, PgTls::Disabled);
    }

    #[test]
    fn no_sslmode_encrypts_without_checking_and_none_is_given_twice() {
        for mode in ["require", "verify-ca", "prefer", "allow", "VERIFY-FULL", ""] {
            let err = pg(&format!("postgres://k@127.0.0.1/kw?sslmode={mode}")).unwrap_err();
            assert_eq!(err, PgConfigError::UnknownSslMode(mode.to_owned()));
            assert!(err.to_string().contains("verify-full"), "{err}");
        }
        // A value that is not a plain word is not echoed.
        assert_eq!(
            pg("postgres://k@127.0.0.1/kw?sslmode=hunter2%20secret"),
            Err(PgConfigError::UnknownSslMode(String::new()))
        );
        assert_eq!(
            pg("postgres://k@127.0.0.1/kw?sslmode=disable&sslmode=verify-full"),
            Err(PgConfigError::RepeatedSslMode)
        );
        assert_eq!(
            pg("postgres://k@db1.ac-exemple.fr/kw?sslmode=require"),
            Err(PgConfigError::UnknownSslMode("require".into()))
        );
    }

    #[test]
    fn ca_file_is_a_key_of_the_store_table() {
        use crate::config::ConfigError;
        let parse = |text: &str| parse_table(&text.parse::<toml::Table>().unwrap()["store"]);
        let url = "url = \"postgres://k@db1.ac-exemple.fr/kw?sslmode=verify-full\"\npassword_file = \"/p\"";
        let Ok(StoreBackend::Postgres(t)) = parse(&format!(
            "[store]\n{url}\nca_file = \"/etc/keyward/postgres-ca.pem\""
        )) else {
            panic!("not postgres");
        };
        assert!(matches!(t.tls, PgTls::VerifyFull { .. }));
        assert!(matches!(
            parse(&format!("[store]\n{url}\nca_file = \"\"")),
            Err(ConfigError::BadValue { key, .. }) if key == "store.ca_file"
        ));
        assert!(matches!(
            parse(&format!("[store]\n{url}")),
            Err(ConfigError::BadValue { key, .. }) if key == "store.ca_file"
        ));
        assert!(matches!(
            parse("[store]\nurl = \"sqlite\"\nca_file = \"/ca.pem\""),
            Err(ConfigError::BadValue { key, .. }) if key == "store.ca_file"
        ));
    }

    #[test]
    fn an_unusable_ca_file_is_a_typed_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = |ca_file: PathBuf| PgTarget {
            user: "k".into(),
            servers: vec![PgServer {
                host: "db1.ac-exemple.fr".into(),
                port: 5432,
            }],
            dbname: "kw".into(),
            password_file: dir.path().join("pw"),
            node: "a".into(),
            tls: PgTls::VerifyFull { ca_file },
        };
        let junk = dir.path().join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = target(junk).tls_connector().unwrap_err();
        assert!(matches!(err, PgConfigError::CaFile { .. }), "{err}");
        assert!(err.to_string().contains("junk.pem"), "{err}");
        let err = target(dir.path().join("absent.pem"))
            .tls_connector()
            .unwrap_err();
        assert!(matches!(err, PgConfigError::CaFile { .. }), "{err}");
        let ca = rcgen::generate_simple_self_signed(vec!["db1.ac-exemple.fr".to_owned()]).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca.cert.pem()).unwrap();
        assert!(target(good).tls_connector().is_ok());
    }

    #[test]
    fn the_node_name_comes_from_the_store_table_and_is_checked() {
        use crate::config::ConfigError;
        let parse = |text: &str| parse_table(&text.parse::<toml::Table>().unwrap()["store"]);
        let pg = "[store]\nurl = \"postgres://k@127.0.0.1/kw\"\npassword_file = \"/p\"\n";
        let Ok(StoreBackend::Postgres(t)) = parse(&format!("{pg}node = \"kw-1.est\"")) else {
            panic!("not postgres");
        };
        assert_eq!(t.node, "kw-1.est");
        let Ok(StoreBackend::Postgres(t)) = parse(pg) else {
            panic!("not postgres");
        };
        assert!(!t.node.is_empty());
        for bad in ["", "a b", "a;b"] {
            assert!(matches!(
                parse(&format!("{pg}node = \"{bad}\"")),
                Err(ConfigError::BadValue { key, .. }) if key == "store.node"
            ));
        }
        assert!(matches!(
            parse("[store]\nurl = \"sqlite\"\nnode = \"a\""),
            Err(ConfigError::BadValue { key, .. }) if key == "store.node"
        ));
    }

    #[test]
    fn the_store_table_of_keyward_toml_is_parsed_with_typed_errors() {
        use crate::config::ConfigError;
        let parse = |text: &str| parse_table(&text.parse::<toml::Table>().unwrap()["store"]);
        assert!(matches!(
            parse(
                "[store]\nurl = \"postgres://k@127.0.0.1/kw\"\npassword_file = \"/etc/keyward/pg\""
            ),
            Ok(StoreBackend::Postgres(_))
        ));
        assert_eq!(
            parse("[store]\nurl = \"sqlite\"").unwrap(),
            StoreBackend::Sqlite
        );
        assert!(matches!(
            parse("[store]\nurl = \"postgres://k@127.0.0.1/kw\""),
            Err(ConfigError::BadValue { key, .. }) if key == "store.password_file"
        ));
        assert!(matches!(
            parse("[store]\npassword_file = \"/x\""),
            Err(ConfigError::MissingKey { key: "store.url" })
        ));
        assert!(matches!(
            parse("[store]\nurl = \"sqlite\"\nport = 5"),
            Err(ConfigError::UnknownKey { key }) if key == "store.port"
        ));
        let err = parse(
            "[store]\nurl = \"postgres://k:topsecretpw@127.0.0.1/kw\"\npassword_file = \"/x\"",
        )
        .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("topsecretpw"));
    }

    #[test]
    fn keyward_toml_keeps_sqlite_unless_store_names_postgres() {
        use crate::config::DaemonConfig;
        let plain = DaemonConfig::parse("authority_domain = \"ac-exemple.fr\"").unwrap();
        assert_eq!(plain.backend, StoreBackend::Sqlite);
        let pg = DaemonConfig::parse(
            "authority_domain = \"ac-exemple.fr\"\n[store]\nurl = \"postgres://kw@127.0.0.1:5433/keyward\"\npassword_file = \"/etc/keyward/postgres.password\"",
        )
        .unwrap();
        let StoreBackend::Postgres(target) = pg.backend else {
            panic!("not postgres");
        };
        assert_eq!(
            (target.servers[0].port, target.dbname.as_str()),
            (5433, "keyward")
        );
    }

    #[test]
    fn the_password_file_must_be_private_and_one_line() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        let target = |path: &Path| PgTarget {
            user: "k".into(),
            servers: vec![PgServer {
                host: "127.0.0.1".into(),
                port: 5432,
            }],
            dbname: "kw".into(),
            password_file: path.to_owned(),
            node: "a".into(),
            tls: PgTls::Disabled,
        };
        crate::secure_fs::create_private_file(&path, b"s3cret-pass\n").unwrap();
        assert_eq!(
            target(&path).read_password().unwrap().as_str(),
            "s3cret-pass"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = target(&path).read_password().unwrap_err();
        assert!(matches!(err, PgConfigError::PasswordFile { .. }), "{err}");
        assert!(!err.to_string().contains("s3cret-pass"));
        let two = dir.path().join("two");
        crate::secure_fs::create_private_file(&two, b"a\nb\n").unwrap();
        assert!(matches!(
            target(&two).read_password(),
            Err(PgConfigError::PasswordFileContent { .. })
        ));
        let empty = dir.path().join("empty");
        crate::secure_fs::create_private_file(&empty, b"\n").unwrap();
        assert!(matches!(
            target(&empty).read_password(),
            Err(PgConfigError::PasswordFileContent { .. })
        ));
    }
}
