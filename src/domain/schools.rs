//! Districts and their schools, as listed.

/// A district as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistrictRecord {
    pub code: String,
    pub name: String,
    pub inspector: Option<String>,
}

/// A school as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchoolRecord {
    pub uai: String,
    pub name: String,
    pub district: String,
}
