//! Webhooks: the lab pushes each hub event to a URL the page registered, instead of the page asking or holding a
//! connection. Here are the routes (`docs/src/api/webhooks.md`): endpoints, their delivery log, and the lab's own
//! receiver, a real HTTP endpoint that verifies signatures and misbehaves on request. The sender is
//! [`crate::webhooks`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use protocol::webhook::{
    DeliveriesQuery, DeliveryPage, EndpointRequest, ReceiverKnobs, ReceiverMode, ReceiverState, HEADER_ID,
    HEADER_SIGNATURE, HEADER_TIMESTAMP, TIMESTAMP_TOLERANCE_SECONDS,
};
use protocol::{routes, Transport};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::extract::{ClientAddress, PathId, TimelyBody, ValidJson, ValidQuery};
use crate::api::lanes::Lanes;
use crate::api::state::AppState;
use crate::core::refusal::Refusal;
use crate::webhooks::{sign, Webhooks};

/// How much longer than the sender's timeout the `timeout` knob keeps a delivery waiting.
const BEYOND_THE_TIMEOUT: Duration = Duration::from_secs(5);

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::WEBHOOK_ENDPOINTS, axum::routing::post(register))
        .route(routes::WEBHOOK_ENDPOINT_PATTERN, delete(remove))
        .route(routes::WEBHOOK_DELIVERIES_PATTERN, get(deliveries))
        .route(routes::WEBHOOK_RECEIVER_PATTERN, get(receiver_state).put(set_receiver).post(receive))
}

async fn register(
    State(webhooks): State<Webhooks>,
    ClientAddress(address): ClientAddress,
    ValidJson(request): ValidJson<EndpointRequest>,
) -> Result<Response, ApiError> {
    let created = webhooks.register(request, address).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn remove(State(webhooks): State<Webhooks>, PathId(id): PathId) -> Result<StatusCode, ApiError> {
    webhooks.remove(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(webhooks): State<Webhooks>,
    State(lanes): State<Lanes>,
    PathId(id): PathId,
    ValidQuery(query): ValidQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let endpoint = webhooks.watch(&id)?;
    // A page watching its endpoint's log is on the webhook lane, for the presenter's counts.
    lanes.presence().seen(endpoint.client.as_ref(), Some(Transport::Webhook));
    Ok(Json(endpoint.deliveries(query.after)))
}

async fn receiver_state(State(webhooks): State<Webhooks>, PathId(id): PathId) -> Result<Json<ReceiverState>, ApiError> {
    Ok(Json(webhooks.watch(&id)?.receiver.state()))
}

async fn set_receiver(
    State(webhooks): State<Webhooks>,
    PathId(id): PathId,
    ValidJson(knobs): ValidJson<ReceiverKnobs>,
) -> Result<Json<ReceiverState>, ApiError> {
    knobs.check().map_err(|problem| ApiError::invalid_field("slow_secs", problem))?;
    Ok(Json(webhooks.watch(&id)?.receiver.set_knobs(knobs)))
}

/// Only the sequence number matters to the receiver's order count; the rest of the event is not read.
#[derive(Deserialize)]
struct Sequenced {
    seq: u64,
}

/// The lab's receiver: verify first (as a real receiver must, before trusting anything in the body), then do what
/// the knobs say.
async fn receive(
    State(webhooks): State<Webhooks>,
    PathId(id): PathId,
    headers: HeaderMap,
    TimelyBody(body): TimelyBody,
) -> Result<Response, ApiError> {
    let endpoint = webhooks.endpoint(&id)?;
    let knobs = endpoint.receiver.knobs();
    let verified = verify(&endpoint.secret, &headers, &body).and_then(|webhook_id| {
        if knobs.mode == ReceiverMode::RejectSignatures {
            Err("the receiver is set to reject every signature (`reject_signatures`)".to_owned())
        } else {
            Ok(webhook_id)
        }
    });
    let webhook_id = verified.map_err(|reason| {
        endpoint.receiver.rejected_signature();
        Refusal::WebhookSignatureRejected { reason }
    })?;
    match knobs.mode {
        ReceiverMode::Gone => return Ok(StatusCode::GONE.into_response()),
        ReceiverMode::Error500 => return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        ReceiverMode::Timeout => {
            tokio::time::sleep(webhooks.attempt_timeout() + BEYOND_THE_TIMEOUT).await;
            return Ok(StatusCode::OK.into_response());
        }
        ReceiverMode::Slow | ReceiverMode::Healthy | ReceiverMode::RejectSignatures => {}
    }
    let seq = serde_json::from_slice::<Sequenced>(&body).ok().map(|event| event.seq);
    endpoint.receiver.process(&webhook_id, seq);
    if knobs.mode == ReceiverMode::Slow {
        // The work is done and only the answer is late, so a `slow_secs` beyond the sender's timeout shows what a
        // real late acknowledgement causes: the sender retries an event the receiver already processed.
        tokio::time::sleep(knobs.slow()).await;
    }
    Ok(StatusCode::OK.into_response())
}

/// The delivery's webhook-id if its signature is this endpoint's and its timestamp is recent, else why not.
fn verify(secret: &protocol::webhook::WebhookSecret, headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let header = |name: &str| {
        headers.get(name).and_then(|value| value.to_str().ok()).ok_or_else(|| format!("no `{name}` header"))
    };
    let (id, timestamp, signature) = (header(HEADER_ID)?, header(HEADER_TIMESTAMP)?, header(HEADER_SIGNATURE)?);
    let timestamp: u64 = timestamp.parse().map_err(|_| format!("`{HEADER_TIMESTAMP}` is not Unix seconds"))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    if now.abs_diff(timestamp) > TIMESTAMP_TOLERANCE_SECONDS {
        return Err(format!("`{HEADER_TIMESTAMP}` is more than {TIMESTAMP_TOLERANCE_SECONDS} s from now (a replay?)"));
    }
    if !sign::verify(secret, id, timestamp, body, signature) {
        return Err("no signature matches this endpoint's secret, the id, the timestamp and the body".into());
    }
    Ok(id.to_owned())
}
