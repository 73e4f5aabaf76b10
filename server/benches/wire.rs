//! The wire encoders and the byte tap, per event: `cargo bench -p server --bench wire`; results in docs/src/scale.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use protocol::sse::encode_event;
use protocol::{Epoch, Event, EventBody, PollResponse, WireLabel, WsServerMessage};
use server::wire::http2_connection::Http2Wire;
use server::wire::tap::TapObserver;
use server::wire::{Annotation, ConnectionWire, WireLedger};

fn event(payload_bytes: usize) -> Event {
    Event {
        seq: 42,
        emitted_at: 1_763_700_000_000_000,
        body: EventBody::Tick { n: 42, filler: "x".repeat(payload_bytes) },
    }
}

fn encoders(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("encode one event");
    for payload_bytes in [0usize, 100, 1000] {
        let event = Arc::new(event(payload_bytes));
        group.bench_with_input(BenchmarkId::new("SSE text", payload_bytes), &event, |bench, event| {
            bench.iter(|| encode_event(black_box(event)))
        });
        group.bench_with_input(BenchmarkId::new("WebSocket JSON", payload_bytes), &event, |bench, event| {
            bench.iter(|| serde_json::to_string(&WsServerMessage::Event(black_box(event).clone())))
        });
        group.bench_with_input(BenchmarkId::new("poll body, 1 event", payload_bytes), &event, |bench, event| {
            let response = PollResponse { epoch: Epoch("e".into()), events: vec![event.clone()], next: 42, gap: None };
            bench.iter(|| serde_json::to_vec(black_box(&response)))
        });
    }
    group.finish();
}

/// What the byte tap adds to every frame written on an upgraded connection: one nobody inspects (a load-test
/// client), and a page's, whose bytes are also kept for its pcapng export.
fn tap(criterion: &mut Criterion) {
    for (name, target) in [("a load client's", "/api/ws"), ("a page's", "/api/ws?client=benchpagebenchpage")] {
        let address = "127.0.0.1:3000".parse().unwrap();
        let wire = ConnectionWire::new(Arc::new(WireLedger::default()), address, address);
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        wire.read(request.as_bytes());
        wire.written(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        let payload = serde_json::to_vec(&WsServerMessage::Event(Arc::new(event(100)))).unwrap();
        let mut frame = vec![0x81, 126, (payload.len() >> 8) as u8, payload.len() as u8];
        frame.extend_from_slice(&payload);
        criterion.bench_function(
            &format!("tap: annotate + account one WebSocket frame on {name} connection"),
            |bench| {
                bench.iter(|| {
                    wire.annotate(Annotation { event: WireLabel::Tick, seq: Some(42), payload_len: None });
                    wire.written(black_box(&frame));
                })
            },
        );
    }
}

/// The same for native gRPC: one event message in one HTTP/2 DATA frame, cut out, named by its seq, and kept with
/// its first bytes in hex for `/api/wire/http2`.
fn tap_http2(criterion: &mut Criterion) {
    use prost::Message as _;
    let wire = Http2Wire::new(Arc::new(WireLedger::default()));
    let frame = |kind: u8, flags: u8, payload: &[u8]| {
        let mut bytes = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        bytes.extend([kind, flags, 0, 0, 0, 1]);
        bytes.extend_from_slice(payload);
        bytes
    };
    let headers: [(&[u8], &[u8]); 3] = [
        (b":method", b"POST"),
        (b":path", protocol::grpc::SUBSCRIBE_PATH.as_bytes()),
        (b"content-type", b"application/grpc"),
    ];
    let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    opening.extend(frame(0x1, 0x4, &loona_hpack::Encoder::new().encode(headers)));
    TapObserver::read(&wire, &opening);
    let message = protocol::grpc::v1::Event::from(&event(100)).encode_to_vec();
    let data = frame(0x0, 0, &protocol::grpc::framing::encode_message(&message));
    criterion.bench_function("tap: account one native gRPC message in a DATA frame", |bench| {
        bench.iter(|| TapObserver::written(&wire, black_box(&data)))
    });
}

criterion_group!(benches, encoders, tap, tap_http2);
criterion_main!(benches);
