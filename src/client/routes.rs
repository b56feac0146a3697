//! One method per route of docs/api.md, each answering its wire type.

use super::{path, query, Client, ClientError};
use crate::wire::apikeys::{ApiKeyEntry, CreatedApiKey, NewKeyBody};
use crate::wire::audit::AuditCheck;
use crate::wire::devices::{DeviceCode, DeviceEntry, ReaderBody, Touched};
use crate::wire::directory::{StatusAnswer, SyncBody, SyncReport};
use crate::wire::people::{
    CreatedDistrict, CreatedPerson, CreatedSchool, DistrictBody, DistrictEntry, PersonBody,
    PersonDetail, PersonEntry, PersonLeft, SchoolBody, SchoolEntry,
};
use crate::wire::receipts::{Receipt, ReceiptAnswer};
use crate::wire::reports::{InTransitReport, OverdueReport};
use crate::wire::requests::{KeyRequestBody, KeyRequestEntry, ReplacementBody, ReplacementEntry};
use crate::wire::rights::{EndRightBody, Right, RightBody, RightEnded};
use crate::wire::tokens::{
    ActivateBody, Activated, BindBody, HandoverBody, ImportBody, ImportedTokens, NewTokenBody,
    PinUnblocked, PrepareBody, PreparedToken, RegisteredToken, ResyncBody, Resynchronised,
    ReturnBody, RevokeBody, TokenEntry, TokenFilter, WipedToken,
};
use crate::wire::verify::{VerifyBody, VerifyOutcome};
use crate::wire::CreatedId;

fn token_path(serial: &str, verb: &str) -> String {
    path(&["v1", "tokens", serial, verb])
}

impl Client {
    /// `POST /v1/verify`.
    pub fn verify(&self, login: &str, passcode: &str) -> Result<VerifyOutcome, ClientError> {
        self.verify_from(login, passcode, None)
    }

    /// `POST /v1/verify` on behalf of an end user at `source` (the address the
    /// gateway saw), which the per-source limiter counts separately.
    pub fn verify_from(
        &self,
        login: &str,
        passcode: &str,
        source: Option<&str>,
    ) -> Result<VerifyOutcome, ClientError> {
        let body = VerifyBody {
            login: login.to_owned(),
            passcode: zeroize::Zeroizing::new(passcode.to_owned()),
            source: source.map(str::to_owned),
        };
        self.post("/v1/verify", &body)
    }

    /// `POST /v1/directory/sync` (admin): a directory run by the daemon.
    pub fn directory_sync(&self, body: &SyncBody) -> Result<SyncReport, ClientError> {
        self.post("/v1/directory/sync", body)
    }

    /// `GET /v1/directory/status` (admin): the last runs, newest first.
    pub fn directory_status(&self) -> Result<StatusAnswer, ClientError> {
        self.get("/v1/directory/status")
    }

    pub fn create_api_key(&self, body: &NewKeyBody) -> Result<CreatedApiKey, ClientError> {
        self.post("/v1/apikeys", body)
    }

    pub fn api_keys(&self) -> Result<Vec<ApiKeyEntry>, ClientError> {
        self.get("/v1/apikeys")
    }

    pub fn revoke_api_key(&self, id: &str) -> Result<(), ClientError> {
        self.delete(&path(&["v1", "apikeys", id]))
    }

    pub fn add_district(&self, body: &DistrictBody) -> Result<CreatedDistrict, ClientError> {
        self.post("/v1/districts", body)
    }

    pub fn districts(&self) -> Result<Vec<DistrictEntry>, ClientError> {
        self.get("/v1/districts")
    }

    pub fn add_school(&self, body: &SchoolBody) -> Result<CreatedSchool, ClientError> {
        self.post("/v1/schools", body)
    }

    pub fn schools(&self, district: Option<&str>) -> Result<Vec<SchoolEntry>, ClientError> {
        self.get(&query("/v1/schools", &[("district", district)]))
    }

    pub fn add_person(&self, body: &PersonBody) -> Result<CreatedPerson, ClientError> {
        self.post("/v1/people", body)
    }

    pub fn people(&self, district: Option<&str>) -> Result<Vec<PersonEntry>, ClientError> {
        self.get(&query("/v1/people", &[("district", district)]))
    }

    pub fn person(&self, id: &str) -> Result<PersonDetail, ClientError> {
        self.get(&path(&["v1", "people", id]))
    }

    pub fn person_leaves(&self, id: &str) -> Result<PersonLeft, ClientError> {
        self.post_empty(&path(&["v1", "people", id, "leave"]))
    }

    pub fn rights_of(&self, person: &str) -> Result<Vec<Right>, ClientError> {
        self.get(&path(&["v1", "people", person, "rights"]))
    }

    pub fn appoint(&self, body: &RightBody) -> Result<CreatedId, ClientError> {
        self.post("/v1/rights/appointments", body)
    }

    pub fn delegate(&self, body: &RightBody) -> Result<CreatedId, ClientError> {
        self.post("/v1/rights/delegations", body)
    }

    pub fn end_right(&self, id: i64, body: &EndRightBody) -> Result<RightEnded, ClientError> {
        self.post(&format!("/v1/rights/{id}/end"), body)
    }

    pub fn request_key(&self, body: &KeyRequestBody) -> Result<CreatedId, ClientError> {
        self.post("/v1/key-requests", body)
    }

    pub fn key_requests(&self) -> Result<Vec<KeyRequestEntry>, ClientError> {
        self.get("/v1/key-requests")
    }

    pub fn file_replacement(&self, body: &ReplacementBody) -> Result<CreatedId, ClientError> {
        self.post("/v1/replacement-requests", body)
    }

    pub fn replacements(&self) -> Result<Vec<ReplacementEntry>, ClientError> {
        self.get("/v1/replacement-requests")
    }

    pub fn prepare_replacement(&self, id: i64, reader: &str) -> Result<PreparedToken, ClientError> {
        let body = ReaderBody {
            reader: reader.to_owned(),
        };
        self.post(&format!("/v1/replacement-requests/{id}/prepare"), &body)
    }

    pub fn devices(&self) -> Result<Vec<DeviceEntry>, ClientError> {
        self.get("/v1/devices")
    }

    /// The token present at `reader`, if any.
    pub fn device_at(&self, reader: &str) -> Result<Option<DeviceEntry>, ClientError> {
        Ok(self
            .devices()?
            .into_iter()
            .find(|d| d.reader == reader && d.present && d.serial.is_some()))
    }

    pub fn device_code(&self, reader: &str) -> Result<DeviceCode, ClientError> {
        self.post_empty(&path(&["v1", "devices", reader, "code"]))
    }

    pub fn touch(&self, reader: &str) -> Result<Touched, ClientError> {
        self.post_empty(&path(&["v1", "devices", reader, "touch"]))
    }

    pub fn tokens(&self, filter: &TokenFilter) -> Result<Vec<TokenEntry>, ClientError> {
        self.get(&query(
            "/v1/tokens",
            &[
                ("state", filter.state.as_deref()),
                ("district", filter.district.as_deref()),
            ],
        ))
    }

    pub fn token(&self, serial: &str) -> Result<TokenEntry, ClientError> {
        self.get(&path(&["v1", "tokens", serial]))
    }

    pub fn register_token(&self, body: &NewTokenBody) -> Result<RegisteredToken, ClientError> {
        self.post("/v1/tokens", body)
    }

    pub fn prepare(&self, serial: &str, body: &PrepareBody) -> Result<PreparedToken, ClientError> {
        self.post(&token_path(serial, "prepare"), body)
    }

    pub fn import_tokens(&self, body: &ImportBody) -> Result<ImportedTokens, ClientError> {
        self.post("/v1/tokens/import", body)
    }

    pub fn bind(&self, serial: &str, body: &BindBody) -> Result<PreparedToken, ClientError> {
        self.post(&token_path(serial, "bind"), body)
    }

    pub fn handover(
        &self,
        serial: &str,
        body: &HandoverBody,
    ) -> Result<ReceiptAnswer, ClientError> {
        self.post(&token_path(serial, "handover"), body)
    }

    pub fn activate(&self, serial: &str, body: &ActivateBody) -> Result<Activated, ClientError> {
        self.post(&token_path(serial, "activate"), body)
    }

    pub fn return_token(
        &self,
        serial: &str,
        body: &ReturnBody,
    ) -> Result<ReceiptAnswer, ClientError> {
        self.post(&token_path(serial, "return"), body)
    }

    pub fn receive(&self, serial: &str) -> Result<TokenEntry, ClientError> {
        self.post_empty(&token_path(serial, "receive"))
    }

    pub fn wipe(&self, serial: &str, reader: &str) -> Result<WipedToken, ClientError> {
        let body = ReaderBody {
            reader: reader.to_owned(),
        };
        self.post(&token_path(serial, "wipe"), &body)
    }

    pub fn unblock_pin(&self, serial: &str, reader: &str) -> Result<PinUnblocked, ClientError> {
        let body = ReaderBody {
            reader: reader.to_owned(),
        };
        self.post(&token_path(serial, "unblock-pin"), &body)
    }

    pub fn restock(&self, serial: &str) -> Result<TokenEntry, ClientError> {
        self.post_empty(&token_path(serial, "restock"))
    }

    pub fn revoke(&self, serial: &str, body: &RevokeBody) -> Result<TokenEntry, ClientError> {
        self.post(&token_path(serial, "revoke"), body)
    }

    pub fn unlock(&self, serial: &str) -> Result<TokenEntry, ClientError> {
        self.post_empty(&token_path(serial, "unlock"))
    }

    pub fn reset_pin(&self, serial: &str) -> Result<TokenEntry, ClientError> {
        self.post_empty(&token_path(serial, "reset-pin"))
    }

    pub fn resync(&self, serial: &str, body: &ResyncBody) -> Result<Resynchronised, ClientError> {
        self.post(&token_path(serial, "resync"), body)
    }

    pub fn token_receipts(&self, serial: &str) -> Result<Vec<Receipt>, ClientError> {
        self.get(&token_path(serial, "receipts"))
    }

    /// `GET /v1/receipts/{id}?format=json`.
    pub fn receipt(&self, id: &str) -> Result<Receipt, ClientError> {
        self.get(&format!("{}?format=json", path(&["v1", "receipts", id])))
    }

    /// A receipt's printable page: `format` is `text` or `html`, `lang` `fr`
    /// or `en`.
    pub fn receipt_page(&self, id: &str, format: &str, lang: &str) -> Result<String, ClientError> {
        self.get_text(&query(
            &path(&["v1", "receipts", id]),
            &[("format", Some(format)), ("lang", Some(lang))],
        ))
    }

    pub fn overdue(&self) -> Result<OverdueReport, ClientError> {
        self.get("/v1/reports/overdue")
    }

    pub fn in_transit(&self) -> Result<InTransitReport, ClientError> {
        self.get("/v1/reports/in-transit")
    }

    pub fn audit_verify(&self) -> Result<AuditCheck, ClientError> {
        self.get("/v1/audit/verify")
    }
}
