//! A round trip per lane: one message sent upstream the way the lane can, timed until the same lane receives it back
//! as an event. Short polling, long polling and SSE have no upstream of their own, so they POST; the WebSocket lane
//! sends a `publish` frame on the socket it already has, and never falls back to a POST. Matching the answer and the
//! returning event is plain Rust in [`crate::round_trip`].

use std::time::Duration;

use gloo_timers::future::sleep;
use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::WebSocket;

use super::browser_clock::now;
use super::http::publish_from_lane;
use super::LaneRecorder;
use crate::diagram::{NoteTone, RecordKind};
use crate::round_trip::{Completed, PendingRoundTrips, Ticket};
use protocol::{ClientId, WsClientMessage};

/// Where the WebSocket hook keeps its latest socket, for round trips to send on.
pub type SocketSlot = StoredValue<Option<WebSocket>, LocalStorage>;

/// A round trip by `POST /api/publish`, named after the lane so the server files its bytes with the lane's.
pub fn post_round_trip(recorder: LaneRecorder, client: ClientId) -> Callback<()> {
    Callback::new(move |()| {
        let Some((ticket, text)) = recorder.begin_round_trip() else { return };
        let sent = recorder.request(
            "POST /api/publish".into(),
            format!("{text}: this lane has no upstream of its own, so the message goes up as a separate HTTP request"),
        );
        let client = client.clone();
        spawn_local(async move {
            match publish_from_lane(text, recorder.transport, &client).await {
                Ok((ack, exchange)) => {
                    let answer = recorder.response(
                        format!("202 · #{}", ack.seq),
                        format!("published as event #{}; now it has to come back down this lane", ack.seq),
                        None,
                    );
                    if let Some(exchange) = exchange {
                        recorder.bind_exchange(Some(sent.id), Some(answer), exchange);
                    }
                    recorder.round_trip_answered(ticket, ack.seq);
                }
                Err(error) => recorder.round_trip_failed(ticket, error.to_string()),
            }
        });
    })
}

/// A round trip by a `publish` frame on the lane's open socket; if it is not open, the lane says so.
pub fn socket_round_trip(recorder: LaneRecorder, socket: SocketSlot) -> Callback<()> {
    Callback::new(move |()| {
        let open = socket
            .try_with_value(|socket| socket.as_ref().filter(|socket| socket.ready_state() == WebSocket::OPEN).cloned())
            .flatten();
        let Some(socket) = open else {
            recorder.note(
                NoteTone::Warning,
                "round trip not sent: socket not open".into(),
                "this lane sends upstream only on its own WebSocket, which is not open now; it does not POST instead"
                    .into(),
            );
            return;
        };
        let Some((ticket, text)) = recorder.begin_round_trip() else { return };
        let frame = WsClientMessage::Publish { text }.encode();
        recorder.upstream_frame(
            "WS text publish".into(),
            format!("{frame}\n{} B of payload in one masked text frame, on the socket already open", frame.len()),
        );
        if let Err(error) = socket.send_with_str(&frame) {
            recorder.round_trip_failed(ticket, format!("the socket refused the frame: {error:?}"));
        }
    })
}

impl LaneRecorder {
    /// Starts timing a round trip sent now and gives its message text, or says on the lane why it cannot start.
    pub(super) fn begin_round_trip(&self) -> Option<(Ticket, String)> {
        match self.round_trips.try_update_value(|trips| trips.start(now()))? {
            Ok(ticket) => {
                let recorder = *self;
                spawn_local(async move {
                    sleep(Duration::from_millis(PendingRoundTrips::TIMEOUT_MS as u64)).await;
                    recorder.round_trips_expired();
                });
                Some((ticket, format!("round trip · {} #{}", self.transport.title(), ticket.0)))
            }
            Err(refused) => {
                self.note(NoteTone::Warning, "round trip not sent".into(), refused.to_string());
                None
            }
        }
    }

    /// The server answered `ticket`'s send: its message is event `seq`.
    pub(super) fn round_trip_answered(&self, ticket: Ticket, seq: u64) {
        if let Some(Some(done)) = self.round_trips.try_update_value(|trips| trips.acknowledged(ticket, seq)) {
            self.round_trip_done(done);
        }
    }

    /// A WebSocket `ack`: the server answers a socket's text frames in order, so it answers the oldest open send.
    pub(super) fn socket_answered(&self, seq: u64) {
        if let Some(ticket) = self.round_trips.try_with_value(PendingRoundTrips::oldest_unanswered).flatten() {
            self.round_trip_answered(ticket, seq);
        }
    }

    /// A WebSocket error frame: the oldest open send was refused.
    pub(super) fn socket_refused(&self, reason: String) {
        if let Some(ticket) = self.round_trips.try_with_value(PendingRoundTrips::oldest_unanswered).flatten() {
            self.round_trip_failed(ticket, reason);
        }
    }

    /// The socket closed: sends it never answered never will (a new socket's answers must not be taken for theirs).
    pub(super) fn socket_closed(&self) {
        while let Some(ticket) = self.round_trips.try_with_value(PendingRoundTrips::oldest_unanswered).flatten() {
            self.round_trip_failed(ticket, "the socket closed before the server answered".into());
        }
    }

    /// Event `seq` reached this lane at `at`: it may be the message of a round trip.
    pub(super) fn round_trip_event(&self, seq: u64, at: f64) {
        if let Some(Some(done)) = self.round_trips.try_update_value(|trips| trips.arrived(seq, at)) {
            self.round_trip_done(done);
        }
    }

    fn round_trip_done(&self, done: Completed) {
        let millis = done.millis();
        self.metrics.update(|metrics| metrics.round_trip.record(millis));
        let detail = format!(
            "round trip #{} came back to this lane as event #{}: browser clock at send → browser clock at receipt \
             (one clock, so no offset correction)",
            done.ticket.0, done.seq
        );
        let label = format!("round trip {millis:.1} ms");
        self.push(RecordKind::RoundTrip { seq: done.seq }, label, detail, done.sent_at, done.arrived_at);
    }

    pub(super) fn round_trip_failed(&self, ticket: Ticket, reason: String) {
        if let Some(Some(_)) = self.round_trips.try_update_value(|trips| trips.abandon(ticket)) {
            self.note(NoteTone::Error, format!("round trip #{} failed", ticket.0), reason);
        }
    }

    fn round_trips_expired(&self) {
        let expired = self.round_trips.try_update_value(|trips| trips.expire(now())).unwrap_or_default();
        for ticket in expired {
            self.note(
                NoteTone::Warning,
                format!("round trip #{}: not back in {:.0} s", ticket.0, PendingRoundTrips::TIMEOUT_MS / 1000.0),
                "given up: the message did not come back to this lane (lane off, a fault, or lost)".into(),
            );
        }
    }
}
