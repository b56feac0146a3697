//! Factory-seeded tokens: the import of a vendor's PSKC file and the bind
//! of an imported token to a holder (`docs/pskc.md`).

use axum::extract::Path;
use zeroize::Zeroizing;

use super::tokens::prepared_token;
use super::{ok, Answer};
use crate::api::{ApiError, Body, Permit};
use crate::domain::PersonId;
use crate::otp::OtpKind;
use crate::pskc::{self, Unlock};
use crate::store::ops::ImportedToken;
use crate::wire::tokens::{BindBody, ImportBody, ImportedEntry, ImportedTokens, OtpKindName};

fn entry(t: &ImportedToken) -> ImportedEntry {
    let (kind, period) = match t.params.kind {
        OtpKind::Hotp { .. } => (OtpKindName::Hotp, None),
        OtpKind::Totp { period } => (OtpKindName::Totp, Some(period.seconds())),
    };
    ImportedEntry {
        algorithm: t.params.algorithm.name().to_owned(),
        digits: t.params.digits.get(),
        key_id: t.key_id.clone(),
        kind,
        manufacturer: t.manufacturer.clone(),
        model: t.model.clone(),
        not_after: t.not_after,
        not_before: t.not_before,
        period,
        reseeded: t.reseeded,
        serial: t.serial.clone(),
    }
}

/// What unlocks the file: the hex key, or the passphrase, or nothing.
fn unlock(body: &ImportBody) -> Result<Unlock, ApiError> {
    match (&body.key_hex, &body.passphrase) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "key_hex",
            "give the file's key or its passphrase, not both",
        )),
        (Some(hex), None) => {
            let cleaned: Zeroizing<String> =
                Zeroizing::new(hex.chars().filter(|c| !c.is_whitespace()).collect());
            data_encoding::HEXLOWER_PERMISSIVE
                .decode(cleaned.as_bytes())
                .map(|k| Unlock::Key(Zeroizing::new(k)))
                .map_err(|_| ApiError::invalid("key_hex", "not hexadecimal"))
        }
        (None, Some(pass)) => Ok(Unlock::Passphrase(Zeroizing::new(pass.as_bytes().to_vec()))),
        (None, None) => Ok(Unlock::None),
    }
}

pub(super) async fn import_tokens(permit: Permit, Body(body): Body<ImportBody>) -> Answer {
    let unlock = match unlock(&body) {
        Ok(u) => u,
        Err(err) => return Err(permit.refuse(err).await),
    };
    let now = i64::try_from(permit.state().clock().now()).unwrap_or(i64::MAX);
    let dry_run = body.dry_run.unwrap_or(false);
    let text = body.pskc;
    let decode = move || pskc::decode(text.as_bytes(), &unlock, now);
    let report = if dry_run {
        let packages = match decode() {
            Ok(p) => p,
            Err(err) => {
                let err = crate::store::StoreError::from(err);
                return Err(permit.refuse(err.into()).await);
            }
        };
        permit.read(move |tx| tx.check_import(&packages)).await?
    } else {
        permit
            .write(move |tx, _| {
                let packages = decode()?;
                tx.import_seeded(&packages)
            })
            .await?
    };
    for t in report.iter().filter(|_| !dry_run) {
        permit.token_changed(&t.serial, crate::domain::TokenState::Stock);
    }
    ok(ImportedTokens {
        dry_run,
        tokens: report.iter().map(entry).collect(),
    })
}

pub(super) async fn bind_token(
    permit: Permit,
    Path(serial): Path<String>,
    Body(body): Body<BindBody>,
) -> Answer {
    let holder = match PersonId::parse(&body.holder) {
        Ok(h) => h,
        Err(e) => {
            return Err(permit
                .refuse(ApiError::invalid("holder", e.to_string()))
                .await)
        }
    };
    let prepared = permit
        .on_device(move |devices, actor| {
            devices.bind(actor, &serial, &holder, &body.code, body.replacement)
        })
        .await?;
    ok(prepared_token(&prepared))
}
