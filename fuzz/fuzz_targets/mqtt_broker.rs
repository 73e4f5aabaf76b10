//! Any bytes from a socket, in any chunking, with time passing and sockets closing between the chunks: the broker
//! answers or closes, never panics, and never buffers more than one packet's worth. Each chunk is one control
//! byte (low six bits: chunk length; high two: then tick, then reconnect, or neither) and the bytes it announces.
//! An odd first byte starts with a valid CONNECT (v5 or v3.1.1 by its second bit) so the fuzzer reaches the
//! connected states without first having to discover one.
#![no_main]

use std::time::{Duration, Instant};

use broker::{Broker, BrokerConfig};
use libfuzzer_sys::fuzz_target;

const CONNECT_V5: &[u8] = &[0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 0, 0, 1, b'f'];
const CONNECT_V311: &[u8] = &[0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'f'];
const SUBSCRIBE_ALL_V5: &[u8] = &[0x82, 7, 0, 1, 0, 0, 1, b'#', 2];
const SUBSCRIBE_ALL_V311: &[u8] = &[0x82, 6, 0, 1, 0, 1, b'#', 2];

fuzz_target!(|data: &[u8]| {
    let config =
        BrokerConfig { max_packet_size: 1024, receive_maximum: 4, max_queued_messages: 8, ..BrokerConfig::default() };
    let max_packet_size = config.max_packet_size as usize;
    let mut broker = Broker::new(config, vec!["lab/chat".into()]);
    let mut now = Instant::now();
    let mut connection = broker.open(now);
    if let Some(&first) = data.first() {
        if first & 1 == 1 {
            let (connect, subscribe) =
                if first & 2 == 0 { (CONNECT_V5, SUBSCRIBE_ALL_V5) } else { (CONNECT_V311, SUBSCRIBE_ALL_V311) };
            broker.receive(connection, connect, now);
            broker.receive(connection, subscribe, now);
        }
    }
    let mut rest = data.get(1..).unwrap_or_default();
    while let Some((&control, tail)) = rest.split_first() {
        let (chunk, after) = tail.split_at(usize::from(control & 0x3F).min(tail.len()));
        broker.receive(connection, chunk, now);
        assert!(broker.buffered(connection) <= max_packet_size);
        match control >> 6 {
            1 => {
                now += Duration::from_secs(u64::from(chunk.len() as u8 & 0x1F));
                broker.tick(now);
            }
            2 => {
                broker.closed(connection, now);
                connection = broker.open(now);
            }
            _ => {}
        }
        let _ = broker.take_outputs();
        rest = after;
    }
    let _ = broker.stats();
    broker.tick(now + Duration::from_secs(100_000));
    let _ = broker.take_outputs();
});
