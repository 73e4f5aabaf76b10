//! One HTTP/2 connection's wire accounting, the counterpart of [`super::connection`] for native gRPC clients.
//! Every frame becomes a record: a HEADERS or CONTINUATION frame's HPACK block is `head` (the HTTP head, as
//! compressed), a DATA frame's data is cut at gRPC messages (their 5-byte prefixes framing, the protobuf payload),
//! and everything else, the preface, SETTINGS, WINDOW_UPDATE, PING, RST_STREAM, GOAWAY and every frame header, is
//! framing.
//!
//! Which stream is which call comes from its request's `:path`, read by decoding the client's header blocks with
//! an HPACK decoder of our own, fed every block in order as the server's is. Frames of the connection itself
//! (stream 0, and the preface) are filed under gRPC, the reason the lab speaks HTTP/2 at all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use loona_hpack::Decoder;
use protocol::{Transport, WireBytes, WireDirection, WireRecord, WireUnit};

use super::connection::classify;
use super::grpc_messages::{self, MessageSplitter};
use super::http2::{self, FrameHeader, FrameSplitter, Http2Unit};
use super::ledger::WireLedger;
use super::tap::TapObserver;
use crate::core::clock::unix_micros_now;

/// The largest dynamic table either side may ask the other's decoder for. The lab advertises HPACK's default 4 KiB
/// and clients rarely ask for more; this only bounds what a hostile size update can make the tap hold.
const MAX_HPACK_TABLE: usize = 64 * 1024;
/// A header block being put together from HEADERS and CONTINUATION frames is dropped past this (hyper refuses
/// header lists over 16 KiB anyway).
const MAX_HEADER_BLOCK: usize = 64 * 1024;
/// Streams remembered at once; the lab allows 100 open per connection, and finished ones are forgotten.
const MAX_STREAMS: usize = 256;

/// One stream: the call it carries, and where its messages are in each direction.
struct Stream {
    exchange: u64,
    transport: Option<Transport>,
    grpc: bool,
    to_server: MessageSplitter,
    to_client: MessageSplitter,
    ended: [bool; 2],
}

/// One direction's header blocks: its decoder (shared by all its streams) and a block in progress.
struct HeaderReader {
    decoder: Decoder<'static>,
    /// Once a block could not be decoded the table is out of step for good: stop trying.
    broken: bool,
    block: Vec<u8>,
}

impl HeaderReader {
    fn new() -> Self {
        let mut decoder = Decoder::new();
        decoder.set_max_allowed_table_size(MAX_HPACK_TABLE);
        Self { decoder, broken: false, block: Vec::new() }
    }

    /// Adds a fragment; at the block's end, its decoded header list.
    fn take(&mut self, fragment: &[u8], ends_block: bool) -> Option<Vec<(String, String)>> {
        if self.block.len() + fragment.len() > MAX_HEADER_BLOCK {
            self.broken = true;
        }
        if self.broken {
            return None;
        }
        self.block.extend_from_slice(fragment);
        if !ends_block {
            return None;
        }
        let block = std::mem::take(&mut self.block);
        match self.decoder.decode(&block) {
            Ok(headers) => Some(
                headers
                    .into_iter()
                    .map(|(name, value)| {
                        (String::from_utf8_lossy(&name).into_owned(), String::from_utf8_lossy(&value).into_owned())
                    })
                    .collect(),
            ),
            Err(error) => {
                tracing::debug!(?error, "an HTTP/2 header block the tap could not decode");
                self.broken = true;
                None
            }
        }
    }
}

struct State {
    requests: FrameSplitter,
    responses: FrameSplitter,
    request_headers: HeaderReader,
    response_headers: HeaderReader,
    streams: BTreeMap<u32, Stream>,
    units: Vec<Http2Unit>,
}

pub struct Http2Wire {
    /// The exchange a connection's own frames are filed under.
    exchange: u64,
    /// The TCP connection's number, from the count HTTP/1.1 connections are numbered by.
    connection: u64,
    ledger: Arc<WireLedger>,
    state: Mutex<State>,
}

impl Http2Wire {
    pub fn new(ledger: Arc<WireLedger>) -> Self {
        let state = State {
            requests: FrameSplitter::client(),
            responses: FrameSplitter::server(),
            request_headers: HeaderReader::new(),
            response_headers: HeaderReader::new(),
            streams: BTreeMap::new(),
            units: Vec::new(),
        };
        Self {
            exchange: ledger.next_exchange(),
            connection: ledger.next_connection(),
            ledger,
            state: Mutex::new(state),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        super::lock(&self.state)
    }

    fn feed(&self, direction: WireDirection, bytes: &[u8]) {
        let mut state = self.state();
        let mut units = std::mem::take(&mut state.units);
        match direction {
            WireDirection::ToServer => state.requests.feed(bytes, &mut units),
            WireDirection::ToClient => state.responses.feed(bytes, &mut units),
        }
        for unit in units.drain(..) {
            for (exchange, transport, unit, bytes, raw) in state.records(self, direction, unit) {
                let record =
                    WireRecord { id: 0, exchange, transport, direction, at: unix_micros_now(), unit, bytes, raw };
                self.ledger.record_http2(record);
            }
        }
        state.units = units;
    }
}

impl TapObserver for Http2Wire {
    fn read(&self, bytes: &[u8]) {
        self.feed(WireDirection::ToServer, bytes);
    }

    fn written(&self, bytes: &[u8]) {
        self.feed(WireDirection::ToClient, bytes);
    }
}

type Made = (u64, Option<Transport>, WireUnit, WireBytes, String);

impl State {
    fn records(&mut self, wire: &Http2Wire, direction: WireDirection, unit: Http2Unit) -> Vec<Made> {
        let connection = (wire.exchange, Some(Transport::Grpc));
        let (header, payload) = match unit {
            Http2Unit::Preface => {
                let unit = frame_unit(wire, "PREFACE", 0, 0, 0);
                let bytes = WireBytes { framing: http2::PREFACE_LEN as u64, ..WireBytes::default() };
                return vec![(connection.0, connection.1, unit, bytes, String::new())];
            }
            Http2Unit::Frame { header, payload } => (header, payload),
        };
        let (exchange, transport) =
            self.streams.get(&header.stream).map_or(connection, |stream| (stream.exchange, stream.transport));
        let size = http2::FRAME_HEADER_LEN as u64 + u64::from(header.length);
        let unit = frame_unit(wire, header.type_name(), header.flags, header.stream, header.length);
        let inside = payload.as_deref().and_then(|payload| Some((http2::unpadded(&header, payload)?, payload)));
        let made = match (header.kind, inside) {
            (http2::HEADERS | http2::CONTINUATION, Some((range, payload))) => {
                let fragment = &payload[range];
                let framing = size - fragment.len() as u64;
                let bytes = WireBytes { head: fragment.len() as u64, framing, payload: 0 };
                let headers = self.headers(wire, direction, &header, fragment);
                let (exchange, transport) =
                    self.streams.get(&header.stream).map_or((exchange, transport), |s| (s.exchange, s.transport));
                let raw = headers.map(|headers| header_text(&headers)).unwrap_or_default();
                vec![(exchange, transport, unit, bytes, raw)]
            }
            (http2::DATA, Some((range, payload))) if !range.is_empty() => {
                let data = &payload[range];
                let carrier_framing = size - data.len() as u64;
                match self.streams.get_mut(&header.stream).filter(|stream| stream.grpc) {
                    Some(stream) => {
                        let splitter = match direction {
                            WireDirection::ToServer => &mut stream.to_server,
                            WireDirection::ToClient => &mut stream.to_client,
                        };
                        let partial = || unit.clone();
                        let events = direction == WireDirection::ToClient && stream.transport == Some(Transport::Grpc);
                        grpc_messages::records_of(splitter.feed(data), carrier_framing, partial, events, true)
                            .into_iter()
                            .map(|(unit, bytes, raw)| (exchange, transport, unit, bytes, raw))
                            .collect()
                    }
                    None => {
                        let bytes = WireBytes { head: 0, framing: carrier_framing, payload: data.len() as u64 };
                        vec![(exchange, transport, unit, bytes, String::new())]
                    }
                }
            }
            // Control frames, empty DATA, and frames too large to read: all framing.
            _ => vec![(exchange, transport, unit, WireBytes { framing: size, ..WireBytes::default() }, String::new())],
        };
        self.finish(direction, &header);
        made
    }

    /// Reads a header block fragment; at the block's end the header list, and for a request the stream it opens.
    fn headers(
        &mut self,
        wire: &Http2Wire,
        direction: WireDirection,
        header: &FrameHeader,
        fragment: &[u8],
    ) -> Option<Vec<(String, String)>> {
        let reader = match direction {
            WireDirection::ToServer => &mut self.request_headers,
            WireDirection::ToClient => &mut self.response_headers,
        };
        let headers = reader.take(fragment, header.has(http2::END_HEADERS))?;
        if direction == WireDirection::ToServer && !self.streams.contains_key(&header.stream) {
            let value = |name: &str| headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
            let (transport, _) = classify(value(":path").unwrap_or_default());
            let grpc = value("content-type").is_some_and(|kind| kind.starts_with(protocol::grpc::CONTENT_TYPE));
            if self.streams.len() >= MAX_STREAMS {
                self.streams.pop_first();
            }
            let stream = Stream {
                exchange: wire.ledger.next_exchange(),
                transport,
                grpc,
                to_server: MessageSplitter::default(),
                to_client: MessageSplitter::default(),
                ended: [false; 2],
            };
            self.streams.insert(header.stream, stream);
        }
        Some(headers)
    }

    /// Forgets a stream once both sides have ended it, or either reset it.
    fn finish(&mut self, direction: WireDirection, header: &FrameHeader) {
        let Some(stream) = self.streams.get_mut(&header.stream) else { return };
        let reset = header.kind == http2::RST_STREAM;
        if matches!(header.kind, http2::DATA | http2::HEADERS) && header.has(http2::END_STREAM) {
            stream.ended[direction as usize] = true;
        }
        if reset || stream.ended == [true, true] {
            self.streams.remove(&header.stream);
        }
    }
}

fn frame_unit(wire: &Http2Wire, frame_type: &'static str, flags: u8, stream: u32, length: u32) -> WireUnit {
    WireUnit::Http2Frame { frame_type: frame_type.into(), flags, stream, length, connection: wire.connection }
}

fn header_text(headers: &[(String, String)]) -> String {
    let text: String = headers.iter().map(|(name, value)| format!("{name}: {value}\n")).collect();
    protocol::redact_credentials(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::grpc::framing::encode_message;
    use protocol::WireLabel;

    use super::http2::frame_for_tests as frame;

    fn block(headers: &[(&[u8], &[u8])]) -> Vec<u8> {
        loona_hpack::Encoder::new().encode(headers.iter().copied())
    }

    #[test]
    fn a_native_subscribe_is_filed_under_grpc_and_its_messages_labelled_by_seq() {
        let ledger = Arc::new(WireLedger::default());
        let wire = Http2Wire::new(ledger.clone());
        let mut request = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        request.extend(frame(0x4, 0, 0, &[]));
        let headers = block(&[
            (b":method", b"POST"),
            (b":path", protocol::grpc::SUBSCRIBE_PATH.as_bytes()),
            (b"content-type", b"application/grpc"),
        ]);
        request.extend(frame(http2::HEADERS, http2::END_HEADERS, 1, &headers));
        request.extend(frame(http2::DATA, http2::END_STREAM, 1, &encode_message(&[])));
        wire.read(&request);
        // Two events in one DATA frame: a backlog.
        let event = |seq| {
            let event = protocol::Event {
                seq,
                emitted_at: 5,
                body: protocol::EventBody::Tick { n: seq, filler: String::new() },
            };
            encode_message(&prost::Message::encode_to_vec(&protocol::grpc::v1::Event::from(&event)))
        };
        let mut data = event(41);
        data.extend(event(42));
        let response = frame(http2::DATA, 0, 1, &data);
        wire.written(&response);

        let page = ledger.http2_page(0, 100);
        let units: Vec<_> = page.records.iter().map(|record| &record.unit).collect();
        assert!(matches!(units[0], WireUnit::Http2Frame { frame_type, .. } if frame_type == "PREFACE"));
        let request_headers = &page.records[2];
        assert_eq!(request_headers.transport, Some(Transport::Grpc));
        assert!(request_headers.raw.contains(":path: /lab.v1.Events/Subscribe"), "{}", request_headers.raw);
        assert_eq!(request_headers.bytes.head, headers.len() as u64);
        let seqs: Vec<_> = page
            .records
            .iter()
            .filter_map(|record| match record.unit {
                WireUnit::GrpcMessage { seq: Some(seq), event: Some(WireLabel::Tick), .. } => Some(seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, [41, 42]);
        let totals = ledger.totals(Some(Transport::Grpc));
        assert_eq!(totals.to_server.total(), request.len() as u64);
        assert_eq!(totals.to_client.total(), response.len() as u64);
        // The DATA frame's 9-byte header goes with the first message; each message's 5-byte prefix is framing.
        assert_eq!(totals.to_client.framing, 9 + 5 + 5);
    }

    #[test]
    fn each_connection_s_frames_carry_its_own_number() {
        let ledger = Arc::new(WireLedger::default());
        let (first, second) = (Http2Wire::new(ledger.clone()), Http2Wire::new(ledger.clone()));
        for wire in [&first, &second] {
            let mut request = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            request.extend(frame(0x4, 0, 0, &[]));
            wire.read(&request);
        }
        let connections: Vec<u64> = ledger
            .http2_page(0, 100)
            .records
            .iter()
            .map(|record| match record.unit {
                WireUnit::Http2Frame { connection, .. } => connection,
                _ => panic!("only frames were sent: {record:?}"),
            })
            .collect();
        assert_eq!(connections.len(), 4);
        assert_eq!(connections[..2], [connections[0]; 2]);
        assert_eq!(connections[2..], [connections[0] + 1; 2], "{connections:?}");
    }

    #[test]
    fn a_block_the_tap_cannot_decode_costs_the_labels_not_the_counts() {
        let ledger = Arc::new(WireLedger::default());
        let wire = Http2Wire::new(ledger.clone());
        let mut request = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        request.extend(frame(http2::HEADERS, http2::END_HEADERS, 1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]));
        request.extend(frame(http2::DATA, 0, 1, b"12345678"));
        wire.read(&request);
        let totals = ledger.totals(Some(Transport::Grpc));
        assert_eq!(totals.to_server.total(), request.len() as u64);
    }
}
