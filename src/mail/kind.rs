//! What a help request is about, read from its subject and text when it is
//! clear: lost, stolen, broken or not working; anything else (no word, or
//! words of two kinds) is left for the desk to qualify.

use crate::domain::RevokeReason;

/// The kind of a help request read from mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Clear(RevokeReason),
    /// The desk decides (`keyward requests qualify`).
    ToQualify,
}

impl RequestKind {
    /// The value stored in `replacement_requests.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Clear(reason) => reason.as_str(),
            RequestKind::ToQualify => TO_QUALIFY,
        }
    }
}

/// The stored reason of a request the desk must still qualify.
pub const TO_QUALIFY: &str = "to-qualify";

/// Word stems per kind, matched at the start of a word in the folded
/// text (lower case, accents removed).
const WORDS: &[(RevokeReason, &[&str])] = &[
    (RevokeReason::Lost, &["perdu", "egare", "lost"]),
    (RevokeReason::Stolen, &["vole", "vol ", "stolen"]),
    (RevokeReason::Broken, &["casse", "brise", "broken"]),
    (
        RevokeReason::Faulty,
        &[
            "ne fonctionne plus",
            "fonctionne plus",
            "ne marche plus",
            "marche plus",
            "hors service",
            "en panne",
            "not working",
            "stopped working",
        ],
    ),
];

/// Reads the kind from the subject and the text.
pub fn detect(subject: &str, text: &str) -> RequestKind {
    let folded = fold(&format!("{subject}\n{text}"));
    let mut found = None;
    for (reason, stems) in WORDS {
        if stems.iter().any(|stem| has_word_start(&folded, stem)) {
            if found.is_some() {
                return RequestKind::ToQualify;
            }
            found = Some(*reason);
        }
    }
    found.map_or(RequestKind::ToQualify, RequestKind::Clear)
}

/// Lower case, accents removed, every other non-letter a space.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        out.push(c);
    }
    out.push(' ');
    out
}

fn has_word_start(folded: &str, stem: &str) -> bool {
    folded
        .match_indices(stem)
        .any(|(at, _)| at == 0 || folded[..at].ends_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_words_make_a_kind_and_the_rest_is_for_the_desk() {
        let cases = [
            ("Clé perdue", "", RequestKind::Clear(RevokeReason::Lost)),
            (
                "",
                "On m'a volé ma clé OTP",
                RequestKind::Clear(RevokeReason::Stolen),
            ),
            ("Clé VOLÉE", "", RequestKind::Clear(RevokeReason::Stolen)),
            (
                "",
                "La clé est cassée.",
                RequestKind::Clear(RevokeReason::Broken),
            ),
            (
                "Problème",
                "ma clé ne fonctionne plus depuis lundi",
                RequestKind::Clear(RevokeReason::Faulty),
            ),
            ("Bonjour", "pouvez-vous m'aider ?", RequestKind::ToQualify),
            ("Clé perdue ou volée", "", RequestKind::ToQualify),
            // "volontiers" is not "volé", "envol" is not "vol".
            ("", "je viendrai volontiers, envol", RequestKind::ToQualify),
        ];
        for (subject, text, kind) in cases {
            assert_eq!(detect(subject, text), kind, "{subject} / {text}");
        }
    }
}
