use std::time::Duration;

/// The broker's limits. Every queue and table a client can grow has a cap here, so no client can make the broker
/// hold unbounded memory.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// Largest packet the broker accepts (and announces in CONNACK as Maximum Packet Size).
    pub max_packet_size: u32,
    /// QoS 1 and 2 messages a client may have unacknowledged towards the broker (announced as Receive Maximum).
    pub receive_maximum: u16,
    /// Longest session expiry the broker grants; a longer request is cut to this and the CONNACK says so.
    pub max_session_expiry: Duration,
    /// Messages queued for one session while its client is away or its in-flight window is full. Past this the
    /// oldest QoS 0 message goes first, then the oldest of any QoS, and the loss is counted.
    pub max_queued_messages: usize,
    /// Topic filters one session may hold.
    pub max_subscriptions: usize,
    /// Sessions (connected or kept) in all.
    pub max_sessions: usize,
    /// Retained messages in all.
    pub max_retained: usize,
    /// Keep-alive the broker imposes when a client asks for none (0) or for more (announced as Server Keep Alive).
    pub max_keep_alive: Duration,
    /// How long a socket may stay open without sending CONNECT.
    pub connect_timeout: Duration,
    /// What a message to one of the lab's topics must be (the lab's own rules for a chat message, say). A payload
    /// it refuses gets `0x99 Payload format invalid` (v5) before anyone receives it, rather than an
    /// acknowledgement followed by silence.
    pub lab_payload_check: fn(&[u8]) -> Result<(), String>,
}

fn accept_any_payload(_: &[u8]) -> Result<(), String> {
    Ok(())
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            max_packet_size: 256 * 1024,
            receive_maximum: 32,
            max_session_expiry: Duration::from_secs(3600),
            max_queued_messages: 1000,
            max_subscriptions: 32,
            max_sessions: 20_000,
            max_retained: 1000,
            max_keep_alive: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            lab_payload_check: accept_any_payload,
        }
    }
}
