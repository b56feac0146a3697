//! The error body every refusal carries: `{"error": {code, message,
//! detail?, field?}}`, its stable [`ErrorCode`] and the closed set of
//! [`ErrorDetail`] values.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The stable error code of an error answer (docs/api.md, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthenticated,
    Forbidden,
    OwnAct,
    NotFound,
    Conflict,
    DeviceAbsent,
    PayloadTooLarge,
    Invalid,
    RateLimited,
    DeviceError,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::OwnAct,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::DeviceAbsent,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Invalid,
        ErrorCode::RateLimited,
        ErrorCode::DeviceError,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::OwnAct => "own_act",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::DeviceAbsent => "device_absent",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Invalid => "invalid",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::DeviceError => "device_error",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a 409 `conflict` or a 502 `device_error` names as its `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorDetail {
    // 409 conflict: the lifecycle rule that refused.
    InvalidTransition,
    HolderHasLiveToken,
    NoRight,
    PossessionCheckFailed,
    OpenKeyRequest,
    RequestFulfilled,
    Duplicate,
    HelpMailRefused,
    DirectorInPlace,
    AlreadyDirector,
    ReplacementRequestRequired,
    /// A record the act needs was changed outside keyward (its row MAC
    /// does not match): nothing is done with it.
    RecordTampered,
    /// A forgotten PIN is reset only with the district inspector's
    /// approval in force.
    NoPinResetApproval,
    /// The person left the authority: nothing new is given to them.
    PersonLeft,
    // 502 device_error: what the token did.
    Removed,
    ReadBackMismatch,
    WrongPin,
    PinBlocked,
    Locked,
    Status,
    NoCard,
    Unsupported,
    UnknownProfile,
    AccessCodeRefused,
    WriteNotProved,
    TouchTimeout,
    HeldByAnotherProgram,
    Device,
}

impl ErrorDetail {
    /// The details of a 409 `conflict`.
    pub const CONFLICT: [ErrorDetail; 14] = [
        ErrorDetail::InvalidTransition,
        ErrorDetail::HolderHasLiveToken,
        ErrorDetail::NoRight,
        ErrorDetail::PossessionCheckFailed,
        ErrorDetail::OpenKeyRequest,
        ErrorDetail::RequestFulfilled,
        ErrorDetail::Duplicate,
        ErrorDetail::HelpMailRefused,
        ErrorDetail::DirectorInPlace,
        ErrorDetail::AlreadyDirector,
        ErrorDetail::ReplacementRequestRequired,
        ErrorDetail::RecordTampered,
        ErrorDetail::NoPinResetApproval,
        ErrorDetail::PersonLeft,
    ];

    /// The details of a 502 `device_error`.
    pub const DEVICE: [ErrorDetail; 14] = [
        ErrorDetail::Removed,
        ErrorDetail::ReadBackMismatch,
        ErrorDetail::WrongPin,
        ErrorDetail::PinBlocked,
        ErrorDetail::Locked,
        ErrorDetail::Status,
        ErrorDetail::NoCard,
        ErrorDetail::Unsupported,
        ErrorDetail::UnknownProfile,
        ErrorDetail::AccessCodeRefused,
        ErrorDetail::WriteNotProved,
        ErrorDetail::TouchTimeout,
        ErrorDetail::HeldByAnotherProgram,
        ErrorDetail::Device,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorDetail::InvalidTransition => "invalid_transition",
            ErrorDetail::HolderHasLiveToken => "holder_has_live_token",
            ErrorDetail::NoRight => "no_right",
            ErrorDetail::PossessionCheckFailed => "possession_check_failed",
            ErrorDetail::OpenKeyRequest => "open_key_request",
            ErrorDetail::RequestFulfilled => "request_fulfilled",
            ErrorDetail::Duplicate => "duplicate",
            ErrorDetail::HelpMailRefused => "help_mail_refused",
            ErrorDetail::DirectorInPlace => "director_in_place",
            ErrorDetail::AlreadyDirector => "already_director",
            ErrorDetail::ReplacementRequestRequired => "replacement_request_required",
            ErrorDetail::RecordTampered => "record_tampered",
            ErrorDetail::NoPinResetApproval => "no_pin_reset_approval",
            ErrorDetail::PersonLeft => "person_left",
            ErrorDetail::Removed => "removed",
            ErrorDetail::ReadBackMismatch => "read_back_mismatch",
            ErrorDetail::WrongPin => "wrong_pin",
            ErrorDetail::PinBlocked => "pin_blocked",
            ErrorDetail::Locked => "locked",
            ErrorDetail::Status => "status",
            ErrorDetail::NoCard => "no_card",
            ErrorDetail::Unsupported => "unsupported",
            ErrorDetail::UnknownProfile => "unknown_profile",
            ErrorDetail::AccessCodeRefused => "access_code_refused",
            ErrorDetail::WriteNotProved => "write_not_proved",
            ErrorDetail::TouchTimeout => "touch_timeout",
            ErrorDetail::HeldByAnotherProgram => "held_by_another_program",
            ErrorDetail::Device => "device",
        }
    }

    pub fn parse(text: &str) -> Option<ErrorDetail> {
        ErrorDetail::CONFLICT
            .into_iter()
            .chain(ErrorDetail::DEVICE)
            .find(|d| d.as_str() == text)
    }
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorInfo,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: ErrorCode,
    pub detail: Option<ErrorDetail>,
    /// The request field a 422 `invalid` is about.
    pub field: Option<String>,
    /// Human text; never a secret.
    pub message: String,
}
