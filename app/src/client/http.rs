//! Small typed wrappers over `fetch` (gloo-net) for the lab's HTTP API.

use gloo_net::http::Request;
use serde::de::DeserializeOwned;
use web_sys::AbortSignal;

use protocol::routes::{self, Http2WireQuery, PublishQuery};
use protocol::webhook::{self, DeliveryPage, EndpointCreated, EndpointRequest, ReceiverKnobs, ReceiverState};
use protocol::{
    ApiErrorBody, AudioRequest, BroadcastRequest, ClassPresence, ClientId, DelayRule, FaultReport, FaultTarget,
    GeneratorSettings, GeneratorUpdate, OfflineRequest, PublishAck, PublishRequest, RestartReport, ScaleReport,
    Transport, WirePage,
};

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClientError {
    #[error("network error: {0}")]
    Network(String),
    #[error("{} ({status})", .body.message)]
    Api { status: u16, body: ApiErrorBody },
    #[error("unexpected HTTP {status}: {text}")]
    Status { status: u16, text: String },
    #[error("could not decode the answer: {0}")]
    Decode(String),
}

/// A response as the lane saw it: status and the body text (whose length is what the browser received).
pub struct RawResponse {
    pub status: u16,
    pub text: String,
    /// The server's `x-lab-exchange`: the key to this request's measured bytes.
    pub exchange: Option<u64>,
    /// The server's `x-lab-instance`: which of several instances answered (none when the lab is one process).
    pub instance: Option<String>,
    /// The server's `x-lab-log-problem`: why the instance that answered cannot reach the shared log now.
    pub log_problem: Option<String>,
}

impl RawResponse {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_str(&self.text).map_err(|error| ClientError::Decode(error.to_string()))
    }

    fn into_result(self) -> Result<Self, ClientError> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        Err(match serde_json::from_str::<ApiErrorBody>(&self.text) {
            Ok(body) => ClientError::Api { status: self.status, body },
            Err(_) => ClientError::Status { status: self.status, text: self.text },
        })
    }
}

pub async fn get(url: &str, abort: Option<&AbortSignal>) -> Result<RawResponse, ClientError> {
    let response = Request::get(url).abort_signal(abort).send().await.map_err(network)?;
    read(response).await
}

async fn post_json<T: serde::Serialize, R: DeserializeOwned>(url: &str, body: &T) -> Result<R, ClientError> {
    let request = Request::post(url).json(body).map_err(|error| ClientError::Decode(error.to_string()))?;
    let response = request.send().await.map_err(network)?;
    read(response).await?.json()
}

async fn read(response: gloo_net::http::Response) -> Result<RawResponse, ClientError> {
    let status = response.status();
    let headers = response.headers();
    let exchange = headers.get(protocol::headers::EXCHANGE).and_then(|value| value.parse().ok());
    let instance = headers.get(protocol::headers::INSTANCE);
    let log_problem = headers.get(protocol::headers::LOG_PROBLEM);
    let text = response.text().await.map_err(network)?;
    RawResponse { status, text, exchange, instance, log_problem }.into_result()
}

fn network(error: gloo_net::Error) -> ClientError {
    ClientError::Network(error.to_string())
}

pub async fn publish_message(text: String) -> Result<PublishAck, ClientError> {
    post_json(routes::PUBLISH, &PublishRequest { text }).await
}

/// A lane's own publish: `client` and `lane` in the query let the server file the request's bytes with that lane's.
/// Returns the ack and the exchange (`x-lab-exchange`) that finds them.
pub async fn publish_from_lane(
    text: String,
    lane: Transport,
    client: &ClientId,
) -> Result<(PublishAck, Option<u64>), ClientError> {
    let url = PublishQuery { client: Some(client.clone()), lane: Some(lane) }.url();
    let request =
        Request::post(&url).json(&PublishRequest { text }).map_err(|error| ClientError::Decode(error.to_string()))?;
    let raw = read(request.send().await.map_err(network)?).await?;
    Ok((raw.json()?, raw.exchange))
}

/// Asks the server for a tone (`POST /api/audio`); it comes back on every lane as an `audio` event.
pub async fn send_audio(request: &AudioRequest) -> Result<PublishAck, ClientError> {
    post_json(routes::AUDIO, request).await
}

/// The teacher's message to every student's lanes (a `broadcast` event).
pub async fn broadcast_message(text: String) -> Result<PublishAck, ClientError> {
    post_json(routes::CLASS_BROADCAST, &BroadcastRequest { text }).await
}

/// Who is connected now, per transport, and the join link: what the presenter view shows.
pub async fn class_presence() -> Result<ClassPresence, ClientError> {
    get(routes::CLASS, None).await?.json()
}

pub async fn update_generator(update: GeneratorUpdate) -> Result<GeneratorSettings, ClientError> {
    post_json(routes::GENERATOR, &update).await
}

/// The generator as it is now: shared by everyone, so another screen may have changed it since this page did.
pub async fn fetch_generator() -> Result<GeneratorSettings, ClientError> {
    get(routes::GENERATOR, None).await?.json()
}

/// The delay rules in force that this page may see: those for everyone and those for `client` (the teacher's page
/// sees all).
pub async fn fetch_delay_rules(client: Option<ClientId>) -> Result<Vec<DelayRule>, ClientError> {
    get(&routes::ClientQuery { client }.url(routes::FAULTS_DELAY), None).await?.json()
}

/// Asks the server to drop the target's open connections.
pub async fn drop_connections(target: &FaultTarget) -> Result<FaultReport, ClientError> {
    post_json(routes::FAULTS_DROP, target).await
}

/// Asks the server to drop the target's connections and refuse its requests for a while.
pub async fn go_offline(request: &OfflineRequest) -> Result<FaultReport, ClientError> {
    post_json(routes::FAULTS_OFFLINE, request).await
}

/// Asks the server to start a new run of its stream (new epoch, numbering from 1), as a restart would.
pub async fn restart_stream() -> Result<RestartReport, ClientError> {
    post_json(routes::FAULTS_RESTART, &serde_json::json!({})).await
}

/// Ends the delay and offline faults aimed at `client`, or (the teacher's) every one, for everyone.
pub async fn clear_faults(client: Option<ClientId>) -> Result<(), ClientError> {
    let url = routes::ClientQuery { client }.url(routes::FAULTS);
    let response = Request::delete(&url).send().await.map_err(network)?;
    read(response).await.map(drop)
}

/// The scale suite's latest report, for the Scale page.
pub async fn latest_scale_report() -> Result<ScaleReport, ClientError> {
    get(routes::SCALE, None).await?.json()
}

/// The server's latest records of HTTP/2 connections (native gRPC clients: grpcurl, grpcio…), after record `after`.
/// The page's connections as a pcapng file (`/api/wire/pcapng`), or the server's reason there is none.
pub async fn fetch_pcapng(client: &ClientId) -> Result<Vec<u8>, ClientError> {
    let url = routes::PcapngQuery { client: client.clone() }.url();
    let response = Request::get(&url).send().await.map_err(network)?;
    if !response.ok() {
        return Err(read(response).await.err().unwrap_or_else(|| ClientError::Decode("no error body".into())));
    }
    response.binary().await.map_err(network)
}

pub async fn fetch_http2_wire(after: u64) -> Result<WirePage, ClientError> {
    get(&Http2WireQuery { after }.url(), None).await?.json()
}

/// The guided lessons, in order.
pub async fn lesson_list() -> Result<Vec<protocol::LessonSummary>, ClientError> {
    get(routes::LESSONS, None).await?.json()
}

/// One guided lesson; `id` is checked by the server (letters, digits, dashes).
pub async fn lesson(id: &str) -> Result<protocol::Lesson, ClientError> {
    get(&routes::lesson(id), None).await?.json()
}

/// Sets the delay (and jitter) the server adds to deliveries to the rule's target.
pub async fn set_delivery_delay(rule: &DelayRule) -> Result<DelayRule, ClientError> {
    post_json(routes::FAULTS_DELAY, rule).await
}

/// Registers a webhook endpoint for this page: `url`, or the lab's own receiver when `None`.
pub async fn register_webhook_endpoint(client: &ClientId, url: Option<&str>) -> Result<EndpointCreated, ClientError> {
    let url = url.unwrap_or(webhook::LAB_RECEIVER).to_owned();
    let request = EndpointRequest { url, client: Some(client.clone()) };
    post_json(routes::WEBHOOK_ENDPOINTS, &request).await
}

/// Stops deliveries to endpoint `id`.
pub async fn delete_webhook_endpoint(id: &str) -> Result<(), ClientError> {
    let response = Request::delete(&routes::webhook_endpoint(id)).send().await.map_err(network)?;
    read(response).await.map(drop)
}

/// The sender's delivery log for endpoint `id`, after attempt `after`.
pub async fn webhook_deliveries(
    id: &str,
    after: u64,
    abort: Option<&AbortSignal>,
) -> Result<DeliveryPage, ClientError> {
    get(&routes::webhook_deliveries(id, after), abort).await?.json()
}

/// The lab receiver's knobs and counts for endpoint `id`.
pub async fn webhook_receiver(id: &str, abort: Option<&AbortSignal>) -> Result<ReceiverState, ClientError> {
    get(&routes::webhook_receiver(id), abort).await?.json()
}

/// Turns the lab receiver's knobs for endpoint `id`.
pub async fn set_webhook_receiver(id: &str, knobs: &ReceiverKnobs) -> Result<ReceiverState, ClientError> {
    let request = Request::put(&routes::webhook_receiver(id))
        .json(knobs)
        .map_err(|error| ClientError::Decode(error.to_string()))?;
    read(request.send().await.map_err(network)?).await?.json()
}
