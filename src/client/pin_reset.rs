//! A forgotten PIN: the inspector's approval and the station's reset
//! (docs/forgotten-pin.md).

use super::{path, Client, ClientError};
use crate::wire::pin_reset::{PinResetAnswer, PinResetApprovalBody, PinResetApproved};
use crate::wire::tokens::ActivateBody;

impl Client {
    /// `POST /v1/tokens/{serial}/pin-reset-approval`.
    pub fn approve_pin_reset(
        &self,
        serial: &str,
        hours: u32,
    ) -> Result<PinResetApproved, ClientError> {
        let body = PinResetApprovalBody { hours };
        self.post(
            &path(&["v1", "tokens", serial, "pin-reset-approval"]),
            &body,
        )
    }

    /// `POST /v1/tokens/{serial}/forgotten-pin`.
    pub fn forgotten_pin(
        &self,
        serial: &str,
        body: &ActivateBody,
    ) -> Result<PinResetAnswer, ClientError> {
        self.post(&path(&["v1", "tokens", serial, "forgotten-pin"]), body)
    }
}
