//! Finding the holder a key is prepared for: by name or login (`q`) and by
//! school (`school`: a part of its UAI or name), both together when both
//! are given, one page of 25 at a time (`page`). Every page that picks a
//! holder (the desk's preparation, batch preparation) reads its search
//! with [`HolderSearch`] and runs it with [`HolderSearch::run`]: the API's
//! `GET /v1/people?left=false` as the session, which filters, counts and
//! pages in SQL (`Tx::people_page`) in the caller's scope. People whose
//! departure is recorded are no candidates: no key is prepared for them.

use serde::Deserialize;

use super::paging::{offset, Pager};
use super::session::Session;
use super::tokens::encode;
use super::view::Texts;
use super::{ConsoleState, Refusal, Who};
use crate::wire::people::PersonEntry;

/// Holders shown on one page of a search.
pub const PAGE: u64 = 25;

/// Characters a field needs before it is searched: one letter would list
/// half the authority.
const AT_LEAST: usize = 2;

/// A holder search as the page's query asks it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct HolderSearch {
    /// A part of the login or full name.
    #[serde(default)]
    pub q: String,
    /// A part of the UAI or name of a school they hold a right at.
    #[serde(default)]
    pub school: String,
    /// The page of the answer, from 1.
    #[serde(default)]
    pub page: u64,
}

/// The holders one page of a search found.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub people: Vec<PersonEntry>,
    pub pager: Pager,
}

impl HolderSearch {
    /// Whether a field is long enough to search (else the page shows its
    /// hint, not every person).
    pub fn asked(&self) -> bool {
        [&self.q, &self.school]
            .iter()
            .any(|f| f.trim().chars().count() >= AT_LEAST)
    }

    /// The fields a short one leaves out, trimmed.
    fn fields(&self) -> (String, String) {
        let keep = |f: &str| {
            let f = f.trim();
            if f.chars().count() >= AT_LEAST {
                f.to_owned()
            } else {
                String::new()
            }
        };
        (keep(&self.q), keep(&self.school))
    }

    /// The API's request for this page of the search.
    pub fn api_path(&self) -> String {
        let (q, school) = self.fields();
        format!(
            "/v1/people?q={}&school={}&left=false&limit={PAGE}&offset={}",
            encode(&q),
            encode(&school),
            offset(self.page, PAGE)
        )
    }

    /// Runs the search as the session (its role and scope), with the
    /// links to the pages before and after under `base`. Nothing asked:
    /// nothing found, and the API is not called.
    pub async fn run(
        &self,
        state: &ConsoleState,
        session: &Session,
        t: &Texts,
        base: &str,
    ) -> Result<Found, Refusal> {
        if !self.asked() {
            return Ok(Found::default());
        }
        let (people, total) = state
            .page::<Vec<PersonEntry>>(Who::Session(&session.caller), &self.api_path())
            .await?;
        let pager = Pager::new(
            t,
            base,
            &[("q", self.q.trim()), ("school", self.school.trim())],
            self.page,
            PAGE,
            people.len(),
            total,
        );
        Ok(Found { people, pager })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(q: &str, school: &str, page: u64) -> HolderSearch {
        HolderSearch {
            q: q.into(),
            school: school.into(),
            page,
        }
    }

    #[test]
    fn a_field_counts_from_two_characters_and_short_ones_are_left_out() {
        assert!(!search("", "", 0).asked());
        assert!(!search(" d ", "L", 0).asked());
        assert!(search("du", "", 0).asked());
        assert!(search("", "é2", 0).asked());
        assert_eq!(
            search("d", " Lilas ", 0).api_path(),
            "/v1/people?q=&school=Lilas&left=false&limit=25&offset=0"
        );
    }

    #[test]
    fn pages_are_offsets_in_the_apis_request() {
        assert_eq!(
            search("Jean Dupont", "0751710B", 3).api_path(),
            "/v1/people?q=Jean%20Dupont&school=0751710B&left=false&limit=25&offset=50"
        );
        assert_eq!(
            search("du", "", 0).api_path(),
            search("du", "", 1).api_path()
        );
    }
}
