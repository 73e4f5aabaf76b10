//! The floor's event log: the lab's generator schedule, a bounded history for polls and resumes, and each event's
//! bytes for every transport, encoded once with the protocol crate's codecs so they are the lab's bytes exactly.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocol::{
    ndjson, sse, tick_filler, Epoch, Event, EventBody, Gap, GeneratorSettings, PollResponse, StreamHello,
    WsServerMessage,
};

use crate::http;
use crate::web_socket;

/// One event as every subscriber gets it: the same bytes for all of a transport's sockets. The streams' text is
/// framed as an HTTP/1.1 chunk, as hyper frames the lab's (and Node frames its own).
pub struct Encoded {
    pub sse: Vec<u8>,
    pub ndjson: Vec<u8>,
    pub web_socket: Vec<u8>,
}

/// The wall clock in Unix microseconds, as the lab stamps `emitted_at` and answers `/api/time`.
pub fn unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}

pub struct Log {
    pub epoch: Epoch,
    pub settings: GeneratorSettings,
    history: VecDeque<Arc<Event>>,
    capacity: usize,
    head_seq: u64,
    ticks: u64,
    next_tick: Instant,
}

impl Log {
    pub fn new(settings: GeneratorSettings, capacity: usize) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let epoch = Epoch(format!("{:016x}", now.as_nanos() as u64 ^ (u64::from(std::process::id()) << 40)));
        Self {
            epoch,
            settings,
            history: VecDeque::with_capacity(capacity.min(16_384)),
            capacity,
            head_seq: 0,
            ticks: 0,
            next_tick: Instant::now(),
        }
    }

    pub fn head_seq(&self) -> u64 {
        self.head_seq
    }

    /// New settings take effect at `now`: a change of rate or an unpause starts the schedule afresh, as the lab's
    /// does.
    pub fn set(&mut self, settings: GeneratorSettings, now: Instant) {
        self.settings = settings;
        self.next_tick = now;
    }

    /// How long until the next tick is due (`None` while paused).
    pub fn until_next_tick(&self, now: Instant) -> Option<Duration> {
        (!self.settings.paused).then(|| self.next_tick.saturating_duration_since(now))
    }

    /// The tick due now, if one is. Ticks fall on exact deadlines (start + k × period); a late one fires at once
    /// and the schedule catches up, so every server is offered the same number of events; only a stall of over a
    /// second starts it afresh.
    pub fn due_tick(&mut self, now: Instant) -> Option<Arc<Event>> {
        if self.settings.paused || now < self.next_tick {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / self.settings.rate_per_second);
        self.next_tick += period;
        if self.next_tick + Duration::from_secs(1) < now {
            self.next_tick = now + period;
        }
        self.ticks += 1;
        Some(self.append(EventBody::Tick { n: self.ticks, filler: tick_filler(self.settings.payload_bytes) }))
    }

    fn append(&mut self, body: EventBody) -> Arc<Event> {
        self.head_seq += 1;
        let event = Arc::new(Event { seq: self.head_seq, emitted_at: unix_micros(), body });
        if self.history.len() == self.capacity {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        event
    }

    pub fn encode(&self, event: &Arc<Event>) -> Encoded {
        Encoded {
            sse: http::chunk(sse::encode_event(event).text.as_bytes()),
            ndjson: http::chunk(ndjson::encode_event(event).text.as_bytes()),
            web_socket: web_socket::text_frame(&WsServerMessage::Event(event.clone()).encode()),
        }
    }

    pub fn hello(&self) -> StreamHello {
        StreamHello { epoch: self.epoch.clone(), head_seq: self.head_seq, exchange: 0, instance: None }
    }

    /// Events after `after` (at most `limit`) and the range the history no longer holds, as the lab answers.
    pub fn after(&self, after: u64, limit: usize) -> (Vec<Arc<Event>>, Option<Gap>) {
        let first = self.history.front().map_or(self.head_seq + 1, |event| event.seq);
        let start = after.saturating_add(1).max(first);
        let skip = usize::try_from(start - first).unwrap_or(usize::MAX);
        let events = self.history.iter().skip(skip).take(limit).cloned().collect();
        let gap =
            (after.saturating_add(1) < first && self.head_seq >= first).then(|| Gap { from: after + 1, to: first - 1 });
        (events, gap)
    }

    /// A poll's body: the events after `after` and the cursor to ask with next.
    pub fn poll(&self, after: u64, limit: usize) -> PollResponse {
        let (events, gap) = self.after(after, limit);
        let next = match (events.last(), gap) {
            (Some(last), _) => last.seq,
            (None, Some(gap)) => gap.to,
            (None, None) => after.min(self.head_seq),
        };
        PollResponse { epoch: self.epoch.clone(), events, next, gap }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(capacity: usize) -> Log {
        Log::new(GeneratorSettings { rate_per_second: 50.0, payload_bytes: 3, paused: false }, capacity)
    }

    #[test]
    fn a_poll_past_the_history_names_the_gap_and_resumes_after_it() {
        let mut log = running(3);
        for _ in 0..5 {
            log.append(EventBody::Message { text: "x".into() });
        }
        let answer = log.poll(0, 10);
        assert_eq!(answer.gap, Some(Gap { from: 1, to: 2 }));
        assert_eq!(answer.events.iter().map(|event| event.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(answer.next, 5);
        assert_eq!(log.poll(5, 10).next, 5);
        assert_eq!(log.poll(3, 1).events[0].seq, 4);
        // A cursor from an earlier run, ahead of the head, is told where the head is.
        assert_eq!(log.poll(99, 10).next, 5);
    }

    #[test]
    fn ticks_fall_on_deadlines_and_catch_up() {
        let mut log = running(10);
        let start = Instant::now();
        log.set(log.settings, start);
        assert!(log.due_tick(start + Duration::from_millis(1)).is_some());
        assert!(log.due_tick(start + Duration::from_millis(2)).is_none());
        // 50 ms late: the 20 ms ticks that fell due since fire one after another.
        let late = start + Duration::from_millis(61);
        let caught_up = std::iter::from_fn(|| log.due_tick(late)).count();
        assert_eq!(caught_up, 3);
        let paused = GeneratorSettings { paused: true, ..log.settings };
        log.set(paused, late);
        assert_eq!(log.until_next_tick(late), None);
    }

    #[test]
    fn each_stream_gets_one_chunk_and_the_web_socket_one_text_frame() {
        let mut log = running(10);
        let event = log.due_tick(Instant::now() + Duration::from_millis(1)).unwrap();
        let encoded = log.encode(&event);
        let sse = std::str::from_utf8(&encoded.sse).unwrap();
        let (size, rest) = sse.split_once("\r\n").unwrap();
        assert_eq!(usize::from_str_radix(size, 16).unwrap() + 2, rest.len());
        assert!(rest.starts_with("id: 1\nevent: tick\ndata: {") && rest.ends_with("}\n\n\r\n"), "{sse:?}");
        assert!(encoded.ndjson.ends_with(b"}\n\r\n"));
        let text = WsServerMessage::Event(event).encode();
        assert_eq!(encoded.web_socket[..2], [0x81, text.len() as u8]);
        assert_eq!(&encoded.web_socket[2..], text.as_bytes());
    }

    #[test]
    fn a_cursor_at_the_end_of_the_numbers_does_not_overflow() {
        let log = running(10);
        assert_eq!(log.poll(u64::MAX, 10).next, 0);
    }
}
