//! The directory's CSV export: a header line naming the attributes
//! (`dn;uid;cn;mail;FrEduFonctAdm;FrEduRneResp;…`), `;` between fields,
//! `"` quoting (`""` inside), several values of one attribute on separate
//! lines of one quoted field. Each row becomes an [`Entry`]; a row without
//! a `dn` column gets `uid=<uid>,<base>`. Sans-io.

use super::snapshot::Entry;

/// Why a CSV file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("row {row}: {why}")]
    Row { row: usize, why: &'static str },
    #[error("the file is not UTF-8")]
    NotUtf8,
}

/// Reads the rows of a CSV export; `key` names the attribute that makes a
/// DN under `base` when the file has no `dn` column.
pub fn parse(bytes: &[u8], key: &str, base: &str) -> Result<Vec<Entry>, CsvError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CsvError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows = records(text)?;
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Ok(Vec::new());
    };
    if header.iter().any(|h| h.trim().is_empty()) {
        return Err(CsvError::Row {
            row: 1,
            why: "an empty column name",
        });
    }
    let mut out = Vec::new();
    for (row, fields) in rows {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if fields.len() != header.len() {
            return Err(CsvError::Row {
                row,
                why: "not as many fields as the header",
            });
        }
        let mut entry = Entry::default();
        for (name, field) in header.iter().zip(&fields) {
            let name = name.trim();
            if name.eq_ignore_ascii_case("dn") {
                entry.dn = field.trim().to_owned();
                continue;
            }
            for value in field.split('\n').map(|v| v.trim_end_matches('\r').trim()) {
                if !value.is_empty() {
                    entry.add(name, value);
                }
            }
        }
        if entry.dn.is_empty() {
            let Some(k) = entry.first(key) else {
                return Err(CsvError::Row {
                    row,
                    why: "neither a dn nor the key attribute",
                });
            };
            entry.dn = format!("{key}={k},{base}");
        }
        out.push(entry);
    }
    Ok(out)
}

/// The rows, each with its first line number.
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' => {
                return Err(CsvError::Row {
                    row: start,
                    why: "a quote inside an unquoted field",
                })
            }
            '\n' if quoted => {
                line += 1;
                field.push('\n');
            }
            ';' if !quoted => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\n' => {
                fields.push(std::mem::take(&mut field));
                let f = std::mem::take(&mut fields);
                let f = f
                    .into_iter()
                    .map(|s| s.trim_end_matches('\r').to_owned())
                    .collect();
                out.push((start, f));
                line += 1;
                start = line;
                was_quoted = false;
            }
            _ if was_quoted && !quoted && c != '\r' => {
                return Err(CsvError::Row {
                    row: start,
                    why: "text after a closing quote",
                })
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(CsvError::Row {
            row: start,
            why: "a quoted field is not closed",
        });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start, fields));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn rows_quotes_and_values() {
        let text = "uid;cn;mail;FrEduFonctAdm;FrEduRneResp\r\nadurand;\"Durand; Anne\";anne.durand@ac-exemple.fr;DIR;\"0751710B$UAJ\n0750001U$UAJ\"\r\n\nbmartin;\"Bé \"\"B\"\"\";b@ac-exemple.fr;IEN1D;\n";
        let rows = parse(text.as_bytes(), "uid", "ou=people,dc=x").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].dn, "uid=adurand,ou=people,dc=x");
        assert_eq!(rows[0].first("cn"), Some("Durand; Anne"));
        assert_eq!(rows[0].values("FrEduRneResp").len(), 2);
        assert_eq!(rows[1].first("cn"), Some("Bé \"B\""));
        assert!(rows[1].values("FrEduRneResp").is_empty());
    }

    #[test]
    fn refusals_name_the_row() {
        for (text, row) in [
            ("uid;cn\na;b;c\n", 2),
            ("uid;cn\n\"a;b\n", 2),
            ("uid;cn\na\"b;c\n", 2),
            ("uid;cn\n\"a\"b;c\n", 2),
            ("cn;mail\nx;y\n", 2),
            (";cn\n", 1),
        ] {
            match parse(text.as_bytes(), "uid", "dc=x") {
                Err(CsvError::Row { row: r, .. }) => assert_eq!(r, row, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
