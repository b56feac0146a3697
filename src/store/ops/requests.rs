//! Key requests and replacement requests (the numbered cases are the
//! school-year situations of docs/lifecycle.md).

use crate::store::cached::CachedSql;
use rusqlite::{params, OptionalExtension};

use super::{corrupt, query_rows, to_i64, Tx};
use crate::domain::requests::{check_help_mail, HelpMail};
use crate::domain::{MailAddress, PersonId, RevokeReason, RightOrigin};
use crate::mail::kind::TO_QUALIFY;
use crate::otp::{CredentialParams, Secret};
use crate::store::StoreError;

/// A key request as recorded; `token` is set once fulfilled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRequestRecord {
    pub id: i64,
    pub holder: PersonId,
    pub district: String,
    pub created_at: u64,
    pub token: Option<String>,
}

/// A help request as recorded; `new_token` is set once fulfilled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplacementRecord {
    pub id: i64,
    pub holder: String,
    pub old_token: String,
    pub reason: String,
    pub received_at: u64,
    pub new_token: Option<String>,
}

impl Tx<'_> {
    /// Case 1: an inspector asks the desk for a key for a deputy of their
    /// district who holds (or will hold) a delegation.
    pub fn request_key(&mut self, holder: &PersonId) -> Result<i64, StoreError> {
        self.require_present(holder)?;
        let rights = self.rights(holder)?;
        let delegation = rights
            .iter()
            .filter(|r| {
                r.origin == RightOrigin::Delegation
                    && r.period.live_or_future_at(self.now, self.zone())
            })
            .max_by_key(|r| r.id)
            .ok_or_else(|| StoreError::NoRight {
                holder: holder.to_string(),
            })?;
        let district = delegation.district.clone();
        self.require_scope(&district, "request a key", false)?;
        self.not_own(holder, "request a key")?;
        if let Some(live) = self.live_token_of(holder)? {
            return Err(StoreError::HolderHasLiveToken {
                holder: holder.to_string(),
                serial: live,
            });
        }
        let open: bool = self.db.query_row_cached(
            "SELECT EXISTS (SELECT 1 FROM key_requests WHERE holder = ?1 AND fulfilled_at IS NULL)",
            [holder.as_str()],
            |r| r.get(0),
        )?;
        if open {
            return Err(StoreError::OpenKeyRequest {
                holder: holder.to_string(),
            });
        }
        self.db.execute_cached(
            "INSERT INTO key_requests (holder, district, requested_by, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![holder.as_str(), district, self.actor.to_string(), to_i64(self.now, "time")?],
        )?;
        let id = self.db.last_insert_rowid();
        self.audit(
            "key_request.open",
            holder.as_str(),
            &format!("request={id}"),
        )?;
        Ok(id)
    }

    /// Open key requests, oldest first: (request id, holder, district).
    pub fn open_key_requests(&self) -> Result<Vec<(i64, PersonId, String)>, StoreError> {
        Ok(self
            .key_requests_open()?
            .into_iter()
            .map(|r| (r.id, r.holder, r.district))
            .collect())
    }

    /// Open key requests, oldest first.
    pub fn key_requests_open(&self) -> Result<Vec<KeyRequestRecord>, StoreError> {
        self.key_requests_where("fulfilled_at IS NULL", [])
    }

    /// The key requests this actor filed (an inspector's own), oldest first.
    pub fn my_key_requests(&self) -> Result<Vec<KeyRequestRecord>, StoreError> {
        self.key_requests_where("requested_by = ?1", [self.actor.to_string()])
    }

    fn key_requests_where(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<KeyRequestRecord>, StoreError> {
        let sql = format!(
            "SELECT id, holder, district, created_at, token FROM key_requests
             WHERE {filter} ORDER BY id"
        );
        query_rows(self.db, &sql, params, |row| {
            Ok(KeyRequestRecord {
                id: row.get(0)?,
                holder: PersonId::parse(&row.get::<_, String>(1)?).map_err(corrupt("holder"))?,
                district: row.get(2)?,
                created_at: super::to_u64(row.get(3)?, "time")?,
                token: row.get(4)?,
            })
        })
    }

    /// Help requests, newest first: (id, holder, old token, reason, received
    /// at, new token).
    pub fn replacement_requests(&self) -> Result<Vec<ReplacementRecord>, StoreError> {
        query_rows(
            self.db,
            "SELECT id, holder, old_token, reason, received_at, new_token
             FROM replacement_requests ORDER BY id DESC",
            [],
            |row| {
                Ok(ReplacementRecord {
                    id: row.get(0)?,
                    holder: row.get(1)?,
                    old_token: row.get(2)?,
                    reason: row.get(3)?,
                    received_at: super::to_u64(row.get(4)?, "time")?,
                    new_token: row.get(5)?,
                })
            },
        )
    }

    /// Case 3: records a help request after checking its sender and copy.
    /// A lost or stolen key is revoked in this same transaction.
    pub fn file_replacement_request(
        &mut self,
        holder: &PersonId,
        reason: RevokeReason,
        mail: &HelpMail,
    ) -> Result<i64, StoreError> {
        self.file_request(holder, Some(reason), mail)
    }

    /// Records a help request; `None`: its kind is for the desk to qualify
    /// (a request read from mail whose words were not clear).
    pub(super) fn file_request(
        &mut self,
        holder: &PersonId,
        reason: Option<RevokeReason>,
        mail: &HelpMail,
    ) -> Result<i64, StoreError> {
        self.require_desk("record a help request")?;
        self.not_own(holder, "record a help request")?;
        let person = self.person(holder)?;
        let old = match self.live_token_of(holder)? {
            Some(live) => live,
            None => self.revoked_key_of(holder)?.ok_or_else(|| {
                self.forbidden(
                    "request a replacement",
                    "the holder has no live or revoked key",
                )
            })?,
        };
        let district = self.key_district(&old)?;
        let inspector = self.inspector_of(&district)?;
        check_help_mail(
            mail,
            &person.mail,
            &inspector.mail,
            &self.shared.config.authority_domain,
        )?;
        let cc: Vec<&str> = mail.cc.iter().map(MailAddress::as_str).collect();
        self.db.execute_cached(
            "INSERT INTO replacement_requests (holder, old_token, reason, sender, cc, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                holder.as_str(),
                old,
                reason.map_or(TO_QUALIFY, RevokeReason::as_str),
                mail.from.as_str(),
                cc.join(","),
                to_i64(self.now, "time")?
            ],
        )?;
        let id = self.db.last_insert_rowid();
        self.audit(
            "replacement.request",
            holder.as_str(),
            &format!(
                "request={id} old_token={old} reason={}",
                reason.map_or(TO_QUALIFY, RevokeReason::as_str)
            ),
        )?;
        if let Some(reason) = reason {
            if reason.is_gone() && self.token(&old)?.state.is_live() {
                self.revoke(&old, reason)?;
            }
        }
        Ok(id)
    }

    /// The desk gives a request read from mail its kind; a lost or stolen
    /// key is revoked in this same transaction.
    pub fn qualify_replacement(
        &mut self,
        request: i64,
        reason: RevokeReason,
    ) -> Result<(), StoreError> {
        self.require_desk("qualify a help request")?;
        let row: Option<(String, String)> = self
            .db
            .query_row_cached(
                "SELECT old_token, reason FROM replacement_requests WHERE id = ?1",
                [request],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (old, current) =
            row.ok_or_else(|| StoreError::not_found("replacement request", request))?;
        if current != TO_QUALIFY {
            return Err(
                self.forbidden("qualify a help request", "the request already has its kind")
            );
        }
        self.db.execute_cached(
            "UPDATE replacement_requests SET reason = ?1 WHERE id = ?2",
            params![reason.as_str(), request],
        )?;
        self.audit(
            "replacement.qualify",
            &old,
            &format!("request={request} reason={reason}"),
        )?;
        if reason.is_gone() && self.token(&old)?.state.is_live() {
            self.revoke(&old, reason)?;
        }
        Ok(())
    }

    /// Prepares the new key of a replacement request; the old key, if still
    /// live, is revoked in this same transaction.
    pub fn prepare_replacement(
        &mut self,
        request: i64,
        new_serial: &str,
        secret: &Secret,
        params: CredentialParams,
    ) -> Result<i64, StoreError> {
        self.require_desk("prepare a replacement")?;
        let row: Option<(String, String, String, Option<i64>)> = self
            .db
            .query_row_cached(
                "SELECT holder, old_token, reason, fulfilled_at FROM replacement_requests WHERE id = ?1",
                [request],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (holder, old, reason, fulfilled) =
            row.ok_or_else(|| StoreError::not_found("replacement request", request))?;
        if fulfilled.is_some() {
            return Err(StoreError::RequestFulfilled(request));
        }
        let holder = PersonId::parse(&holder).map_err(corrupt("holder"))?;
        if reason == TO_QUALIFY {
            return Err(self.forbidden(
                "prepare a replacement",
                "the help request must first be qualified (lost, stolen, broken or faulty)",
            ));
        }
        let reason = RevokeReason::parse(&reason).map_err(corrupt("reason"))?;
        if self.token(&old)?.state.is_live() {
            self.revoke(&old, reason)?;
        }
        let credential =
            self.prepare_against(new_serial, &holder, (secret, params), Some(request))?;
        self.audit(
            "replacement.prepare",
            holder.as_str(),
            &format!("request={request} old_token={old} new_token={new_serial}"),
        )?;
        Ok(credential)
    }

    /// The token of the holder's latest credential, when it was revoked and
    /// no replacement was prepared since.
    pub(super) fn revoked_key_of(&self, holder: &PersonId) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .query_row_cached(
                "SELECT token, revoked FROM credentials WHERE holder = ?1 ORDER BY id DESC LIMIT 1",
                [holder.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?
            .and_then(|(token, revoked)| (revoked != 0).then_some(token)))
    }

    /// The holder of a replacement request.
    pub fn replacement_holder(&self, request: i64) -> Result<PersonId, StoreError> {
        let holder: Option<String> = self
            .db
            .query_row_cached(
                "SELECT holder FROM replacement_requests WHERE id = ?1",
                [request],
                |r| r.get(0),
            )
            .optional()?;
        let holder = holder.ok_or_else(|| StoreError::not_found("replacement request", request))?;
        PersonId::parse(&holder).map_err(corrupt("holder"))
    }
}
