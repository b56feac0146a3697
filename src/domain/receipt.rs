//! Handover and return receipts ("bordereaux"): content, canonical bytes,
//! and the printable renderings in French and English.
//!
//! The signed form is language-independent: `key=value` lines in a fixed
//! order under a version header, with the acknowledged rules as identifiers.
//! An exported receipt is those bytes followed by one `signature=` line, so a
//! printed page (which shows the block verbatim) can be checked offline.

use std::fmt::Write as _;

use jiff::tz::TimeZone;

use super::calendar::{rfc3339, UnixTime};
use super::DomainError;
use crate::i18n::date_time;

pub const HEADER: &str = "keyward-receipt-v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Handover,
    Return,
}

impl ReceiptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Handover => "handover",
            ReceiptKind::Return => "return",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match text {
            "handover" => Ok(ReceiptKind::Handover),
            "return" => Ok(ReceiptKind::Return),
            _ => Err(DomainError::BadReceipt("unknown kind")),
        }
    }

    /// The rules the holder acknowledges by signing.
    pub fn rules(self) -> &'static [Rule] {
        match self {
            ReceiptKind::Handover => &[
                Rule::Personal,
                Rule::KeepWhileDirector,
                Rule::ReturnOnLeaving,
                Rule::HelpFromPersonalAddress,
                Rule::PinIsSecret,
            ],
            ReceiptKind::Return => &[Rule::ReturnedKeyRevoked, Rule::ForwardedToItCentre],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Personal,
    KeepWhileDirector,
    ReturnOnLeaving,
    HelpFromPersonalAddress,
    PinIsSecret,
    ReturnedKeyRevoked,
    ForwardedToItCentre,
}

impl Rule {
    pub fn id(self) -> &'static str {
        match self {
            Rule::Personal => "personal-not-transferable",
            Rule::KeepWhileDirector => "kept-while-director",
            Rule::ReturnOnLeaving => "returned-on-leaving",
            Rule::HelpFromPersonalAddress => "help-from-personal-address",
            Rule::PinIsSecret => "pin-is-secret",
            Rule::ReturnedKeyRevoked => "returned-key-revoked",
            Rule::ForwardedToItCentre => "forwarded-to-it-centre",
        }
    }

    /// What the holder reads: the catalogue's `rule-<id>` message.
    pub fn text(self, lang: Lang) -> String {
        crate::i18n::text(lang, &format!("rule-{}", self.id()), &[])
    }
}

/// The language a receipt is printed in (the catalogue's).
pub use crate::i18n::Lang;

/// What a receipt says. Every text field is one line of printable text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptContent {
    pub number: u64,
    pub kind: ReceiptKind,
    pub token_serial: String,
    pub holder_id: String,
    pub holder_name: String,
    pub counterparty_id: String,
    pub counterparty_name: String,
    pub district: String,
    pub place: String,
    pub time: UnixTime,
    pub reason: String,
    /// Hex fingerprint of the signing key, so a reader knows which key to use.
    pub key_id: String,
}

fn check_field(name: &'static str, value: &str, required: bool) -> Result<(), DomainError> {
    if required && value.trim().is_empty() {
        return Err(DomainError::MissingReceiptField(name));
    }
    if value.len() > 512 || value.chars().any(char::is_control) {
        return Err(DomainError::BadReceipt(
            "a field holds control characters or is too long",
        ));
    }
    Ok(())
}

impl ReceiptContent {
    /// Refuses a receipt with a missing party, place or token, or with text
    /// that could forge a line of the signed form.
    pub fn validate(&self) -> Result<(), DomainError> {
        check_field("token", &self.token_serial, true)?;
        check_field("holder", &self.holder_id, true)?;
        check_field("holder name", &self.holder_name, true)?;
        check_field("counter-party", &self.counterparty_id, true)?;
        check_field("counter-party name", &self.counterparty_name, true)?;
        check_field("district", &self.district, false)?;
        check_field("place", &self.place, true)?;
        check_field("reason", &self.reason, self.kind == ReceiptKind::Return)?;
        check_field("key", &self.key_id, true)
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        let rules: Vec<&str> = self.kind.rules().iter().map(|r| r.id()).collect();
        vec![
            ("number", self.number.to_string()),
            ("kind", self.kind.as_str().to_owned()),
            ("token", self.token_serial.clone()),
            ("holder", self.holder_id.clone()),
            ("holder_name", self.holder_name.clone()),
            ("counterparty", self.counterparty_id.clone()),
            ("counterparty_name", self.counterparty_name.clone()),
            ("district", self.district.clone()),
            ("place", self.place.clone()),
            ("time", rfc3339(self.time)),
            ("unix_time", self.time.to_string()),
            ("reason", self.reason.clone()),
            ("rules", rules.join(",")),
            ("key", self.key_id.clone()),
        ]
    }

    /// The bytes the signature covers.
    pub fn canonical(&self) -> Result<String, DomainError> {
        self.validate()?;
        let mut out = String::from(HEADER);
        out.push('\n');
        for (key, value) in self.fields() {
            let _ = writeln!(out, "{key}={value}");
        }
        Ok(out)
    }
}

/// A receipt with its signature, as exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedReceipt {
    pub content: ReceiptContent,
    pub canonical: String,
    pub signature: Vec<u8>,
}

impl SignedReceipt {
    pub fn export(&self) -> String {
        format!(
            "{}signature={}\n",
            self.canonical,
            data_encoding::BASE64.encode(&self.signature)
        )
    }

    /// Splits an exported receipt into its content, signed bytes and
    /// signature. Checking the signature is the caller's (crypto) job.
    pub fn parse(exported: &str) -> Result<Self, DomainError> {
        let bad = DomainError::BadReceipt;
        let body = exported.trim_end_matches(['\n', '\r']);
        let (canonical_part, sig_line) =
            body.rsplit_once('\n').ok_or(bad("not a keyward receipt"))?;
        let sig_b64 = sig_line
            .strip_prefix("signature=")
            .ok_or(bad("missing signature line"))?;
        let signature = data_encoding::BASE64
            .decode(sig_b64.trim().as_bytes())
            .map_err(|_| bad("signature is not base64"))?;
        let canonical = format!("{canonical_part}\n");
        let mut lines = canonical_part.lines();
        if lines.next() != Some(HEADER) {
            return Err(bad("unknown receipt version"));
        }
        let mut map = std::collections::HashMap::new();
        for line in lines {
            let (k, v) = line.split_once('=').ok_or(bad("malformed line"))?;
            if map.insert(k.to_owned(), v.to_owned()).is_some() {
                return Err(bad("duplicate field"));
            }
        }
        let mut take = |k: &'static str| map.remove(k).ok_or(DomainError::MissingReceiptField(k));
        let content = ReceiptContent {
            number: take("number")?.parse().map_err(|_| bad("number"))?,
            kind: ReceiptKind::parse(&take("kind")?)?,
            token_serial: take("token")?,
            holder_id: take("holder")?,
            holder_name: take("holder_name")?,
            counterparty_id: take("counterparty")?,
            counterparty_name: take("counterparty_name")?,
            district: take("district")?,
            place: take("place")?,
            time: take("unix_time")?.parse().map_err(|_| bad("unix_time"))?,
            reason: take("reason")?,
            key_id: take("key")?,
        };
        // The signed bytes must be exactly what we would produce: no field
        // added, dropped, reordered or reformatted.
        if content.canonical()? != canonical {
            return Err(bad("fields are not in canonical form"));
        }
        Ok(SignedReceipt {
            content,
            canonical,
            signature,
        })
    }

    /// The printable text: the labels in `lang`, the time in `zone` (the
    /// authority's), then the signed block verbatim.
    pub fn render_text(&self, lang: Lang, zone: &TimeZone) -> String {
        let c = &self.content;
        let l = Labels::of(c.kind, lang);
        let mut out = String::new();
        let _ = writeln!(out, "{}", l.title(c.number));
        let _ = writeln!(out);
        for (label, value) in self.rows(&l, lang, zone) {
            let line = crate::tr!(lang, "receipt-line", label = label, value = value);
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", l.rules);
        for rule in c.kind.rules() {
            let _ = writeln!(out, "  - {}", rule.text(lang));
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", l.signatures);
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", l.check);
        out.push_str(&self.export());
        out
    }

    /// The label and value lines of a printed receipt.
    fn rows(&self, l: &Labels, lang: Lang, zone: &TimeZone) -> Vec<(String, String)> {
        let c = &self.content;
        let mut rows = vec![
            (l.token.clone(), c.token_serial.clone()),
            (
                l.holder.clone(),
                format!("{} ({})", c.holder_name, c.holder_id),
            ),
            (
                l.counterparty.clone(),
                format!("{} ({})", c.counterparty_name, c.counterparty_id),
            ),
            (l.district.clone(), c.district.clone()),
            (l.place.clone(), c.place.clone()),
            (l.time.clone(), date_time(lang, c.time, zone)),
        ];
        if !c.reason.is_empty() {
            rows.push((l.reason.clone(), c.reason.clone()));
        }
        rows
    }

    /// The printable HTML page (see [`SignedReceipt::render_text`]).
    pub fn render_html(&self, lang: Lang, zone: &TimeZone) -> String {
        let c = &self.content;
        let l = Labels::of(c.kind, lang);
        let e = escape_html;
        let mut rows = String::new();
        for (label, value) in self.rows(&l, lang, zone) {
            let _ = writeln!(
                rows,
                "<tr><th>{}</th><td>{}</td></tr>",
                e(&label),
                e(&value)
            );
        }
        let rules: String = c
            .kind
            .rules()
            .iter()
            .map(|r| format!("<li>{}</li>\n", e(&r.text(lang))))
            .collect();
        format!(
            "<!DOCTYPE html>\n<html lang=\"{lang_code}\">\n<head><meta charset=\"utf-8\"><title>{heading}</title>\n\
<style>body{{font-family:sans-serif;max-width:42em;margin:2em auto}}th{{text-align:left;padding-right:1em}}\
pre{{font-size:.75em;white-space:pre-wrap;border:1px solid #999;padding:.5em}}.sig{{height:5em;border-bottom:1px solid #000}}\
@media print{{.noprint{{display:none}}}}</style></head>\n<body>\n<h1>{heading}</h1>\n<table>\n{rows}</table>\n\
<h2>{rules_label}</h2>\n<ul>\n{rules}</ul>\n<p>{signatures}</p>\n<div class=\"sig\"></div>\n<p>{check}</p>\n<pre>{export}</pre>\n</body>\n</html>\n",
            lang_code = lang.code(),
            heading = e(&l.title(c.number)),
            rules_label = e(&l.rules),
            signatures = e(&l.signatures),
            check = e(&l.check),
            export = e(&self.export()),
        )
    }
}

/// A receipt's labels in one language, from the catalogue.
struct Labels {
    lang: Lang,
    title: String,
    token: String,
    holder: String,
    counterparty: String,
    district: String,
    place: String,
    time: String,
    reason: String,
    rules: String,
    signatures: String,
    check: String,
}

impl Labels {
    fn of(kind: ReceiptKind, lang: Lang) -> Labels {
        let t = |id: &str| crate::i18n::text(lang, id, &[]);
        let (title, counterparty) = match kind {
            ReceiptKind::Handover => ("receipt-title-handover", "receipt-counterparty-handover"),
            ReceiptKind::Return => ("receipt-title-return", "receipt-counterparty-return"),
        };
        Labels {
            lang,
            title: t(title),
            token: t("receipt-token"),
            holder: t("receipt-holder"),
            counterparty: t(counterparty),
            district: t("receipt-district"),
            place: t("receipt-place"),
            time: t("receipt-time"),
            reason: t("receipt-reason"),
            rules: t("receipt-rules"),
            signatures: t("receipt-signatures"),
            check: t("receipt-check"),
        }
    }

    /// The heading: the title and the receipt's number.
    fn title(&self, number: u64) -> String {
        crate::tr!(
            self.lang,
            "receipt-number",
            title = self.title,
            number = number
        )
    }
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> ReceiptContent {
        ReceiptContent {
            number: 7,
            kind: ReceiptKind::Handover,
            token_serial: "VT-0001".into(),
            holder_id: "jdupont".into(),
            holder_name: "Jeanne Dupont".into(),
            counterparty_id: "pmartin".into(),
            counterparty_name: "Paul <Martin>".into(),
            district: "PARIS-5".into(),
            place: "Central office".into(),
            time: 1_787_220_000,
            reason: String::new(),
            key_id: "00ff".into(),
        }
    }

    #[test]
    fn export_parses_back_exactly() {
        let content = sample();
        let signed = SignedReceipt {
            canonical: content.canonical().unwrap(),
            content,
            signature: vec![1, 2, 3],
        };
        let parsed = SignedReceipt::parse(&signed.export()).unwrap();
        assert_eq!(parsed, signed);
        // A printed page carries the block verbatim (HTML-escaped in HTML).
        let utc = &TimeZone::UTC;
        assert!(signed.render_text(Lang::Fr, utc).contains(&signed.export()));
        let html = signed.render_html(Lang::En, utc);
        assert!(html.contains("Paul &lt;Martin&gt;"));
        assert!(!html.contains("<Martin>"));
    }

    #[test]
    fn refuses_injected_lines_and_missing_fields() {
        let mut c = sample();
        c.place = "x\nholder=someone".into();
        assert!(matches!(c.canonical(), Err(DomainError::BadReceipt(_))));
        let mut c = sample();
        c.place = "  ".into();
        assert_eq!(
            c.canonical(),
            Err(DomainError::MissingReceiptField("place"))
        );
        let signed = SignedReceipt {
            canonical: sample().canonical().unwrap(),
            content: sample(),
            signature: vec![1],
        };
        let tampered = signed.export().replace("number=7\n", "number=7\nextra=1\n");
        assert!(SignedReceipt::parse(&tampered).is_err());
    }

    #[test]
    fn printed_receipts_show_the_authority_time_and_the_right_command() {
        let mut content = sample();
        // 2026-12-01T01:05:00Z: the evening before in Martinique.
        content.time = 1_796_087_100;
        let signed = SignedReceipt {
            canonical: content.canonical().unwrap(),
            content,
            signature: vec![1],
        };
        let zone = TimeZone::get("America/Martinique").unwrap();
        let fr = signed.render_text(Lang::Fr, &zone);
        assert!(
            fr.contains("Date et heure : 30/11/2026 21:05 (America/Martinique)"),
            "{fr}"
        );
        assert!(fr.contains("« keyward receipts verify »"), "{fr}");
        assert!(
            !fr.contains("(UTC)") && !fr.contains("receipt verify"),
            "{fr}"
        );
        let en = signed.render_html(Lang::En, &zone);
        assert!(en.contains("2026-11-30 21:05 (America/Martinique)"), "{en}");
        assert!(en.contains("&quot;keyward receipts verify&quot;"), "{en}");
        // Every rule a receipt names has its text in both languages.
        for kind in [ReceiptKind::Handover, ReceiptKind::Return] {
            for rule in kind.rules() {
                for lang in Lang::ALL {
                    assert_ne!(rule.text(lang), format!("rule-{}", rule.id()));
                }
            }
        }
    }
}
