//! The HTTP API of a node on PostgreSQL (docs/postgres.md): the gateway's
//! `POST /v1/verify`, decided by the node's writer
//! (`store::postgres::node`, group commit, one winner across nodes) and
//! answered exactly as the SQLite daemon answers it (accept, or reject
//! with the required delay served by holding the answer); `GET
//! /v1/health`, degraded (`503`) while the node reaches no primary, with
//! the node's key cache (keys held, evicted by revokes, cleared, and
//! whether it follows revocations); `POST /v1/tokens/{serial}/revoke` and
//! `POST /v1/rights/{id}/end`, by a staff key, under the SQLite rules
//! (`domain::revocation`, `domain::right_end`, `store::postgres::lifecycle`),
//! a revoked key evicted from every node's cache; `POST`, `GET /v1/apikeys`
//! and `DELETE /v1/apikeys/{id}`, by an admin key, under the SQLite rules
//! (`domain::api_keys`, `store::postgres::api_keys`). The callers are API
//! keys in force in the database (copied there by `keyward store copy`, or
//! created through a node). Every other route is not
//! served by a node on PostgreSQL yet and answers `501` with the code
//! `unavailable` and a message that says so: never a half answer from
//! another store.
//!
//! Rights in force are decided by the node (`store::postgres::node`, the
//! SQLite writer's rule) and an accept carries them. What the SQLite
//! daemon decides besides is not decided here yet: the per-source
//! limiter, gateway challenges, staff sign-in.

use std::sync::Arc;

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::{ApiError, Body, Operation};
use crate::crypto::Keys;
use crate::domain::{api_key_hash, Actor, Clock};
use crate::store::postgres::api_keys::{self as pg_api_keys, KeyAsked};
use crate::store::postgres::gateway_keys::GatewayKeys;
use crate::store::postgres::key_cache::KeyCacheStats;
use crate::store::postgres::lifecycle::{self, KeyCaller};
use crate::store::postgres::node::{Possession, VerifyNode};
use crate::store::postgres::row_mac::is_tampered;
use crate::store::postgres::stats::NodeStatsSnapshot;
use crate::store::postgres::PgError;
use crate::wire::apikeys::{ApiKeyEntry, NewKeyBody};
use crate::wire::rights::RightEnded;
use crate::wire::tokens::RevokeBody;
use crate::wire::verify::{self as wire, VerifyBody};
use crate::wire::{ErrorCode, Health, HealthStatus, NodeHealth, NodeHealthStatus};

/// What the node's handlers share.
#[derive(Clone)]
pub struct PgNodeState {
    pub pool: deadpool_postgres::Pool,
    pub node: Arc<VerifyNode>,
    /// Checks the gateway key of every verify, in rounds.
    pub gateway_keys: GatewayKeys,
    pub clock: Arc<dyn Clock>,
    /// Seals the audit entries the node's lifecycle operations append.
    pub keys: Arc<Keys>,
    /// The authority's time zone, in which the days of a right are read.
    pub time_zone: jiff::tz::TimeZone,
    /// `Config::refusal_floor`, as the SQLite daemon's verify service holds
    /// its refusals, and the clock that serves it.
    pub refusal_floor: std::time::Duration,
    pub floor_clock: crate::store::verify::floor::FloorClock,
}

impl std::fmt::Debug for PgNodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgNodeState").finish_non_exhaustive()
    }
}

/// The node's router.
pub fn app(state: PgNodeState) -> Router {
    Router::new()
        .route("/v1/verify", post(verify))
        .route("/v1/health", get(health))
        .route("/healthz", get(healthz))
        .route(Operation::Revoke.path(), post(revoke))
        .route(Operation::EndRight.path(), post(end_right))
        .route(
            Operation::CreateApiKey.path(),
            post(create_api_key).get(list_api_keys),
        )
        .route(Operation::RevokeApiKey.path(), delete(revoke_api_key))
        .fallback(not_on_postgres)
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::wire::MAX_REQUEST_BODY,
        ))
        .with_state(state)
}

/// The refusal of everything a node on PostgreSQL does not serve yet.
pub fn not_on_postgres_error() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        ErrorCode::Unavailable,
        "not served by a keyward node on PostgreSQL yet (only POST /v1/verify, \
         POST /v1/tokens/{serial}/revoke, POST /v1/rights/{id}/end, /v1/apikeys and \
         GET /v1/health are; docs/postgres.md): use the authority's SQLite daemon",
    )
}

async fn not_on_postgres() -> Response {
    not_on_postgres_error().into_response()
}

/// How long the health check waits for the database before saying
/// degraded.
const HEALTH_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /v1/health` on a node: the wire's answer and the key cache.
#[derive(Debug, serde::Serialize)]
struct HealthAnswer {
    #[serde(flatten)]
    health: NodeHealth,
    key_cache: KeyCacheStats,
    /// Where the node's verify time went so far (`store::postgres::stats`).
    writer: NodeStatsSnapshot,
}

/// `200 ok` while a pooled connection reaches the primary (a server not in
/// recovery), else `503 degraded`: during a failover, until the pool has
/// reconnected to the promoted standby.
async fn health(State(state): State<PgNodeState>) -> Response {
    let probe = tokio::time::timeout(HEALTH_PROBE, primary_reached(&state.pool)).await;
    let (code, status) = match probe {
        Ok(Ok(true)) => (StatusCode::OK, NodeHealthStatus::Ok),
        Ok(Ok(false)) => (StatusCode::SERVICE_UNAVAILABLE, NodeHealthStatus::Degraded),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "health: no PostgreSQL primary");
            (StatusCode::SERVICE_UNAVAILABLE, NodeHealthStatus::Degraded)
        }
        Err(_) => {
            tracing::warn!("health: PostgreSQL did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, NodeHealthStatus::Degraded)
        }
    };
    let answer = HealthAnswer {
        health: NodeHealth {
            status,
            store: "postgres".to_owned(),
        },
        key_cache: state.node.cache().stats(),
        writer: state.node.stats().snapshot(),
    };
    (code, Json(answer)).into_response()
}

/// `GET /healthz`, as the SQLite daemon answers it: whether the node
/// works (reaches the primary) and the authority's time zone, in which
/// clients (`keyward apikeys list`) show times.
async fn healthz(State(state): State<PgNodeState>) -> Response {
    let probe = tokio::time::timeout(HEALTH_PROBE, primary_reached(&state.pool)).await;
    let (code, status) = match probe {
        Ok(Ok(true)) => (StatusCode::OK, HealthStatus::Ok),
        _ => (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::Unavailable),
    };
    let time_zone = state.time_zone.iana_name().unwrap_or("UTC").to_owned();
    (code, Json(Health { status, time_zone })).into_response()
}

/// Whether a pooled connection reaches a server that accepts writes.
async fn primary_reached(pool: &deadpool_postgres::Pool) -> Result<bool, PgError> {
    let client = pool.get().await?;
    let row = client.query_one("SELECT pg_is_in_recovery()", &[]).await?;
    let in_recovery: bool = row.try_get(0)?;
    Ok(!in_recovery)
}

/// The caller of `operation`: a key in force whose role allows it, or
/// `401`/`403` (audited, as on the SQLite daemon).
async fn caller_for(
    state: &PgNodeState,
    parts: &Parts,
    operation: Operation,
) -> Result<KeyCaller, ApiError> {
    let now = state.clock.now();
    let refuse = |actor: Actor, name: &'static str, err: ApiError| async move {
        let why = format!("{} {}", err.code, err.message);
        lifecycle::record_refusal(&state.pool, &state.keys, &actor, name, &why, now).await;
        err
    };
    let Some(key) = super::auth::bearer_key(parts) else {
        return Err(refuse(Actor::System, "authenticate", ApiError::unauthenticated()).await);
    };
    let found = match lifecycle::caller_by_key(&state.pool, &state.keys, &api_key_hash(key)).await {
        // A key row changed outside keyward authenticates nobody, as on
        // SQLite: refused `record_tampered`, audited.
        Err(err) if is_tampered(&err) => {
            return Err(refuse(Actor::System, "authenticate", node_error(err)).await)
        }
        other => other.map_err(node_error)?,
    };
    let Some(caller) = found else {
        return Err(refuse(Actor::System, "authenticate", ApiError::unauthenticated()).await);
    };
    if !operation.allows(caller.role) {
        let err = ApiError::forbidden(super::permit::role_refusal(caller.role, operation));
        return Err(refuse(caller.actor, operation.name(), err).await);
    }
    Ok(caller)
}

/// A store error on a node as the API's: a rule's refusal as the SQLite
/// daemon answers it, the database out of reach as `503`.
fn node_error(err: PgError) -> ApiError {
    match err {
        PgError::Refused(refusal) => ApiError::from(*refusal),
        PgError::Db(_) | PgError::Pool(_) | PgError::Tls(_) | PgError::Unavailable => {
            tracing::warn!(error = %err, "PostgreSQL unavailable");
            ApiError::unavailable()
        }
        other => ApiError::internal(&other),
    }
}

async fn revoke(
    State(state): State<PgNodeState>,
    axum::extract::Path(serial): axum::extract::Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let caller = caller_for(&state, &parts, Operation::Revoke).await?;
    let request = axum::extract::Request::from_parts(parts, body);
    let Body(body) = <Body<RevokeBody> as axum::extract::FromRequest<PgNodeState>>::from_request(
        request, &state,
    )
    .await?;
    let token = lifecycle::revoke_token(
        &state.pool,
        &state.keys,
        &caller,
        &serial,
        &body.reason,
        state.clock.now(),
    )
    .await
    .map_err(node_error)?;
    Ok(Json(super::routes::token_entry(&token, None)).into_response())
}

/// A gateway key in force, or `401`.
async fn gateway(state: &PgNodeState, parts: &Parts) -> Result<(), ApiError> {
    let key = super::auth::bearer_key(parts).ok_or_else(ApiError::unauthenticated)?;
    let hash = api_key_hash(key);
    match state.gateway_keys.in_force(hash).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::unauthenticated()),
        Err(err) if is_tampered(&err) => {
            let why = err.to_string();
            let now = state.clock.now();
            lifecycle::record_refusal(
                &state.pool,
                &state.keys,
                &Actor::System,
                "authenticate",
                &why,
                now,
            )
            .await;
            Err(node_error(err))
        }
        Err(err) => {
            tracing::warn!(error = %err, "checking a gateway key on PostgreSQL");
            Err(ApiError::unavailable())
        }
    }
}

async fn verify(
    State(state): State<PgNodeState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let checking = std::time::Instant::now();
    let caller = gateway(&state, &parts).await;
    state.node.stats().key_check(checking.elapsed());
    caller?;
    let request = axum::extract::Request::from_parts(parts, body);
    let Body(body) = <Body<VerifyBody> as axum::extract::FromRequest<PgNodeState>>::from_request(
        request, &state,
    )
    .await?;
    if let Some(source) = body.source.as_deref() {
        if source.is_empty() || source.len() > 128 || source.chars().any(char::is_control) {
            return Err(ApiError::invalid("source", "1 to 128 printable characters"));
        }
    }
    let not_before = std::time::Instant::now() + state.refusal_floor;
    let answer = state.node.verify(&body.login, &body.passcode).await;
    drop(body);
    if !matches!(answer, Ok((Possession::Proved { .. }, _))) {
        state.floor_clock.until(not_before).await;
    }
    match answer {
        // The same answer as the SQLite daemon's, rights in force included.
        Ok((Possession::Proved { rights }, _)) => {
            Ok(Json(super::routes::accepted(&rights)).into_response())
        }
        Ok((Possession::Refused { hold }, _)) => {
            if let Some(seconds) = hold {
                super::routes::hold_answer(state.clock.as_ref(), seconds).await;
            }
            Ok(Json(wire::VerifyOutcome::Reject).into_response())
        }
        // Never "accept" for a decision that was not committed.
        Err(err) => {
            tracing::warn!(error = %err, "verify on PostgreSQL: unavailable");
            Err(ApiError::unavailable())
        }
    }
}

async fn end_right(
    State(state): State<PgNodeState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let caller = caller_for(&state, &parts, Operation::EndRight).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("right"))?;
    let bytes = axum::body::to_bytes(body, crate::wire::MAX_REQUEST_BODY)
        .await
        .map_err(|_| ApiError::bad_request("request body too large"))?;
    let body = super::routes::end_right_body(&bytes)?;
    let request = lifecycle::EndRequest {
        right: id,
        reason: body.reason.as_deref(),
        on: body.on.as_deref(),
    };
    lifecycle::end_right(
        &state.pool,
        &state.keys,
        &caller,
        request,
        state.clock.now(),
        &state.time_zone,
    )
    .await
    .map_err(node_error)?;
    Ok(Json(RightEnded { ended: true, id }).into_response())
}

/// `POST /v1/apikeys`: the SQLite daemon's body, rule, answer (`201`, the
/// key shown once, only its SHA-256 stored), refusals and audit. A station
/// key is not served: no node serves a station's routes (`501`).
async fn create_api_key(
    State(state): State<PgNodeState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let caller = caller_for(&state, &parts, Operation::CreateApiKey).await?;
    let request = axum::extract::Request::from_parts(parts, body);
    let Body(body) = <Body<NewKeyBody> as axum::extract::FromRequest<PgNodeState>>::from_request(
        request, &state,
    )
    .await?;
    if body.role == crate::domain::Role::Station.as_str() {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            ErrorCode::Unavailable,
            "station keys are not served by a keyward node on PostgreSQL (no node serves \
             a station's routes; docs/postgres.md): create them on the authority's SQLite daemon",
        ));
    }
    let asked = KeyAsked {
        name: &body.name,
        role: &body.role,
        district: body.district.as_deref(),
        readers: body.readers.as_deref().unwrap_or(&[]),
        person: body.person.as_deref(),
    };
    let now = state.clock.now();
    let created = pg_api_keys::create_api_key(&state.pool, &state.keys, &caller, asked, now)
        .await
        .map_err(node_error)?;
    Ok((
        StatusCode::CREATED,
        Json(super::routes::created_key(created)),
    )
        .into_response())
}

/// `GET /v1/apikeys`: every key, in force or revoked, never a key itself.
async fn list_api_keys(
    State(state): State<PgNodeState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    caller_for(&state, &parts, Operation::ListApiKeys).await?;
    let keys = pg_api_keys::list_api_keys(&state.pool)
        .await
        .map_err(node_error)?;
    let keys: Vec<ApiKeyEntry> = keys.into_iter().map(super::routes::api_key_entry).collect();
    Ok(Json(keys).into_response())
}

/// `DELETE /v1/apikeys/{id}`: `204`; every node refuses the key from the
/// answer on (none caches keys).
async fn revoke_api_key(
    State(state): State<PgNodeState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let caller = caller_for(&state, &parts, Operation::RevokeApiKey).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("API key"))?;
    let now = state.clock.now();
    pg_api_keys::revoke_api_key(&state.pool, &state.keys, &caller, id, now)
        .await
        .map_err(node_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
