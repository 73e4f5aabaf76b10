//! The log on NATS JetStream: a stream is the log and numbers what is published to it (the stream sequence);
//! its creation time is the run's epoch, so deleting and recreating it is a new run. The generator's lease is a
//! key in a key-value bucket whose entries expire.
//!
//! Debian's nats-server is 2.9, older than the client's defaults: the client is built without its `server_2_10`+
//! features, and the lease bucket is made as a plain stream, because the client's bucket helpers first ask for
//! account details in a shape 2.9 does not send.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::kv::{self, CreateErrorKind};
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use futures::StreamExt;
use protocol::Epoch;
use tokio::sync::{mpsc, watch, Mutex, OnceCell};

use crate::address::{BackplaneError, BackplaneUrl};
use crate::call::{within, ENGINE_TIMEOUT, RETRY_EVERY};
use crate::follow::{Followed, Outage};
use crate::record::Record;

const STREAM: &str = "LAB_EVENTS";
const SUBJECT: &str = "lab.events";
const LEASE_BUCKET: &str = "LAB_LEASE";
const LEASE_KEY: &str = "generator";
const SETTINGS_BUCKET: &str = "LAB_SETTINGS";
/// Announcements are core NATS subjects under this prefix: no stream keeps them.
const NOTICE_PREFIX: &str = "lab.notice.";
/// How often the client pings the server: a server that hangs (rather than closing) is noticed after two missed.
const PING_EVERY: Duration = Duration::from_secs(5);
/// How long the server keeps a follower's consumer after it stops asking (a follower that died, or lost its
/// connection for longer than this, makes a new one).
const CONSUMER_IDLE: Duration = Duration::from_secs(30);
/// The pause before a follower makes a new consumer for one that ended.
const CONSUMER_AGAIN_AFTER: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct NatsLog {
    url: BackplaneUrl,
    jetstream: Context,
    retention: u64,
    lease: Arc<OnceCell<kv::Store>>,
    settings: Arc<OnceCell<kv::Store>>,
    /// The revision of the lease entry this instance last wrote, while it holds the lease.
    lease_revision: Arc<Mutex<Option<u64>>>,
    /// Whether the client is connected now, as its own events say. A follower's pull would otherwise just wait
    /// through an outage, with nothing to tell the page.
    connected: watch::Receiver<bool>,
}

impl NatsLog {
    pub async fn connect(address: &str, retention: u64, url: &BackplaneUrl) -> Result<Self, BackplaneError> {
        let (connection, connected) = watch::channel(true);
        let client = async_nats::ConnectOptions::new()
            .name("transport-lab")
            .event_callback(move |event| {
                let connection = connection.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => connection.send_replace(true),
                        async_nats::Event::Disconnected => connection.send_replace(false),
                        _ => return,
                    };
                }
            })
            .connection_timeout(ENGINE_TIMEOUT)
            .ping_interval(PING_EVERY)
            .connect(address)
            .await
            .map_err(|error| BackplaneError::Unreachable { engine: url.to_string(), reason: error.to_string() })?;
        // Every call is bounded by `within`, whose time-out says "may still be done"; the client's own, a second
        // later, never fires first and so never turns an unanswered write into a refusal.
        let client_timeout = ENGINE_TIMEOUT + Duration::from_secs(1);
        let jetstream = jetstream::ContextBuilder::new().timeout(client_timeout).build(client);
        let log = Self {
            url: url.clone(),
            jetstream,
            retention,
            lease: Arc::default(),
            settings: Arc::default(),
            lease_revision: Arc::default(),
            connected,
        };
        log.stream().await?;
        Ok(log)
    }

    fn failed(&self, error: impl std::fmt::Display) -> BackplaneError {
        BackplaneError::Unreachable { engine: self.url.to_string(), reason: error.to_string() }
    }

    /// Refuses a write at once while the client is disconnected. The client would queue it and send it on
    /// reconnecting: an event, a setting or a reset refused now (the page was told 503) would take effect later.
    fn while_connected(&self) -> Result<(), BackplaneError> {
        if *self.connected.borrow() {
            Ok(())
        } else {
            Err(self.failed("not connected; reconnecting"))
        }
    }

    fn stream_config(&self) -> stream::Config {
        stream::Config {
            name: STREAM.to_owned(),
            subjects: vec![SUBJECT.to_owned()],
            // Survives a restart of the server (started with a store directory), so the run goes on.
            storage: StorageType::File,
            max_messages: self.retention as i64,
            discard: DiscardPolicy::Old,
            ..Default::default()
        }
    }

    /// The log's stream, made if it is not there (first start, or after a reset or a server that lost it).
    async fn stream(&self) -> Result<stream::Stream, BackplaneError> {
        within(&self.url, async {
            self.jetstream.get_or_create_stream(self.stream_config()).await.map_err(|error| self.failed(error))
        })
        .await
    }

    /// The run's epoch and where its log starts and ends now.
    async fn run_info(&self) -> Result<(Epoch, stream::State), BackplaneError> {
        let stream = self.stream().await?;
        let info = within(&self.url, async { stream.get_info().await.map_err(|error| self.failed(error)) }).await?;
        Ok((epoch_of(&info), info.state))
    }

    pub async fn epoch(&self) -> Result<Epoch, BackplaneError> {
        Ok(self.run_info().await?.0)
    }

    pub async fn append(&self, record: Record) -> Result<u64, BackplaneError> {
        self.while_connected()?;
        let publish = || async {
            let ack = self.jetstream.publish(SUBJECT, Bytes::from(record.0.clone())).await?;
            ack.await
        };
        let first = within(&self.url, async { Ok(publish().await) }).await?;
        let ack = match first {
            Ok(ack) => ack,
            // Between a reset's delete and its create, or after a server that lost the stream: make it, once.
            Err(error) if error.kind() == jetstream::context::PublishErrorKind::StreamNotFound => {
                self.stream().await?;
                within(&self.url, async { publish().await.map_err(|error| self.failed(error)) }).await?
            }
            Err(error) => return Err(self.failed(error)),
        };
        Ok(ack.sequence)
    }

    pub async fn reset(&self) -> Result<Epoch, BackplaneError> {
        self.while_connected()?;
        within(&self.url, async {
            // Already gone (another instance reset it a moment ago) is fine: what matters is a fresh stream.
            let _ = self.jetstream.delete_stream(STREAM).await;
            Ok(())
        })
        .await?;
        self.epoch().await
    }

    pub async fn hold_lease(&self, holder: &str, ttl: Duration) -> Result<bool, BackplaneError> {
        self.while_connected()?;
        let store = self.lease_store(ttl).await?;
        let mut revision = self.lease_revision.lock().await;
        let held = within(&self.url, async {
            if let Some(held) = *revision {
                // Renewing writes a new entry, which starts its time to live again.
                if let Ok(renewed) = store.update(LEASE_KEY, Bytes::from(holder.to_owned()), held).await {
                    *revision = Some(renewed);
                    return Ok(true);
                }
                *revision = None;
            }
            match store.create(LEASE_KEY, Bytes::from(holder.to_owned())).await {
                Ok(created) => {
                    *revision = Some(created);
                    Ok(true)
                }
                Err(error) if error.kind() == CreateErrorKind::AlreadyExists => {
                    // Ours after all (this instance restarted under the same name before the entry expired)?
                    let entry = store.entry(LEASE_KEY).await.map_err(|error| self.failed(error))?;
                    match entry {
                        Some(entry) if entry.value == holder.as_bytes() => {
                            let renewed = store
                                .update(LEASE_KEY, Bytes::from(holder.to_owned()), entry.revision)
                                .await
                                .map_err(|error| self.failed(error))?;
                            *revision = Some(renewed);
                            Ok(true)
                        }
                        _ => Ok(false),
                    }
                }
                Err(error) => Err(self.failed(error)),
            }
        })
        .await;
        self.restored_after(held, LEASE_BUCKET, ttl, StorageType::Memory).await
    }

    /// Passes `result` on; after a failure it makes sure the bucket is there again. A server restarted without it
    /// (the lease's bucket is in memory; a server may also lose its store) would otherwise fail every later call:
    /// the bucket's handle outlives the bucket.
    async fn restored_after<T>(
        &self,
        result: Result<T, BackplaneError>,
        name: &str,
        max_age: Duration,
        storage: StorageType,
    ) -> Result<T, BackplaneError> {
        if result.is_err() {
            let _ = self.bucket(name, max_age, storage).await;
        }
        result
    }

    async fn settings_restored<T>(&self, result: Result<T, BackplaneError>) -> Result<T, BackplaneError> {
        self.restored_after(result, SETTINGS_BUCKET, Duration::ZERO, StorageType::File).await
    }

    async fn lease_store(&self, ttl: Duration) -> Result<&kv::Store, BackplaneError> {
        self.lease.get_or_try_init(|| self.bucket(LEASE_BUCKET, ttl, StorageType::Memory)).await
    }

    async fn settings_store(&self) -> Result<&kv::Store, BackplaneError> {
        self.settings.get_or_try_init(|| self.bucket(SETTINGS_BUCKET, Duration::ZERO, StorageType::File)).await
    }

    /// A key-value bucket whose entries live `max_age` (zero: for ever), made as the client's own bucket helper
    /// would make it (see the module's comment).
    async fn bucket(&self, name: &str, max_age: Duration, storage: StorageType) -> Result<kv::Store, BackplaneError> {
        within(&self.url, async {
            let config = stream::Config {
                name: format!("KV_{name}"),
                subjects: vec![format!("$KV.{name}.>")],
                max_messages_per_subject: 1,
                max_age,
                storage,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: DiscardPolicy::New,
                num_replicas: 1,
                ..Default::default()
            };
            self.jetstream.get_or_create_stream(config).await.map_err(|error| self.failed(error))?;
            self.jetstream.get_key_value(name).await.map_err(|error| self.failed(error))
        })
        .await
    }

    pub async fn put_setting(&self, name: &str, value: Vec<u8>) -> Result<(), BackplaneError> {
        self.while_connected()?;
        let store = self.settings_store().await?;
        let put = within(&self.url, async { store.put(name, Bytes::from(value)).await.map_err(|e| self.failed(e)) });
        self.settings_restored(put.await.map(drop)).await
    }

    pub async fn settings_starting(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, BackplaneError> {
        let store = self.settings_store().await?;
        let listed = within(&self.url, async {
            let mut keys = store.keys().await.map_err(|error| self.failed(error))?;
            let mut named = Vec::new();
            while let Some(key) = keys.next().await {
                let key = key.map_err(|error| self.failed(error))?;
                if !key.starts_with(prefix) {
                    continue;
                }
                if let Some(value) = store.get(&key).await.map_err(|error| self.failed(error))? {
                    named.push((key, value.to_vec()));
                }
            }
            Ok(named)
        });
        self.settings_restored(listed.await).await
    }

    pub async fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, BackplaneError> {
        let store = self.settings_store().await?;
        let got = within(&self.url, async { store.get(name).await.map_err(|error| self.failed(error)) }).await;
        self.settings_restored(got.map(|value| value.map(|bytes| bytes.to_vec()))).await
    }

    pub async fn announce(&self, channel: &str, payload: Vec<u8>) -> Result<(), BackplaneError> {
        // As with appends: a client that is reconnecting would send this later, when the order no longer holds.
        self.while_connected()?;
        let client = self.jetstream.client();
        within(&self.url, async {
            client
                .publish(format!("{NOTICE_PREFIX}{channel}"), Bytes::from(payload))
                .await
                .map_err(|e| self.failed(e))?;
            // Sent, not just queued in the client, before the caller answers its request.
            client.flush().await.map_err(|error| self.failed(error))
        })
        .await
    }

    /// See [`crate::Backplane::hear`]. The client subscribes again by itself after a reconnection.
    pub async fn hear(self, channel: String, out: mpsc::Sender<Vec<u8>>) {
        let client = self.jetstream.client();
        loop {
            match client.subscribe(format!("{NOTICE_PREFIX}{channel}")).await {
                Ok(mut subscriber) => {
                    while let Some(message) = subscriber.next().await {
                        if out.send(message.payload.to_vec()).await.is_err() {
                            return;
                        }
                    }
                }
                Err(error) => tracing::warn!("cannot listen to {channel} on {}: {error}", self.url),
            }
            if out.is_closed() {
                return;
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    }

    /// See [`crate::Backplane::follow`]. A plain pull consumer from the next sequence number: unlike JetStream's
    /// ordered consumers, it reports a deleted stream instead of quietly resuming in the new one past its start.
    pub async fn follow(self, out: mpsc::Sender<Followed>) {
        let mut epoch: Option<Epoch> = None;
        let mut next_seq: Option<u64> = None;
        let mut outage = Outage::default();
        let mut connected = self.connected.clone();
        loop {
            if !*connected.borrow_and_update() {
                let reason = format!("the connection to {} is lost; reconnecting", self.url);
                if outage.begin(&out, reason).await.is_err() || connected.wait_for(|up| *up).await.is_err() {
                    return;
                }
            }
            let consumer = match self.consumer_from(&mut epoch, &mut next_seq).await {
                Ok(consumer) => consumer,
                Err(error) => {
                    if outage.begin(&out, error.to_string()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(RETRY_EVERY).await;
                    continue;
                }
            };
            let messages = within(&self.url, async { consumer.messages().await.map_err(|error| self.failed(error)) });
            let mut messages = match messages.await {
                Ok(messages) => messages,
                Err(_) => {
                    tokio::time::sleep(CONSUMER_AGAIN_AFTER).await;
                    continue;
                }
            };
            if outage.end(&out).await.is_err() {
                return;
            }
            let Some(run) = epoch.clone() else { continue };
            // Ends when the stream goes (a reset: the consumer is deleted with it) or the connection does; either
            // way the next turn finds out which, and where to go on from.
            loop {
                let message = tokio::select! {
                    message = messages.next() => match message {
                        Some(Ok(message)) => message,
                        _ => break,
                    },
                    _ = connected.wait_for(|up| !*up) => break,
                };
                let Ok(info) = message.info() else { continue };
                let seq = info.stream_sequence;
                next_seq = Some(seq + 1);
                match Record::decode(&message.payload, seq) {
                    Ok(event) => {
                        if out.send(Followed::Event { epoch: run.clone(), event }).await.is_err() {
                            return;
                        }
                    }
                    // Only the lab writes here; an entry it cannot read becomes a gap rather than a stop.
                    Err(error) => tracing::warn!("event {seq} in {} cannot be read: {error}; passed over", self.url),
                }
            }
            // A consumer that keeps failing at once must not become a busy loop.
            tokio::time::sleep(CONSUMER_AGAIN_AFTER).await;
        }
    }

    /// A consumer starting where this follower goes on: the next number of the run it is in, or the start of the
    /// log (its newest `retention` events) when it starts or the run has changed.
    async fn consumer_from(
        &self,
        epoch: &mut Option<Epoch>,
        next_seq: &mut Option<u64>,
    ) -> Result<jetstream::consumer::Consumer<pull::Config>, BackplaneError> {
        let (current, state) = self.run_info().await?;
        if epoch.as_ref() != Some(&current) {
            *epoch = Some(current);
            *next_seq = None;
        }
        let start_sequence = next_seq.unwrap_or(state.first_sequence).max(1);
        let stream = self.stream().await?;
        let config = pull::Config {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
            ack_policy: AckPolicy::None,
            inactive_threshold: CONSUMER_IDLE,
            ..Default::default()
        };
        within(&self.url, async { stream.create_consumer(config).await.map_err(|error| self.failed(error)) }).await
    }
}

/// A stream's creation time names its run: recreating the stream is a new run.
fn epoch_of(info: &stream::Info) -> Epoch {
    Epoch(format!("{:x}", info.created.unix_timestamp_nanos()))
}
