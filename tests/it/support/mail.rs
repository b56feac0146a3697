//! Mail fixtures: a DKIM key of the authority (Ed25519, made per test),
//! messages signed with it, a mail service configured to trust it, and the
//! rows the mail tables hold.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use keyward::mail::config::MailConfig;
use keyward::mail::service::Mailer;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use ring::signature::KeyPair;

use super::world::DOMAIN;

/// A DKIM signing key and its selector.
pub struct DkimKey {
    pkcs8: Vec<u8>,
    pub selector: String,
    pub domain: String,
}

impl DkimKey {
    pub fn new(selector: &str, domain: &str) -> DkimKey {
        let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
        DkimKey {
            pkcs8,
            selector: selector.to_owned(),
            domain: domain.to_owned(),
        }
    }

    /// The TXT record of the public key.
    pub fn record(&self) -> String {
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(&self.pkcs8).unwrap();
        let public = data_encoding::BASE64.encode(pair.public_key().as_ref());
        format!("v=DKIM1; k=ed25519; p={public}")
    }

    /// `raw` with a DKIM-Signature header in front.
    pub fn sign(&self, raw: &[u8]) -> Vec<u8> {
        let key = Ed25519Key::from_pkcs8_der(&self.pkcs8).unwrap();
        let signature = DkimSigner::from_key(key)
            .domain(self.domain.clone())
            .selector(self.selector.clone())
            .headers(["From", "To", "Cc", "Subject", "Message-ID"])
            .sign(raw)
            .unwrap();
        let mut out = signature.to_header().into_bytes();
        out.extend_from_slice(raw);
        out
    }
}

/// The `[mail]` table of a test, with `auth` as its `[mail.auth]` body.
pub fn mail_config(auth: &str, extra: &str) -> MailConfig {
    let text = format!(
        "[mail]\nfrom = \"keyward@{DOMAIN}\"\ndesk = \"assistance@{DOMAIN}\"\n{extra}\n[mail.auth]\n{auth}\n"
    );
    let table: toml::Table = text.parse().unwrap();
    MailConfig::parse(&table["mail"]).unwrap()
}

/// A mailer trusting `key` only (pinned, no DNS).
pub fn dkim_mailer(key: &DkimKey, extra: &str) -> Arc<Mailer> {
    let auth = format!(
        "method = \"dkim\"\n[mail.auth.keys]\n\"{}._domainkey.{}\" = \"{}\"\n",
        key.selector,
        key.domain,
        key.record()
    );
    Arc::new(Mailer::new(mail_config(&auth, extra)).unwrap())
}

/// A help message (CRLF), from `from`, `cc` in copy.
pub fn help_message(id: &str, from: &str, cc: &[&str], subject: &str, body: &str) -> Vec<u8> {
    let mut m = format!("From: {from}\r\nTo: assistance@{DOMAIN}\r\n");
    if !cc.is_empty() {
        m.push_str(&format!("Cc: {}\r\n", cc.join(", ")));
    }
    m.push_str(&format!(
        "Subject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Mon, 2 Nov 2026 08:00:00 +0100\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ));
    m.into_bytes()
}

/// Count of rows of a table, read beside the daemon's connection.
pub fn count(db: &std::path::Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The outbox rows: (template, recipients).
pub fn outbox(db: &std::path::Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT template, recipients FROM outbox ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}
