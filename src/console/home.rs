//! The home address sends each role to its page; `/lang/{code}` switches
//! the language (a preference cookie, no secret).

use axum::extract::Path;
use axum::http::header;
use axum::response::Response;

use super::see_other;
use super::session::{Session, LANG_COOKIE};
use crate::domain::Role;
use crate::i18n::Lang;

pub async fn home(session: Session) -> Response {
    see_other(match session.role() {
        Role::Admin | Role::Desk => "/desk",
        Role::Inspector => "/inspector",
        Role::Station => "/station",
        Role::Gateway => "/signin",
    })
}

pub async fn language(Path(code): Path<String>) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::Fr);
    let mut answer = see_other("/");
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Strict",
        lang.code()
    );
    if let Ok(v) = cookie.parse() {
        answer.headers_mut().insert(header::SET_COOKIE, v);
    }
    answer
}
