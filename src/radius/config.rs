//! The `[radius]` table of `keyward.toml` (docs/config.md): where to listen,
//! which reply attributes to send, and the declared clients (address or
//! network, name, shared-secret file, Message-Authenticator switch). Secrets
//! are read from their files by [`RadiusConfig::load_clients`], at start.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::config::{bad, string as text, wrong, ConfigError};
use crate::i18n::Lang;

/// Port assigned to RADIUS authentication (RFC 2865).
pub const DEFAULT_PORT: u16 = 1812;
/// A shared secret shorter than this is refused: the secret is all that
/// protects the hidden passwords and authenticators against offline guessing.
pub const MIN_SECRET: usize = 16;
/// Largest shared-secret file read.
const MAX_SECRET_FILE: usize = 1024;

/// What the Access-Accept carries about the holder's rights in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RightsAttribute {
    /// Nothing: accept or reject only.
    None,
    /// One `Class` attribute `UAI=<code>` per school where a right is in
    /// force.
    Class,
}

/// An address or a network, e.g. `192.0.2.10` or `10.1.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let address = address.to_canonical();
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Network { address, prefix })
    }

    pub fn contains(&self, peer: IpAddr) -> bool {
        match (self.address, peer.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// The network of one address.
    pub fn host(address: IpAddr) -> Network {
        let address = address.to_canonical();
        let prefix = if address.is_ipv4() { 32 } else { 128 };
        Network { address, prefix }
    }

    /// More specific networks win when several contain a peer.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// A declared client, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub name: String,
    pub network: Network,
    /// Relative paths are in the data directory.
    pub secret_file: PathBuf,
    pub require_message_authenticator: bool,
    /// The language of the texts the holder reads (Reply-Message):
    /// `language = "fr"` (default) or `"en"`.
    pub language: Lang,
}

/// `[radius]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusConfig {
    pub listen: Vec<SocketAddr>,
    pub rights_attribute: RightsAttribute,
    pub clients: Vec<ClientConfig>,
    /// `[radius.radsec]`: RADIUS over TLS, off when absent.
    pub radsec: Option<super::radsec::RadsecConfig>,
}

/// A client with its secret, ready to serve. Debug hides the secret.
pub struct Client {
    pub name: String,
    pub network: Network,
    pub secret: Zeroizing<Vec<u8>>,
    pub require_message_authenticator: bool,
    pub language: Lang,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("name", &self.name)
            .field("network", &self.network)
            .field("secret", &"[redacted]")
            .field(
                "require_message_authenticator",
                &self.require_message_authenticator,
            )
            .finish()
    }
}

/// The shared-secret file `keyward init` writes for [`RadiusConfig::local`].
pub const LOCAL_SECRET_FILE: &str = "radius-local.secret";

impl RadiusConfig {
    /// What `keyward init` configures: RADIUS on the loopback port 1812
    /// for one client, a gateway on this machine (`127.0.0.1`, named
    /// `local`), Message-Authenticator required, its secret generated into
    /// [`LOCAL_SECRET_FILE`]. Nothing off the machine can reach it.
    pub fn local() -> RadiusConfig {
        RadiusConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))],
            rights_attribute: RightsAttribute::Class,
            clients: vec![ClientConfig {
                name: "local".to_owned(),
                network: Network {
                    address: IpAddr::from([127, 0, 0, 1]),
                    prefix: 32,
                },
                secret_file: PathBuf::from(LOCAL_SECRET_FILE),
                require_message_authenticator: true,
                language: Lang::default(),
            }],
            radsec: None,
        }
    }

    /// The `[radius]` table as `keyward init` writes it.
    pub fn to_toml(&self) -> String {
        let quoted = |t: &str| toml::Value::String(t.to_owned()).to_string();
        let listen: Vec<String> = self.listen.iter().map(|a| quoted(&a.to_string())).collect();
        let mut out = format!(
            "[radius]\nlisten = [{}]\nrights_attribute = {}\n",
            listen.join(", "),
            quoted(match self.rights_attribute {
                RightsAttribute::Class => "class",
                RightsAttribute::None => "none",
            })
        );
        for client in &self.clients {
            out.push_str(&format!(
                "\n[[radius.clients]]\nname = {}\naddress = {}\nsecret_file = {}\nrequire_message_authenticator = {}\n",
                quoted(&client.name),
                quoted(&client.network.to_string()),
                quoted(&client.secret_file.display().to_string()),
                client.require_message_authenticator
            ));
            if client.language != Lang::default() {
                out.push_str(&format!("language = {}\n", quoted(client.language.code())));
            }
        }
        out
    }

    /// Parses the `[radius]` table; `listen` defaults to
    /// `127.0.0.1:1812`, at least one client is required.
    pub fn parse(value: &toml::Value) -> Result<RadiusConfig, ConfigError> {
        let table = value.as_table().ok_or_else(|| wrong("radius", "a table"))?;
        let mut config = RadiusConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))],
            rights_attribute: RightsAttribute::Class,
            clients: Vec::new(),
            radsec: None,
        };
        for (name, value) in table {
            let key = format!("radius.{name}");
            match name.as_str() {
                "listen" => config.listen = listen(&key, value)?,
                "rights_attribute" => {
                    config.rights_attribute = match text(&key, value)? {
                        "class" => RightsAttribute::Class,
                        "none" => RightsAttribute::None,
                        _ => return Err(bad(&key, "must be \"class\" or \"none\"")),
                    }
                }
                "clients" => {
                    let list = value
                        .as_array()
                        .ok_or_else(|| wrong(&key, "an array of tables ([[radius.clients]])"))?;
                    for one in list {
                        config.clients.push(client(one)?);
                    }
                }
                "radsec" => config.radsec = Some(super::radsec::RadsecConfig::parse(value)?),
                _ => return Err(ConfigError::UnknownKey { key }),
            }
        }
        // RadSec alone may leave UDP off: `listen = []`, no UDP client.
        if config.clients.is_empty() && config.radsec.is_none() {
            return Err(bad("radius.clients", "declare at least one client"));
        }
        if config.listen.is_empty() && config.radsec.is_none() {
            return Err(bad("radius.listen", "names no address"));
        }
        let mut names: Vec<&str> = config.clients.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(bad("radius.clients.name", "two clients have the same name"));
        }
        Ok(config)
    }

    /// Reads every client's secret file (0600, owned by the daemon's user,
    /// at least 16 bytes once a trailing newline is removed).
    pub fn load_clients(&self, data: &Path) -> Result<Vec<Client>, ConfigError> {
        self.clients
            .iter()
            .map(|c| {
                let path = data.join(&c.secret_file);
                let key = format!("radius.clients.secret_file ({})", c.name);
                let mut secret = crate::secure_fs::read_private_file(&path, MAX_SECRET_FILE)
                    .map_err(|source| ConfigError::Read {
                        path: path.display().to_string(),
                        source,
                    })?;
                while matches!(secret.last(), Some(b'\n' | b'\r')) {
                    secret.pop();
                }
                if secret.len() > MAX_SECRET_FILE {
                    return Err(bad(&key, "the secret file is over 1 KiB"));
                }
                if secret.len() < MIN_SECRET {
                    return Err(bad(&key, "the shared secret must be at least 16 bytes"));
                }
                Ok(Client {
                    name: c.name.clone(),
                    network: c.network,
                    secret,
                    require_message_authenticator: c.require_message_authenticator,
                    language: c.language,
                })
            })
            .collect()
    }
}

fn listen(key: &str, value: &toml::Value) -> Result<Vec<SocketAddr>, ConfigError> {
    let one = |v: &toml::Value| {
        text(key, v)?
            .parse::<SocketAddr>()
            .map_err(|_| bad(key, "not an IP address and port, e.g. \"127.0.0.1:1812\""))
    };
    let all = match value {
        toml::Value::Array(many) => many.iter().map(one).collect::<Result<Vec<_>, _>>()?,
        single => vec![one(single)?],
    };
    Ok(all)
}

/// A client's name, as UDP and RadSec clients both have one: shown in logs
/// and metrics, so short printable ASCII only.
pub(crate) fn client_name(key: &str, value: &toml::Value) -> Result<String, ConfigError> {
    let n = text(key, value)?;
    if n.is_empty() || n.len() > 64 || !n.chars().all(|c| c.is_ascii_graphic()) {
        return Err(bad(key, "1 to 64 printable ASCII characters, no spaces"));
    }
    Ok(n.to_owned())
}

fn client(value: &toml::Value) -> Result<ClientConfig, ConfigError> {
    let table = value
        .as_table()
        .ok_or_else(|| wrong("radius.clients", "an array of tables"))?;
    let mut name = None;
    let mut network = None;
    let mut secret_file = None;
    let mut require = true;
    let mut language = Lang::default();
    for (field, value) in table {
        let key = format!("radius.clients.{field}");
        match field.as_str() {
            "name" => name = Some(client_name(&key, value)?),
            "address" => {
                network =
                    Some(Network::parse(text(&key, value)?).ok_or_else(|| {
                        bad(&key, "not an address or network, e.g. \"10.1.0.0/16\"")
                    })?);
            }
            "secret_file" => secret_file = Some(PathBuf::from(text(&key, value)?)),
            "require_message_authenticator" => {
                require = value
                    .as_bool()
                    .ok_or_else(|| wrong(&key, "true or false"))?;
            }
            "language" => language = client_language(&key, value)?,
            _ => return Err(ConfigError::UnknownKey { key }),
        }
    }
    Ok(ClientConfig {
        name: name.ok_or(ConfigError::MissingKey {
            key: "radius.clients.name",
        })?,
        network: network.ok_or(ConfigError::MissingKey {
            key: "radius.clients.address",
        })?,
        secret_file: secret_file.ok_or(ConfigError::MissingKey {
            key: "radius.clients.secret_file",
        })?,
        require_message_authenticator: require,
        language,
    })
}

/// A client's `language`: what its holders read (Reply-Message).
pub(crate) fn client_language(key: &str, value: &toml::Value) -> Result<Lang, ConfigError> {
    Lang::parse(text(key, value)?).ok_or_else(|| bad(key, "must be \"fr\" or \"en\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RadiusConfig, ConfigError> {
        let table: toml::Table = text.parse().unwrap();
        RadiusConfig::parse(&table["radius"])
    }

    #[test]
    fn networks_contain_their_addresses() {
        let net = Network::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = Network::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains("192.0.2.1".parse().unwrap()));
        assert!(Network::parse("fd00::/8")
            .unwrap()
            .contains("fd12::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "host", "10.0.0.0/x", ""] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_client_table_reads_back() {
        let config = parse(
            "[radius]\nlisten = \"0.0.0.0:11812\"\nrights_attribute = \"none\"\n\
             [[radius.clients]]\nname = \"portail\"\naddress = \"10.1.0.0/16\"\n\
             secret_file = \"radius-portail.secret\"\nrequire_message_authenticator = false\n",
        )
        .unwrap();
        assert_eq!(config.listen, vec!["0.0.0.0:11812".parse().unwrap()]);
        assert_eq!(config.rights_attribute, RightsAttribute::None);
        let [client] = config.clients.as_slice() else {
            panic!("one client")
        };
        assert_eq!(client.name, "portail");
        assert!(!client.require_message_authenticator);
        assert_eq!(client.language, Lang::Fr, "French unless told");
    }

    #[test]
    fn a_client_s_language_reads_back() {
        let mut local = RadiusConfig::local();
        if let Some(client) = local.clients.first_mut() {
            client.language = Lang::En;
        }
        assert_eq!(parse(&local.to_toml()).unwrap(), local);
    }

    #[test]
    fn the_local_default_reads_back() {
        let local = RadiusConfig::local();
        assert_eq!(parse(&local.to_toml()).unwrap(), local);
    }

    #[test]
    fn bad_tables_name_the_key() {
        let base =
            "[[radius.clients]]\nname = \"p\"\naddress = \"127.0.0.1\"\nsecret_file = \"s\"\n";
        for (text, key) in [
            ("[radius]\n", "radius.clients"),
            (
                &format!("{base}colour = 1\n") as &str,
                "radius.clients.colour",
            ),
            (
                &base.replace("127.0.0.1", "10.0.0.0/40"),
                "radius.clients.address",
            ),
            (&format!("{base}{base}"), "radius.clients.name"),
            (
                &format!("{base}language = \"de\"\n"),
                "radius.clients.language",
            ),
            (
                &format!("[radius]\nrights_attribute = \"vsa\"\n{base}"),
                "radius.rights_attribute",
            ),
        ] {
            let key_of = match parse(text).unwrap_err() {
                ConfigError::UnknownKey { key } | ConfigError::BadValue { key, .. } => key,
                other => panic!("{other:?}"),
            };
            assert_eq!(key_of, key, "{text}");
        }
        assert!(matches!(
            parse("[[radius.clients]]\nname = \"p\"\naddress = \"127.0.0.1\"\n"),
            Err(ConfigError::MissingKey {
                key: "radius.clients.secret_file"
            })
        ));
    }
}
