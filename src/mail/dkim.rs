//! DKIM verification of a help request (RFC 6376, with the `mail-auth`
//! crate): a signature that verifies, by the authority's domain. The public
//! keys are pinned in the configuration (`[mail.auth.keys]`, TXT record
//! text by `<selector>._domainkey.<domain>`) and, when the authority allows
//! it, read from DNS for a selector not pinned.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::resolver::IntoFqdn;
use mail_auth::common::verify::DomainKey;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, ResolverCache, Txt};

use super::auth::AuthVerdict;

/// A pinned key that is not a DKIM key record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the pinned DKIM key {name} is not a valid key record")]
pub struct BadPinnedKey {
    pub name: String,
}

/// The pinned public keys, and whether DNS is asked for the others.
#[derive(Clone, Default)]
pub struct DkimKeys {
    pinned: HashMap<String, Txt>,
    dns: bool,
}

impl std::fmt::Debug for DkimKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.pinned.keys().collect();
        names.sort();
        f.debug_struct("DkimKeys")
            .field("pinned", &names)
            .field("dns", &self.dns)
            .finish()
    }
}

impl DkimKeys {
    /// `pinned`: (`<selector>._domainkey.<domain>`, TXT record text).
    pub fn new<'a>(
        pinned: impl IntoIterator<Item = (&'a str, &'a str)>,
        dns: bool,
    ) -> Result<Self, BadPinnedKey> {
        let mut keys = HashMap::new();
        for (name, record) in pinned {
            let key = DomainKey::parse(record.as_bytes()).map_err(|_| BadPinnedKey {
                name: name.to_owned(),
            })?;
            keys.insert(fqdn(name), Txt::from(key));
        }
        Ok(DkimKeys { pinned: keys, dns })
    }

    pub fn uses_dns(&self) -> bool {
        self.dns
    }
}

fn fqdn(name: &str) -> String {
    name.to_ascii_lowercase().into_fqdn().into_owned()
}

/// The pinned keys as the resolver's cache: a pinned key is answered
/// without DNS; without DNS, any other key is answered "not found".
struct Pinned<'a>(&'a DkimKeys);

impl ResolverCache<String, Txt> for Pinned<'_> {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.0.pinned.get(name) {
            Some(txt) => Some(txt.clone()),
            None if self.0.dns => None,
            None => Some(Txt::Error(mail_auth::Error::InvalidRecordType)),
        }
    }

    fn remove<Q>(&self, _name: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    fn insert(&self, _key: String, _value: Txt, _valid_until: Instant) {}
}

/// Verifies the message's DKIM signatures: passes when one of them, by
/// `domain`, verifies.
pub async fn verify(
    raw: &[u8],
    keys: &DkimKeys,
    resolver: &MessageAuthenticator,
    domain: &str,
) -> AuthVerdict {
    let Some(message) = AuthenticatedMessage::parse(raw) else {
        return AuthVerdict::NotAuthenticated;
    };
    let cache = Pinned(keys);
    let params = mail_auth::Parameters::new(&message).with_txt_cache(&cache);
    let outputs = resolver.verify_dkim(params).await;
    let pass = outputs.iter().any(|o| {
        o.result() == &DkimResult::Pass
            && o.signature()
                .is_some_and(|s| s.d.eq_ignore_ascii_case(domain))
    });
    if pass {
        AuthVerdict::Pass
    } else {
        AuthVerdict::NotAuthenticated
    }
}
