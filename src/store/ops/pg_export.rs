//! What `keyward store copy` takes from the SQLite store to PostgreSQL
//! (`store::postgres::copy`): the live credentials of tokens in service,
//! with their counters, PIN verifiers and sealed secrets exactly as they
//! are (sealed with the same master key, bound to the same credential id
//! and token), the rights of every person (what a node decides entitlement
//! with), and the gateways' API keys (their hashes). A record changed
//! outside keyward (row MAC mismatch) stops the copy: nothing is copied
//! from a store that does not check out.

use super::{credential_from_row, rights_of, Tx, CREDENTIAL_COLUMNS};
use crate::domain::verify_policy::Counters;
use crate::domain::RightRecord;
use crate::otp::OtpKind;
use crate::store::verify::phantom::Phantoms;
use crate::store::StoreError;

/// A live credential as it moves to PostgreSQL.
pub struct ExportedCredential {
    pub id: i64,
    pub token: String,
    pub holder: String,
    pub kind: OtpKind,
    pub algorithm: String,
    pub digits: u8,
    pub floor: Option<u64>,
    pub drift: i64,
    pub counters: Counters,
    pub pin_verifier: Option<Vec<u8>>,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for ExportedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedCredential")
            .field("id", &self.id)
            .field("token", &self.token)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// A gateway's API key: its hash, never the key.
#[derive(Debug)]
pub struct ExportedKey {
    pub id: i64,
    pub name: String,
    pub hash: Vec<u8>,
    pub created_at: i64,
}

/// Everything a copy moves, and what it left behind.
#[derive(Debug, Default)]
pub struct Export {
    pub credentials: Vec<ExportedCredential>,
    pub gateway_keys: Vec<ExportedKey>,
    /// Every right recorded (in force, to come or ended), with its school's
    /// district: a node reads them as the SQLite writer does.
    pub rights: Vec<RightRecord>,
    /// Live credentials of tokens not in service (not active): not copied.
    pub not_in_service: usize,
    /// The SQLite audit chain's last sequence number, named in the
    /// PostgreSQL chain's first entry.
    pub audit_seq: u64,
}

impl Tx<'_> {
    /// Reads what a copy to PostgreSQL moves (see the module text).
    pub fn export_for_postgres(&mut self) -> Result<Export, StoreError> {
        let db = self.db;
        let layout = &self.shared.row_layout;
        let key = self.shared.keys.row_key();
        let phantoms = Phantoms::new(key.clone());
        let intact = |table: &str, column: &str, value: &str| {
            crate::store::row_mac::rows_intact(db, layout, key, table, column, value)
        };
        let intact_school = |uai: &str| intact("schools", "uai", uai);
        let mut export = Export::default();
        let at = i64::try_from(self.now).unwrap_or(i64::MAX);
        let mut stmt = db.prepare(&format!(
            "SELECT {CREDENTIAL_COLUMNS}, t.state, c.pin_verifier, s.sealed
             FROM credentials c JOIN tokens t ON t.serial = c.token
             LEFT JOIN sealed_secrets s ON s.credential = c.id
             WHERE c.live = 1 AND (c.expires_at IS NULL OR c.expires_at > ?1) ORDER BY c.id"
        ))?;
        let mut rows = stmt.query([at])?;
        while let Some(row) = rows.next()? {
            let credential = credential_from_row(row)?;
            let state: String = row.get(14)?;
            let verifier: Option<Vec<u8>> = row.get(15)?;
            let sealed: Option<Vec<u8>> = row.get(16)?;
            if !intact("credentials", "holder", credential.holder.as_str())?
                || !intact("tokens", "serial", &credential.token)?
            {
                return Err(StoreError::Corrupt(
                    "row MAC of a credential to copy (run keyward audit verify)",
                ));
            }
            let (true, Some(sealed)) = (state == "active", sealed) else {
                export.not_in_service += 1;
                continue;
            };
            let counters = crate::store::verify::counters::of(&phantoms, db, &credential)?;
            export.credentials.push(ExportedCredential {
                id: credential.id,
                token: credential.token.clone(),
                holder: credential.holder.as_str().to_owned(),
                kind: credential.params.kind,
                algorithm: credential.params.algorithm.to_string(),
                digits: credential.params.digits.get(),
                floor: credential.floor,
                drift: credential.drift,
                counters,
                pin_verifier: verifier,
                sealed,
            });
        }
        let mut stmt = db.prepare(
            "SELECT id, name, hash, created_at FROM api_keys
             WHERE role = 'gateway' AND revoked_at IS NULL ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(1)?;
            if !intact("api_keys", "name", &name)? {
                return Err(StoreError::Corrupt(
                    "row MAC of a gateway key to copy (run keyward audit verify)",
                ));
            }
            export.gateway_keys.push(ExportedKey {
                id: row.get(0)?,
                name,
                hash: row.get(2)?,
                created_at: row.get(3)?,
            });
        }
        let people: Vec<String> = {
            let mut stmt = db.prepare("SELECT DISTINCT person FROM rights ORDER BY person")?;
            let people = stmt.query_map([], |row| row.get(0))?;
            people.collect::<Result<_, _>>()?
        };
        for person in &people {
            let rights = rights_of(db, person)?;
            let mut intact = intact("rights", "person", person)?;
            for right in &rights {
                intact &= intact_school(right.school.as_str())?;
            }
            if !intact {
                return Err(StoreError::Corrupt(
                    "row MAC of a right to copy (run keyward audit verify)",
                ));
            }
            export.rights.extend(rights);
        }
        let seq: Option<i64> = db.query_row("SELECT MAX(seq) FROM audit", [], |r| r.get(0))?;
        export.audit_seq = seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
        Ok(export)
    }
}
