//! What the hub costs per delivered event before any socket is written: publish, fan-out through the broadcast
//! channel, and each streaming transport's encoding, shared (what the server does) against per client (what it
//! did before). `cargo bench -p server --bench hub`; results in docs/src/scale.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use protocol::sse::encode_event;
use protocol::{Epoch, EventBody};
use server::core::hub::EventHub;
use tokio::sync::broadcast::Receiver;

fn tick(n: u64) -> EventBody {
    EventBody::Tick { n, filler: "x".repeat(100) }
}

fn publish_alone(criterion: &mut Criterion) {
    let hub = EventHub::new(Epoch("bench".into()), 10_000);
    let mut n = 0;
    criterion.bench_function("hub/publish, no subscribers", |bench| {
        bench.iter(|| {
            n += 1;
            hub.publish(tick(n))
        })
    });
}

/// One publish, then every subscriber takes the event and the bytes it would write.
fn fan_out(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("hub/fan-out per event");
    group.sample_size(20);
    for subscribers in [1_000u64, 10_000] {
        group.throughput(Throughput::Elements(subscribers));
        let hub = EventHub::new(Epoch("bench".into()), 10_000);
        let mut receivers: Vec<Receiver<_>> = (0..subscribers).map(|_| hub.subscribe(None, 0).live).collect();
        let mut n = 0;
        let mut deliver = |encode: &dyn Fn(&server::core::hub_event::HubEvent) -> usize| {
            n += 1;
            hub.publish(tick(n));
            let mut bytes = 0;
            for receiver in receivers.iter_mut() {
                let event = receiver.try_recv().expect("every subscriber has the event");
                bytes += encode(&event);
            }
            black_box(bytes)
        };
        group.bench_function(BenchmarkId::new("SSE, encoded once", subscribers), |bench| {
            bench.iter(|| deliver(&|event| event.sse_chunk().text.len()))
        });
        group.bench_function(BenchmarkId::new("WebSocket, encoded once", subscribers), |bench| {
            bench.iter(|| deliver(&|event| event.web_socket_text().len()))
        });
        group.bench_function(BenchmarkId::new("SSE, encoded per client", subscribers), |bench| {
            bench.iter(|| deliver(&|event| encode_event(event.event()).text.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, publish_alone, fan_out);
criterion_main!(benches);
