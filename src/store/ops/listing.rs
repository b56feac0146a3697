//! Paged, filtered and counted reads for lists too long to read whole (the
//! console's pages, `GET /v1/tokens` and `GET /v1/people` with `limit`):
//! the filter, the count and the page are SQL; the rows of the page are then
//! read through the same checked readers as one token or person (row MACs).
//! Scope is a district given by the caller's layer (an inspector's own); the
//! district of a token is that of the right it serves, as
//! [`Tx::district_of_token`] says, and that of a person is decided by
//! [`Tx::districts_of_person`] itself.

use std::collections::BTreeMap;

use rusqlite::types::Value;

use super::{corrupt, to_u64, Tx};
use crate::domain::{MailAddress, Person, PersonId, TokenInfo, TokenState};
use crate::store::StoreError;

/// One page of a longer list, and how many the whole list holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// A search of the tokens. Text filters match a part, ignoring ASCII case;
/// empty ones match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenQuery {
    /// Any of these states (all when empty).
    pub states: Vec<TokenState>,
    /// Bound to a holder of a right in this district.
    pub district: Option<String>,
    /// A part of the serial.
    pub serial: String,
    /// A part of the holder's login or full name.
    pub holder: String,
    /// A part of the UAI or name of the school of the right served.
    pub school: String,
    pub offset: u64,
    pub limit: u64,
}

/// A LIKE pattern matching `text` anywhere, with `\` as the escape.
pub(super) fn contains(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub(super) fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The tokens' FROM and WHERE for a query, and its parameters (`?N`).
fn token_where(q: &TokenQuery) -> (String, Vec<Value>) {
    let mut sql = String::from(
        " FROM tokens t LEFT JOIN rights r ON r.id = t.right_id
          LEFT JOIN schools s ON s.uai = r.school
          LEFT JOIN people p ON p.id = t.holder WHERE 1",
    );
    let mut args = Vec::new();
    let mut arg = |v: String| {
        args.push(Value::Text(v));
        format!("?{}", args.len())
    };
    if !q.states.is_empty() {
        let marks: Vec<String> = q
            .states
            .iter()
            .map(|s| arg(s.as_str().to_owned()))
            .collect();
        sql.push_str(&format!(" AND t.state IN ({})", marks.join(",")));
    }
    if let Some(district) = &q.district {
        let d = arg(district.clone());
        sql.push_str(&format!(" AND t.holder IS NOT NULL AND s.district = {d}"));
    }
    if !q.serial.trim().is_empty() {
        let n = arg(contains(&q.serial));
        sql.push_str(&format!(" AND t.serial LIKE {n} ESCAPE '\\'"));
    }
    if !q.holder.trim().is_empty() {
        let n = arg(contains(&q.holder));
        sql.push_str(&format!(
            " AND (t.holder LIKE {n} ESCAPE '\\' OR p.full_name LIKE {n} ESCAPE '\\')"
        ));
    }
    if !q.school.trim().is_empty() {
        let n = arg(contains(&q.school));
        sql.push_str(&format!(
            " AND t.holder IS NOT NULL AND (s.uai LIKE {n} ESCAPE '\\' OR s.name LIKE {n} ESCAPE '\\')"
        ));
    }
    (sql, args)
}

impl Tx<'_> {
    /// One page of the tokens a query matches, in serial order, and how many
    /// match in all.
    pub fn token_page(&self, q: &TokenQuery) -> Result<Page<TokenInfo>, StoreError> {
        let (from, mut args) = token_where(q);
        let total: i64 = self
            .db
            .prepare_cached(&format!("SELECT COUNT(*){from}"))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
        let at = args.len();
        args.push(Value::Integer(to_sql_int(q.limit)));
        args.push(Value::Integer(to_sql_int(q.offset)));
        let sql = format!(
            "SELECT t.serial{from} ORDER BY t.serial LIMIT ?{} OFFSET ?{}",
            at + 1,
            at + 2
        );
        let serials: Vec<String> = self
            .db
            .prepare_cached(&sql)?
            .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let items = serials
            .iter()
            .map(|s| self.token(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            total: to_u64(total, "count")?,
        })
    }

    /// How many tokens are in each state (every state, in
    /// [`TokenState::ALL`]'s order), per district of the right they serve
    /// (`""` for tokens bound to no one), one `GROUP BY`. An inspector's
    /// caller passes their district.
    pub fn token_counts(
        &self,
        district: Option<&str>,
    ) -> Result<BTreeMap<String, Vec<(TokenState, u64)>>, StoreError> {
        let mut stmt = self.db.prepare_cached(
            "SELECT CASE WHEN t.holder IS NULL THEN '' ELSE COALESCE(s.district, '') END AS d,
                    t.state, COUNT(*)
             FROM tokens t LEFT JOIN rights r ON r.id = t.right_id
             LEFT JOIN schools s ON s.uai = r.school
             GROUP BY d, t.state",
        )?;
        let rows: Vec<(String, String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut out: BTreeMap<String, Vec<(TokenState, u64)>> = BTreeMap::new();
        for (d, state, n) in rows {
            if district.is_some_and(|wanted| wanted != d) {
                continue;
            }
            let state = TokenState::parse(&state)?;
            let n = to_u64(n, "count")?;
            let counts = out
                .entry(d)
                .or_insert_with(|| TokenState::ALL.iter().map(|s| (*s, 0)).collect());
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == state) {
                slot.1 = n;
            }
        }
        Ok(out)
    }

    /// One page of the people whose login or full name holds `q` (and, if
    /// `school` is not empty, with a right at a school whose UAI or name
    /// holds it; with `left`, only those whose departure is or is not
    /// recorded), in login order, and how many match. With a district, only people who belong to
    /// it by [`Tx::districts_of_person`]: the candidates (anyone with a right
    /// at one of its schools) come from SQL, the rule decides.
    pub fn people_page(
        &self,
        q: &str,
        school: &str,
        left: Option<bool>,
        district: Option<&str>,
        (offset, limit): (u64, u64),
    ) -> Result<Page<Person>, StoreError> {
        let pattern = contains(q);
        let school = contains(school);
        let ids: Vec<String>;
        let total: u64;
        match district {
            None => {
                let n: i64 = self
                    .db
                    .prepare_cached(
                        "SELECT COUNT(*) FROM people
                         WHERE (id LIKE ?1 ESCAPE '\\' OR full_name LIKE ?1 ESCAPE '\\')
                           AND (?2 = '%%' OR EXISTS (SELECT 1 FROM rights x
                                JOIN schools y ON y.uai = x.school WHERE x.person = people.id
                                AND (y.uai LIKE ?2 ESCAPE '\\' OR y.name LIKE ?2 ESCAPE '\\')))
                           AND (?3 IS NULL OR (left_at IS NOT NULL) = ?3)",
                    )?
                    .query_row(rusqlite::params![pattern, school, left], |r| r.get(0))?;
                total = to_u64(n, "count")?;
                ids = self
                    .db
                    .prepare_cached(
                        "SELECT id FROM people
                         WHERE (id LIKE ?1 ESCAPE '\\' OR full_name LIKE ?1 ESCAPE '\\')
                           AND (?4 = '%%' OR EXISTS (SELECT 1 FROM rights x
                                JOIN schools y ON y.uai = x.school WHERE x.person = people.id
                                AND (y.uai LIKE ?4 ESCAPE '\\' OR y.name LIKE ?4 ESCAPE '\\')))
                           AND (?5 IS NULL OR (left_at IS NOT NULL) = ?5)
                         ORDER BY id LIMIT ?2 OFFSET ?3",
                    )?
                    .query_map(
                        rusqlite::params![
                            pattern,
                            to_sql_int(limit),
                            to_sql_int(offset),
                            school,
                            left
                        ],
                        |r| r.get(0),
                    )?
                    .collect::<Result<_, _>>()?;
            }
            Some(wanted) => {
                let candidates: Vec<String> = self
                    .db
                    .prepare_cached(
                        "SELECT DISTINCT p.id FROM people p
                         JOIN rights r ON r.person = p.id JOIN schools s ON s.uai = r.school
                         WHERE s.district = ?1
                           AND (p.id LIKE ?2 ESCAPE '\\' OR p.full_name LIKE ?2 ESCAPE '\\')
                           AND (s.uai LIKE ?3 ESCAPE '\\' OR s.name LIKE ?3 ESCAPE '\\')
                           AND (?4 IS NULL OR (p.left_at IS NOT NULL) = ?4)
                         ORDER BY p.id",
                    )?
                    .query_map(
                        rusqlite::params![wanted, pattern.as_str(), school.as_str(), left],
                        |r| r.get(0),
                    )?
                    .collect::<Result<_, _>>()?;
                let mut theirs = Vec::new();
                for id in candidates {
                    let person = PersonId::parse(&id).map_err(corrupt("person id"))?;
                    if self
                        .districts_of_person(&person)?
                        .iter()
                        .any(|d| d == wanted)
                    {
                        theirs.push(id);
                    }
                }
                total = theirs.len() as u64;
                ids = theirs
                    .into_iter()
                    .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .collect();
            }
        }
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            self.check_row("people", &id)?;
            let (full_name, mail): (String, String) = self
                .db
                .prepare_cached("SELECT full_name, mail FROM people WHERE id = ?1")?
                .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            items.push(Person {
                id: PersonId::parse(&id).map_err(corrupt("person id"))?,
                full_name,
                mail: MailAddress::parse(&mail).map_err(corrupt("mail address"))?,
            });
        }
        Ok(Page { items, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains(" a_b%c\\ "), "%a\\_b\\%c\\\\%");
        assert_eq!(contains(""), "%%");
    }

    #[test]
    fn a_filter_used_twice_is_one_numbered_parameter() {
        let q = TokenQuery {
            states: vec![TokenState::Active, TokenState::Prepared],
            district: Some("D1".into()),
            serial: "12".into(),
            holder: "dupont".into(),
            school: "école".into(),
            ..TokenQuery::default()
        };
        let (sql, args) = token_where(&q);
        assert_eq!(args.len(), 6);
        assert!(sql.contains("t.state IN (?1,?2)"), "{sql}");
        assert!(sql.contains("s.district = ?3"), "{sql}");
        assert!(sql.contains("t.serial LIKE ?4"), "{sql}");
        assert!(
            sql.contains("t.holder LIKE ?5 ESCAPE '\\' OR p.full_name LIKE ?5"),
            "{sql}"
        );
        assert!(
            sql.contains("s.uai LIKE ?6 ESCAPE '\\' OR s.name LIKE ?6"),
            "{sql}"
        );
    }
}
