//! The log on Redis Streams. One script numbers and appends in one atomic step (a counter, then `XADD` with the
//! number and the run's epoch as fields), as Centrifugo's Redis engine does; readers follow the stream with a
//! blocking `XREAD` on a connection of their own, since a blocked connection answers nothing else.

use std::sync::LazyLock;
use std::time::Duration;

use futures::StreamExt;
use protocol::Epoch;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, AsyncConnectionConfig, Client, Script};
use tokio::sync::mpsc;

use crate::address::{BackplaneError, BackplaneUrl};
use crate::call::{random_epoch, timed_out, within, RETRY_EVERY};
use crate::follow::{Followed, Outage, ReplicaGone};
use crate::record::Record;

const SEQ_KEY: &str = "lab:log:seq";
const STREAM_KEY: &str = "lab:log:events";
const EPOCH_KEY: &str = "lab:log:epoch";
const LEASE_KEY: &str = "lab:lease:generator";
/// Shared settings live under this prefix, one key each.
const SETTING_PREFIX: &str = "lab:setting:";
/// Announcements are publish/subscribe channels under this prefix.
const NOTICE_PREFIX: &str = "lab:notice:";
/// How long one `XREAD` waits for new entries before the follower looks at the epoch again.
const BLOCK_FOR: Duration = Duration::from_millis(1000);
/// Entries one `XREAD` may bring.
const READ_COUNT: usize = 500;

/// KEYS: counter, stream, epoch. ARGV: retention, record, an epoch to use if the log has none yet.
static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local epoch = redis.call('GET', KEYS[3])
        if not epoch then
          epoch = ARGV[3]
          redis.call('SET', KEYS[3], epoch)
        end
        local seq = redis.call('INCR', KEYS[1])
        redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'seq', seq, 'epoch', epoch, 'record', ARGV[2])
        return seq
        ",
    )
});

/// KEYS: counter, stream, epoch. ARGV: the new epoch.
static RESET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('SET', KEYS[3], ARGV[1])
        return ARGV[1]
        ",
    )
});

/// KEYS: the lease. ARGV: holder, time to live in ms. 1 while `holder` has it.
static HOLD_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local holder = redis.call('GET', KEYS[1])
        if holder == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        if not holder then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
          return 1
        end
        return 0
        ",
    )
});

#[derive(Clone)]
pub struct RedisLog {
    url: BackplaneUrl,
    client: Client,
    /// Shared by every call but the follower's; reconnects by itself after the server comes back.
    commands: ConnectionManager,
    retention: u64,
}

impl RedisLog {
    pub async fn connect(address: &str, retention: u64, url: &BackplaneUrl) -> Result<Self, BackplaneError> {
        let unreachable = |reason: String| BackplaneError::Unreachable { engine: url.to_string(), reason };
        let client = Client::open(address).map_err(|error| unreachable(error.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(crate::call::ENGINE_TIMEOUT))
            .set_response_timeout(Some(crate::call::ENGINE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(RETRY_EVERY);
        let commands = within(url, async {
            client.get_connection_manager_with_config(config).await.map_err(|error| unreachable(error.to_string()))
        })
        .await?;
        let log = Self { url: url.clone(), client, commands, retention };
        log.epoch().await?;
        Ok(log)
    }

    fn failed(&self, error: redis::RedisError) -> BackplaneError {
        if error.is_timeout() {
            timed_out(&self.url)
        } else if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() {
            BackplaneError::Unreachable { engine: self.url.to_string(), reason: error.to_string() }
        } else {
            BackplaneError::Refused { engine: self.url.to_string(), reason: error.to_string() }
        }
    }

    /// The run's epoch, set by whichever instance asks first.
    pub async fn epoch(&self) -> Result<Epoch, BackplaneError> {
        let mut commands = self.commands.clone();
        within(&self.url, async {
            let options = redis::SetOptions::default().conditional_set(redis::ExistenceCheck::NX);
            let _: Option<String> =
                commands.set_options(EPOCH_KEY, random_epoch().0, options).await.map_err(|error| self.failed(error))?;
            let epoch: String = commands.get(EPOCH_KEY).await.map_err(|error| self.failed(error))?;
            Ok(Epoch(epoch))
        })
        .await
    }

    pub async fn append(&self, record: Record) -> Result<u64, BackplaneError> {
        let mut commands = self.commands.clone();
        within(&self.url, async {
            APPEND
                .key(SEQ_KEY)
                .key(STREAM_KEY)
                .key(EPOCH_KEY)
                .arg(self.retention)
                .arg(record.0)
                .arg(random_epoch().0)
                .invoke_async(&mut commands)
                .await
                .map_err(|error| self.failed(error))
        })
        .await
    }

    pub async fn reset(&self) -> Result<Epoch, BackplaneError> {
        let mut commands = self.commands.clone();
        let epoch = random_epoch();
        within(&self.url, async {
            let _: String = RESET
                .key(SEQ_KEY)
                .key(STREAM_KEY)
                .key(EPOCH_KEY)
                .arg(&epoch.0)
                .invoke_async(&mut commands)
                .await
                .map_err(|error| self.failed(error))?;
            Ok(epoch)
        })
        .await
    }

    pub async fn hold_lease(&self, holder: &str, ttl: Duration) -> Result<bool, BackplaneError> {
        let mut commands = self.commands.clone();
        within(&self.url, async {
            let held: i64 = HOLD_LEASE
                .key(LEASE_KEY)
                .arg(holder)
                .arg(ttl.as_millis() as u64)
                .invoke_async(&mut commands)
                .await
                .map_err(|error| self.failed(error))?;
            Ok(held == 1)
        })
        .await
    }

    pub async fn put_setting(&self, name: &str, value: Vec<u8>) -> Result<(), BackplaneError> {
        let mut commands = self.commands.clone();
        within(&self.url, async {
            commands.set(format!("{SETTING_PREFIX}{name}"), value).await.map_err(|error| self.failed(error))
        })
        .await
    }

    pub async fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, BackplaneError> {
        let mut commands = self.commands.clone();
        within(&self.url, async {
            commands.get(format!("{SETTING_PREFIX}{name}")).await.map_err(|error| self.failed(error))
        })
        .await
    }

    pub async fn settings_starting(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, BackplaneError> {
        let mut commands = self.commands.clone();
        within(&self.url, async {
            let pattern = format!("{SETTING_PREFIX}{prefix}*");
            let keys: Vec<String> = {
                let mut scan = commands.scan_match::<_, String>(pattern).await.map_err(|error| self.failed(error))?;
                let mut keys = Vec::new();
                while let Some(key) = scan.next_item().await {
                    keys.push(key.map_err(|error| self.failed(error))?);
                }
                keys
            };
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let values: Vec<Option<Vec<u8>>> = commands.mget(&keys).await.map_err(|error| self.failed(error))?;
            let named = keys
                .into_iter()
                .zip(values)
                .filter_map(|(key, value)| Some((key.strip_prefix(SETTING_PREFIX)?.to_owned(), value?)));
            Ok(named.collect())
        })
        .await
    }

    pub async fn announce(&self, channel: &str, payload: Vec<u8>) -> Result<(), BackplaneError> {
        let mut commands = self.commands.clone();
        within(&self.url, async {
            let _heard_by: u64 =
                commands.publish(format!("{NOTICE_PREFIX}{channel}"), payload).await.map_err(|e| self.failed(e))?;
            Ok(())
        })
        .await
    }

    /// See [`crate::Backplane::hear`]. A subscribed connection answers nothing else, so it is one of its own, made
    /// again whenever it ends.
    pub async fn hear(self, channel: String, out: mpsc::Sender<Vec<u8>>) {
        let channel = format!("{NOTICE_PREFIX}{channel}");
        loop {
            let subscribed = within(&self.url, async {
                let mut pubsub = self.client.get_async_pubsub().await.map_err(|error| self.failed(error))?;
                pubsub.subscribe(&channel).await.map_err(|error| self.failed(error))?;
                Ok(pubsub)
            });
            match subscribed.await {
                Ok(pubsub) => {
                    let mut messages = pubsub.into_on_message();
                    while let Some(message) = messages.next().await {
                        if out.send(message.get_payload_bytes().to_vec()).await.is_err() {
                            return;
                        }
                    }
                }
                Err(error) => tracing::debug!("cannot listen to {channel}: {error}"),
            }
            if out.is_closed() {
                return;
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    }

    /// See [`crate::Backplane::follow`]. Entries carry their run's epoch, so a recreated log is noticed at its
    /// first entry; while nothing comes, the epoch key is looked at after each blocking read, which also catches a
    /// log recreated by a server whose clock went back (its entries' ids would sort before ours).
    pub async fn follow(self, out: mpsc::Sender<Followed>) {
        let mut position = Position { epoch: None, last_id: None };
        let mut outage = Outage::default();
        loop {
            let failed = match self.reader().await {
                Ok(reader) => {
                    if outage.end(&out).await.is_err() {
                        return;
                    }
                    match self.read_until_error(reader, &mut position, &out).await {
                        Ok(ReplicaGone) => return,
                        Err(error) => error,
                    }
                }
                Err(error) => error,
            };
            if outage.begin(&out, failed.to_string()).await.is_err() {
                return;
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
    }

    /// A connection of the follower's own, whose reads may block longer than the others' calls may take.
    async fn reader(&self) -> Result<MultiplexedConnection, BackplaneError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(crate::call::ENGINE_TIMEOUT))
            .set_response_timeout(Some(BLOCK_FOR + crate::call::ENGINE_TIMEOUT));
        within(&self.url, async {
            self.client.get_multiplexed_async_connection_with_config(&config).await.map_err(|error| self.failed(error))
        })
        .await
    }

    /// Follows until the connection fails (`Err`) or the replica is gone (`Ok`).
    async fn read_until_error(
        &self,
        mut reader: MultiplexedConnection,
        position: &mut Position,
        out: &mpsc::Sender<Followed>,
    ) -> Result<ReplicaGone, BackplaneError> {
        loop {
            let entries = match &position.last_id {
                None => {
                    // Starting: the newest `retention` entries, oldest first.
                    let newest: StreamRangeReply = reader
                        .xrevrange_count(STREAM_KEY, "+", "-", self.retention)
                        .await
                        .map_err(|error| self.failed(error))?;
                    position.last_id = Some("0-0".to_owned());
                    newest.ids.into_iter().rev().collect()
                }
                Some(last_id) => {
                    let options = StreamReadOptions::default().block(BLOCK_FOR.as_millis() as usize).count(READ_COUNT);
                    let read: Option<StreamReadReply> = reader
                        .xread_options(&[STREAM_KEY], &[last_id.as_str()], &options)
                        .await
                        .map_err(|error| self.failed(error))?;
                    let entries: Vec<StreamId> =
                        read.map(|read| read.keys.into_iter().flat_map(|key| key.ids).collect()).unwrap_or_default();
                    if entries.is_empty() {
                        let epoch: Option<String> = reader.get(EPOCH_KEY).await.map_err(|error| self.failed(error))?;
                        if let (Some(epoch), Some(ours)) = (epoch, &position.epoch) {
                            if epoch != ours.0 {
                                position.last_id = Some("0-0".to_owned());
                            }
                        }
                    }
                    entries
                }
            };
            for entry in entries {
                position.last_id = Some(entry.id.clone());
                // Only the lab writes here; an entry it cannot read is passed over (its number becomes a gap for
                // the clients) rather than stopping the log for everyone.
                let (epoch, event) = match self.decode(&entry) {
                    Ok(decoded) => decoded,
                    Err(error) => {
                        tracing::warn!("{error}; passed over");
                        continue;
                    }
                };
                position.epoch = Some(epoch.clone());
                if out.send(Followed::Event { epoch, event }).await.is_err() {
                    return Ok(ReplicaGone);
                }
            }
        }
    }

    fn decode(&self, entry: &StreamId) -> Result<(Epoch, protocol::Event), BackplaneError> {
        let unreadable = |reason: String| BackplaneError::Unreadable {
            engine: self.url.to_string(),
            reason: format!("{}: {reason}", entry.id),
        };
        let seq: u64 = entry.get("seq").ok_or_else(|| unreadable("no `seq`".into()))?;
        let epoch: String = entry.get("epoch").ok_or_else(|| unreadable("no `epoch`".into()))?;
        let record: Vec<u8> = entry.get("record").ok_or_else(|| unreadable("no `record`".into()))?;
        let event = Record::decode(&record, seq).map_err(|error| unreadable(error.to_string()))?;
        Ok((Epoch(epoch), event))
    }
}

/// Where a follower is: the run it is in and the last entry it passed on.
struct Position {
    epoch: Option<Epoch>,
    last_id: Option<String>,
}
