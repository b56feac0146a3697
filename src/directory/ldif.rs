//! LDIF (RFC 2849) content records, as a directory export or `slapcat`
//! writes them: bytes in, [`Entry`]s out, sans-io. Folded lines, `::`
//! base64 values and comments are read; change records, `:<` URL values and
//! anything else are refused with the line number, never guessed.

use super::snapshot::Entry;

/// Why an LDIF file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdifError {
    #[error("line {line}: {why}")]
    Line { line: usize, why: &'static str },
    #[error("the file is not UTF-8")]
    NotUtf8,
}

/// Largest LDIF accepted (a 50,000-person directory is about 40 MB).
pub const MAX_LDIF_BYTES: usize = 512 * 1024 * 1024;

/// Reads every entry of an LDIF file.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, LdifError> {
    let text = std::str::from_utf8(bytes).map_err(|_| LdifError::NotUtf8)?;
    // Unfold: a line starting with one space continues the previous one.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix(' ') {
            match lines.last_mut() {
                Some((_, last)) if !last.is_empty() => last.push_str(rest),
                _ => {
                    return Err(LdifError::Line {
                        line: index + 1,
                        why: "continuation line without a line to continue",
                    })
                }
            }
        } else {
            lines.push((index + 1, raw.to_owned()));
        }
    }
    let mut out = Vec::new();
    let mut current: Option<Entry> = None;
    for (line, text) in lines {
        let bad = |why| LdifError::Line { line, why };
        if text.is_empty() {
            out.extend(current.take());
            continue;
        }
        if text.starts_with('#') {
            continue;
        }
        let (name, value) = attribute(&text).map_err(bad)?;
        match current.as_mut() {
            None if name.eq_ignore_ascii_case("version") => {
                if value != "1" {
                    return Err(bad("only LDIF version 1 is read"));
                }
            }
            None if name.eq_ignore_ascii_case("dn") => current = Some(Entry::new(&value)),
            None => return Err(bad("an entry must start with dn:")),
            Some(_) if name.eq_ignore_ascii_case("changetype") => {
                if !value.eq_ignore_ascii_case("add") {
                    return Err(bad(
                        "change records are not an export: only entries are read",
                    ));
                }
            }
            Some(_) if name.eq_ignore_ascii_case("dn") => {
                return Err(bad("a new dn: needs a blank line before it"))
            }
            Some(entry) => entry.add(&name, value),
        }
    }
    out.extend(current);
    Ok(out)
}

/// `name: value`, `name:: base64` or `name;options: value`.
fn attribute(line: &str) -> Result<(String, String), &'static str> {
    let (name, rest) = line.split_once(':').ok_or("expected name: value")?;
    let name = name.split(';').next().unwrap_or_default();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err("bad attribute name");
    }
    let value = if let Some(encoded) = rest.strip_prefix(':') {
        let decoded = data_encoding::BASE64
            .decode(encoded.trim().as_bytes())
            .map_err(|_| "bad base64 value")?;
        String::from_utf8(decoded).map_err(|_| "base64 value is not UTF-8 text")?
    } else if rest.starts_with('<') {
        return Err("URL values are not read");
    } else {
        rest.strip_prefix(' ')
            .unwrap_or(rest)
            .trim_start_matches(' ')
            .to_owned()
    };
    Ok((name.to_owned(), value))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn entries_folds_and_base64() {
        let text = "version: 1\n# a comment\ndn: uid=adurand,ou=people,dc=ac,dc=fr\nuid: adurand\ncn:: QW5uZSBEdXJhbmTDqQ==\nFrEduRneResp: 0751710B$UAJ$PU\n $N$T3$LP$320\nFrEduRneResp: 0750001U$UAJ\n\n\ndn: ou=C01,ou=schools\r\nchangetype: add\r\ndescription: Paris 1\r\n";
        let entries = parse(text.as_bytes()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].first("CN"), Some("Anne Durandé"));
        assert_eq!(
            entries[0].values("frEduRneResp"),
            ["0751710B$UAJ$PU$N$T3$LP$320", "0750001U$UAJ"]
        );
        assert_eq!(entries[1].dn, "ou=C01,ou=schools");
        assert_eq!(entries[1].first("description"), Some("Paris 1"));
    }

    #[test]
    fn refusals_name_the_line() {
        for (text, line) in [
            (" folded\n", 1),
            ("uid: x\n", 1),
            ("dn: a\nchangetype: modify\n", 2),
            ("dn: a\nphoto:< file:///etc/passwd\n", 2),
            ("dn: a\ncn:: !!!\n", 2),
            ("dn: a\nnovalue\n", 2),
            ("dn: a\ndn: b\n", 2),
            ("version: 2\n", 1),
        ] {
            match parse(text.as_bytes()) {
                Err(LdifError::Line { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert_eq!(parse(&[0xff]), Err(LdifError::NotUtf8));
    }
}
