//! People, their logins and mail addresses, and who acts on the system.

use std::fmt;

use super::DomainError;

/// A person's login: 1–64 characters among `a-z 0-9 . _ -`, lower-case.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonId(String);

impl PersonId {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let lower = text.to_ascii_lowercase();
        if lower.is_empty()
            || lower.len() > 64
            || !lower
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        {
            return Err(DomainError::BadIdentifier {
                what: "person id",
                rule: "1 to 64 characters among a-z, 0-9, '.', '_' and '-'",
            });
        }
        Ok(PersonId(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mail address, compared case-insensitively (stored lower-case).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MailAddress {
    text: String,
    at: usize,
}

impl MailAddress {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let lower = text.trim().to_ascii_lowercase();
        let at = lower.find('@').ok_or(DomainError::BadMailAddress)?;
        let (local, domain) = (&lower[..at], &lower[at + 1..]);
        let ok_char = |b: u8| b.is_ascii_alphanumeric() || b"._+-".contains(&b);
        if local.is_empty()
            || domain.is_empty()
            || lower.len() > 254
            || !local.bytes().all(ok_char)
            || !domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || !domain.contains('.')
        {
            return Err(DomainError::BadMailAddress);
        }
        Ok(MailAddress { text: lower, at })
    }

    pub fn local_part(&self) -> &str {
        &self.text[..self.at]
    }

    pub fn domain(&self) -> &str {
        &self.text[self.at + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for MailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Who performs an operation; recorded in the audit and checked by guards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// An operator of the IT centre desk, by person id.
    Desk(PersonId),
    /// An administrator, by person id (acts as the desk, and for the
    /// administration on appointments).
    Admin(PersonId),
    /// A district inspector, by person id.
    Inspector(PersonId),
    /// A token holder acting for themselves (activation at the station).
    Holder(PersonId),
    /// The authentication gateway.
    Gateway,
    /// keyward itself (recovery, scheduled work).
    System,
}

impl Actor {
    /// The person acting, for a staff member (desk, admin, inspector).
    pub fn staff_person(&self) -> Option<&PersonId> {
        match self {
            Actor::Desk(id) | Actor::Admin(id) | Actor::Inspector(id) => Some(id),
            Actor::Holder(_) | Actor::Gateway | Actor::System => None,
        }
    }

    /// The actor as the audit names it: the role acted in, and `person`
    /// behind it when another (an admin acting as a district's inspector).
    pub fn label_by(&self, person: Option<&PersonId>) -> String {
        match person {
            Some(p) if self.staff_person() != Some(p) => format!("{self} by {p}"),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Desk(id) => write!(f, "desk:{id}"),
            Actor::Admin(id) => write!(f, "admin:{id}"),
            Actor::Inspector(id) => write!(f, "inspector:{id}"),
            Actor::Holder(id) => write!(f, "holder:{id}"),
            Actor::Gateway => f.write_str("gateway"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// A person as recorded: login, full name and personal mail address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub full_name: String,
    pub mail: MailAddress,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_addresses() {
        let a = MailAddress::parse(" Jeanne.Dupont@AC-Exemple.fr").unwrap();
        assert_eq!(a.as_str(), "jeanne.dupont@ac-exemple.fr");
        assert_eq!(a.local_part(), "jeanne.dupont");
        assert_eq!(a.domain(), "ac-exemple.fr");
        for bad in [
            "nobody", "@x.fr", "a@", "a@b", "a b@x.fr", "a@x.fr.", "a@@x.fr",
        ] {
            assert!(MailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn person_ids() {
        assert_eq!(PersonId::parse("JDupont").unwrap().as_str(), "jdupont");
        assert!(PersonId::parse("j dupont").is_err());
        assert!(PersonId::parse("").is_err());
    }
}
