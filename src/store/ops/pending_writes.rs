//! Pending device writes: a credential recorded as pending before it is
//! written to a token, then committed (with its sealed secret) or aborted
//! (pending write -> write -> prove -> commit: docs/devices.md).

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension, Row};

use super::{corrupt, select, to_i64, to_u64, Record, Tx};
use crate::domain::{next_state, PendingWrite, PersonId, TokenAction};
use crate::otp::{CredentialParams, Secret};
use crate::store::StoreError;

impl Tx<'_> {
    /// Records a credential as pending on a stock token, before anything is
    /// sent to the device. The same guards as the commit run now, so a write
    /// that could never be committed never reaches the token.
    /// With `replacement`, the request's old key may still be live: the
    /// commit revokes it in the same transaction that prepares the new one.
    pub fn begin_pending_write(
        &mut self,
        serial: &str,
        holder: &PersonId,
        credential_id: &[u8],
        reader: &str,
        replacement: Option<i64>,
    ) -> Result<(), StoreError> {
        self.require_desk("prepare a token")?;
        let token = self.token(serial)?;
        next_state(token.state, token.revoke_reason, TokenAction::Prepare)?;
        self.require_present(holder)?;
        let replaced = match replacement {
            Some(request) => {
                let row: Option<(String, String, Option<i64>)> = self
                    .db
                    .query_row_cached(
                        "SELECT holder, old_token, fulfilled_at FROM replacement_requests WHERE id = ?1",
                        [request],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let (for_holder, old, fulfilled) =
                    row.ok_or_else(|| StoreError::not_found("replacement request", request))?;
                if fulfilled.is_some() {
                    return Err(StoreError::RequestFulfilled(request));
                }
                if for_holder != holder.as_str() {
                    return Err(StoreError::Corrupt("replacement request holder"));
                }
                Some(old)
            }
            None => None,
        };
        if let Some(live) = self.live_token_of(holder)? {
            if replaced.as_deref() != Some(live.as_str()) {
                return Err(StoreError::HolderHasLiveToken {
                    holder: holder.to_string(),
                    serial: live,
                });
            }
        }
        if !self
            .rights(holder)?
            .iter()
            .any(|r| r.period.live_or_future_at(self.now, self.zone()))
        {
            return Err(StoreError::NoRight {
                holder: holder.to_string(),
            });
        }
        let inserted = self.db.execute_cached(
            "INSERT OR IGNORE INTO pending_writes (serial, holder, credential_id, reader, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                serial,
                holder.as_str(),
                credential_id,
                reader,
                to_i64(self.now, "time")?
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Duplicate {
                what: "pending write on token",
                key: serial.to_owned(),
            });
        }
        self.audit(
            "token.prepare.pending",
            serial,
            &format!("holder={holder} reader={reader}"),
        )
    }

    pub fn pending_write(&self, serial: &str) -> Result<Option<PendingWrite>, StoreError> {
        Ok(select(self.db, "WHERE serial = ?1", [serial])?
            .into_iter()
            .next())
    }

    pub fn pending_writes(&self) -> Result<Vec<PendingWrite>, StoreError> {
        select(self.db, "", ())
    }

    /// Commits a pending write whose read-back matched: the credential record
    /// and sealed secret are written and the pending record removed in this
    /// one transaction. With `replacement`, the request's old key is revoked
    /// in it too.
    pub fn commit_pending_write(
        &mut self,
        serial: &str,
        secret: &Secret,
        params: CredentialParams,
        replacement: Option<i64>,
    ) -> Result<i64, StoreError> {
        let pending = self
            .pending_write(serial)?
            .ok_or_else(|| StoreError::not_found("pending write on token", serial))?;
        let credential = match replacement {
            Some(request) => self.prepare_replacement(request, serial, secret, params)?,
            None => self.prepare_token(serial, &pending.holder, secret, params)?,
        };
        if self.token(serial)?.holder.as_ref() != Some(&pending.holder) {
            return Err(StoreError::Corrupt("pending write holder"));
        }
        self.db
            .execute_cached("DELETE FROM pending_writes WHERE serial = ?1", [serial])?;
        Ok(credential)
    }

    /// Drops a pending write that was not committed (write failed, or
    /// recovery removed the credential from the token).
    pub fn abort_pending_write(&mut self, serial: &str, why: &str) -> Result<(), StoreError> {
        self.require_desk("abort a pending write")?;
        let removed = self
            .db
            .execute_cached("DELETE FROM pending_writes WHERE serial = ?1", [serial])?;
        if removed == 0 {
            return Err(StoreError::not_found("pending write on token", serial));
        }
        self.audit("token.prepare.abort", serial, why)
    }
}

impl Record for PendingWrite {
    const SELECT: &'static str =
        "SELECT serial, holder, credential_id, reader, created_at FROM pending_writes";
    const ORDER: &'static str = "created_at, serial";

    fn decode(row: &Row<'_>) -> Result<Self, StoreError> {
        Ok(PendingWrite {
            serial: row.get(0)?,
            holder: PersonId::parse(&row.get::<_, String>(1)?).map_err(corrupt("holder"))?,
            credential_id: row.get(2)?,
            reader: row.get(3)?,
            created_at: to_u64(row.get(4)?, "time")?,
        })
    }
}
