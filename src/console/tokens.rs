//! Tokens: the desk's readers and preparation for a holder found by
//! search, the inspector's keys with hand-over and take-back, the search
//! and its CSV export. Every action is the API's operation, run as the
//! session ([`ConsoleState::call`]).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use super::holder_search::{Found, HolderSearch};
use super::paging::{offset, Pager};
use super::session::Session;
use super::view::{html, refused_with, Chrome};
use super::{see_other, ConsoleState, Refusal, Who};
use crate::wire::devices::DeviceEntry;
use crate::wire::receipts::ReceiptAnswer;
use crate::wire::requests::{KeyRequestEntry, ReplacementEntry};
use crate::wire::tokens::{PreparedToken, TokenEntry};

/// Keys listed on one page of the search (the CSV has them all).
const SHOWN: u64 = 50;
/// Keys on one page of the inspector's (each a card with its forms).
const CARDS: u64 = 20;

/// A token as a row of a page.
#[derive(Clone, Debug)]
pub struct TokenRow {
    pub serial: String,
    pub holder: String,
    pub state: String,
    pub state_name: String,
    pub locked: bool,
}

fn rows(c: &Chrome, tokens: Vec<TokenEntry>) -> Vec<TokenRow> {
    tokens
        .into_iter()
        .map(|t| {
            let state = t.state.as_str().to_owned();
            TokenRow {
                serial: t.serial,
                holder: t.holder.unwrap_or_default(),
                state_name: c.t.state(&state),
                state,
                locked: t.credential.is_some_and(|c| c.locked),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    c: Chrome,
    devices: Vec<DeviceEntry>,
    requests: Vec<KeyRequestEntry>,
    helps: Vec<ReplacementEntry>,
    search: HolderSearch,
    found: Found,
}

impl DeskPage {
    /// (reader, serial) of each key in stock at a reader: the keys the
    /// desk may prepare for a holder found.
    fn blank_keys(&self) -> Vec<(&str, &str)> {
        self.devices
            .iter()
            .filter(|d| {
                d.state
                    .is_some_and(|s| s == crate::domain::TokenState::Stock)
            })
            .filter_map(|d| Some((d.reader.as_str(), d.serial.as_deref()?)))
            .collect()
    }
}

/// The outcome of the last preparation, shown at the top.
#[derive(Debug, Default, Deserialize)]
pub struct DeskNotice {
    #[serde(default)]
    prepared: Option<String>,
}

pub async fn desk(
    State(state): State<ConsoleState>,
    session: Session,
    Query(search): Query<HolderSearch>,
    Query(notice): Query<DeskNotice>,
) -> Response {
    desk_page(&state, &session, search, notice, None).await
}

async fn desk_page(
    state: &ConsoleState,
    session: &Session,
    search: HolderSearch,
    notice: DeskNotice,
    refusal: Option<Refusal>,
) -> Response {
    let who = Who::Session(&session.caller);
    let mut c = Chrome::new(session, "console-desk-title", "/desk");
    if let Some(serial) = &notice.prepared {
        c.notice = Some(c.t.with("console-prepared", "serial", serial));
    }
    let devices = match state
        .call::<Vec<DeviceEntry>>(who, Method::GET, "/v1/devices", None)
        .await
    {
        Ok(d) => d,
        Err(r) => {
            c = c.refused(&r);
            vec![]
        }
    };
    let requests = state
        .call::<Vec<KeyRequestEntry>>(who, Method::GET, "/v1/key-requests", None)
        .await
        .unwrap_or_default();
    let helps = state
        .call::<Vec<ReplacementEntry>>(who, Method::GET, "/v1/replacement-requests", None)
        .await
        .unwrap_or_default();
    let found = match search.run(state, session, &c.t, "/desk").await {
        Ok(found) => found,
        Err(r) => {
            c = c.refused(&r);
            Found::default()
        }
    };
    if let Some(r) = refusal {
        c = c.refused(&r);
    }
    html(&DeskPage {
        c,
        devices,
        requests,
        helps,
        search,
        found,
    })
}

#[derive(Deserialize)]
pub struct PrepareForm {
    #[serde(default)]
    csrf: String,
    reader: String,
    serial: String,
    holder: String,
}

pub async fn prepare(
    State(state): State<ConsoleState>,
    session: Session,
    Form(form): Form<PrepareForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let path = format!("/v1/tokens/{}/prepare", encode(&form.serial));
    let body = json!({"holder": form.holder, "reader": form.reader});
    match state
        .call::<PreparedToken>(
            Who::Session(&session.caller),
            Method::POST,
            &path,
            Some(body),
        )
        .await
    {
        Ok(done) => see_other(&format!("/desk?prepared={}", encode(&done.serial))),
        Err(r) => {
            let page = desk_page(
                &state,
                &session,
                HolderSearch::default(),
                DeskNotice::default(),
                Some(r.clone()),
            )
            .await;
            refused_with(&r, page)
        }
    }
}

/// A path segment or query value, percent-encoded.
pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[derive(Template)]
#[template(path = "inspector.html")]
struct InspectorPage {
    c: Chrome,
    requests: Vec<KeyRequestEntry>,
    tokens: Vec<TokenRow>,
    reader: String,
    holder: String,
    pager: Pager,
}

/// The inspector's page: a holder to look for, and the page of the list.
#[derive(Debug, Default, Deserialize)]
pub struct InspectorQuery {
    #[serde(default)]
    holder: String,
    #[serde(default)]
    page: u64,
}

pub async fn inspector(
    State(state): State<ConsoleState>,
    session: Session,
    Query(query): Query<InspectorQuery>,
) -> Response {
    inspector_page(&state, &session, query, None).await
}

async fn inspector_page(
    state: &ConsoleState,
    session: &Session,
    query: InspectorQuery,
    refusal: Option<Refusal>,
) -> Response {
    let mut c = Chrome::new(session, "console-inspector-title", "/inspector");
    let path = format!(
        "/v1/tokens?state=prepared,handed_over,active&holder={}&limit={CARDS}&offset={}",
        encode(&query.holder),
        offset(query.page, CARDS)
    );
    let (tokens, total) = match state
        .page::<Vec<TokenEntry>>(Who::Session(&session.caller), &path)
        .await
    {
        Ok(t) => t,
        Err(r) => {
            c = c.refused(&r);
            (vec![], 0)
        }
    };
    if let Some(r) = refusal {
        c = c.refused(&r);
    }
    let requests = state
        .call::<Vec<KeyRequestEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            "/v1/key-requests",
            None,
        )
        .await
        .unwrap_or_default();
    // The reader the inspector's laptop has (the first one the daemon sees).
    let reader = state
        .app()
        .devices()
        .present()
        .into_iter()
        .next()
        .map(|p| p.reader)
        .unwrap_or_default();
    let tokens = rows(&c, tokens);
    let pager = Pager::new(
        &c.t,
        "/inspector",
        &[("holder", &query.holder)],
        query.page,
        CARDS,
        tokens.len(),
        total,
    );
    html(&InspectorPage {
        c,
        requests,
        tokens,
        reader,
        holder: query.holder,
        pager,
    })
}

#[derive(Deserialize)]
pub struct PossessionForm {
    #[serde(default)]
    csrf: String,
    reader: String,
    place: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Hands a prepared key over (proof of possession at `reader`) and shows
/// the receipt.
pub async fn handover(
    State(state): State<ConsoleState>,
    session: Session,
    Path(serial): Path<String>,
    Form(form): Form<PossessionForm>,
) -> Response {
    possession(state, session, serial, form, "handover").await
}

/// Takes a key back (proof of possession) and shows the return slip.
pub async fn give_back(
    State(state): State<ConsoleState>,
    session: Session,
    Path(serial): Path<String>,
    Form(form): Form<PossessionForm>,
) -> Response {
    possession(state, session, serial, form, "return").await
}

async fn possession(
    state: ConsoleState,
    session: Session,
    serial: String,
    form: PossessionForm,
    step: &str,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let path = format!("/v1/tokens/{}/{step}", encode(&serial));
    let body = match step {
        "return" => json!({
            "reader": form.reader,
            "place": form.place,
            "reason": form.reason.unwrap_or_default(),
        }),
        _ => json!({"reader": form.reader, "place": form.place}),
    };
    match state
        .call::<ReceiptAnswer>(
            Who::Session(&session.caller),
            Method::POST,
            &path,
            Some(body),
        )
        .await
    {
        Ok(done) => see_other(&format!("/receipts/{}", done.receipt.id)),
        Err(r) => {
            let page =
                inspector_page(&state, &session, InspectorQuery::default(), Some(r.clone())).await;
            refused_with(&r, page)
        }
    }
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct SearchPage {
    c: Chrome,
    tokens: Vec<TokenRow>,
    /// How many matched in all.
    found: u64,
    f: TokenSearch,
    states: Vec<(String, String)>,
    csv: String,
    pager: Pager,
    /// The one key found, with the desk's operations on it.
    single: Option<TokenRow>,
    /// The readers a key may be wiped at.
    readers: Vec<String>,
}

/// The search's fields: a part of the serial, of the holder's login or
/// name, of the school's UAI or name; a state; the page.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TokenSearch {
    #[serde(default)]
    pub serial: String,
    #[serde(default)]
    pub holder: String,
    #[serde(default)]
    pub school: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub page: u64,
    /// The operation just done (`wipe`, `resync`), shown as a notice.
    #[serde(default)]
    pub done: String,
}

impl TokenSearch {
    fn fields(&self) -> [(&'static str, &str); 4] {
        [
            ("serial", &self.serial),
            ("holder", &self.holder),
            ("school", &self.school),
            ("state", &self.state),
        ]
    }

    /// The API's query for these fields (all matches when `limit` is none).
    fn api_path(&self, limit: Option<u64>) -> String {
        let mut path = String::from("/v1/tokens?");
        for (name, value) in self.fields() {
            path.push_str(&format!("{name}={}&", encode(value.trim())));
        }
        if let Some(limit) = limit {
            path.push_str(&format!(
                "limit={limit}&offset={}",
                offset(self.page, limit)
            ));
        }
        path
    }
}

async fn found_tokens(
    state: &ConsoleState,
    session: &Session,
    f: &TokenSearch,
) -> Result<Vec<TokenEntry>, Refusal> {
    state
        .call::<Vec<TokenEntry>>(
            Who::Session(&session.caller),
            Method::GET,
            &f.api_path(None),
            None,
        )
        .await
}

pub async fn search(
    State(state): State<ConsoleState>,
    session: Session,
    Query(f): Query<TokenSearch>,
) -> Response {
    let mut c = Chrome::new(&session, "console-tokens-title", "/tokens");
    let (tokens, found) = match state
        .page::<Vec<TokenEntry>>(Who::Session(&session.caller), &f.api_path(Some(SHOWN)))
        .await
    {
        Ok(t) => t,
        Err(r) => {
            c = c.refused(&r);
            (vec![], 0)
        }
    };
    let states = crate::domain::TokenState::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), c.t.state(s.as_str())))
        .collect();
    let csv = format!(
        "/tokens.csv?serial={}&holder={}&school={}&state={}",
        encode(&f.serial),
        encode(&f.holder),
        encode(&f.school),
        encode(&f.state)
    );
    let tokens = rows(&c, tokens);
    if matches!(f.done.as_str(), "wipe" | "resync") {
        c.notice = Some(c.t.with("console-done-on", "serial", &f.serial));
    }
    let single = (tokens.len() == 1).then(|| tokens[0].clone());
    let readers = match &single {
        Some(_) => state
            .call::<Vec<DeviceEntry>>(
                Who::Session(&session.caller),
                Method::GET,
                "/v1/devices",
                None,
            )
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.reader)
            .collect(),
        None => vec![],
    };
    let pager = Pager::new(
        &c.t,
        "/tokens",
        &f.fields(),
        f.page,
        SHOWN,
        tokens.len(),
        found,
    );
    html(&SearchPage {
        c,
        tokens,
        found,
        f,
        states,
        csv,
        pager,
        single,
        readers,
    })
}

/// A CSV field, quoted, with formula characters neutralised.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

pub async fn export_csv(
    State(state): State<ConsoleState>,
    session: Session,
    Query(f): Query<TokenSearch>,
) -> Response {
    let tokens = match found_tokens(&state, &session, &f).await {
        Ok(t) => t,
        Err(r) => {
            let c = Chrome::new(&session, "console-tokens-title", "/tokens").refused(&r);
            return html(&SearchPage {
                c,
                tokens: vec![],
                found: 0,
                f,
                states: vec![],
                csv: String::new(),
                pager: Pager::default(),
                single: None,
                readers: vec![],
            });
        }
    };
    let mut out = String::from("serial,holder,state,profile\r\n");
    for t in tokens {
        out.push_str(&format!(
            "{},{},{},{}\r\n",
            csv_field(&t.serial),
            csv_field(t.holder.as_deref().unwrap_or("")),
            csv_field(t.state.as_str()),
            csv_field(&t.profile)
        ));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"keyward-tokens.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}

/// The search page showing a refusal and nothing else.
pub fn refused_search(session: &Session, r: &Refusal) -> Response {
    let c = Chrome::new(session, "console-tokens-title", "/tokens").refused(r);
    html(&SearchPage {
        c,
        tokens: vec![],
        found: 0,
        f: TokenSearch::default(),
        states: vec![],
        csv: String::new(),
        pager: Pager::default(),
        single: None,
        readers: vec![],
    })
}

#[derive(Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    action: String,
}

/// The desk's one-click operations on a key: receive it at the IT centre,
/// put it back in stock, unlock its credential; each the API's operation.
pub async fn act(
    State(state): State<ConsoleState>,
    session: Session,
    Path(serial): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    if let Err(refused) = session.guard(&state, &form.csrf).await {
        return refused;
    }
    let Some(step) = ["receive", "restock", "unlock"]
        .into_iter()
        .find(|a| *a == form.action)
    else {
        return refused_with(
            &Refusal {
                status: axum::http::StatusCode::NOT_FOUND,
                code: None,
                detail: None,
                message: String::new(),
            },
            see_other("/tokens"),
        );
    };
    let path = format!("/v1/tokens/{}/{step}", encode(&serial));
    match state
        .call::<TokenEntry>(Who::Session(&session.caller), Method::POST, &path, None)
        .await
    {
        Ok(_) => see_other(&format!("/tokens?serial={}", encode(&serial))),
        Err(r) => refused_with(&r, refused_search(&session, &r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("=cmd()"), "\"'=cmd()\"");
    }
}
