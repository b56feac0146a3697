//! The emergency access routes: grant, list, revoke.

use super::{Client, ClientError};
use crate::wire::emergency::{EmergencyEntry, EmergencyGrantBody, EmergencyGranted};

impl Client {
    /// `POST /v1/replacement-requests/{id}/emergency`.
    pub fn grant_emergency(
        &self,
        request: i64,
        body: &EmergencyGrantBody,
    ) -> Result<EmergencyGranted, ClientError> {
        self.post(
            &format!("/v1/replacement-requests/{request}/emergency"),
            body,
        )
    }

    /// `GET /v1/emergency-access`.
    pub fn emergency_accesses(&self) -> Result<Vec<EmergencyEntry>, ClientError> {
        self.get("/v1/emergency-access")
    }

    /// `POST /v1/emergency-access/{serial}/revoke`.
    pub fn revoke_emergency(&self, serial: &str) -> Result<(), ClientError> {
        let _: serde_json::Value = self.post(
            &format!("/v1/emergency-access/{}/revoke", super::segment(serial)),
            &serde_json::json!({}),
        )?;
        Ok(())
    }
}
