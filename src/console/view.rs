//! What every page shares: the catalogue's texts in the page's language,
//! the frame (title, navigation by role, sign-out), times in the
//! authority's zone, the message page and the stylesheet (screen and A4
//! print). Templates are askama's, checked at compile time, HTML-escaped.

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::session::Session;
use super::Refusal;
use crate::domain::Role;
use crate::i18n::Lang;

/// The catalogue in one language, for templates: `{{ t.get("id") }}`.
#[derive(Clone, Copy, Debug)]
pub struct Texts(pub Lang);

impl Texts {
    pub fn get(&self, id: &str) -> String {
        crate::i18n::text(self.0, id, &[])
    }

    /// A message with one argument.
    pub fn with(&self, id: &str, name: &str, value: &str) -> String {
        crate::i18n::text(
            self.0,
            id,
            &[(name, fluent_bundle::FluentValue::from(value.to_owned()))],
        )
    }

    pub fn lang(&self) -> &'static str {
        self.0.code()
    }

    /// The name of a token state as people read it.
    pub fn state(&self, state: &str) -> String {
        crate::i18n::text_or(self.0, &format!("state-{state}"), state)
    }
}

/// A link of the navigation.
#[derive(Clone, Debug)]
pub struct NavLink {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

/// The frame of a signed-in page.
#[derive(Clone, Debug)]
pub struct Chrome {
    pub t: Texts,
    pub title: String,
    pub who: String,
    pub role: String,
    pub csrf: String,
    pub nav: Vec<NavLink>,
    /// A notice at the top (the outcome of the last action).
    pub notice: Option<String>,
    /// An error at the top (a refusal, as the API worded it).
    pub error: Option<String>,
}

impl Chrome {
    pub fn new(session: &Session, title_id: &str, here: &str) -> Chrome {
        let t = session.texts();
        let role = session.role();
        let links: &[(&'static str, &str)] = match role {
            Role::Admin => &[
                ("/desk", "console-nav-desk"),
                ("/desk/batch", "console-nav-batch"),
                ("/inspector", "console-nav-inspector"),
                ("/delegations", "console-nav-delegations"),
                ("/tokens", "console-nav-tokens"),
                ("/people", "console-nav-people"),
                ("/glance", "console-nav-glance"),
                ("/admin/appointments", "console-nav-appointments"),
                ("/admin/appointment-list", "console-nav-appointment-list"),
                ("/admin/schools", "console-nav-schools"),
                ("/admin/staff-keys", "console-nav-staff-keys"),
                ("/admin/audit", "console-nav-audit"),
            ],
            Role::Desk => &[
                ("/desk", "console-nav-desk"),
                ("/desk/batch", "console-nav-batch"),
                ("/tokens", "console-nav-tokens"),
                ("/people", "console-nav-people"),
                ("/glance", "console-nav-glance"),
            ],
            Role::Inspector => &[
                ("/inspector", "console-nav-inspector"),
                ("/delegations", "console-nav-delegations"),
                ("/people", "console-nav-people"),
                ("/glance", "console-nav-glance"),
            ],
            Role::Station => &[("/station", "console-nav-station")],
            Role::Gateway => &[],
        };
        Chrome {
            t,
            title: t.get(title_id),
            who: session
                .caller
                .api_key
                .person
                .clone()
                .unwrap_or_else(|| session.caller.api_key.name.clone()),
            role: t.get(&format!("console-role-{}", role.as_str())),
            csrf: session.csrf.clone(),
            nav: links
                .iter()
                .map(|(href, id)| NavLink {
                    href,
                    label: t.get(id),
                    current: *href == here,
                })
                .collect(),
            notice: None,
            error: None,
        }
    }

    pub fn refused(mut self, refusal: &Refusal) -> Chrome {
        self.error = Some(self.t.with("console-refusal", "why", &refusal.message));
        self
    }
}

/// Renders a template as an HTML answer (a 500 page if it cannot).
pub fn html(template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => Html(body).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "console: a template did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// `page` answered with the status of the refusal it shows (403, 404,
/// 409, 422 as the API answered), so clients and tests see the outcome.
pub fn refused_with(refusal: &Refusal, mut page: Response) -> Response {
    *page.status_mut() = refusal.status;
    page
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    t: &'a Texts,
    title: &'a str,
    text: &'a str,
}

/// A page with a title and one paragraph (refusals, expiry).
pub fn message_page(t: &Texts, title: &str, text: &str) -> Response {
    html(&MessagePage { t, title, text })
}

/// The stylesheet: screen, focus, and A4 print (slips).
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("console.css"),
    )
        .into_response()
}
