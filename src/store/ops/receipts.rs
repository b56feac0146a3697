//! Signed receipts: issued on handover and return, countersigned by the
//! inspector or the desk, and read back.

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::{corrupt, query_rows, to_i64, to_u64, Tx};
use crate::domain::receipt::{ReceiptContent, ReceiptKind, SignedReceipt};
use crate::domain::{next_state, Actor, CredentialInfo, Person, PersonId, TokenAction, TokenInfo};
use crate::store::StoreError;

impl Tx<'_> {
    fn counterparty(&self) -> Result<(String, String), StoreError> {
        match &self.actor {
            Actor::Inspector(id) => Ok((id.to_string(), self.person(id)?.full_name)),
            Actor::Desk(id) | Actor::Admin(id) => Ok((
                id.to_string(),
                format!("{} (IT centre desk)", self.person(id)?.full_name),
            )),
            _ => Err(self.forbidden(
                "sign a receipt",
                "receipts are countersigned by an inspector or the desk",
            )),
        }
    }

    fn issue_receipt(
        &mut self,
        kind: ReceiptKind,
        token: &TokenInfo,
        holder: &Person,
        district: &str,
        place: &str,
        reason: &str,
    ) -> Result<SignedReceipt, StoreError> {
        let (counterparty_id, counterparty_name) = self.counterparty()?;
        let number: i64 =
            self.db
                .query_row_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM receipts", [], |r| {
                    r.get(0)
                })?;
        let content = ReceiptContent {
            number: to_u64(number, "receipt number")?,
            kind,
            token_serial: token.serial.clone(),
            holder_id: holder.id.to_string(),
            holder_name: holder.full_name.clone(),
            counterparty_id,
            counterparty_name,
            district: district.to_owned(),
            place: place.trim().to_owned(),
            time: self.now,
            reason: reason.trim().to_owned(),
            key_id: self.shared.signer.key_id(),
        };
        let canonical = content.canonical()?;
        let signature = self.shared.signer.sign(canonical.as_bytes());
        self.db.execute_cached(
            "INSERT INTO receipts (id, kind, token, holder, district, at, canonical, signature)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                number,
                kind.as_str(),
                token.serial,
                holder.id.as_str(),
                district,
                to_i64(self.now, "time")?,
                canonical,
                signature
            ],
        )?;
        Ok(SignedReceipt {
            content,
            canonical,
            signature,
        })
    }

    /// What handover and return share: the transition is allowed, the caller
    /// is in the key's district and is not its holder, the token in hand
    /// proves possession, and the signed receipt is issued. The receipt's
    /// kind names the step.
    pub(super) fn receipted_step(
        &mut self,
        serial: &str,
        kind: ReceiptKind,
        (place, reason): (&str, &str),
        possession_code: &str,
    ) -> Result<(TokenInfo, PersonId, CredentialInfo, SignedReceipt), StoreError> {
        let (action, operation) = match kind {
            ReceiptKind::Handover => (TokenAction::Handover, "hand a key over"),
            ReceiptKind::Return => (TokenAction::Return, "take a key back"),
        };
        let token = self.token(serial)?;
        next_state(token.state, token.revoke_reason, action)?;
        let holder_id = token
            .holder
            .clone()
            .ok_or(StoreError::Corrupt("live token without holder"))?;
        let district = self.key_district(&token.serial)?;
        self.require_scope(&district, operation, true)?;
        self.not_own(&holder_id, operation)?;
        // A key is handed over only to someone still here; taken back from anyone.
        if kind == ReceiptKind::Handover {
            self.require_present(&holder_id)?;
        }
        let holder = self.person(&holder_id)?;
        let credential = self.live_credential(&token)?;
        self.check_possession(&credential, possession_code)?;
        let receipt = self.issue_receipt(kind, &token, &holder, &district, place, reason)?;
        Ok((token, holder_id, credential, receipt))
    }

    pub fn receipts_of_token(&self, serial: &str) -> Result<Vec<SignedReceipt>, StoreError> {
        query_rows(
            self.db,
            "SELECT canonical, signature FROM receipts WHERE token = ?1 ORDER BY id",
            [serial],
            |row| receipt_from_parts(&row.get::<_, String>(0)?, &row.get::<_, Vec<u8>>(1)?),
        )
    }

    pub fn district_of_receipt(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .query_row_cached("SELECT district FROM receipts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn receipt(&self, id: i64) -> Result<Option<SignedReceipt>, StoreError> {
        let row: Option<(String, Vec<u8>)> = self
            .db
            .query_row_cached(
                "SELECT canonical, signature FROM receipts WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(canonical, signature)| receipt_from_parts(&canonical, &signature))
            .transpose()
    }

    /// The public half of the receipt key.
    pub fn receipt_public_key(&self) -> [u8; 32] {
        self.shared.signer.public_key()
    }
}

/// A receipt as stored: its canonical text and its signature, kept apart.
fn receipt_from_parts(canonical: &str, signature: &[u8]) -> Result<SignedReceipt, StoreError> {
    let exported = format!(
        "{canonical}signature={}\n",
        data_encoding::BASE64.encode(signature)
    );
    SignedReceipt::parse(&exported).map_err(corrupt("receipt"))
}
