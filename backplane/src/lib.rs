//! The lab's event log on an engine that several lab instances share: NATS JetStream or Redis Streams.
//!
//! The engine numbers each event (a JetStream stream's sequence, or a counter a Redis script increments in the
//! same step as it appends), so sequence numbers mean the same on every instance. The log's identity is its epoch:
//! recreating it (the lab's restart, or an engine that lost its data) gives a new one, which every lane already
//! reads as a new run. One lease, a key with a time to live, says which instance runs the generator.
//!
//! This crate knows the engines and the lab's event types, nothing of HTTP or of the server's hub: the server
//! appends through [`Backplane::append`] and copies what [`Backplane::follow`] yields into its hub.

use std::fmt;
use std::time::Duration;

use protocol::{Epoch, EventBody};
use tokio::sync::mpsc;

mod address;
mod call;
mod follow;
mod nats;
mod record;
mod redis;

pub use address::{BackplaneError, BackplaneUrl};
pub use follow::Followed;
use record::Record;

use call::{FOLLOW_BUFFER, NOTICE_BUFFER};

/// A connection to the shared log. Cheap to clone: clones share the engine's connection.
#[derive(Clone)]
pub struct Backplane {
    url: BackplaneUrl,
    engine: Engine,
}

#[derive(Clone)]
enum Engine {
    Nats(nats::NatsLog),
    Redis(redis::RedisLog),
}

impl Backplane {
    /// Connects, and creates the log if it is not there yet, keeping its newest `retention` events. An engine that
    /// cannot be reached is an error naming its URL.
    pub async fn connect(url: &BackplaneUrl, retention: u64) -> Result<Self, BackplaneError> {
        let engine = match url {
            BackplaneUrl::Nats(address) => Engine::Nats(nats::NatsLog::connect(address, retention, url).await?),
            BackplaneUrl::Redis(address) => Engine::Redis(redis::RedisLog::connect(address, retention, url).await?),
        };
        Ok(Self { url: url.clone(), engine })
    }

    /// The log's current run.
    pub async fn epoch(&self) -> Result<Epoch, BackplaneError> {
        match &self.engine {
            Engine::Nats(log) => log.epoch().await,
            Engine::Redis(log) => log.epoch().await,
        }
    }

    /// Appends an event and answers the number the engine gave it.
    pub async fn append(&self, emitted_at: u64, body: &EventBody) -> Result<u64, BackplaneError> {
        let record = Record::encode(emitted_at, body);
        match &self.engine {
            Engine::Nats(log) => log.append(record).await,
            Engine::Redis(log) => log.append(record).await,
        }
    }

    /// Recreates the log empty under a new epoch, for every instance, and answers the epoch.
    pub async fn reset(&self) -> Result<Epoch, BackplaneError> {
        match &self.engine {
            Engine::Nats(log) => log.reset().await,
            Engine::Redis(log) => log.reset().await,
        }
    }

    /// Takes or renews the generator's lease for `holder`, for `ttl`. `true` while `holder` has it.
    pub async fn hold_lease(&self, holder: &str, ttl: Duration) -> Result<bool, BackplaneError> {
        match &self.engine {
            Engine::Nats(log) => log.hold_lease(holder, ttl).await,
            Engine::Redis(log) => log.hold_lease(holder, ttl).await,
        }
    }

    /// Stores a small shared setting (JSON) every instance reads, such as the generator's knobs.
    pub async fn put_setting(&self, name: &str, value: Vec<u8>) -> Result<(), BackplaneError> {
        match &self.engine {
            Engine::Nats(log) => log.put_setting(name, value).await,
            Engine::Redis(log) => log.put_setting(name, value).await,
        }
    }

    /// A shared setting as last stored, if it ever was.
    pub async fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, BackplaneError> {
        match &self.engine {
            Engine::Nats(log) => log.setting(name).await,
            Engine::Redis(log) => log.setting(name).await,
        }
    }

    /// Every shared setting whose name starts with `prefix`, with its name.
    pub async fn settings_starting(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, BackplaneError> {
        match &self.engine {
            Engine::Nats(log) => log.settings_starting(prefix).await,
            Engine::Redis(log) => log.settings_starting(prefix).await,
        }
    }

    /// Tells every instance listening on `channel` now (through the engine's publish/subscribe, at most once, not
    /// kept): for orders that matter only at the moment they are given, such as "drop these connections".
    pub async fn announce(&self, channel: &str, payload: Vec<u8>) -> Result<(), BackplaneError> {
        match &self.engine {
            Engine::Nats(log) => log.announce(channel, payload).await,
            Engine::Redis(log) => log.announce(channel, payload).await,
        }
    }

    /// What is announced on `channel` from now on, by any instance (this one too), across lost connections, until
    /// the receiver is dropped. What is announced while the engine is out of reach is not heard.
    pub fn hear(&self, channel: &str) -> mpsc::Receiver<Vec<u8>> {
        let (sender, receiver) = mpsc::channel(NOTICE_BUFFER);
        match &self.engine {
            Engine::Nats(log) => {
                tokio::spawn(log.clone().hear(channel.to_owned(), sender));
            }
            Engine::Redis(log) => {
                tokio::spawn(log.clone().hear(channel.to_owned(), sender));
            }
        }
        receiver
    }

    /// Every event of the log from the newest `retention` on, then each new one as it is appended, across lost
    /// connections and new runs, until the receiver is dropped.
    pub fn follow(&self) -> mpsc::Receiver<Followed> {
        let (sender, receiver) = mpsc::channel(FOLLOW_BUFFER);
        match &self.engine {
            Engine::Nats(log) => {
                tokio::spawn(log.clone().follow(sender));
            }
            Engine::Redis(log) => {
                tokio::spawn(log.clone().follow(sender));
            }
        }
        receiver
    }
}

impl fmt::Display for Backplane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.url.fmt(f)
    }
}
