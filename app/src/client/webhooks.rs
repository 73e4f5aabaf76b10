//! Webhooks: server to server, so the browser is neither party. While the lane is on, the page registers the lab's
//! own receiver as an endpoint (`POST /api/webhooks/endpoints`), then reads the sender's delivery log once every
//! [`PERIOD`] over a side channel and draws each attempt where the sender measured it: the `POST` from the Sender
//! lifeline, the answer back from the Receiver. It re-checks every signature with WebCrypto, from the secret it was
//! given, and deletes the endpoint when the lane goes off.

use std::time::Duration;

use gloo_timers::future::sleep;
use js_sys::{Array, Object, Reflect, Uint8Array};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, CryptoKey, SubtleCrypto};

use super::files::js_message;
use super::http::{
    delete_webhook_endpoint, register_webhook_endpoint, webhook_deliveries, webhook_receiver, ClientError,
};
use super::lane_task::{run_while_enabled, LaneLoop};
use super::{back_off, LaneHandle, LaneOptions, LaneRecorder, LinkStatus};
use crate::delivery_text::{DeliveryTracker, DrawnAttempt, SignatureCheck, SignatureTally};
use crate::diagram::{NoteTone, RecordKind};
use protocol::webhook::{self, AttemptOutcome, DeliveryAttempt, EndpointCreated, ReceiverState, WebhookSecret};
use protocol::{ClientId, Epoch, Event, Transport};

/// How often the page reads the delivery log: often enough that an arrow appears within a second of its attempt.
const PERIOD: Duration = Duration::from_millis(500);

/// What the receiver panel beside the lane shows: the endpoint and its secret, the receiver's knobs and counts,
/// and the signatures this page checked. Provided to the page by the hook.
#[derive(Clone, Copy)]
pub struct WebhookWatch {
    pub endpoint: RwSignal<Option<EndpointCreated>>,
    pub receiver: RwSignal<Option<ReceiverState>>,
    pub signatures: RwSignal<SignatureTally>,
    /// Why the sender stopped delivering (a 410 from the receiver).
    pub disabled: RwSignal<Option<String>>,
    /// Knob changes started: a receiver state read before the latest one is stale and must not undo it.
    pub knob_writes: RwSignal<u64>,
    /// Where deliveries go: a receiver of the user's own (a student's laptop), or the lab's own when `None`.
    /// Changing it registers a new endpoint.
    pub target: RwSignal<Option<String>>,
    /// Why the lab refused the last URL the user gave (the sender only sends where it is allowed to).
    pub target_refused: RwSignal<Option<String>>,
}

pub fn use_webhooks(options: LaneOptions) -> LaneHandle {
    let recorder = LaneRecorder::new(Transport::Webhook, &options);
    let watch = WebhookWatch {
        endpoint: RwSignal::new(None),
        receiver: RwSignal::new(None),
        signatures: RwSignal::new(SignatureTally::default()),
        disabled: RwSignal::new(None),
        knob_writes: RwSignal::new(0),
        target: RwSignal::new(None),
        target_refused: RwSignal::new(None),
    };
    provide_context(watch);
    let client = options.client.clone();
    run_while_enabled(recorder, options.enabled, options.held_back, move |abort| {
        let client = client.clone();
        async move { webhook_loop_code().await((recorder, watch, client, abort)).await }
    });
    // The browser sends nothing on a webhook lane: there is no upstream of its own to time a round trip on.
    recorder.handle(Callback::new(move |()| {
        recorder.note(
            NoteTone::Info,
            "no round trip on a webhook".into(),
            "the browser is neither sender nor receiver here; the other lanes time theirs".into(),
        )
    }))
}

/// Deletes the endpoint when the lane stops (turned off, page left): the sender must not go on delivering for a
/// page that no longer watches. The server also forgets endpoints nobody watches, for pages that close abruptly.
struct Registration {
    id: String,
    watch: WebhookWatch,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.watch.endpoint.try_set(None);
        let _ = self.watch.receiver.try_set(None);
        let id = std::mem::take(&mut self.id);
        spawn_local(async move {
            let _ = delete_webhook_endpoint(&id).await;
        });
    }
}

/// Registering the endpoint and watching its deliveries, in a wasm chunk of its own.
#[lazy]
fn webhook_loop_code() -> LaneLoop<(LaneRecorder, WebhookWatch, ClientId, Option<AbortSignal>)> {
    |(recorder, watch, client, abort)| Box::pin(watch_deliveries(recorder, watch, client, abort))
}

async fn watch_deliveries(recorder: LaneRecorder, watch: WebhookWatch, client: ClientId, abort: Option<AbortSignal>) {
    loop {
        let target = watch.target.get_untracked();
        let Some(endpoint) = register(recorder, watch, &client, target.as_deref()).await else { continue };
        let registration = Registration { id: endpoint.id.clone(), watch };
        watch.endpoint.set(Some(endpoint.clone()));
        watch.disabled.set(None);
        recorder.start_after(endpoint.after, endpoint.epoch.clone());
        recorder.note(
            NoteTone::Info,
            format!("endpoint {} registered", endpoint.id),
            format!(
                "every event after #{} is POSTed to {}, signed with the secret shown beside the lane",
                endpoint.after, endpoint.url
            ),
        );
        recorder.set_status(LinkStatus::Open);
        let verifier = verifier(&endpoint.secret).await;
        let ended = follow_log(recorder, watch, &endpoint, target, verifier, abort.as_ref()).await;
        drop(registration);
        if ended == LogEnd::EndpointGone {
            // Gone at once again (another server behind the same address?) must not become a tight loop.
            back_off(recorder).await;
        }
    }
}

/// Why the page stopped reading an endpoint's log.
#[derive(PartialEq)]
enum LogEnd {
    /// The server forgot it (deleted, or unwatched for too long): register again.
    EndpointGone,
    /// The user chose another receiver: register that one.
    TargetChanged,
}

/// Registers, retrying through the session's back-off: the lab may be full of endpoints, or briefly unreachable.
/// A URL of the user's that the lab refuses (`422`: not a host it may send to) is not retried: the page says why
/// and goes back to the lab's own receiver, and `None` is returned.
async fn register(
    recorder: LaneRecorder,
    watch: WebhookWatch,
    client: &ClientId,
    target: Option<&str>,
) -> Option<EndpointCreated> {
    loop {
        recorder.set_status(LinkStatus::Connecting);
        match register_webhook_endpoint(client, target).await {
            Ok(endpoint) => {
                recorder.connected();
                // The refusal stays on the page while the lab's own receiver takes over; a URL accepted ends it.
                if target.is_some() {
                    watch.target_refused.set(None);
                }
                return Some(endpoint);
            }
            Err(ClientError::Api { status: 422, body }) if target.is_some() => {
                recorder.note(NoteTone::Error, "receiver refused by the lab".into(), body.message.clone());
                watch.target_refused.set(Some(body.message));
                watch.target.set(None);
                return None;
            }
            Err(error) => {
                recorder.connection_lost("registering failed".into(), error.to_string());
                back_off(recorder).await;
            }
        }
    }
}

/// Reads the log until the endpoint is gone (the server forgot it), then returns so it is registered again.
async fn follow_log(
    recorder: LaneRecorder,
    watch: WebhookWatch,
    endpoint: &EndpointCreated,
    target: Option<String>,
    verifier: Result<Verifier, String>,
    abort: Option<&AbortSignal>,
) -> LogEnd {
    let id = endpoint.id.as_str();
    let mut tracker = DeliveryTracker::default();
    let mut runs = Runs::starting(endpoint.epoch.clone());
    let (mut after, mut dropped) = (0, 0);
    loop {
        if watch.target.get_untracked() != target {
            return LogEnd::TargetChanged;
        }
        match webhook_deliveries(id, after, abort).await {
            Ok(page) => {
                recorder.connected();
                recorder.set_status(if page.disabled.is_some() { LinkStatus::Off } else { LinkStatus::Open });
                after = page.next;
                for attempt in &page.attempts {
                    let check = check_signature(&verifier, attempt).await;
                    watch.signatures.update(|tally| tally.count(&check));
                    if attempt.signature.is_empty() {
                        never_sent(recorder, attempt);
                    } else {
                        draw(recorder, tracker.attempt(attempt, check), attempt, &mut runs);
                    }
                }
                if page.dropped > dropped {
                    recorder.note(
                        NoteTone::Warning,
                        format!("{} attempts not drawn", page.dropped - dropped),
                        "the sender's log keeps the latest few thousand; these left it before this page read them"
                            .into(),
                    );
                    dropped = page.dropped;
                }
                if page.disabled.is_some() && watch.disabled.get_untracked().is_none() {
                    let why = page.disabled.clone().unwrap_or_default();
                    recorder.note(NoteTone::Error, "deliveries stopped".into(), why);
                }
                watch.disabled.set(page.disabled);
            }
            Err(ClientError::Api { status: 404, body }) => {
                recorder.connection_lost("endpoint gone".into(), body.message);
                return LogEnd::EndpointGone;
            }
            Err(error) => {
                // The side channel failed, not a delivery: a note, not an outage of the lane.
                recorder.note(NoteTone::Warning, "delivery log unreadable".into(), error.to_string());
                back_off(recorder).await;
                continue;
            }
        }
        // The knobs are the lab receiver's; a receiver of the user's has none the lab can read.
        if target.is_none() {
            let writes_before = watch.knob_writes.get_untracked();
            if let Ok(state) = webhook_receiver(id, abort).await {
                if watch.knob_writes.get_untracked() == writes_before {
                    watch.receiver.set(Some(state));
                }
            }
        }
        sleep(PERIOD).await;
    }
}

/// The server runs this lane has seen deliveries of, newest last: a retry from an older run, accepted after a
/// restart, is drawn but is no news about the current run's order.
struct Runs(Vec<String>);

impl Runs {
    const REMEMBERED: usize = 16;

    fn starting(epoch: Epoch) -> Self {
        Self(vec![epoch.0])
    }

    /// Whether a delivery of run `epoch` belongs to the current run; a run not seen before becomes the current one
    /// (the server restarted), which the lane's session is told.
    fn is_current(&mut self, recorder: LaneRecorder, epoch: &str) -> bool {
        if self.0.last().is_some_and(|current| current == epoch) {
            return true;
        }
        if self.0.iter().any(|seen| seen == epoch) {
            return false;
        }
        self.0.push(epoch.to_owned());
        if self.0.len() > Self::REMEMBERED {
            self.0.remove(0);
        }
        recorder.observe_epoch(&Epoch(epoch.to_owned()));
        true
    }
}

/// An event the sender could not even send (its queue was full, or the history had lost it): a note, not a
/// `POST`, and no request counted.
fn never_sent(recorder: LaneRecorder, attempt: &DeliveryAttempt) {
    let why = match &attempt.outcome {
        AttemptOutcome::Error { error } => error.clone(),
        AttemptOutcome::Status { status } => status.to_string(),
    };
    let at = attempt.finished_at_ms as f64 - recorder.clock_correction_ms();
    recorder.push(
        RecordKind::Note { tone: NoteTone::Error },
        format!("#{} not sent: {why}", attempt.seq),
        "the sender never made this POST; the event is not delivered".into(),
        at,
        at,
    );
}

/// Draws one attempt at the instants the sender measured them, moved onto this page's clock.
fn draw(recorder: LaneRecorder, drawn: DrawnAttempt, attempt: &DeliveryAttempt, runs: &mut Runs) {
    let correction = recorder.clock_correction_ms();
    let on_page = |server_ms: u64| server_ms as f64 - correction;
    let (sent, answered) = (on_page(attempt.sent_at_ms), on_page(attempt.finished_at_ms));
    let kind =
        RecordKind::Delivery { seq: drawn.seq, attempt: drawn.attempt, waited_from: drawn.waited_from_ms.map(on_page) };
    let post = recorder.push(kind, drawn.post_label, drawn.post_detail, sent, sent);
    recorder.set_body(post, &attempt.body);
    let answer = RecordKind::Answer { accepted: drawn.accepted };
    recorder.push(answer, drawn.answer_label, drawn.answer_detail, answered, answered);
    recorder.metrics.update(|metrics| metrics.delivery_measured(drawn.to_receiver, drawn.to_sender));
    // A restarted server numbers its events from 1 again, under a new run in the webhook-id.
    let current =
        webhook::parse_webhook_id(&attempt.webhook_id).is_none_or(|(epoch, _)| runs.is_current(recorder, epoch));
    if drawn.accepted && current {
        match serde_json::from_str::<Event>(&attempt.body) {
            Ok(event) => recorder.delivered(&event, answered),
            Err(error) => recorder.note(NoteTone::Error, "undecodable delivery".into(), error.to_string()),
        }
    }
}

/// WebCrypto and the endpoint's key in it, for HMAC-SHA256 verification.
struct Verifier {
    subtle: SubtleCrypto,
    key: CryptoKey,
}

/// The endpoint's key, imported into WebCrypto; why not, if it cannot be.
async fn verifier(secret: &str) -> Result<Verifier, String> {
    let secret = WebhookSecret::parse(secret).map_err(|error| error.to_string())?;
    let subtle = subtle_crypto()?;
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"HMAC".into()).map_err(describe)?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into()).map_err(describe)?;
    let usages = Array::of1(&"verify".into());
    let key_bytes = Uint8Array::from(secret.key());
    let imported = subtle.import_key_with_object("raw", &key_bytes, &algorithm, false, &usages).map_err(describe)?;
    let key = JsFuture::from(imported).await.map_err(describe)?;
    let key = key.dyn_into().map_err(|_| "WebCrypto gave no key".to_string())?;
    Ok(Verifier { subtle, key })
}

fn subtle_crypto() -> Result<SubtleCrypto, String> {
    let window = web_sys::window().ok_or("no window")?;
    if !window.is_secure_context() {
        return Err("this page is not a secure context (plain http to another machine), and browsers offer \
                    WebCrypto only to secure ones (https, or localhost)"
            .into());
    }
    Ok(window.crypto().map_err(describe)?.subtle())
}

async fn check_signature(verifier: &Result<Verifier, String>, attempt: &DeliveryAttempt) -> SignatureCheck {
    if attempt.signature.is_empty() {
        return SignatureCheck::Unsigned;
    }
    let Verifier { subtle, key } = match verifier {
        Ok(verifier) => verifier,
        Err(why) => return SignatureCheck::NotChecked(why.clone()),
    };
    let content = webhook::signed_content(&attempt.webhook_id, attempt.timestamp, attempt.body.as_bytes());
    for mac in webhook::signatures_in(&attempt.signature) {
        let verified = match subtle.verify_with_str_and_u8_array_and_u8_array("HMAC", key, &mac, &content) {
            Ok(promise) => JsFuture::from(promise).await,
            Err(error) => Err(error),
        };
        match verified.map(|answer| answer.as_bool()) {
            Ok(Some(true)) => return SignatureCheck::Valid,
            Ok(_) => {}
            Err(error) => return SignatureCheck::NotChecked(describe(error)),
        }
    }
    SignatureCheck::Invalid
}

fn describe(error: JsValue) -> String {
    js_message(&error).unwrap_or_else(|| "WebCrypto failed".into())
}
