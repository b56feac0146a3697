//! Pages of a long list: which rows one page shows (`?page=`, from 1), the
//! line saying which of how many they are, and the links to the page before
//! and after, keeping the search's other fields.

use super::tokens::encode;
use super::view::Texts;

/// The pager under a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pager {
    /// "Rows 51 to 100 of 10,000", in the page's language.
    pub label: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// The offset of a 1-based page of `size` rows.
pub fn offset(page: u64, size: u64) -> u64 {
    page.max(1).saturating_sub(1).saturating_mul(size)
}

impl Pager {
    /// `base` is the page's path with its query's other fields
    /// (`(name, value)`, empty ones left out of the links).
    pub fn new(
        t: &Texts,
        base: &str,
        fields: &[(&str, &str)],
        page: u64,
        size: u64,
        shown: usize,
        total: u64,
    ) -> Pager {
        let page = page.max(1);
        let first = offset(page, size) + 1;
        let last = offset(page, size) + shown as u64;
        let link = |p: u64| {
            let mut query: Vec<String> = fields
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            query.push(format!("page={p}"));
            format!("{base}?{}", query.join("&"))
        };
        let label = if shown == 0 {
            t.with("console-page-empty", "total", &total.to_string())
        } else {
            crate::i18n::text(
                t.0,
                "console-page-range",
                &[
                    ("first", first.into()),
                    ("last", last.into()),
                    ("total", total.into()),
                ],
            )
        };
        Pager {
            label,
            prev: (page > 1).then(|| link(page - 1)),
            next: (last < total).then(|| link(page + 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn links_keep_the_search_and_stop_at_the_ends() {
        let t = Texts(Lang::En);
        let p = Pager::new(
            &t,
            "/tokens",
            &[("holder", "é d"), ("state", "")],
            2,
            50,
            50,
            120,
        );
        assert_eq!(p.prev.as_deref(), Some("/tokens?holder=%C3%A9%20d&page=1"));
        assert_eq!(p.next.as_deref(), Some("/tokens?holder=%C3%A9%20d&page=3"));
        assert!(p.label.contains("51") && p.label.contains("100") && p.label.contains("120"));
        let last = Pager::new(&t, "/tokens", &[], 3, 50, 20, 120);
        assert_eq!(last.next, None);
        let first = Pager::new(&t, "/tokens", &[], 0, 50, 50, 120);
        assert_eq!(first.prev, None);
        assert_eq!(offset(0, 50), 0);
        assert_eq!(offset(3, 50), 100);
    }
}
