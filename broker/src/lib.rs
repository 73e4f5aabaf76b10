//! The lab's MQTT broker, sans-IO: the server hands it the bytes a socket read and the time, and takes back the
//! bytes to write, the sockets to close and the messages the lab itself must act on. No sockets, no runtime, no
//! clock of its own, so every state machine here (QoS 1 and 2 both ways, sessions, wills, keep-alive) is tested
//! with tables and fuzzed with raw bytes.
//!
//! Layout: `config` (limits), `broker` (the one `Broker` value), `session` (what outlives a connection),
//! `connection` (framing and per-socket state), `topics` (subscriptions and retained messages), `output` (what the
//! I/O layer acts on).

mod broker;
mod config;
mod output;

pub use broker::{Broker, BrokerStats};
pub use config::BrokerConfig;
pub use output::{ConnectionId, LabPublish, Output, PacketSummary, Publication};
