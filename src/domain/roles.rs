//! Who may act through the API: the role an API key carries.

use super::DomainError;

/// What an API key may do (docs/api.md).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Desk,
    Inspector,
    Station,
    Gateway,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Desk => "desk",
            Role::Inspector => "inspector",
            Role::Station => "station",
            Role::Gateway => "gateway",
        }
    }

    /// Admin, desk and inspector keys belong to a person; station and
    /// gateway keys to a device.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Desk | Role::Inspector)
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        Ok(match text {
            "admin" => Role::Admin,
            "desk" => Role::Desk,
            "inspector" => Role::Inspector,
            "station" => Role::Station,
            "gateway" => Role::Gateway,
            _ => {
                return Err(DomainError::BadIdentifier {
                    what: "role",
                    rule: "admin, desk, inspector, station or gateway",
                })
            }
        })
    }
}
