//! What `keyward store copy` takes from the SQLite store to PostgreSQL
//! (`store::postgres::copy`): the live credentials of tokens in service,
//! with their counters, PIN verifiers and sealed secrets exactly as they
//! are (sealed with the same master key, bound to the same credential id
//! and token), the rights of every person (what a node decides entitlement
//! with), the gateways' and staff's API keys (their hashes), the tokens of
//! the credentials copied and the districts (what a node revokes a key
//! with). A record changed
//! outside keyward (row MAC mismatch) stops the copy: nothing is copied
//! from a store that does not check out.

use super::{credential_from_row, rights_of, Tx, CREDENTIAL_COLUMNS};
use crate::domain::verify_policy::Counters;
use crate::domain::{PersonId, RightRecord, Role, TokenInfo};
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

/// An API key (a gateway's, or a staff member's): its hash, never the key.
#[derive(Debug)]
pub struct ExportedKey {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub hash: Vec<u8>,
    pub created_at: i64,
    /// A staff key's person.
    pub person: Option<String>,
    /// An inspector key's district.
    pub district: Option<String>,
}

/// The token of a copied credential, with the district of the right it
/// serves (what `domain::revocation` decides a revoke with).
#[derive(Debug)]
pub struct ExportedToken {
    pub token: TokenInfo,
    pub district: Option<String>,
    pub state_since: i64,
}

/// Everything a copy moves, and what it left behind.
#[derive(Debug, Default)]
pub struct Export {
    pub credentials: Vec<ExportedCredential>,
    pub gateway_keys: Vec<ExportedKey>,
    /// The staff keys in force (admin, desk, inspector) of people who have
    /// not left.
    pub staff_keys: Vec<ExportedKey>,
    /// The tokens of the credentials copied.
    pub tokens: Vec<ExportedToken>,
    /// Every district, with the login of its inspector.
    pub districts: Vec<(String, Option<String>)>,
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
            "SELECT id, name, role, hash, created_at, person, district FROM api_keys
             WHERE role IN ('gateway', 'admin', 'desk', 'inspector') AND revoked_at IS NULL
             ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(1)?;
            if !intact("api_keys", "name", &name)? {
                return Err(StoreError::Corrupt(
                    "row MAC of an API key to copy (run keyward audit verify)",
                ));
            }
            let role: String = row.get(2)?;
            let role = Role::parse(&role).map_err(|_| StoreError::Corrupt("API key role"))?;
            let key = ExportedKey {
                id: row.get(0)?,
                name,
                role,
                hash: row.get(3)?,
                created_at: row.get(4)?,
                person: row.get(5)?,
                district: row.get(6)?,
            };
            if role == Role::Gateway {
                export.gateway_keys.push(key);
                continue;
            }
            // A staff key authenticates its person only while they are here.
            let here = match key.person.as_deref().map(PersonId::parse) {
                Some(Ok(person)) => !self.has_left(&person)?,
                _ => false,
            };
            if here {
                export.staff_keys.push(key);
            }
        }
        for credential in &export.credentials {
            let token = self.token(&credential.token)?;
            let district = self.district_of_token(&token)?;
            let state_since: i64 = db.query_row(
                "SELECT state_since FROM tokens WHERE serial = ?1",
                [&credential.token],
                |r| r.get(0),
            )?;
            export.tokens.push(ExportedToken {
                token,
                district,
                state_since,
            });
        }
        let mut stmt = db.prepare("SELECT code, inspector FROM districts ORDER BY code")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let code: String = row.get(0)?;
            if !intact("districts", "code", &code)? {
                return Err(StoreError::Corrupt(
                    "row MAC of a district to copy (run keyward audit verify)",
                ));
            }
            export.districts.push((code, row.get(1)?));
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
