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
use std::str::FromStr;
use std::time::Duration;

use protocol::{Epoch, Event, EventBody};
use tokio::sync::mpsc;

mod nats;
mod record;
mod redis;

pub use record::Record;

/// How long one call to the engine may take before it counts as unavailable.
pub const ENGINE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long to wait before trying a lost engine again.
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// What the follower may hold for a replica that has not taken it yet; the follower waits (the engine keeps the
/// events) rather than buffer more.
const FOLLOW_BUFFER: usize = 1024;

/// `--backplane`: which engine, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackplaneUrl {
    Nats(String),
    Redis(String),
}

impl FromStr for BackplaneUrl {
    type Err = BackplaneError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let scheme = text.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("nats") => Ok(Self::Nats(text.to_owned())),
            Some("redis") => Ok(Self::Redis(text.to_owned())),
            _ => Err(BackplaneError::UnknownEngine { url: text.to_owned() }),
        }
    }
}

impl fmt::Display for BackplaneUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nats(url) => write!(f, "NATS JetStream at {url}"),
            Self::Redis(url) => write!(f, "Redis Streams at {url}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackplaneError {
    #[error("`{url}` names no engine the lab knows: use nats://HOST:PORT (NATS JetStream) or redis://HOST:PORT (Redis Streams)")]
    UnknownEngine { url: String },
    #[error("cannot reach {engine}: {reason}")]
    Unreachable { engine: String, reason: String },
    #[error("{engine} did not answer within {} s (what was asked may still be done)", ENGINE_TIMEOUT.as_secs())]
    TimedOut { engine: String },
    #[error("{engine} refused: {reason}")]
    Refused { engine: String, reason: String },
    #[error("an event in {engine} cannot be read: {reason}")]
    Unreadable { engine: String, reason: String },
}

/// What following the log yields, in order.
#[derive(Debug)]
pub enum Followed {
    /// The next event of run `epoch`. A new epoch means the log was recreated: a new run, numbered from its start.
    Event { epoch: Epoch, event: Event },
    /// The engine cannot be reached; the follower keeps trying and resumes where it was.
    Lost { reason: String },
    /// Reached again after [`Followed::Lost`].
    Restored,
}

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

    pub fn url(&self) -> &BackplaneUrl {
        &self.url
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

/// Runs `call` within [`ENGINE_TIMEOUT`].
async fn within<T>(
    engine: &BackplaneUrl,
    call: impl std::future::Future<Output = Result<T, BackplaneError>>,
) -> Result<T, BackplaneError> {
    tokio::time::timeout(ENGINE_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(BackplaneError::TimedOut { engine: engine.to_string() }))
}

/// A fresh random epoch: 16 hex digits, as the in-memory log's.
fn random_epoch() -> Epoch {
    Epoch(format!("{:016x}", rand::random::<u64>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_engine() {
        assert_eq!(
            "nats://127.0.0.1:4222".parse::<BackplaneUrl>().unwrap(),
            BackplaneUrl::Nats("nats://127.0.0.1:4222".into())
        );
        assert_eq!("REDIS://h:6379".parse::<BackplaneUrl>().unwrap(), BackplaneUrl::Redis("REDIS://h:6379".into()));
        for bad in ["127.0.0.1:4222", "http://x", "", "kafka://x"] {
            let error = bad.parse::<BackplaneUrl>().unwrap_err();
            assert!(error.to_string().contains("nats://HOST:PORT"), "{error}");
        }
    }
}
