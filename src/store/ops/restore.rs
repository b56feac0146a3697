//! After a restore: every live credential's replay floor moves past what
//! the backup's windows would accept (`domain::verify_policy::
//! floor_after_restore`), one audit entry per credential moved and one for
//! the restore itself.

use super::{query_rows, to_i64, to_u64, Tx};
use crate::domain::verify_policy::floor_after_restore;
use crate::otp::{OtpKind, Period};
use crate::store::StoreError;

/// What a restore moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FloorsMoved {
    pub hotp: u64,
    pub totp: u64,
}

impl Tx<'_> {
    /// Moves every live credential's floor forward: HOTP by `hotp_advance`
    /// counters, TOTP to the current step plus the largest drift.
    /// `taken_at` is when the restored backup was taken (for the audit).
    pub fn advance_floors_after_restore(
        &mut self,
        hotp_advance: u32,
        taken_at: u64,
    ) -> Result<FloorsMoved, StoreError> {
        let rows = query_rows(
            self.db,
            "SELECT id, kind, period, floor FROM credentials WHERE live <> 0 ORDER BY id",
            [],
            |row| {
                let kind: String = row.get(1)?;
                let period: i64 = row.get(2)?;
                let floor = row
                    .get::<_, Option<i64>>(3)?
                    .map(|f| to_u64(f, "floor"))
                    .transpose()?;
                let kind = match kind.as_str() {
                    "hotp" => OtpKind::Hotp { counter: 0 },
                    _ => OtpKind::Totp {
                        period: u32::try_from(period)
                            .ok()
                            .and_then(|p| Period::new(p).ok())
                            .ok_or(StoreError::Corrupt("period"))?,
                    },
                };
                Ok((row.get::<_, i64>(0)?, kind, floor))
            },
        )?;
        let mut moved = FloorsMoved::default();
        for (id, kind, floor) in rows {
            let new = floor_after_restore(kind, floor, hotp_advance, self.now);
            self.db
                .prepare_cached("UPDATE credentials SET floor = ?1 WHERE id = ?2")?
                .execute([to_i64(new, "floor")?, id])?;
            let (name, count) = match kind {
                OtpKind::Hotp { .. } => ("hotp", &mut moved.hotp),
                OtpKind::Totp { .. } => ("totp", &mut moved.totp),
            };
            *count += 1;
            let old = floor.map_or_else(|| "none".to_owned(), |f| f.to_string());
            self.audit(
                "credential.floor_restored",
                &id.to_string(),
                &format!("{name} floor {old} -> {new} after restore"),
            )?;
        }
        self.audit(
            "restore",
            "database",
            &format!(
                "restored a backup taken at {taken_at}; floors moved: {} hotp (+{hotp_advance}), {} totp",
                moved.hotp, moved.totp
            ),
        )?;
        Ok(moved)
    }
}
