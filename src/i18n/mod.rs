//! The message catalogue: every text a person reads from keyward (CLI
//! messages, prompts, table headers, error messages, receipt labels and the
//! rules a holder signs), in French and English, and how times and dates are
//! shown to people.
//!
//! The texts are Project Fluent files (`fr.ftl`, `en.ftl` beside this file),
//! embedded in the binary: one `id = text` per message, `{ $name }` for an
//! argument, and Fluent's selectors where a language needs them (plurals).
//! Fluent (`fluent-bundle`) rather than a typed table in Rust because the
//! files are what a translator or a reviewer of the French reads and edits,
//! without touching code, and plural rules differ between the two languages
//! ("0 entrée" / "0 entries"). What a typed table would give at compile time
//! the tests give instead: both files hold the same ids with the same
//! arguments, and every id the code names exists (`tests` below).
//!
//! Pure: no file, clock or device is read; the caller names the language
//! (the CLI's `--lang`/`KEYWARD_LANG`, a receipt's `?lang=`) and the time zone
//! (the authority's, `time_zone` in `keyward.toml`).

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::domain::calendar::UnixTime;
use crate::domain::Date;

/// A language keyward speaks. French is the authority's; English is there
/// for everyone else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    /// The BCP 47 code (`fr`, `en`): HTML `lang`, the receipt route's `?lang=`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The catalogue's source text in this language.
    pub fn source(self) -> &'static str {
        match self {
            Lang::Fr => include_str!("fr.ftl"),
            Lang::En => include_str!("en.ftl"),
        }
    }
}

/// A value handed to a message: text, or a number (which plural rules read).
pub trait Arg {
    fn value(&self) -> FluentValue<'static>;
}

impl Arg for str {
    fn value(&self) -> FluentValue<'static> {
        FluentValue::from(self.to_owned())
    }
}

impl Arg for String {
    fn value(&self) -> FluentValue<'static> {
        FluentValue::from(self.clone())
    }
}

impl<T: Arg + ?Sized> Arg for &T {
    fn value(&self) -> FluentValue<'static> {
        (**self).value()
    }
}

macro_rules! number_args {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            fn value(&self) -> FluentValue<'static> {
                FluentValue::from(*self)
            }
        }
    )*};
}
number_args!(u8, u16, u32, u64, usize, i32, i64);

/// A message of the catalogue in `lang`, its arguments given by name:
/// `tr!(lang, "token-prepared", serial = serial, holder = holder)`.
#[macro_export]
macro_rules! tr {
    ($lang:expr, $id:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::i18n::text(
            $lang,
            $id,
            &[$((stringify!($name), $crate::i18n::Arg::value(&$value))),*],
        )
    };
}

type Bundle = FluentBundle<FluentResource>;

fn bundle(lang: Lang) -> &'static Bundle {
    static BUNDLES: OnceLock<[Bundle; 2]> = OnceLock::new();
    let [fr, en] = BUNDLES.get_or_init(|| Lang::ALL.map(build));
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

fn build(lang: Lang) -> Bundle {
    // The tests prove both files parse whole; a bad line would only lose
    // that message, never stop the program.
    let resource = FluentResource::try_new(lang.source().to_owned()).unwrap_or_else(|(r, _)| r);
    let id = lang
        .code()
        .parse()
        .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
    let mut bundle = Bundle::new_concurrent(vec![id]);
    // Terminals and receipts show the text as is: no bidi isolation marks.
    bundle.set_use_isolating(false);
    let _ = bundle.add_resource(resource);
    bundle
}

/// The text of message `id` in `lang` with `args`; the id itself if the
/// catalogue has no such message (the tests make sure it has).
pub fn text(lang: Lang, id: &str, args: &[(&str, FluentValue<'static>)]) -> String {
    let bundle = bundle(lang);
    let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
        return id.to_owned();
    };
    let mut fluent_args = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        fluent_args.set(*name, value.clone());
    }
    let mut errors = Vec::new();
    bundle
        .format_pattern(pattern, Some(&fluent_args), &mut errors)
        .into_owned()
}

/// Whether the catalogue has message `id` (for ids built at run time, such
/// as an error code's).
pub fn has(lang: Lang, id: &str) -> bool {
    bundle(lang).has_message(id)
}

/// [`text`] for an id built at run time, falling back to `fallback` when the
/// catalogue has no such message.
pub fn text_or(lang: Lang, id: &str, fallback: &str) -> String {
    if has(lang, id) {
        text(lang, id, &[])
    } else {
        fallback.to_owned()
    }
}

/// A Unix time as people read it: in `zone` (the authority's), in the
/// language's format, with the zone named, e.g. `30/11/2026 21:05
/// (America/Martinique)`.
pub fn date_time(lang: Lang, time: UnixTime, zone: &TimeZone) -> String {
    let stamp = i64::try_from(time)
        .ok()
        .and_then(|t| Timestamp::from_second(t).ok())
        .unwrap_or(Timestamp::MAX);
    let local = zone.to_datetime(stamp);
    let pattern = text(lang, "format-date-time", &[]);
    let shown =
        jiff::fmt::strtime::format(pattern.as_str(), local).unwrap_or_else(|_| local.to_string());
    let name = match zone.iana_name() {
        Some(name) => name.to_owned(),
        None => format!("UTC{}", zone.to_offset(stamp)),
    };
    format!("{shown} ({name})")
}

/// A day as people read it (`30/11/2026` in French).
pub fn date(lang: Lang, day: Date) -> String {
    let pattern = text(lang, "format-date", &[]);
    jiff::civil::Date::new(
        i16::try_from(day.year()).unwrap_or(9999),
        i8::try_from(day.month()).unwrap_or(1),
        i8::try_from(day.day()).unwrap_or(1),
    )
    .ok()
    .and_then(|d| jiff::fmt::strtime::format(pattern.as_str(), d).ok())
    .unwrap_or_else(|| day.to_string())
}

/// A day the API sent as `YYYY-MM-DD`, as people read it; anything else as
/// it came.
pub fn date_text(lang: Lang, text: &str) -> String {
    Date::parse(text).map_or_else(|_| text.to_owned(), |d| date(lang, d))
}

#[cfg(test)]
mod tests;
