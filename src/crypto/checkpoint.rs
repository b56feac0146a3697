//! Signed checkpoints of the audit chain's head, kept outside the database.
//!
//! One checkpoint is one line of text (`docs/security.md`):
//!
//! ```text
//! keyward-audit-checkpoint-v1 seq=150 head=<64 hex> at=2026-11-30T21:00:00Z key=<key id> sig=<base64>
//! ```
//!
//! The signature is Ed25519, under the receipt key, over the line's bytes
//! before ` sig=`. The prefix differs from a receipt's (`keyward-receipt-v1`),
//! so a signature over one can never pass for the other. A line is parsed
//! strictly: fields in this order, nothing else, so one text has one meaning.

use ring::signature::{UnparsedPublicKey, ED25519};

use super::{key_id, ReceiptSigner};
use crate::domain::UnixTime;

/// The first word of every checkpoint line.
pub const HEADER: &str = "keyward-audit-checkpoint-v1";

/// The audit head at one moment: entry `seq` has MAC `head`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub head: [u8; 32],
    pub at: UnixTime,
}

/// Why a checkpoint line was refused. `line` is its number in the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error("checkpoint line {line} is malformed: {why}")]
    Malformed { line: usize, why: &'static str },
    #[error(
        "checkpoint line {line} was signed by key {found}, not by this keyward's key {expected}"
    )]
    WrongKey {
        line: usize,
        expected: String,
        found: String,
    },
    #[error("checkpoint line {line}: the signature is invalid (the line was altered or forged)")]
    BadSignature { line: usize },
}

impl Checkpoint {
    /// The signed part of the line, for the key with id `key_id`.
    fn signed_text(&self, key_id: &str) -> String {
        let at = jiff::Timestamp::from_second(i64::try_from(self.at).unwrap_or(i64::MAX))
            .unwrap_or(jiff::Timestamp::MAX);
        format!(
            "{HEADER} seq={} head={} at={} key={key_id}",
            self.seq,
            data_encoding::HEXLOWER.encode(&self.head),
            at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    }

    /// The checkpoint as a signed line (without its newline).
    pub fn sign(&self, signer: &ReceiptSigner) -> String {
        let text = self.signed_text(&signer.key_id());
        let sig = signer.sign(text.as_bytes());
        format!("{text} sig={}", data_encoding::BASE64.encode(&sig))
    }

    /// Parses and checks line number `line` against `public_key`.
    pub fn verify_line(
        text: &str,
        line: usize,
        public_key: &[u8; 32],
    ) -> Result<Checkpoint, CheckpointError> {
        let malformed = |why| CheckpointError::Malformed { line, why };
        let (signed, sig) = text.rsplit_once(" sig=").ok_or(malformed("no signature"))?;
        let mut words = signed.split(' ');
        if words.next() != Some(HEADER) {
            return Err(malformed(
                "it does not start with keyward-audit-checkpoint-v1",
            ));
        }
        let mut field = |name: &'static str| {
            words
                .next()
                .and_then(|w| w.strip_prefix(name))
                .ok_or(malformed("fields must be seq, head, at, key in this order"))
        };
        let seq = field("seq=")?;
        let head = field("head=")?;
        let at = field("at=")?;
        let found_key = field("key=")?;
        if words.next().is_some() {
            return Err(malformed("unexpected field"));
        }
        let checkpoint = Checkpoint {
            seq: seq.parse().map_err(|_| malformed("bad seq"))?,
            head: data_encoding::HEXLOWER
                .decode(head.as_bytes())
                .ok()
                .and_then(|h| <[u8; 32]>::try_from(h).ok())
                .ok_or(malformed("head must be 64 lowercase hex digits"))?,
            at: at
                .parse::<jiff::Timestamp>()
                .ok()
                .and_then(|t| u64::try_from(t.as_second()).ok())
                .ok_or(malformed("bad time"))?,
        };
        // Canonical form only: a line that re-encodes differently is refused.
        if checkpoint.signed_text(found_key) != signed {
            return Err(malformed("not in canonical form"));
        }
        let expected = key_id(public_key);
        if found_key != expected {
            return Err(CheckpointError::WrongKey {
                line,
                expected,
                found: found_key.to_owned(),
            });
        }
        let sig = data_encoding::BASE64
            .decode(sig.as_bytes())
            .map_err(|_| malformed("the signature is not base64"))?;
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| CheckpointError::BadSignature { line })?;
        Ok(checkpoint)
    }

    /// Every checkpoint of a file's text, checked; blank lines and lines
    /// starting with `#` are skipped.
    pub fn verify_file(
        text: &str,
        public_key: &[u8; 32],
    ) -> Result<Vec<Checkpoint>, CheckpointError> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|(i, l)| Checkpoint::verify_line(l.trim_end(), i + 1, public_key))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn signer() -> ReceiptSigner {
        let keys = MasterKey::generate().unwrap().keys().unwrap();
        ReceiptSigner::generate(&keys).unwrap().0
    }

    const SAMPLE: Checkpoint = Checkpoint {
        seq: 150,
        head: [0xab; 32],
        at: 1_796_072_400,
    };

    #[test]
    fn line_layout_is_the_documented_one() {
        let signer = signer();
        let line = SAMPLE.sign(&signer);
        let expected = format!(
            "keyward-audit-checkpoint-v1 seq=150 head={} at=2026-11-30T21:00:00Z key={} sig=",
            "ab".repeat(32),
            signer.key_id()
        );
        assert!(line.starts_with(&expected), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn a_signed_line_reads_back_and_every_tampering_is_refused() {
        let signer = signer();
        let public = signer.public_key();
        let line = SAMPLE.sign(&signer);
        assert_eq!(Checkpoint::verify_line(&line, 1, &public), Ok(SAMPLE));
        let forged = line.replace("seq=150", "seq=151");
        assert_eq!(
            Checkpoint::verify_line(&forged, 3, &public),
            Err(CheckpointError::BadSignature { line: 3 })
        );
        let head = line.replacen("abab", "abac", 1);
        assert!(matches!(
            Checkpoint::verify_line(&head, 1, &public),
            Err(CheckpointError::BadSignature { .. })
        ));
        let other = self::signer();
        assert!(matches!(
            Checkpoint::verify_line(&line, 1, &other.public_key()),
            Err(CheckpointError::WrongKey { .. })
        ));
        for bad in [
            "",
            "keyward-receipt-v1 seq=1 sig=AAAA",
            &line.replace(" head=", " head=0"),
            &line.replace("seq=150", "seq=0150"),
            &line.replace("seq=150 head", "head"),
            &line.replace(" sig=", " extra=1 sig="),
            &line.replace("T21:00:00Z", "T21:00:00+00:00"),
        ] {
            assert!(
                matches!(
                    Checkpoint::verify_line(bad, 1, &public),
                    Err(CheckpointError::Malformed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_file_skips_comments_and_names_the_bad_line() {
        let signer = signer();
        let public = signer.public_key();
        let second = Checkpoint { seq: 300, ..SAMPLE };
        let text = format!(
            "# shipped from keyward\n{}\n\n{}\n",
            SAMPLE.sign(&signer),
            second.sign(&signer)
        );
        assert_eq!(
            Checkpoint::verify_file(&text, &public),
            Ok(vec![SAMPLE, second])
        );
        let tampered = text.replace("seq=300", "seq=299");
        assert_eq!(
            Checkpoint::verify_file(&tampered, &public),
            Err(CheckpointError::BadSignature { line: 4 })
        );
    }
}
