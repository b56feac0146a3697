//! `[directory]` in `keyward.toml` (`docs/config.md`, `docs/directory.md`):
//! where the directory is, how to read it, and what keyward lets it own.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::ConfigError;

/// The kinds of objects the directory may own.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    People,
    Districts,
    Schools,
    Appointments,
    Delegations,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::People,
        Kind::Districts,
        Kind::Schools,
        Kind::Appointments,
        Kind::Delegations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::People => "people",
            Kind::Districts => "districts",
            Kind::Schools => "schools",
            Kind::Appointments => "appointments",
            Kind::Delegations => "delegations",
        }
    }

    fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// How a school is tied to its district: authorities differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistrictMapping {
    /// The organisational unit right above the school's entry
    /// (`ou=UAI,ou=DISTRICT,<schools_base>`); entries one level below the
    /// base are the districts themselves.
    OrganisationalUnit,
    /// An attribute of the school's entry holds the district's code.
    Attribute(String),
    /// A file of `UAI;district code[;district name]` lines.
    File(PathBuf),
}

/// The attribute names read (defaults: ACADEMY.md §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub login: String,
    pub full_name: String,
    pub surname: String,
    pub given_name: String,
    pub mail: String,
    pub function: String,
    pub schools: String,
    pub delegations: String,
    /// Function start and end days, where the directory publishes them.
    pub function_start: String,
    pub function_end: String,
    pub school_code: String,
    pub school_name: String,
}

impl Default for Attributes {
    fn default() -> Self {
        let s = str::to_owned;
        Attributes {
            login: s("uid"),
            full_name: s("cn"),
            surname: s("sn"),
            given_name: s("givenName"),
            mail: s("mail"),
            function: s("FrEduFonctAdm"),
            schools: s("FrEduRneResp"),
            delegations: s("FrEduResDel"),
            function_start: s("dateff"),
            function_end: s("finfonction"),
            school_code: s("ou"),
            school_name: s("description"),
        }
    }
}

/// How an entry of the directory becomes a record: shared by LDAP, LDIF
/// and CSV sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub attributes: Attributes,
    pub mapping: DistrictMapping,
    /// The `FrEduResDel` application whose delegations are keyward's.
    pub application: String,
    pub people_base: String,
    pub schools_base: String,
}

/// `[directory]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryConfig {
    /// `ldap://`, `ldaps://` (TLS from the start) URL of the server.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub starttls: bool,
    /// PEM file of the CA(s) that sign the directory's certificate: when
    /// set, only they are trusted; otherwise the system's roots.
    pub ca_file: Option<PathBuf>,
    pub bind_dn: Option<String>,
    /// The bind password's file (0600, owned by keyward's user).
    pub password_file: Option<PathBuf>,
    pub people_filter: String,
    pub schools_filter: String,
    pub reading: Reading,
    /// Time between two scheduled runs of the daemon; `None`: no schedule.
    pub every: Option<Duration>,
    /// A run that would end more than this share of the rights (per mille)
    /// stops and asks for confirmation.
    pub end_threshold_per_mille: u32,
    /// Kinds the directory owns; the others are kept by hand.
    pub owns: BTreeSet<Kind>,
    pub page_size: i32,
    pub timeout: Duration,
}

impl DirectoryConfig {
    pub const DEFAULT_THRESHOLD_PER_MILLE: u32 = 100;

    /// A configuration with every default, for `url` and the two bases.
    pub fn new(url: &str, people_base: &str, schools_base: &str) -> DirectoryConfig {
        DirectoryConfig {
            url: url.to_owned(),
            starttls: false,
            ca_file: None,
            bind_dn: None,
            password_file: None,
            people_filter: "(objectClass=inetOrgPerson)".to_owned(),
            schools_filter: "(objectClass=organizationalUnit)".to_owned(),
            reading: Reading {
                attributes: Attributes::default(),
                mapping: DistrictMapping::OrganisationalUnit,
                application: "keyward".to_owned(),
                people_base: people_base.to_owned(),
                schools_base: schools_base.to_owned(),
            },
            every: Some(Duration::from_secs(15 * 60)),
            end_threshold_per_mille: Self::DEFAULT_THRESHOLD_PER_MILLE,
            owns: Kind::ALL.into_iter().collect(),
            page_size: 500,
            timeout: Duration::from_secs(30),
        }
    }

    /// Parses the `[directory]` table.
    pub fn parse(value: &toml::Value) -> Result<DirectoryConfig, ConfigError> {
        let table = value.as_table().ok_or_else(|| ConfigError::WrongType {
            key: "directory".to_owned(),
            expected: "a table",
        })?;
        let text = |key: &str| -> Result<Option<String>, ConfigError> {
            table
                .get(key)
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or(ConfigError::WrongType {
                        key: format!("directory.{key}"),
                        expected: "a string",
                    })
                })
                .transpose()
        };
        let bad = |key: &str, why: &str| ConfigError::BadValue {
            key: format!("directory.{key}"),
            why: why.to_owned(),
        };
        let required = |key: &'static str| -> Result<String, ConfigError> {
            text(key)?.ok_or(ConfigError::MissingKey { key })
        };
        let url = required("url")?;
        if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
            return Err(bad("url", "must start with ldap:// or ldaps://"));
        }
        let mut config =
            DirectoryConfig::new(&url, &required("people_base")?, &required("schools_base")?);
        for (key, value) in table {
            let number = |max: i64| -> Result<i64, ConfigError> {
                let n = value.as_integer().ok_or(ConfigError::WrongType {
                    key: format!("directory.{key}"),
                    expected: "an integer",
                })?;
                if !(0..=max).contains(&n) {
                    return Err(bad(key, &format!("must be between 0 and {max}")));
                }
                Ok(n)
            };
            match key.as_str() {
                "url" | "people_base" | "schools_base" | "district_attribute" | "district_file" => {
                }
                "starttls" => {
                    config.starttls = value.as_bool().ok_or(ConfigError::WrongType {
                        key: "directory.starttls".to_owned(),
                        expected: "true or false",
                    })?;
                }
                "ca_file" => config.ca_file = text(key)?.map(PathBuf::from),
                "bind_dn" => config.bind_dn = text(key)?,
                "password_file" => config.password_file = text(key)?.map(PathBuf::from),
                "people_filter" => config.people_filter = required("people_filter")?,
                "schools_filter" => config.schools_filter = required("schools_filter")?,
                "application" => config.reading.application = required("application")?,
                "district_from" => {
                    config.reading.mapping = match required("district_from")?.as_str() {
                        "ou" => DistrictMapping::OrganisationalUnit,
                        "attribute" => DistrictMapping::Attribute(
                            text("district_attribute")?.ok_or(ConfigError::MissingKey {
                                key: "directory.district_attribute",
                            })?,
                        ),
                        "file" => DistrictMapping::File(PathBuf::from(
                            text("district_file")?.ok_or(ConfigError::MissingKey {
                                key: "directory.district_file",
                            })?,
                        )),
                        _ => return Err(bad(key, "expected \"ou\", \"attribute\" or \"file\"")),
                    }
                }
                "every_minutes" => {
                    let minutes = number(24 * 60)?;
                    config.every = (minutes > 0)
                        .then(|| Duration::from_secs(u64::try_from(minutes).unwrap_or(15) * 60));
                }
                "end_threshold_percent" => {
                    config.end_threshold_per_mille =
                        u32::try_from(number(100)? * 10).unwrap_or(1000);
                }
                "page_size" => {
                    config.page_size = i32::try_from(number(10_000)?.max(1)).unwrap_or(500);
                }
                "timeout_seconds" => {
                    config.timeout =
                        Duration::from_secs(u64::try_from(number(3600)?.max(1)).unwrap_or(30));
                }
                "owns" => {
                    let list = value.as_array().ok_or(ConfigError::WrongType {
                        key: "directory.owns".to_owned(),
                        expected: "a list of kinds",
                    })?;
                    config.owns = list
                        .iter()
                        .map(|v| v.as_str().and_then(Kind::parse))
                        .collect::<Option<_>>()
                        .ok_or_else(|| {
                            bad(
                                key,
                                "kinds are people, districts, schools, appointments, delegations",
                            )
                        })?;
                }
                "attributes" => config.reading.attributes = attributes(value)?,
                _ => {
                    return Err(ConfigError::UnknownKey {
                        key: format!("directory.{key}"),
                    })
                }
            }
        }
        if config.starttls && url.starts_with("ldaps://") {
            return Err(bad(
                "starttls",
                "ldaps:// is TLS already: use ldap:// with StartTLS",
            ));
        }
        if config.ca_file.is_some() && !config.starttls && !url.starts_with("ldaps://") {
            return Err(bad(
                "ca_file",
                "a CA is only used over TLS: use ldaps:// or starttls = true",
            ));
        }
        if config.bind_dn.is_some() != config.password_file.is_some() {
            return Err(bad("bind_dn", "bind_dn and password_file go together"));
        }
        Ok(config)
    }
}

fn attributes(value: &toml::Value) -> Result<Attributes, ConfigError> {
    let table = value.as_table().ok_or_else(|| ConfigError::WrongType {
        key: "directory.attributes".to_owned(),
        expected: "a table",
    })?;
    let mut out = Attributes::default();
    for (name, value) in table {
        let key = format!("directory.attributes.{name}");
        let text = value
            .as_str()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .ok_or(ConfigError::WrongType {
                key: key.clone(),
                expected: "an attribute name",
            })?
            .to_owned();
        let slot = match name.as_str() {
            "login" => &mut out.login,
            "full_name" => &mut out.full_name,
            "surname" => &mut out.surname,
            "given_name" => &mut out.given_name,
            "mail" => &mut out.mail,
            "function" => &mut out.function,
            "schools" => &mut out.schools,
            "delegations" => &mut out.delegations,
            "function_start" => &mut out.function_start,
            "function_end" => &mut out.function_end,
            "school_code" => &mut out.school_code,
            "school_name" => &mut out.school_name,
            _ => return Err(ConfigError::UnknownKey { key }),
        };
        *slot = text;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DirectoryConfig, ConfigError> {
        let table: toml::Table = text.parse().unwrap();
        DirectoryConfig::parse(&toml::Value::Table(table))
    }

    const BASE: &str = "url = \"ldap://127.0.0.1:3890\"\npeople_base = \"ou=people,dc=x\"\nschools_base = \"ou=schools,dc=x\"\n";

    #[test]
    fn defaults_and_keys() {
        let c = parse(BASE).unwrap();
        assert_eq!(c.end_threshold_per_mille, 100);
        assert_eq!(c.every, Some(Duration::from_secs(900)));
        assert_eq!(c.owns.len(), 5);
        assert_eq!(c.reading.attributes.function, "FrEduFonctAdm");
        let c = parse(&format!(
            "{BASE}starttls = true\nbind_dn = \"cn=kw,dc=x\"\npassword_file = \"/etc/keyward/ldap.pw\"\n\
             district_from = \"attribute\"\ndistrict_attribute = \"FrEduCirco\"\nevery_minutes = 0\n\
             end_threshold_percent = 25\nca_file = \"/etc/keyward/ldap-ca.pem\"\nowns = [\"appointments\", \"delegations\"]\n\
             [attributes]\nmail = \"mailPerso\"\n"
        ))
        .unwrap();
        assert!(c.starttls);
        assert_eq!(
            c.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/keyward/ldap-ca.pem"))
        );
        assert_eq!(c.every, None);
        assert_eq!(c.end_threshold_per_mille, 250);
        assert_eq!(c.owns, [Kind::Appointments, Kind::Delegations].into());
        assert_eq!(
            c.reading.mapping,
            DistrictMapping::Attribute("FrEduCirco".into())
        );
        assert_eq!(c.reading.attributes.mail, "mailPerso");
    }

    #[test]
    fn refusals_name_the_key() {
        for (extra, key) in [
            ("colour = 1\n", "directory.colour"),
            (
                "end_threshold_percent = 101\n",
                "directory.end_threshold_percent",
            ),
            ("owns = [\"tokens\"]\n", "directory.owns"),
            ("district_from = \"guess\"\n", "directory.district_from"),
            ("district_from = \"file\"\n", "directory.district_file"),
            ("bind_dn = \"cn=a\"\n", "directory.bind_dn"),
            ("ca_file = \"/etc/ca.pem\"\n", "directory.ca_file"),
            ("ca_file = 3\n", "directory.ca_file"),
            (
                "[attributes]\nmail = \"a b\"\n",
                "directory.attributes.mail",
            ),
        ] {
            let err = parse(&format!("{BASE}{extra}")).unwrap_err().to_string();
            assert!(err.contains(key), "{extra}: {err}");
        }
        let err = parse("url = \"http://x\"\npeople_base = \"a\"\nschools_base = \"b\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("directory.url"), "{err}");
        let err = parse(
            "url = \"ldaps://x\"\npeople_base = \"a\"\nschools_base = \"b\"\nstarttls = true\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("starttls"), "{err}");
    }
}
