//! A receipt as a printable slip (A4, print stylesheet): its text, where
//! and when in the authority's zone, and a QR code carrying the signed
//! export, which `keyward receipts verify` checks offline.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;

use super::session::Session;
use super::tokens::encode;
use super::view::{html, Chrome};
use super::{ConsoleState, Who};
use crate::wire::receipts::Receipt;

#[derive(Template)]
#[template(path = "slip.html")]
pub struct SlipPage {
    pub c: Chrome,
    pub receipt: Option<Receipt>,
    pub kind: String,
    pub qr: String,
    /// When, in the authority's time zone.
    pub when: String,
}

impl SlipPage {
    /// The slip of `receipt`, in the frame `c`.
    pub fn of(c: Chrome, receipt: Receipt, zone: &jiff::tz::TimeZone) -> SlipPage {
        let when = receipt
            .canonical
            .lines()
            .find_map(|l| l.strip_prefix("unix_time="))
            .and_then(|t| t.parse::<u64>().ok())
            .map(|t| crate::i18n::date_time(c.t.0, t, zone))
            .unwrap_or_default();
        let kind = c.t.get(&format!("console-slip-{}", receipt.kind.as_str()));
        let qr = super::qr::svg(&receipt.export, &c.t.get("console-slip-qr")).unwrap_or_default();
        SlipPage {
            c,
            receipt: Some(receipt),
            kind,
            qr,
            when,
        }
    }
}

pub async fn slip(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let c = Chrome::new(&session, "console-slip-title", "");
    let path = format!("/v1/receipts/{}", encode(&id));
    match state
        .call::<Receipt>(Who::Session(&session.caller), Method::GET, &path, None)
        .await
    {
        Ok(receipt) => html(&SlipPage::of(c, receipt, state.app().store().time_zone())),
        Err(r) => html(&SlipPage {
            c: c.refused(&r),
            receipt: None,
            kind: String::new(),
            qr: String::new(),
            when: String::new(),
        }),
    }
}
