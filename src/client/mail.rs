//! The mail routes: one message to the daemon, a request qualified.

use super::{Client, ClientError};
use crate::wire::mail::{MailOutcome, QualifyBody, ScheduledNotices};

impl Client {
    /// `POST /v1/mail/messages` with the message's bytes (`truncated`: cut
    /// at the size limit).
    pub fn ingest_mail(&self, raw: &[u8], truncated: bool) -> Result<MailOutcome, ClientError> {
        let path = if truncated {
            "/v1/mail/messages?truncated=true"
        } else {
            "/v1/mail/messages"
        };
        let request = self
            .agent
            .post(self.url(path))
            .header("Authorization", self.bearer()?)
            .header("Content-Type", "message/rfc822");
        Client::decode(&self.answer(request.send(raw))?)
    }

    /// `POST /v1/mail/scheduled-notices`.
    pub fn scheduled_notices(&self) -> Result<ScheduledNotices, ClientError> {
        self.post("/v1/mail/scheduled-notices", &serde_json::json!({}))
    }

    /// `POST /v1/replacement-requests/{id}/qualify`.
    pub fn qualify_replacement(&self, id: i64, reason: &str) -> Result<(), ClientError> {
        let _: serde_json::Value = self.post(
            &format!("/v1/replacement-requests/{id}/qualify"),
            &QualifyBody {
                reason: reason.to_owned(),
            },
        )?;
        Ok(())
    }
}
