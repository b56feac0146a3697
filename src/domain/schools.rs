//! Districts and their schools, as listed: the store reads them and the
//! HTTP API answers them as they are (`crate::wire::people` re-exports
//! them), so their fields are declared in the wire's alphabetical order.

/// A district as listed: an item of `GET /v1/districts`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DistrictEntry {
    pub code: String,
    /// The inspector's person id; `null` for a district that has none.
    pub inspector: Option<String>,
    pub name: String,
}

/// A school as listed: an item of `GET /v1/schools`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchoolEntry {
    pub district: String,
    pub name: String,
    pub uai: String,
}
