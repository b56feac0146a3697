//! One handler per route of docs/api.md, one file per resource (the same
//! nouns as `cli/`). Each answers with the wire types of `crate::wire`.
//! [`router`] mounts every operation of [`Operation::ALL`], tagged with its
//! [`Operation`], and nothing else besides health and metrics; a handler's
//! first extractor is the [`Permit`] for that operation, through which it
//! runs its store or device work.

mod apikeys;
mod audit;
mod devices;
mod directory;
mod emergency;
mod events;
mod health;
mod mail;
mod people;
mod pin_reset;
mod receipts;
mod reports;
mod requests;
mod rights;
mod seeded;
mod tokens;
mod validate;
mod verify;

pub(super) use apikeys::{api_key_entry, created_key};
pub(super) use health::HealthCache;
pub(super) use rights::end_right_body;
pub(super) use tokens::token_entry;
pub(super) use verify::{accepted, hold_answer};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodRouter};
use axum::{Extension, Json, Router};
use serde::Serialize;

use super::{ApiError, AppState, Caller, Operation, Permit};
use crate::domain::{Date, PersonId, Role};

type Answer = Result<Response, ApiError>;

/// Every operation's route, plus the unauthenticated health and metrics.
pub(super) fn router() -> Router<AppState> {
    Operation::ALL
        .iter()
        .fold(Router::new(), |router, &op| {
            router.route(op.path(), handler(op).layer(Extension(op)))
        })
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics_text))
}

/// The handler of `op` on its method.
fn handler(op: Operation) -> MethodRouter<AppState> {
    use Operation as Op;
    let method = op.method_filter();
    match op {
        Op::Verify => on(method, verify::verify),
        Op::ValidateCheck => on(method, validate::validate_check),
        Op::CreateApiKey => on(method, apikeys::create_api_key),
        Op::ListApiKeys => on(method, apikeys::list_api_keys),
        Op::RevokeApiKey => on(method, apikeys::revoke_api_key),
        Op::AddDistrict => on(method, people::add_district),
        Op::ListDistricts => on(method, people::list_districts),
        Op::AddSchool => on(method, people::add_school),
        Op::ListSchools => on(method, people::list_schools),
        Op::AddPerson => on(method, people::add_person),
        Op::PersonLeaves => on(method, people::person_leaves),
        Op::ListPeople => on(method, people::list_people),
        Op::ShowPerson => on(method, people::show_person),
        Op::PersonRights => on(method, rights::person_rights),
        Op::GrantAppointment => on(method, rights::grant_appointment),
        Op::GrantDelegation => on(method, rights::grant_delegation),
        Op::EndRight => on(method, rights::end_right),
        Op::RequestKey => on(method, requests::request_key),
        Op::ListKeyRequests => on(method, requests::list_key_requests),
        Op::ListReplacements => on(method, requests::list_replacements),
        Op::FileReplacement => on(method, requests::file_replacement),
        Op::PrepareReplacement => on(method, requests::prepare_replacement),
        Op::QualifyReplacement => on(method, mail::qualify_replacement),
        Op::GrantEmergency => on(method, emergency::grant_emergency),
        Op::ListEmergency => on(method, emergency::list_emergency),
        Op::RevokeEmergency => on(method, emergency::revoke_emergency),
        Op::ScheduledNotices => on(method, mail::scheduled_notices),
        Op::IngestMail => on(method, mail::ingest_mail).layer(
            axum::extract::DefaultBodyLimit::max(crate::wire::mail::MAX_MESSAGE_BODY),
        ),
        Op::ListDevices => on(method, devices::list_devices),
        Op::ReadDeviceCode => on(method, devices::device_code),
        Op::TouchDevice => on(method, devices::device_touch),
        Op::ListTokens => on(method, tokens::list_tokens),
        Op::ShowToken => on(method, tokens::show_token),
        Op::AddToken => on(method, tokens::add_token),
        Op::ImportTokens => on(method, seeded::import_tokens).layer(
            axum::extract::DefaultBodyLimit::max(crate::wire::tokens::MAX_IMPORT_BODY),
        ),
        Op::PrepareToken => on(method, tokens::prepare_token),
        Op::BindToken => on(method, seeded::bind_token),
        Op::Handover => on(method, tokens::handover),
        Op::Activate => on(method, tokens::activate),
        Op::ReturnToken => on(method, tokens::return_token),
        Op::Receive => tokens::desk_op(op, |tx, s| tx.receive_at_it_centre(s)),
        Op::Wipe => on(method, tokens::wipe),
        Op::UnblockPin => on(method, tokens::unblock_pin),
        Op::Restock => tokens::desk_op(op, |tx, s| tx.restock(s)),
        Op::Revoke => on(method, tokens::revoke),
        Op::Unlock => tokens::desk_op(op, |tx, s| tx.unlock(s)),
        Op::Resync => on(method, tokens::resync),
        Op::ResetPin => tokens::desk_op(op, |tx, s| tx.reset_pin(s)),
        Op::ApprovePinReset => on(method, pin_reset::approve_pin_reset),
        Op::ForgottenPin => on(method, pin_reset::forgotten_pin),
        Op::TokenReceipts => on(method, receipts::token_receipts),
        Op::ShowReceipt => on(method, receipts::show_receipt),
        Op::ReportOverdue => on(method, reports::report_overdue),
        Op::DirectorySync => on(method, directory::directory_sync),
        Op::DirectoryStatus => on(method, directory::directory_status),
        Op::ReportInTransit => on(method, reports::report_in_transit),
        Op::ReportTokenStates => on(method, reports::report_token_states),
        Op::ReportReturnWeeks => on(method, reports::report_return_weeks),
        Op::ReportVerifyOutcomes => on(method, reports::report_verify_outcomes),
        Op::ListAppointments => on(method, rights::list_appointments),
        Op::VerifyAudit => on(method, audit::audit_verify),
        Op::SearchAudit => on(method, audit::audit_search),
        Op::FollowEvents => on(method, events::events),
    }
}

/// `200` with a wire answer.
fn ok(answer: impl Serialize) -> Answer {
    Ok(Json(answer).into_response())
}

/// `200` with one page of a list, and how many the whole list holds in the
/// `X-Total-Count` header.
fn with_total(page: impl Serialize, total: u64) -> Answer {
    Ok(([(TOTAL_COUNT, total.to_string())], Json(page)).into_response())
}

/// The header of a paged list's full length.
pub const TOTAL_COUNT: &str = "x-total-count";

/// `201` with a wire answer.
fn created(answer: impl Serialize) -> Answer {
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// A last day as the wire writes it: `YYYY-MM-DD`, `null` when open-ended.
fn date_opt(d: Option<Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

/// An inspector's filter is always their own district.
fn effective_district(caller: &Caller, asked: Option<String>) -> Option<String> {
    if caller.api_key.role == Role::Inspector {
        caller.api_key.district.clone()
    } else {
        asked
    }
}

/// Reads a person and their districts, or 404 (by scope for inspectors).
async fn scoped_person(permit: &Permit, id: &str) -> Result<PersonId, ApiError> {
    let Ok(id) = PersonId::parse(id) else {
        return Err(ApiError::not_found("person"));
    };
    let lookup = id.clone();
    let districts = permit
        .read(move |tx| {
            tx.person(&lookup)?;
            tx.districts_of_person(&lookup)
        })
        .await?;
    permit.scope_among(&districts, "person").await?;
    Ok(id)
}
