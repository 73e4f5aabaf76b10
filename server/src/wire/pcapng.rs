//! A page's captured connections as a pcapng file that Wireshark and tshark open: the bytes the tap kept, in
//! Ethernet, IP and TCP headers made up around them. The headers are a model (no packet was captured, so no
//! privileges are needed); the payload bytes and their times are the tap's. The TCP sequence numbers count every byte
//! that crossed, so a byte the lab did not keep shows in Wireshark as a segment not captured, never as a stream
//! that silently joins up. The handshake is drawn when the connection opened and the FINs when it closed; which side
//! closed first is not known to the tap, so the server's FIN is drawn first.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::PacketBuilder;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness};

use super::capture::{direction_index, CapturedConnection};

/// Payload bytes per made-up TCP segment: loopback's own segments are larger, but every dissector reads these.
const SEGMENT_BYTES: usize = 16 * 1024;
/// Locally administered addresses: there was no Ethernet, and these say so.
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const WINDOW: u16 = 65_535;

#[derive(Debug, thiserror::Error)]
pub enum PcapngError {
    #[error("could not write the capture: {0}")]
    Write(#[from] pcap_file::PcapError),
    #[error("could not build a packet: {0}")]
    Packet(#[from] etherparse::err::packet::BuildWriteError),
}

/// One made-up packet and when its bytes crossed.
struct Packet {
    at: u64,
    frame: Vec<u8>,
}

/// TCP flags of a made-up segment.
#[derive(Clone, Copy, Default)]
struct Flags {
    syn: bool,
    fin: bool,
    ack: bool,
    psh: bool,
}

/// `connections` as a pcapng file, its section comment saying what the file is and what it is missing.
pub fn write(connections: &[CapturedConnection], comment: &str) -> Result<Vec<u8>, PcapngError> {
    let section = SectionHeaderBlock {
        endianness: Endianness::Little,
        options: vec![
            SectionHeaderOption::Comment(Cow::Owned(comment.to_owned())),
            SectionHeaderOption::UserApplication(Cow::Borrowed("Transport Lab")),
        ],
        ..SectionHeaderBlock::default()
    };
    let mut writer = PcapNgWriter::with_section_header(Vec::new(), section)?;
    writer.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: 0,
        options: vec![
            InterfaceDescriptionOption::IfName(Cow::Borrowed("transport-lab-tap")),
            // The writer stores nanoseconds; without this a reader would take them for microseconds.
            InterfaceDescriptionOption::IfTsResol(9),
        ],
    })?;
    let mut packets = Vec::new();
    for connection in connections {
        packets.extend(connection_packets(connection)?);
    }
    // Stable: within a connection, packets with one timestamp keep their TCP order.
    packets.sort_by_key(|packet| packet.at);
    for packet in packets {
        writer.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_micros(packet.at),
            original_len: packet.frame.len() as u32,
            data: Cow::Owned(packet.frame),
            options: vec![],
        })?;
    }
    Ok(writer.into_inner())
}

/// The two ends of one connection and where each has got to.
struct Ends {
    client: SocketAddr,
    server: SocketAddr,
    /// Initial sequence numbers, client's then server's.
    initial: [u32; 2],
    /// Bytes sent so far (to server, to client): what the other side acknowledges.
    sent: [u64; 2],
}

impl Ends {
    /// A segment from `from` (0: the client, 1: the server) carrying `payload` at stream offset `offset`.
    fn segment(&self, from: usize, offset: u64, flags: Flags, payload: &[u8]) -> Result<Vec<u8>, PcapngError> {
        let (source, destination, macs) = match from {
            0 => (self.client, self.server, (CLIENT_MAC, SERVER_MAC)),
            _ => (self.server, self.client, (SERVER_MAC, CLIENT_MAC)),
        };
        let to = 1 - from;
        // A SYN takes one sequence number; data starts after it.
        let sequence = self.initial[from].wrapping_add(if flags.syn { 0 } else { 1 }).wrapping_add(offset as u32);
        let acknowledged = self.initial[to].wrapping_add(1).wrapping_add(self.sent[to] as u32);
        let ethernet = PacketBuilder::ethernet2(macs.0, macs.1);
        let ip = match (source.ip(), destination.ip()) {
            (IpAddr::V4(source), IpAddr::V4(destination)) => ethernet.ipv4(source.octets(), destination.octets(), 64),
            (source, destination) => ethernet.ipv6(v6(source), v6(destination), 64),
        };
        let mut tcp = ip.tcp(source.port(), destination.port(), sequence, WINDOW);
        if flags.syn {
            tcp = tcp.syn();
        }
        if flags.fin {
            tcp = tcp.fin();
        }
        if flags.psh {
            tcp = tcp.psh();
        }
        if flags.ack {
            tcp = tcp.ack(acknowledged);
        }
        let mut frame = Vec::with_capacity(tcp.size(payload.len()));
        tcp.write(&mut frame, payload)?;
        Ok(frame)
    }
}

fn v6(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(address) => address.to_ipv6_mapped().octets(),
        IpAddr::V6(address) => address.octets(),
    }
}

fn connection_packets(connection: &CapturedConnection) -> Result<Vec<Packet>, PcapngError> {
    // Made-up initial sequence numbers, different per connection as a real stack's are.
    let initial = (connection.id as u32).wrapping_mul(0x9E37_79B9);
    let mut ends =
        Ends { client: connection.client, server: connection.server, initial: [initial, !initial], sent: [0, 0] };
    let opened = connection.opened_at;
    let mut packets = Vec::new();
    let mut push = |at: u64, frame| packets.push(Packet { at: at.max(opened), frame });
    push(opened, ends.segment(0, 0, Flags { syn: true, ..Flags::default() }, &[])?);
    push(opened, ends.segment(1, 0, Flags { syn: true, ack: true, ..Flags::default() }, &[])?);
    push(opened, ends.segment(0, 0, Flags { ack: true, ..Flags::default() }, &[])?);
    let data = Flags { ack: true, psh: true, ..Flags::default() };
    for segment in &connection.segments {
        let from = direction_index(segment.direction);
        for (n, piece) in segment.bytes.chunks(SEGMENT_BYTES).enumerate() {
            let offset = segment.offset + (n * SEGMENT_BYTES) as u64;
            push(segment.at, ends.segment(from, offset, data, piece)?);
            ends.sent[from] = ends.sent[from].max(offset + piece.len() as u64);
        }
    }
    if let Some(closed) = connection.closed_at {
        ends.sent = connection.crossed;
        let fin = Flags { fin: true, ack: true, ..Flags::default() };
        push(closed, ends.segment(1, ends.sent[1], fin, &[])?);
        ends.sent[1] += 1;
        push(closed, ends.segment(0, ends.sent[0], fin, &[])?);
        ends.sent[0] += 1;
        push(closed, ends.segment(1, ends.sent[1], Flags { ack: true, ..Flags::default() }, &[])?);
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::capture::Segment;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use pcap_file::pcapng::{Block, PcapNgReader};
    use protocol::WireDirection;

    fn connection() -> CapturedConnection {
        let request = b"GET /api/poll?client=me HTTP/1.1\r\nhost: lab\r\n\r\n".to_vec();
        let response = b"HTTP/1.1 204 No Content\r\n\r\n".to_vec();
        let segment = |direction, at, offset, bytes| Segment { direction, at, offset, bytes };
        CapturedConnection {
            id: 7,
            client: "127.0.0.1:50123".parse().unwrap(),
            server: "127.0.0.1:3000".parse().unwrap(),
            opened_at: 1_000,
            closed_at: Some(5_000),
            crossed: [request.len() as u64 * 2, response.len() as u64 * 2],
            segments: vec![
                segment(WireDirection::ToServer, 1_100, 0, request.clone()),
                segment(WireDirection::ToClient, 1_200, 0, response.clone()),
                segment(WireDirection::ToServer, 2_100, request.len() as u64, request),
                segment(WireDirection::ToClient, 2_200, response.len() as u64, response),
            ],
            not_kept: 0,
        }
    }

    /// (microseconds, source port, flags as text, sequence, acknowledgement, payload length) of every packet.
    fn read_back(file: &[u8]) -> Vec<(u64, u16, String, u32, u32, usize)> {
        let mut reader = PcapNgReader::new(file).unwrap();
        let mut packets = Vec::new();
        while let Some(block) = reader.next_block() {
            let Block::EnhancedPacket(packet) = block.unwrap() else { continue };
            let sliced = SlicedPacket::from_ethernet(&packet.data).unwrap();
            assert!(matches!(sliced.net, Some(NetSlice::Ipv4(_))));
            let Some(TransportSlice::Tcp(tcp)) = sliced.transport else { panic!("not TCP") };
            let flags: String = [(tcp.syn(), 'S'), (tcp.fin(), 'F'), (tcp.psh(), 'P'), (tcp.ack(), 'A')]
                .iter()
                .filter_map(|(set, letter)| set.then_some(*letter))
                .collect();
            packets.push((
                packet.timestamp.as_micros() as u64,
                tcp.source_port(),
                flags,
                tcp.sequence_number(),
                tcp.acknowledgment_number(),
                tcp.payload().len(),
            ));
        }
        packets
    }

    #[test]
    fn a_connection_is_a_handshake_its_bytes_in_order_and_a_close_whose_numbers_add_up() {
        let file = write(&[connection()], "test").unwrap();
        let packets = read_back(&file);
        let isn = 7u32.wrapping_mul(0x9E37_79B9);
        let (c, s) = (|n: u32| isn.wrapping_add(n), |n: u32| (!isn).wrapping_add(n));
        let packet = |at, port, flags: &str, seq, ack, len| (at, port, flags.to_owned(), seq, ack, len);
        let expected = vec![
            packet(1_000, 50123, "S", c(0), 0, 0),
            packet(1_000, 3000, "SA", s(0), c(1), 0),
            packet(1_000, 50123, "A", c(1), s(1), 0),
            packet(1_100, 50123, "PA", c(1), s(1), 47),
            packet(1_200, 3000, "PA", s(1), c(48), 27),
            packet(2_100, 50123, "PA", c(48), s(28), 47),
            packet(2_200, 3000, "PA", s(28), c(95), 27),
            packet(5_000, 3000, "FA", s(55), c(95), 0),
            packet(5_000, 50123, "FA", c(95), s(56), 0),
            packet(5_000, 3000, "A", s(56), c(96), 0),
        ];
        assert_eq!(packets, expected);
    }

    #[test]
    fn a_byte_not_kept_is_a_gap_in_the_sequence_numbers_and_a_big_write_is_split() {
        let mut connection = connection();
        connection.segments.remove(2);
        connection.segments[2].bytes = vec![b'x'; SEGMENT_BYTES + 10];
        connection.closed_at = None;
        let packets = read_back(&write(&[connection], "test").unwrap());
        let isn = 7u32.wrapping_mul(0x9E37_79B9);
        let (c, s) = (|n: u32| isn.wrapping_add(n), |n: u32| (!isn).wrapping_add(n));
        let data: Vec<_> = packets.iter().skip(3).map(|packet| (packet.3, packet.5)).collect();
        assert_eq!(data, [(c(1), 47), (s(1), 27), (s(28), SEGMENT_BYTES), (s(28 + SEGMENT_BYTES as u32), 10)]);
    }
}
