//! Server-Sent Events through the browser's own `EventSource`: it reconnects by itself, honouring the server's
//! `retry:` and sending `Last-Event-ID`. This hook only watches and records; it opens a fresh source only when the
//! browser gives up (the source is CLOSED) or the server restarted.

use futures::channel::mpsc;
use futures::StreamExt;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, EventSource, MessageEvent};

use super::browser_events::Listeners;
use super::lane_task::run_while_enabled;
use super::round_trip::post_round_trip;
use super::{
    back_off, note_no_answer, with_patience, LaneHandle, LaneOptions, LaneRecorder, LinkStatus, NO_ANSWER_AFTER,
};
use crate::diagram::NoteTone;
use protocol::routes::StreamQuery;
use protocol::{ClientId, Event, Gap, StreamHello, Transport, WireLabel, EVENT_KIND_NAMES, SSE_RETRY_MILLIS};

pub fn use_event_source(options: LaneOptions) -> LaneHandle {
    let recorder = LaneRecorder::new(Transport::Sse, &options);
    let client = options.client.clone();
    run_while_enabled(recorder, options.enabled, options.held_back, move |_: Option<AbortSignal>| {
        sse_loop(recorder, client.clone())
    });
    recorder.handle(post_round_trip(recorder, options.client))
}

enum SourceSignal {
    Open,
    Message { name: &'static str, data: String },
    Error,
}

/// An open `EventSource` that is closed when dropped (lane off, page gone, or reopening).
struct Source {
    source: EventSource,
    _listeners: Listeners,
}

impl Drop for Source {
    fn drop(&mut self) {
        self.source.close();
    }
}

async fn sse_loop(recorder: LaneRecorder, client: ClientId) {
    loop {
        let shown = StreamQuery { after: Some(recorder.cursor()), client: None };
        let url = StreamQuery { client: Some(client.clone()), ..shown.clone() }.sse_url();
        recorder.set_status(LinkStatus::Connecting);
        let sent =
            recorder.request(format!("GET {}", shown.sse_url()), format!("GET {url}; Accept: text/event-stream"));
        let (sink, mut signals) = mpsc::unbounded();
        let Ok(source) = EventSource::new(&url) else {
            recorder.note(NoteTone::Error, "EventSource refused the URL".into(), url);
            return;
        };
        let mut listeners = Listeners::new(&source);
        listeners.forward("open", &sink, |_| SourceSignal::Open);
        listeners.forward("error", &sink, |_| SourceSignal::Error);
        for name in EVENT_KIND_NAMES.into_iter().chain([WireLabel::Hello.as_str(), WireLabel::Gap.as_str()]) {
            listeners.forward(name, &sink, move |event| SourceSignal::Message { name, data: message_data(event) });
        }
        let source = Source { source, _listeners: listeners };
        let mut connected_once = false;
        // The latest request arrow, the latest response arrow, and the exchange the server named in its hello.
        let mut request = Some(sent.id);
        let mut response = None;
        let mut exchange = None;
        // Until the stream opens: how long before the lane says the browser may be holding it back for want of a
        // free connection (an EventSource that cannot get one just stays "connecting").
        let mut opening_patience = Some(NO_ANSWER_AFTER);

        loop {
            let next = signals.next();
            let signal = match opening_patience.take() {
                Some(patience) => {
                    with_patience(next, patience, || note_no_answer(recorder, "Opening an SSE stream", patience)).await
                }
                None => next.await,
            };
            let Some(signal) = signal else { break };
            match signal {
                SourceSignal::Open => {
                    recorder.connected();
                    recorder.set_status(LinkStatus::Open);
                    let (label, held_from) = if connected_once {
                        // The browser's own reconnect: EventSource sent the GET by itself, so the page learns of it
                        // only now. Drawn and counted then; the hello binds it to the request the server measured.
                        let reconnect = recorder.request(
                            format!("GET {} · Last-Event-ID", shown.sse_url()),
                            "sent by the browser on its own after the connection was lost, with Last-Event-ID; the \
                             page sees only the stream opening, so the arrow is drawn then"
                                .into(),
                        );
                        request = Some(reconnect.id);
                        ("reconnected · 200 text/event-stream", None)
                    } else {
                        ("200 · text/event-stream", Some(sent.at))
                    };
                    let detail = "the response stays open; events follow as text".into();
                    response = Some(recorder.response(label.into(), detail, held_from));
                    connected_once = true;
                }
                SourceSignal::Message { name, data } if name == WireLabel::Hello.as_str() => {
                    if let Ok(hello) = serde_json::from_str::<StreamHello>(&data) {
                        if recorder.observe_epoch(&hello.epoch) {
                            break; // reopen from #1 of the new run; Last-Event-ID would point into the old one
                        }
                        recorder.served_by(hello.instance.as_deref());
                        recorder.bind_exchange(request.take(), response, hello.exchange);
                        exchange = Some(hello.exchange);
                    }
                }
                SourceSignal::Message { name, data } if name == WireLabel::Gap.as_str() => {
                    if let Ok(gap) = serde_json::from_str::<Gap>(&data) {
                        recorder.gap(gap);
                    }
                }
                SourceSignal::Message { data, .. } => match serde_json::from_str::<Event>(&data) {
                    Ok(event) => {
                        let label = format!("id {} · {}", event.seq, event.body.kind_name());
                        recorder.event(&event, label, &data, data.len(), exchange);
                    }
                    Err(error) => recorder.note(NoteTone::Error, "undecodable event".into(), error.to_string()),
                },
                SourceSignal::Error => {
                    if source.source.ready_state() == EventSource::CLOSED {
                        recorder.connection_lost("stream failed; browser gave up".into(), String::new());
                        break;
                    }
                    recorder.set_status(LinkStatus::Connecting);
                    recorder.connection_lost(
                        "connection lost".into(),
                        format!("the browser reconnects after {SSE_RETRY_MILLIS} ms, sending Last-Event-ID"),
                    );
                    opening_patience = Some(NO_ANSWER_AFTER + std::time::Duration::from_millis(SSE_RETRY_MILLIS));
                }
            }
        }
        drop(source);
        back_off(recorder).await;
    }
}

fn message_data(event: web_sys::Event) -> String {
    event.dyn_into::<MessageEvent>().ok().and_then(|message| message.data().as_string()).unwrap_or_default()
}
