//! Where gRPC's length-prefixed messages begin and end inside whatever carries them: an HTTP/1.1 chunk for
//! gRPC-web, an HTTP/2 DATA frame for native gRPC. The two need not line up. A stream that fell behind sends a
//! backlog of messages in one chunk, and a large message may be split over several DATA frames, so labelling a
//! carrier by the next event sent (as the SSE lane's chunks are) would name the wrong event. This reads the 5-byte
//! prefixes itself and cuts each carrier where its messages end.
//!
//! Nothing is buffered but a prefix and the first bytes of each message: enough to read its seq and kind
//! ([`protocol::grpc::peek_event`]) and to show the inspector its start.

use protocol::grpc::framing::{PREFIX_LEN, TRAILERS};
use protocol::{WireBytes, WireUnit};

use super::hex::hex;

/// The first bytes of a message kept: a `lab.v1.Event`'s seq, time and kind fit in 25, the rest is for the eye.
pub const KEPT_MESSAGE_BYTES: usize = 64;
/// A gRPC-web trailer frame is text the inspector shows whole, within reason.
const KEPT_TRAILER_BYTES: usize = 512;

/// The part of one carrier up to the end of a message (or up to the carrier's end, if a message goes on).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Piece {
    /// Prefix bytes in this piece.
    pub framing: u64,
    /// Message bytes in this piece.
    pub payload: u64,
    /// Set when a message ends in this piece.
    pub ended: Option<MessageEnd>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageEnd {
    pub flags: u8,
    pub length: u32,
    pub first_bytes: Vec<u8>,
}

#[derive(Debug)]
enum State {
    Prefix { seen: [u8; PREFIX_LEN], filled: usize },
    Message { flags: u8, length: u32, remaining: u64, first_bytes: Vec<u8> },
}

#[derive(Debug)]
pub struct MessageSplitter {
    state: State,
}

impl Default for MessageSplitter {
    fn default() -> Self {
        Self { state: State::Prefix { seen: [0; PREFIX_LEN], filled: 0 } }
    }
}

impl MessageSplitter {
    /// Takes one carrier's bytes of the message stream and cuts them into pieces, one per message ending in them
    /// and one more for a message that goes on into the next carrier. The pieces' bytes add up to `bytes`.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let mut piece = Piece::default();
        while !bytes.is_empty() {
            let used = match &mut self.state {
                State::Prefix { seen, filled } => {
                    let used = (PREFIX_LEN - *filled).min(bytes.len());
                    seen[*filled..*filled + used].copy_from_slice(&bytes[..used]);
                    *filled += used;
                    piece.framing += used as u64;
                    if *filled == PREFIX_LEN {
                        let flags = seen[0];
                        let length = u32::from_be_bytes([seen[1], seen[2], seen[3], seen[4]]);
                        self.state =
                            State::Message { flags, length, remaining: u64::from(length), first_bytes: Vec::new() };
                    }
                    used
                }
                State::Message { remaining, first_bytes, flags, .. } => {
                    let used = (*remaining).min(bytes.len() as u64) as usize;
                    let kept = if *flags & TRAILERS != 0 { KEPT_TRAILER_BYTES } else { KEPT_MESSAGE_BYTES };
                    let room = kept.saturating_sub(first_bytes.len()).min(used);
                    first_bytes.extend_from_slice(&bytes[..room]);
                    *remaining -= used as u64;
                    piece.payload += used as u64;
                    used
                }
            };
            bytes = &bytes[used..];
            // A message is over when its last byte is in (at once, for an empty message).
            if let State::Message { flags, length, remaining: 0, first_bytes } = &mut self.state {
                piece.ended =
                    Some(MessageEnd { flags: *flags, length: *length, first_bytes: std::mem::take(first_bytes) });
                pieces.push(std::mem::take(&mut piece));
                self.state = State::Prefix { seen: [0; PREFIX_LEN], filled: 0 };
            }
        }
        if piece.framing + piece.payload > 0 {
            pieces.push(piece);
        }
        pieces
    }
}

/// Adds the pieces of a carrier's next bytes to those of its earlier ones: a piece whose message went on is joined
/// by the rest of that message.
pub fn append(pieces: &mut Vec<Piece>, more: Vec<Piece>) {
    let mut more = more.into_iter();
    if let Some(last) = pieces.last_mut().filter(|last| last.ended.is_none()) {
        if let Some(first) = more.next() {
            last.framing += first.framing;
            last.payload += first.payload;
            last.ended = first.ended;
        }
    }
    pieces.extend(more);
}

/// What the pieces of one carrier are as records: a `GrpcMessage` for each message that ended in it, and `partial`
/// for bytes of a message that goes on. The carrier's own framing (`carrier_framing`: a chunk-size line, a DATA
/// frame's header) is counted with its first piece. `events`: the messages are `lab.v1.Event`s (a Subscribe's
/// answers), to be named by their seq and kind; any other message (a request, reflection's) would be misread.
/// `keep`: whether anyone will read the text.
pub fn records_of(
    pieces: Vec<Piece>,
    mut carrier_framing: u64,
    partial: impl Fn() -> WireUnit,
    events: bool,
    keep: bool,
) -> Vec<(WireUnit, WireBytes, String)> {
    pieces
        .into_iter()
        .map(|piece| {
            let bytes = WireBytes {
                head: 0,
                framing: piece.framing + std::mem::take(&mut carrier_framing),
                payload: piece.payload,
            };
            let Some(end) = piece.ended else { return (partial(), bytes, String::new()) };
            let trailers = end.flags & TRAILERS != 0;
            let peeked = (events && !trailers).then(|| protocol::grpc::peek_event(&end.first_bytes)).flatten();
            let (seq, event) = peeked.map_or((None, None), |(seq, event)| (seq, Some(event)));
            let raw = match (keep, trailers) {
                (false, _) => String::new(),
                (true, true) => String::from_utf8_lossy(&end.first_bytes).into_owned(),
                (true, false) => hex(&end.first_bytes),
            };
            (WireUnit::GrpcMessage { flags: end.flags, length: end.length, seq, event }, bytes, raw)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::grpc::framing::{encode_message, encode_trailers};

    fn total(pieces: &[Piece]) -> u64 {
        pieces.iter().map(|piece| piece.framing + piece.payload).sum()
    }

    #[test]
    fn a_backlog_in_one_carrier_is_cut_at_every_message() {
        let mut carrier = encode_message(b"first");
        carrier.extend(encode_message(b""));
        carrier.extend(encode_trailers(&[("grpc-status", "0")]));
        let pieces = MessageSplitter::default().feed(&carrier);
        assert_eq!(pieces.len(), 3);
        assert_eq!(total(&pieces), carrier.len() as u64);
        assert_eq!((pieces[0].framing, pieces[0].payload), (5, 5));
        assert_eq!(pieces[0].ended.as_ref().unwrap().first_bytes, b"first");
        assert_eq!(pieces[1].ended.as_ref().map(|end| end.length), Some(0), "an empty message is a message");
        let trailers = pieces[2].ended.as_ref().unwrap();
        assert_eq!((trailers.flags, trailers.first_bytes.as_slice()), (TRAILERS, &b"grpc-status: 0\r\n"[..]));
    }

    #[test]
    fn a_message_over_several_carriers_ends_in_the_last_and_keeps_only_its_start() {
        let payload = vec![7u8; 1000];
        let message = encode_message(&payload);
        let mut splitter = MessageSplitter::default();
        let mut pieces = Vec::new();
        // Cut anywhere, even inside the prefix.
        for carrier in [&message[..3], &message[3..400], &message[400..]] {
            let cut = splitter.feed(carrier);
            assert_eq!(total(&cut), carrier.len() as u64);
            pieces.extend(cut);
        }
        assert_eq!(pieces.iter().filter(|piece| piece.ended.is_some()).count(), 1);
        let end = pieces.last().unwrap().ended.as_ref().unwrap();
        assert_eq!((end.length, end.first_bytes.len()), (1000, KEPT_MESSAGE_BYTES));
        assert_eq!(pieces.iter().map(|piece| piece.framing).sum::<u64>(), 5);
    }

    #[test]
    fn one_carrier_read_in_parts_is_cut_as_if_read_at_once() {
        let mut carrier = encode_message(b"abc");
        carrier.extend(encode_message(b"defgh"));
        let mut splitter = MessageSplitter::default();
        let mut pieces = Vec::new();
        append(&mut pieces, splitter.feed(&carrier[..6]));
        append(&mut pieces, splitter.feed(&carrier[6..]));
        assert_eq!(pieces, MessageSplitter::default().feed(&carrier));
    }

    #[test]
    fn only_a_subscribes_answers_are_read_as_events() {
        // Reflection's `file_containing_symbol` is field 4, LEN: as an Event it would read as a message body.
        let request = encode_message(b"\x22\x0dlab.v1.Events");
        let partial = || WireUnit::Unparsed;
        let as_event = records_of(MessageSplitter::default().feed(&request), 0, partial, true, true);
        assert!(matches!(as_event[0].0, WireUnit::GrpcMessage { event: Some(_), .. }), "{as_event:?}");
        let as_request = records_of(MessageSplitter::default().feed(&request), 0, partial, false, true);
        assert_eq!(as_request[0].0, WireUnit::GrpcMessage { flags: 0, length: 15, seq: None, event: None });
    }
}
