//! Receipts: one by id, a token's receipts.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{blocking, ApiError, AppState, Caller, Params};
use crate::domain::receipt::Lang;

use super::*;

pub async fn token_receipts(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "read receipts")
        .await?;
    scoped_token(&state, &caller, &serial, "read receipts").await?;
    let store = Arc::clone(state.store());
    let (receipts, key) = blocking(move || {
        store
            .read(|tx| Ok((tx.receipts_of_token(&serial)?, tx.receipt_public_key())))
            .map_err(ApiError::from)
    })
    .await?;
    ok(Value::Array(
        receipts
            .iter()
            .map(|r| receipt_json(r.content.number, r, &key))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptQuery {
    format: Option<String>,
    lang: Option<String>,
}

pub async fn show_receipt(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<ReceiptQuery>,
) -> Answer {
    caller
        .require(&state, DESK_OR_INSPECTOR, "read a receipt")
        .await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("receipt"))?;
    let lang = match query.lang.as_deref() {
        None | Some("fr") => Lang::Fr,
        Some("en") => Lang::En,
        Some(_) => {
            return Err(state
                .refuse(
                    caller.actor.clone(),
                    "read a receipt",
                    ApiError::invalid("lang", "expected fr or en"),
                )
                .await)
        }
    };
    if !matches!(
        query.format.as_deref(),
        None | Some("json" | "text" | "html")
    ) {
        return Err(state
            .refuse(
                caller.actor.clone(),
                "read a receipt",
                ApiError::invalid("format", "expected json, text or html"),
            )
            .await);
    }
    let store = Arc::clone(state.store());
    let (receipt, district, key) = blocking(move || {
        store
            .read(|tx| {
                Ok((
                    tx.receipt(id)?,
                    tx.district_of_receipt(id)?,
                    tx.receipt_public_key(),
                ))
            })
            .map_err(ApiError::from)
    })
    .await?;
    let receipt = receipt.ok_or_else(|| ApiError::not_found("receipt"))?;
    caller
        .scope(&state, district.as_deref(), "receipt", "read a receipt")
        .await?;
    match query.format.as_deref() {
        None | Some("json") => ok(receipt_json(receipt.content.number, &receipt, &key)),
        Some("text") => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            receipt.render_text(lang),
        )
            .into_response()),
        Some("html") => Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            receipt.render_html(lang),
        )
            .into_response()),
        Some(_) => Err(ApiError::invalid("format", "expected json, text or html")),
    }
}
