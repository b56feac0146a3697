//! The audit searched (the admin's audit page and `GET /v1/audit`): by
//! action (its beginning: `token.` finds every token action), subject and
//! actor (a part), and a range of instants; newest first, paged in SQL with
//! the count of all matches. Reading it changes nothing; the chain is
//! checked by `GET /v1/audit/verify`.

use rusqlite::types::Value;

use super::listing::{contains, to_sql_int, Page};
use super::{to_u64, Tx};
use crate::domain::UnixTime;
use crate::store::StoreError;

/// A search of the audit; empty texts match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// The beginning of the action.
    pub action: String,
    /// A part of the subject.
    pub subject: String,
    /// A part of the actor.
    pub actor: String,
    /// At or after this instant.
    pub from: Option<UnixTime>,
    /// Before this instant.
    pub before: Option<UnixTime>,
    pub offset: u64,
    pub limit: u64,
}

/// One audit entry as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub at: UnixTime,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

fn audit_where(q: &AuditQuery) -> (String, Vec<Value>) {
    let mut sql = String::from(" FROM audit WHERE 1");
    let mut args = Vec::new();
    let mut arg = |v: Value| {
        args.push(v);
        format!("?{}", args.len())
    };
    if !q.action.trim().is_empty() {
        let mut pattern = contains(&q.action);
        pattern.remove(0);
        let n = arg(Value::Text(pattern));
        sql.push_str(&format!(" AND action LIKE {n} ESCAPE '\\'"));
    }
    if !q.subject.trim().is_empty() {
        let n = arg(Value::Text(contains(&q.subject)));
        sql.push_str(&format!(" AND subject LIKE {n} ESCAPE '\\'"));
    }
    if !q.actor.trim().is_empty() {
        let n = arg(Value::Text(contains(&q.actor)));
        sql.push_str(&format!(" AND actor LIKE {n} ESCAPE '\\'"));
    }
    if let Some(from) = q.from {
        let n = arg(Value::Integer(to_sql_int(from)));
        sql.push_str(&format!(" AND at >= {n}"));
    }
    if let Some(before) = q.before {
        let n = arg(Value::Integer(to_sql_int(before)));
        sql.push_str(&format!(" AND at < {n}"));
    }
    (sql, args)
}

impl Tx<'_> {
    /// One page of the audit entries a query matches, newest first, and how
    /// many match in all.
    pub fn audit_page(&self, q: &AuditQuery) -> Result<Page<AuditRow>, StoreError> {
        let (from, mut args) = audit_where(q);
        let total: i64 = self
            .db
            .prepare_cached(&format!("SELECT COUNT(*){from}"))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
        let at = args.len();
        args.push(Value::Integer(to_sql_int(q.limit)));
        args.push(Value::Integer(to_sql_int(q.offset)));
        let sql = format!(
            "SELECT seq, at, actor, action, subject, detail{from}
             ORDER BY seq DESC LIMIT ?{} OFFSET ?{}",
            at + 1,
            at + 2
        );
        let rows: Vec<(i64, i64, String, String, String, String)> = self
            .db
            .prepare_cached(&sql)?
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut items = Vec::with_capacity(rows.len());
        for (seq, at, actor, action, subject, detail) in rows {
            items.push(AuditRow {
                seq: to_u64(seq, "audit seq")?,
                at: to_u64(at, "audit time")?,
                actor,
                action,
                subject,
                detail,
            });
        }
        Ok(Page {
            items,
            total: to_u64(total, "count")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_matches_from_its_beginning_and_times_are_a_range() {
        let q = AuditQuery {
            action: "token.".into(),
            subject: "123".into(),
            from: Some(10),
            before: Some(20),
            ..AuditQuery::default()
        };
        let (sql, args) = audit_where(&q);
        assert!(sql.contains("action LIKE ?1"), "{sql}");
        assert_eq!(args[0], Value::Text("token.%".into()));
        assert!(sql.contains("at >= ?3 AND at < ?4"), "{sql}");
    }
}
