//! Values the domain's unit tests write as text.
#![allow(clippy::unwrap_used)]

use super::{Date, MailAddress};

/// A day written `YYYY-MM-DD`.
pub(crate) fn date(text: &str) -> Date {
    Date::parse(text).unwrap()
}

/// A mail address.
pub(crate) fn mail(text: &str) -> MailAddress {
    MailAddress::parse(text).unwrap()
}
