//! The container of the earliest drafts (draft-hoyer-keyprov, namespace
//! `urn:ietf:params:xml:ns:keyprov:container:1.0`), as some vendors still
//! ship it: `Device/DeviceId`, `Data Name="SECRET"` with a base64 `Value`,
//! integers as big-endian bytes; when encrypted, one AES-CBC IV for the
//! whole container and a `ValueDigest`: an HMAC of the plain value under
//! the encryption key itself.

use roxmltree::Node;

use super::cipher::{self, Mac};
use super::xml::{base64, child, elements, text, Value};
use super::Reason;

pub(super) const DRAFT_NS: &str = "urn:ietf:params:xml:ns:keyprov:container:1.0";

/// The container's encryption: algorithm, IV and the digest's HMAC.
pub(super) struct DraftCipher {
    pub(super) algorithm: String,
    pub(super) iv: Vec<u8>,
    pub(super) digest: Mac,
}

impl DraftCipher {
    pub(super) fn read(root: Node<'_, '_>) -> Result<Option<DraftCipher>, Reason> {
        let Some(method) = child(root, "EncryptionMethod") else {
            return Ok(None);
        };
        let algorithm = method
            .attribute("Algorithm")
            .ok_or(Reason::Missing("EncryptionMethod Algorithm"))?;
        cipher::key_len(algorithm)?;
        let iv = base64(text(
            child(method, "IV").ok_or(Reason::Missing("EncryptionMethod/IV"))?,
        ))?;
        if iv.len() != 16 {
            return Err(Reason::Bad {
                what: "IV",
                why: "not 16 bytes",
            });
        }
        let digest = child(root, "DigestMethod")
            .and_then(|d| d.attribute("Algorithm"))
            .ok_or(Reason::Missing("DigestMethod"))?;
        Ok(Some(DraftCipher {
            algorithm: algorithm.trim().to_owned(),
            iv: iv.to_vec(),
            digest: Mac::parse(digest)?,
        }))
    }

    /// Decrypts `data` under `key`, then checks its digest in constant
    /// time before the value is used.
    pub(super) fn open(
        &self,
        key: &[u8],
        data: &[u8],
        digest: Option<&[u8]>,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Reason> {
        let digest = digest.ok_or(Reason::Missing("ValueDigest"))?;
        let mut whole = self.iv.clone();
        whole.extend_from_slice(data);
        let plain = cipher::decrypt(&self.algorithm, key, &whole)?;
        self.digest.verify(key, &plain, digest)?;
        Ok(plain)
    }
}

/// A key's data as either layout gives it.
pub(super) struct DataFields {
    pub(super) counter: Option<u64>,
    pub(super) time0: Option<u64>,
    pub(super) interval: Option<u64>,
    pub(super) secret: Value,
}

/// The `Data Name="..."` elements of a draft key, if it has any.
pub(super) fn data(key: Node<'_, '_>, encrypted: bool) -> Result<Option<DataFields>, Reason> {
    let named: Vec<Node<'_, '_>> = elements(key)
        .filter(|n| n.tag_name().name() == "Data" && n.attribute("Name").is_some())
        .collect();
    if named.is_empty() {
        return Ok(None);
    }
    let find = |name: &str| named.iter().find(|n| n.attribute("Name") == Some(name));
    let integer = |name: &'static str| -> Result<Option<u64>, Reason> {
        let Some(node) = find(name) else {
            return Ok(None);
        };
        let bytes = base64(text(child(*node, "Value").ok_or(Reason::Missing(name))?))?;
        if bytes.len() > 8 {
            return Err(Reason::Bad {
                what: name,
                why: "more than 8 bytes",
            });
        }
        Ok(Some(
            bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)),
        ))
    };
    let secret = find("SECRET").ok_or(Reason::Missing("Data SECRET"))?;
    let value = base64(text(
        child(*secret, "Value").ok_or(Reason::Missing("Data SECRET/Value"))?,
    ))?;
    let secret = if encrypted {
        let digest = match child(*secret, "ValueDigest") {
            Some(d) => Some(base64(text(d))?.to_vec()),
            None => None,
        };
        Value::Draft {
            data: value.to_vec(),
            digest,
        }
    } else {
        Value::Plain(value)
    };
    Ok(Some(DataFields {
        counter: integer("COUNTER")?,
        time0: integer("TIME")?,
        interval: integer("TIME_INTERVAL")?,
        secret,
    }))
}
