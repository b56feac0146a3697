//! API keys: the record kept of a key (never the key itself), the key as
//! created, the hash it is stored and looked up by, and the rules of
//! creating and revoking one. One rule for every store: the SQLite
//! operation (`store::ops::api_keys`) and a node on PostgreSQL
//! (`store::postgres::api_keys`) read the facts, ask [`decide_create`] or
//! [`decide_revoke`], and write what they say.

use zeroize::Zeroizing;

use super::roles::Role;
use super::{Actor, DomainError, PersonId};

/// An API key as stored: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The district an inspector key is bound to.
    pub district: Option<String>,
    /// The readers a station key is bound to.
    pub readers: Vec<String>,
    /// The person a staff key (admin, desk, inspector) belongs to.
    pub person: Option<String>,
    pub created_at: u64,
    pub revoked_at: Option<u64>,
}

/// A key just created: the only moment the key itself exists outside the
/// caller's hands.
pub struct NewApiKey {
    pub record: ApiKeyRecord,
    pub key: Zeroizing<String>,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("record", &self.record)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Prefix of every API key.
pub const API_KEY_PREFIX: &str = "kw_";

/// SHA-256 of an API key, as stored and looked up.
pub fn api_key_hash(key: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(key.as_bytes()).into()
}

/// What refusals and audit entries call creating a key.
pub const CREATE_ACTION: &str = "create an API key";
/// What refusals and audit entries call revoking a key.
pub const REVOKE_ACTION: &str = "revoke an API key";

/// A key asked for (`POST /v1/apikeys`, its role and person parsed).
#[derive(Clone, Copy, Debug)]
pub struct KeyRequest<'a> {
    pub name: &'a str,
    pub role: Role,
    pub district: Option<&'a str>,
    pub readers: &'a [String],
    pub person: Option<&'a PersonId>,
}

/// What the store holds that decides a [`KeyRequest`]. Every backend reads
/// the same facts ([`KeyRequest::needs_person`],
/// [`KeyRequest::needs_district`] say which) and asks [`decide_create`].
#[derive(Clone, Copy, Debug)]
pub struct KeyFacts<'a> {
    /// Who asks, in the role they act in.
    pub actor: &'a Actor,
    /// The request's person is known and has not left (read only when
    /// [`KeyRequest::needs_person`]; otherwise ignored).
    pub person_present: bool,
    /// The request's district as held (read only when
    /// [`KeyRequest::needs_district`]): `None` for no such district, else
    /// the login of its inspector, if one is named.
    pub district: Option<Option<&'a str>>,
}

/// Why creating or revoking a key is refused. The store turns each into its
/// typed error (`StoreError::Domain`, `Forbidden`, `NotFound`), the same on
/// every backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRefusal {
    /// A field of the request breaks a rule (`422`, the field named).
    Invalid(DomainError),
    /// Not allowed to this actor, or for this person; `action` is
    /// [`CREATE_ACTION`] or [`REVOKE_ACTION`], `why` what the refusal says.
    Forbidden {
        action: &'static str,
        why: &'static str,
    },
    /// The inspector key's district does not exist.
    NoSuchDistrict,
    /// The key to revoke does not exist.
    NoSuchKey,
}

fn invalid(what: &'static str, rule: &'static str) -> KeyRefusal {
    KeyRefusal::Invalid(DomainError::BadIdentifier { what, rule })
}

/// A key's name or a reader's: one line of 1 to 128 characters.
fn check_label(text: &str, what: &'static str) -> Result<(), KeyRefusal> {
    if text.trim().is_empty() || text.len() > 128 || text.chars().any(char::is_control) {
        return Err(invalid(what, "1 to 128 characters on one line"));
    }
    Ok(())
}

/// Only the IT centre's desk (or an admin, or keyward itself) manages keys.
fn require_desk(actor: &Actor, action: &'static str) -> Result<(), KeyRefusal> {
    match actor {
        Actor::Desk(_) | Actor::Admin(_) | Actor::System => Ok(()),
        _ => Err(KeyRefusal::Forbidden {
            action,
            why: "only the IT centre desk does this",
        }),
    }
}

impl KeyRequest<'_> {
    /// Whether [`KeyFacts::person_present`] decides this request.
    pub fn needs_person(&self) -> bool {
        self.person.is_some() && self.role.is_staff()
    }

    /// Whether [`KeyFacts::district`] decides this request.
    pub fn needs_district(&self) -> bool {
        self.role == Role::Inspector && self.district.is_some()
    }

    /// The name as stored and shown (trimmed).
    pub fn stored_name(&self) -> &str {
        self.name.trim()
    }

    /// The detail of its `apikey.create` audit entry.
    pub fn audit_detail(&self) -> String {
        format!(
            "name={} role={} person={} district={} readers={}",
            self.stored_name(),
            self.role.as_str(),
            self.person.map_or("-", PersonId::as_str),
            self.district.unwrap_or("-"),
            self.readers.join(",")
        )
    }
}

/// Decides a new key, in this order: the actor (the desk), the name, the
/// person (a staff key belongs to a person still here, an inspector key to
/// its district's inspector; a device key to nobody), the district (an
/// inspector key is bound to one that exists, no other key to any), then
/// the readers (a station key is bound to at least one, no other key to
/// any).
pub fn decide_create(request: &KeyRequest<'_>, facts: &KeyFacts<'_>) -> Result<(), KeyRefusal> {
    require_desk(facts.actor, CREATE_ACTION)?;
    check_label(request.name, "key name")?;
    match (request.person, request.role.is_staff()) {
        (None, true) => {
            return Err(invalid(
                "person",
                "an admin, desk or inspector key belongs to a person",
            ))
        }
        (None, false) => {}
        (Some(_), false) => {
            return Err(invalid(
                "person",
                "station and gateway keys belong to a device, not a person",
            ))
        }
        (Some(person), true) => {
            if !facts.person_present {
                return Err(KeyRefusal::Forbidden {
                    action: CREATE_ACTION,
                    why: "that person has left",
                });
            }
            if let (Role::Inspector, Some(_)) = (request.role, request.district) {
                let inspector = facts.district.flatten();
                if inspector != Some(person.as_str()) {
                    return Err(invalid(
                        "person",
                        "an inspector key belongs to its district's inspector",
                    ));
                }
            }
        }
    }
    match (request.role, request.district) {
        (Role::Inspector, None) => {
            return Err(invalid(
                "district",
                "an inspector key is bound to one district",
            ))
        }
        (Role::Inspector, Some(_)) if facts.district.is_none() => {
            return Err(KeyRefusal::NoSuchDistrict)
        }
        (Role::Inspector, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(invalid(
                "district",
                "only inspector keys are bound to a district",
            ))
        }
    }
    match (request.role, request.readers.is_empty()) {
        (Role::Station, true) => Err(invalid(
            "readers",
            "a station key is bound to at least one reader",
        )),
        (Role::Station, false) => request
            .readers
            .iter()
            .try_for_each(|reader| check_label(reader, "reader name")),
        (_, false) => Err(invalid("readers", "only station keys are bound to readers")),
        (_, true) => Ok(()),
    }
}

/// Decides revoking a key: by the desk, a key that exists (`revoked_at`
/// read from it: `None` for no such key) and is not revoked yet.
pub fn decide_revoke(actor: &Actor, found: Option<Option<u64>>) -> Result<(), KeyRefusal> {
    require_desk(actor, REVOKE_ACTION)?;
    match found {
        None => Err(KeyRefusal::NoSuchKey),
        Some(Some(_)) => Err(KeyRefusal::Forbidden {
            action: REVOKE_ACTION,
            why: "it is already revoked",
        }),
        Some(None) => Ok(()),
    }
}

/// The detail of an `apikey.revoke` audit entry.
pub fn revoke_audit_detail(name: &str) -> String {
    format!("name={name}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pid(text: &str) -> PersonId {
        PersonId::parse(text).unwrap()
    }

    /// A refusal as the table writes it: the field of an invalid request,
    /// or the refusal's own words.
    fn shown(result: Result<(), KeyRefusal>) -> String {
        match result {
            Ok(()) => "ok".to_owned(),
            Err(KeyRefusal::Invalid(DomainError::BadIdentifier { what, .. })) => {
                format!("invalid {what}")
            }
            Err(KeyRefusal::Invalid(other)) => format!("invalid: {other}"),
            Err(KeyRefusal::Forbidden { why, .. }) => format!("forbidden: {why}"),
            Err(KeyRefusal::NoSuchDistrict) => "no such district".to_owned(),
            Err(KeyRefusal::NoSuchKey) => "no such key".to_owned(),
        }
    }

    #[test]
    fn who_may_hold_which_key() {
        let admin = Actor::Admin(pid("alice"));
        let desk = Actor::Desk(pid("dbernard"));
        let inspector = Actor::Inspector(pid("pmartin"));
        let readers = ["reader-1".to_owned()];
        let none: &[String] = &[];
        let bad_reader = ["a\nb".to_owned()];
        let long = "x".repeat(129);
        let (pmartin, cdurand) = (pid("pmartin"), pid("cdurand"));
        // (actor, name, role, district, readers, person, person present,
        //  district held (its inspector), expected)
        #[allow(clippy::type_complexity)]
        #[rustfmt::skip]
        let table: &[(&Actor, &str, Role, Option<&str>, &[String], Option<&PersonId>, bool,
                      Option<Option<&str>>, &str)] = &[
            (&admin, "gw", Role::Gateway, None, none, None, false, None, "ok"),
            (&desk, "gw", Role::Gateway, None, none, None, false, None, "ok"),
            (&Actor::System, "gw", Role::Gateway, None, none, None, false, None, "ok"),
            (&inspector, "gw", Role::Gateway, None, none, None, false, None,
             "forbidden: only the IT centre desk does this"),
            (&Actor::Gateway, "gw", Role::Gateway, None, none, None, false, None,
             "forbidden: only the IT centre desk does this"),
            (&admin, " ", Role::Gateway, None, none, None, false, None, "invalid key name"),
            (&admin, &long, Role::Gateway, None, none, None, false, None, "invalid key name"),
            (&admin, "a\tb", Role::Gateway, None, none, None, false, None, "invalid key name"),
            (&admin, "desk", Role::Desk, None, none, Some(&cdurand), true, None, "ok"),
            (&admin, "desk", Role::Desk, None, none, None, false, None, "invalid person"),
            (&admin, "desk", Role::Desk, None, none, Some(&cdurand), false, None,
             "forbidden: that person has left"),
            (&admin, "adm", Role::Admin, None, none, Some(&cdurand), true, None, "ok"),
            (&admin, "gw", Role::Gateway, None, none, Some(&cdurand), true, None,
             "invalid person"),
            (&admin, "st", Role::Station, None, &readers, Some(&cdurand), true, None,
             "invalid person"),
            (&admin, "insp", Role::Inspector, Some("D1"), none, Some(&pmartin), true,
             Some(Some("pmartin")), "ok"),
            (&admin, "insp", Role::Inspector, Some("D1"), none, Some(&cdurand), true,
             Some(Some("pmartin")), "invalid person"),
            (&admin, "insp", Role::Inspector, Some("D1"), none, Some(&pmartin), true,
             Some(None), "invalid person"),
            // No such district: its inspector is nobody, so the person does
            // not match first (as the SQLite store always answered).
            (&admin, "insp", Role::Inspector, Some("D9"), none, Some(&pmartin), true, None,
             "invalid person"),
            (&admin, "insp", Role::Inspector, None, none, Some(&pmartin), true, None,
             "invalid district"),
            (&admin, "insp", Role::Inspector, Some("D1"), none, None, false,
             Some(Some("pmartin")), "invalid person"),
            (&admin, "insp", Role::Inspector, Some("D1"), none, Some(&pmartin), false,
             Some(Some("pmartin")), "forbidden: that person has left"),
            (&admin, "desk", Role::Desk, Some("D1"), none, Some(&cdurand), true, None,
             "invalid district"),
            (&admin, "gw", Role::Gateway, Some("D1"), none, None, false, None,
             "invalid district"),
            (&admin, "st", Role::Station, None, &readers, None, false, None, "ok"),
            (&admin, "st", Role::Station, None, none, None, false, None, "invalid readers"),
            (&admin, "st", Role::Station, None, &bad_reader, None, false, None,
             "invalid reader name"),
            (&admin, "gw", Role::Gateway, None, &readers, None, false, None, "invalid readers"),
        ];
        for (i, &(actor, name, role, district, readers, person, present, held, expected)) in
            table.iter().enumerate()
        {
            let request = KeyRequest {
                name,
                role,
                district,
                readers,
                person,
            };
            let facts = KeyFacts {
                actor,
                person_present: present,
                district: held,
            };
            assert_eq!(shown(decide_create(&request, &facts)), expected, "row {i}");
        }
    }

    #[test]
    fn which_facts_a_request_needs() {
        let p = pid("pmartin");
        let request = |role, district, person| KeyRequest {
            name: "k",
            role,
            district,
            readers: &[],
            person,
        };
        assert!(request(Role::Desk, None, Some(&p)).needs_person());
        assert!(!request(Role::Gateway, None, Some(&p)).needs_person());
        assert!(!request(Role::Desk, None, None).needs_person());
        assert!(request(Role::Inspector, Some("D1"), None).needs_district());
        assert!(!request(Role::Desk, Some("D1"), None).needs_district());
        assert!(!request(Role::Inspector, None, None).needs_district());
    }

    #[test]
    fn a_key_is_revoked_once_by_the_desk() {
        let admin = Actor::Admin(pid("alice"));
        let inspector = Actor::Inspector(pid("pmartin"));
        let table: &[(&Actor, Option<Option<u64>>, &str)] = &[
            (&admin, Some(None), "ok"),
            (&Actor::Desk(pid("dbernard")), Some(None), "ok"),
            (&admin, None, "no such key"),
            (&admin, Some(Some(10)), "forbidden: it is already revoked"),
            (
                &inspector,
                Some(None),
                "forbidden: only the IT centre desk does this",
            ),
            (
                &inspector,
                None,
                "forbidden: only the IT centre desk does this",
            ),
        ];
        for (i, &(actor, found, expected)) in table.iter().enumerate() {
            assert_eq!(shown(decide_revoke(actor, found)), expected, "row {i}");
        }
    }

    #[test]
    fn audit_details_name_the_key_never_its_secret() {
        let p = pid("pmartin");
        let readers = ["r1".to_owned(), "r2".to_owned()];
        let request = KeyRequest {
            name: "  gate one ",
            role: Role::Station,
            district: None,
            readers: &readers,
            person: None,
        };
        assert_eq!(
            request.audit_detail(),
            "name=gate one role=station person=- district=- readers=r1,r2"
        );
        let request = KeyRequest {
            name: "insp",
            role: Role::Inspector,
            district: Some("D1"),
            readers: &[],
            person: Some(&p),
        };
        assert_eq!(
            request.audit_detail(),
            "name=insp role=inspector person=pmartin district=D1 readers="
        );
        assert_eq!(revoke_audit_detail("gw"), "name=gw");
    }
}
