//! Receipts: one by id (JSON, text or HTML), a token's receipts.

use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;

use super::tokens::scoped_token;
use super::{ok, Answer};
use crate::api::{ApiError, Params, Permit};
use crate::domain::receipt::{Lang, SignedReceipt};
use crate::wire::receipts::{Receipt, ReceiptQuery};

/// A receipt with what checking it offline needs (docs/api.md, Receipts).
pub(super) fn wire_receipt(r: &SignedReceipt, public_key: &[u8; 32]) -> Receipt {
    Receipt {
        canonical: r.canonical.clone(),
        export: r.export(),
        id: r.content.number,
        kind: r.content.kind,
        public_key: data_encoding::HEXLOWER.encode(public_key),
        signature: data_encoding::BASE64.encode(&r.signature),
    }
}

pub(super) async fn token_receipts(permit: Permit, Path(serial): Path<String>) -> Answer {
    scoped_token(&permit, &serial).await?;
    let (receipts, key) = permit
        .read(move |tx| Ok((tx.receipts_of_token(&serial)?, tx.receipt_public_key())))
        .await?;
    let receipts: Vec<Receipt> = receipts.iter().map(|r| wire_receipt(r, &key)).collect();
    ok(receipts)
}

pub(super) async fn show_receipt(
    permit: Permit,
    Path(id): Path<String>,
    Params(query): Params<ReceiptQuery>,
) -> Answer {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("receipt"))?;
    let lang = match query.lang.as_deref() {
        None => Lang::Fr,
        Some(code) => match Lang::parse(code) {
            Some(lang) => lang,
            None => {
                return Err(permit
                    .refuse(ApiError::invalid("lang", "expected fr or en"))
                    .await)
            }
        },
    };
    let bad_format = || ApiError::invalid("format", "expected json, text or html");
    if !matches!(
        query.format.as_deref(),
        None | Some("json" | "text" | "html")
    ) {
        return Err(permit.refuse(bad_format()).await);
    }
    let (receipt, district, key) = permit
        .read(move |tx| {
            Ok((
                tx.receipt(id)?,
                tx.district_of_receipt(id)?,
                tx.receipt_public_key(),
            ))
        })
        .await?;
    let receipt = receipt.ok_or_else(|| ApiError::not_found("receipt"))?;
    permit.scope(district.as_deref(), "receipt").await?;
    let zone = permit.state().store().time_zone();
    match query.format.as_deref() {
        None | Some("json") => ok(wire_receipt(&receipt, &key)),
        Some("text") => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            receipt.render_text(lang, zone),
        )
            .into_response()),
        Some("html") => Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            receipt.render_html(lang, zone),
        )
            .into_response()),
        Some(_) => Err(bad_format()),
    }
}
