//! `/v1/districts`, `/v1/schools`, `/v1/people`: the authority's directory.

use serde::{Deserialize, Serialize};

use super::rights::Right;
use crate::domain::TokenState;

/// The items of `GET /v1/districts` and `GET /v1/schools`: the domain's
/// listed records, answered as they are.
pub use crate::domain::{DistrictEntry, SchoolEntry};

/// `POST /v1/districts` `{"code","name","inspector"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictBody {
    pub code: String,
    /// The inspector's person id.
    pub inspector: String,
    pub name: String,
}

/// `201 {"code"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedDistrict {
    pub code: String,
}

/// `POST /v1/schools` `{"uai","name","district"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchoolBody {
    pub district: String,
    pub name: String,
    pub uai: String,
}

/// `201 {"uai"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedSchool {
    pub uai: String,
}

/// `?district=` of the school and people lists (ignored for an inspector,
/// whose lists are always their own district).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictFilter {
    pub district: Option<String>,
}

/// `?district=&q=&school=&left=&limit=&offset=` of `GET /v1/people`: `q`
/// matches a part of the login or full name; the answer's `X-Total-Count`
/// header says how many match in all.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeopleFilter {
    pub district: Option<String>,
    pub q: Option<String>,
    /// A part of the UAI or name of a school they hold a right at.
    pub school: Option<String>,
    /// `false`: only people whose departure is not recorded (the candidates
    /// for a new key); `true`: only those who left; absent: everyone.
    pub left: Option<bool>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// `POST /v1/people` `{"id","full_name","mail"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonBody {
    pub full_name: String,
    pub id: String,
    pub mail: String,
}

/// `201 {"id"}` of `POST /v1/people`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedPerson {
    pub id: String,
}

/// `200 {"id","left":true}` of `POST /v1/people/{id}/leave`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonLeft {
    pub id: String,
    pub left: bool,
}

/// An item of `GET /v1/people`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonEntry {
    pub full_name: String,
    pub id: String,
    pub mail: String,
}

/// `GET /v1/people/{id}`: the person as listed, whether they left, their
/// rights and live token (fields in the wire's alphabetical order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDetail {
    pub full_name: String,
    pub id: String,
    /// Whether their departure is recorded (`POST /v1/people/{id}/leave`
    /// or the directory): their staff API keys are refused.
    #[serde(default)]
    pub left: bool,
    pub mail: String,
    pub rights: Vec<Right>,
    pub token: Option<LiveToken>,
}

/// The token a person holds now (prepared, handed over or active).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveToken {
    pub serial: String,
    pub state: TokenState,
}
