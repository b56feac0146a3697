//! A help request's message, parsed sans-io: the headers that decide
//! (Message-ID, From, Cc, Authentication-Results, DKIM-Signature), the
//! subject and the text of the body, whatever charset or RFC 2047 encoding
//! they came in. A message over the configured size is refused before it is
//! parsed; the I/O shells read at most one byte past that size.

use mail_parser::{Address, MessageParser};

use crate::domain::MailAddress;

/// The largest message accepted unless configured otherwise (10 MiB).
pub const DEFAULT_MAX_BYTES: usize = 10 * 1024 * 1024;

/// The first bytes of the body's text kept for kind detection.
const MAX_TEXT_CHARS: usize = 8 * 1024;

/// Why a message could not be read as a help request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the message is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the message has no header section")]
    NotAMessage,
    #[error("the message has no Message-ID")]
    NoMessageId,
    #[error("the message has no From address")]
    NoFrom,
    #[error("the message has more than one From address")]
    SeveralFrom,
    #[error("the From address is not a valid mail address")]
    BadFrom,
}

/// What the rules and the kind detection need of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelpMessage {
    /// Without angle brackets, as the sender's system wrote it.
    pub message_id: String,
    pub from: MailAddress,
    /// The Cc addresses that are valid mail addresses (others cannot be
    /// the inspector).
    pub cc: Vec<MailAddress>,
    pub subject: String,
    /// The first text part, cut at a few thousand characters.
    pub text: String,
    /// The values of every `Authentication-Results` header, top first.
    pub auth_results: Vec<String>,
}

/// Parses `raw` unless it is larger than `max_bytes`.
pub fn parse(raw: &[u8], max_bytes: usize) -> Result<HelpMessage, ParseError> {
    if raw.len() > max_bytes {
        return Err(ParseError::TooLarge { limit: max_bytes });
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NotAMessage)?;
    if message.headers().is_empty() {
        return Err(ParseError::NotAMessage);
    }
    let message_id = message
        .message_id()
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 998)
        .ok_or(ParseError::NoMessageId)?
        .to_owned();
    let from = single_from(message.from())?;
    let cc = message
        .all_cc()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .filter_map(|a| MailAddress::parse(a).ok())
        .collect();
    let subject = message.subject().unwrap_or_default().to_owned();
    let text: String = message
        .body_text(0)
        .map(|t| t.chars().take(MAX_TEXT_CHARS).collect())
        .unwrap_or_default();
    let auth_results = message
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .map(|(_, value)| value.trim().to_owned())
        .collect();
    Ok(HelpMessage {
        message_id,
        from,
        cc,
        subject,
        text,
        auth_results,
    })
}

fn single_from(from: Option<&Address<'_>>) -> Result<MailAddress, ParseError> {
    let from = from.ok_or(ParseError::NoFrom)?;
    let mut addresses = from.iter();
    let first = addresses.next().ok_or(ParseError::NoFrom)?;
    if addresses.next().is_some() {
        return Err(ParseError::SeveralFrom);
    }
    let address = first.address().ok_or(ParseError::NoFrom)?;
    MailAddress::parse(address).map_err(|_| ParseError::BadFrom)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &[u8] = b"From: Jeanne Dupont <Jeanne.Dupont@ac-exemple.fr>\r\n\
To: assistance@ac-exemple.fr\r\n\
Cc: Paul Martin <paul.martin@ac-exemple.fr>, not an address\r\n\
Subject: =?ISO-8859-1?Q?Cl=E9_perdue?=\r\n\
Message-ID: <abc@ac-exemple.fr>\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
J'ai perdu ma cl\xe9.\r\n";

    #[test]
    fn reads_encoded_headers_and_latin1_bodies() -> Result<(), ParseError> {
        let m = parse(PLAIN, DEFAULT_MAX_BYTES)?;
        assert_eq!(m.message_id, "abc@ac-exemple.fr");
        assert_eq!(m.from.as_str(), "jeanne.dupont@ac-exemple.fr");
        assert_eq!(m.cc.len(), 1);
        assert_eq!(m.subject, "Clé perdue");
        assert!(m.text.contains("perdu ma clé"), "{}", m.text);
        Ok(())
    }

    #[test]
    fn refuses_what_is_not_a_request() {
        assert_eq!(parse(PLAIN, 10), Err(ParseError::TooLarge { limit: 10 }));
        assert_eq!(parse(b"", 100), Err(ParseError::NotAMessage));
        let no_id = b"From: a.b@ac-exemple.fr\r\n\r\nx";
        assert_eq!(parse(no_id, 100), Err(ParseError::NoMessageId));
        let two = b"From: a.b@x.fr, c.d@x.fr\r\nMessage-ID: <1@x>\r\n\r\nx";
        assert_eq!(parse(two, 100), Err(ParseError::SeveralFrom));
        let none = b"Message-ID: <1@x>\r\nSubject: s\r\n\r\nx";
        assert_eq!(parse(none, 100), Err(ParseError::NoFrom));
    }
}
