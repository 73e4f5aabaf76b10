//! Webhooks as the lab sends them, following Standard Webhooks (<https://www.standardwebhooks.com>): the three
//! headers, the content that is signed, the secret's format, the retry schedule, and the JSON of the webhooks API.
//!
//! No HMAC here: this crate compiles into the browser's wasm, which verifies with WebCrypto; the server signs with
//! the RustCrypto crates. Everything around the MAC is defined once, here, so the two cannot disagree.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{ClientId, Epoch};

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
pub const CONTENT_TYPE: &str = "application/json";

/// The only signature scheme the lab writes: HMAC-SHA256, base64 (the standard's symmetric `v1`).
pub const SIGNATURE_VERSION: &str = "v1";
pub const SECRET_PREFIX: &str = "whsec_";
/// Key lengths the standard recommends (24 to 64 bytes); the lab makes 24-byte keys.
pub const MIN_KEY_BYTES: usize = 24;
pub const MAX_KEY_BYTES: usize = 64;
pub const KEY_BYTES: usize = 24;
/// How far a receiver lets `webhook-timestamp` stray from its own clock (the standard's replay window).
pub const TIMESTAMP_TOLERANCE_SECONDS: u64 = 5 * 60;

/// The `url` that registers the lab's own receiver for the new endpoint (`POST /api/webhooks/receiver/{id}`),
/// whose id nobody can know before registering.
pub const LAB_RECEIVER: &str = "lab";

/// What gets signed: `{id}.{timestamp}.{body}`, the body byte for byte as sent.
pub fn signed_content(id: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// The `webhook-signature` value for one MAC.
pub fn signature_header(mac: &[u8]) -> String {
    format!("{SIGNATURE_VERSION},{}", STANDARD.encode(mac))
}

/// The MACs a `webhook-signature` value carries, decoded: it may list several space-separated signatures (while a
/// secret is rotated), and a receiver accepts the message if any `v1` one matches. Others are skipped.
pub fn signatures_in(header: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    header.split(' ').filter_map(|part| {
        let (version, signature) = part.split_once(',')?;
        (version == SIGNATURE_VERSION).then(|| STANDARD.decode(signature).ok()).flatten()
    })
}

/// Stable across every attempt at one event, so a receiver can deduplicate; unique across server runs.
pub fn webhook_id(epoch: &str, seq: u64) -> String {
    format!("msg_{epoch}_{seq}")
}

/// The server run and sequence number a [`webhook_id`] names, so a watcher can tell a restart from a redelivery.
pub fn parse_webhook_id(id: &str) -> Option<(&str, u64)> {
    let (epoch, seq) = id.strip_prefix("msg_")?.rsplit_once('_')?;
    Some((epoch, seq.parse().ok()?))
}

/// An endpoint's signing key, shown once as `whsec_` + base64 of the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with `{SECRET_PREFIX}`")]
    MissingPrefix,
    #[error("the secret after `{SECRET_PREFIX}` is not base64")]
    NotBase64,
    #[error("the key is {0} bytes; it must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES}")]
    KeyLength(usize),
}

impl WebhookSecret {
    pub fn from_key(key: Vec<u8>) -> Result<Self, SecretError> {
        if (MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            Ok(Self { key })
        } else {
            Err(SecretError::KeyLength(key.len()))
        }
    }

    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(SecretError::MissingPrefix)?;
        Self::from_key(STANDARD.decode(encoded).map_err(|_| SecretError::NotBase64)?)
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl std::fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }
}

/// Never the key itself in logs or panics.
impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecret({} bytes)", self.key.len())
    }
}

/// When each attempt at one event is made, after the previous one failed: the schedule Svix publishes for
/// Standard Webhooks (at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). Eight attempts, then the sender gives up.
pub const RETRY_SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
pub const MAX_ATTEMPTS: u32 = RETRY_SCHEDULE.len() as u32;
/// Each wait is stretched or shrunk by up to this fraction, so receivers that failed together are not retried
/// together (a thundering herd when they come back).
pub const RETRY_JITTER: f64 = 0.2;
/// The class clock by default: a lesson cannot wait 10 h, so every wait is divided by it (5 min becomes 15 s).
pub const DEFAULT_CLASS_CLOCK: f64 = 20.0;

/// The wait before attempt `failed + 1` once attempt `failed` (1-based) failed, or `None` when that was the last.
/// `jitter` is a random number in `-1.0..=1.0` (clamped), supplied by the caller so this stays deterministic;
/// `class_clock` (≥ 1) divides the real schedule.
pub fn retry_delay(failed: u32, jitter: f64, class_clock: f64) -> Option<Duration> {
    let base = RETRY_SCHEDULE.get(usize::try_from(failed).ok()?)?;
    let jitter = if jitter.is_finite() { jitter.clamp(-1.0, 1.0) } else { 0.0 };
    let class_clock = if class_clock.is_finite() { class_clock.max(1.0) } else { 1.0 };
    (failed >= 1).then(|| base.mul_f64((1.0 + RETRY_JITTER * jitter) / class_clock))
}

/// Body of `POST /api/webhooks/endpoints`. `url` is an `http://` URL the guard allows, or [`LAB_RECEIVER`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientId>,
}

/// Answer (201) to a registration: the secret is shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCreated {
    pub id: String,
    pub secret: String,
    /// Where deliveries go (for [`LAB_RECEIVER`], the receiver's full URL).
    pub url: String,
    /// The log's head at registration: every event after this one is delivered, none before.
    pub after: u64,
    /// The server run `after` belongs to.
    pub epoch: Epoch,
}

/// `GET /api/webhooks/endpoints/{id}/deliveries?after=N`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    #[serde(default)]
    pub after: u64,
}

/// How one attempt ended: the receiver's status code, or why there was none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttemptOutcome {
    Status { status: u16 },
    Error { error: String },
}

impl AttemptOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Status { status } if (200..300).contains(status))
    }
}

/// One attempt at delivering one event, as the sender's socket saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// Running number in this endpoint's log, for `after=`.
    pub n: u64,
    pub webhook_id: String,
    /// The hub event's sequence number.
    pub seq: u64,
    /// 1 for the first attempt at this event, then 2, 3… up to [`MAX_ATTEMPTS`].
    pub attempt: u32,
    /// Server clock, Unix milliseconds.
    pub sent_at_ms: u64,
    pub finished_at_ms: u64,
    pub outcome: AttemptOutcome,
    /// Bytes written to and read from the sender's TCP socket: heads and bodies, exactly.
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// When the next attempt is due, if one is scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at_ms: Option<u64>,
    /// No further attempt will be made at this event (it failed the last one, or could not be queued).
    pub gave_up: bool,
    /// The request's `webhook-signature` and `webhook-timestamp`, and its body, so a page can check the
    /// signature itself. Empty signature for an event that was never sent (`"queue full"`).
    pub signature: String,
    pub timestamp: u64,
    pub body: String,
}

/// Body of `GET /api/webhooks/endpoints/{id}/deliveries`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryPage {
    pub attempts: Vec<DeliveryAttempt>,
    /// The `after` for the next page.
    pub next: u64,
    /// Attempts that left the bounded log before they were read.
    pub dropped: u64,
    /// Why the endpoint no longer receives deliveries (e.g. `"410 Gone from receiver"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
}

/// How the lab's own receiver answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverMode {
    /// 200 at once.
    #[default]
    Healthy,
    /// Processes, then answers 200 only after `slow_secs`: beyond the sender's timeout, a redelivery follows.
    Slow,
    /// 500, so the sender retries.
    Error500,
    /// Answers only after the sender's per-attempt timeout.
    Timeout,
    /// 410: the sender stops delivering to this endpoint.
    Gone,
    /// 401 as if every signature were wrong.
    RejectSignatures,
}

pub const DEFAULT_SLOW_SECS: f64 = 2.0;
pub const MAX_SLOW_SECS: f64 = 60.0;

/// Body of `PUT /api/webhooks/receiver/{id}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverKnobs {
    pub mode: ReceiverMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_secs: Option<f64>,
    /// Acknowledge a `webhook-id` seen before without processing it again.
    #[serde(default)]
    pub dedupe: bool,
}

impl Default for ReceiverKnobs {
    fn default() -> Self {
        Self { mode: ReceiverMode::Healthy, slow_secs: None, dedupe: false }
    }
}

impl ReceiverKnobs {
    /// `slow_secs`, if out of range, as the problem to report against that field.
    pub fn check(&self) -> Result<(), String> {
        match self.slow_secs {
            Some(secs) if !(0.0..=MAX_SLOW_SECS).contains(&secs) => {
                Err(format!("must be between 0 and {MAX_SLOW_SECS} seconds"))
            }
            _ => Ok(()),
        }
    }

    pub fn slow(&self) -> Duration {
        Duration::from_secs_f64(self.slow_secs.unwrap_or(DEFAULT_SLOW_SECS).clamp(0.0, MAX_SLOW_SECS))
    }
}

/// What the lab's receiver did with what it was sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiverCounts {
    /// Deliveries it acted on (a redelivery processed again included).
    pub processed: u64,
    /// Redeliveries processed again because dedupe was off: the double charge dedupe prevents.
    pub duplicates_processed: u64,
    /// Redeliveries acknowledged without processing (dedupe on).
    pub duplicates_skipped: u64,
    /// Refused with 401: a bad signature, or the `reject_signatures` knob.
    pub rejected_signatures: u64,
    /// Processed after an event with a higher sequence number (a retry overtaken by later events).
    pub out_of_order: u64,
}

/// Answer to `GET` and `PUT /api/webhooks/receiver/{id}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReceiverState {
    #[serde(flatten)]
    pub knobs: ReceiverKnobs,
    pub counts: ReceiverCounts,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_webhook_id_names_its_run_and_event() {
        let id = super::webhook_id("063a0675c4219321", 42);
        assert_eq!(super::parse_webhook_id(&id), Some(("063a0675c4219321", 42)));
        assert_eq!(super::parse_webhook_id("evt_1"), None);
        assert_eq!(super::parse_webhook_id("msg_x_y"), None);
    }

    use super::*;

    /// The example in the Standard Webhooks reference libraries' tests (and Python's `standardwebhooks` 1.1.0's
    /// `Webhook.sign` gives the same): the content signed here, MACed with this key, must give this signature.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: u64 = 1614265330;
    const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_reference_example_parses_and_its_parts_are_what_is_signed() {
        let secret = WebhookSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(secret.key().len(), 24);
        assert_eq!(secret.to_string(), SPEC_SECRET);
        let content = signed_content(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY.as_bytes());
        assert_eq!(content, br#"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#);
        let macs: Vec<_> = signatures_in(SPEC_SIGNATURE).collect();
        assert_eq!(macs.len(), 1);
        assert_eq!(signature_header(&macs[0]), SPEC_SIGNATURE);
        assert!(!format!("{secret:?}").contains("MfKQ"), "Debug never shows the key");
    }

    #[test]
    fn several_signatures_and_unknown_versions() {
        let header = format!("v1a,AAAA v1,{} v1,!!! v2,AAAA", STANDARD.encode([1, 2, 3]));
        assert_eq!(signatures_in(&header).collect::<Vec<_>>(), [vec![1, 2, 3]]);
        assert_eq!(signatures_in("").count(), 0);
    }

    #[test]
    fn bad_secrets_say_why() {
        assert_eq!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Err(SecretError::MissingPrefix));
        assert_eq!(WebhookSecret::parse("whsec_***"), Err(SecretError::NotBase64));
        assert_eq!(WebhookSecret::parse("whsec_AAAA"), Err(SecretError::KeyLength(3)));
        assert!(WebhookSecret::from_key(vec![0; KEY_BYTES]).is_ok());
    }

    #[test]
    fn the_schedule_is_the_providers_compressed_by_the_class_clock() {
        let at = |failed| retry_delay(failed, 0.0, 1.0).unwrap();
        assert_eq!(
            [at(1), at(2), at(7)],
            [Duration::from_secs(5), Duration::from_secs(300), Duration::from_secs(36000)]
        );
        assert_eq!(retry_delay(MAX_ATTEMPTS, 0.0, 1.0), None, "the eighth failure is the last");
        assert_eq!(retry_delay(0, 0.0, 1.0), None, "attempts count from 1");
        assert_eq!(retry_delay(2, 0.0, 20.0), Some(Duration::from_secs(15)));
        // With the default class clock the first three attempts fit in half a minute, even at the longest jitter.
        let first_three =
            retry_delay(1, 1.0, DEFAULT_CLASS_CLOCK).unwrap() + retry_delay(2, 1.0, DEFAULT_CLASS_CLOCK).unwrap();
        assert!(first_three < Duration::from_secs(30), "{first_three:?}");
    }

    #[test]
    fn jitter_is_twenty_percent_either_way_and_bad_inputs_are_tamed() {
        assert_eq!(retry_delay(1, 1.0, 1.0), Some(Duration::from_secs(6)));
        assert_eq!(retry_delay(1, -1.0, 1.0), Some(Duration::from_secs(4)));
        assert_eq!(retry_delay(1, 7.0, 1.0), Some(Duration::from_secs(6)));
        assert_eq!(retry_delay(1, f64::NAN, 0.0), Some(Duration::from_secs(5)));
    }

    #[test]
    fn json_is_snake_case_and_outcomes_are_untagged() {
        let status = serde_json::to_value(AttemptOutcome::Status { status: 200 }).unwrap();
        assert_eq!(status, serde_json::json!({"status": 200}));
        let error: AttemptOutcome = serde_json::from_value(serde_json::json!({"error": "timeout"})).unwrap();
        assert_eq!(error, AttemptOutcome::Error { error: "timeout".into() });
        let knobs: ReceiverKnobs = serde_json::from_str(r#"{"mode":"reject_signatures","dedupe":true}"#).unwrap();
        assert_eq!(
            (knobs.mode, knobs.dedupe, knobs.slow()),
            (ReceiverMode::RejectSignatures, true, Duration::from_secs(2))
        );
        assert!(serde_json::from_str::<ReceiverKnobs>(r#"{"mode":"error500","x":1}"#).is_err());
        assert!(ReceiverKnobs { slow_secs: Some(61.0), ..ReceiverKnobs::default() }.check().is_err());
        assert!(ReceiverKnobs { slow_secs: Some(f64::NAN), ..ReceiverKnobs::default() }.check().is_err());
        let state = ReceiverState { knobs, counts: ReceiverCounts { processed: 3, ..ReceiverCounts::default() } };
        let json = serde_json::to_value(state).unwrap();
        assert_eq!(
            (&json["mode"], &json["counts"]["processed"]),
            (&serde_json::json!("reject_signatures"), &serde_json::json!(3))
        );
        assert_eq!(serde_json::from_value::<ReceiverState>(json).unwrap(), state);
    }
}
