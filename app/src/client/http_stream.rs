//! HTTP streaming: one `fetch` of `GET /api/stream` whose response never ends, read chunk by chunk through its
//! body's `ReadableStreamDefaultReader` and split into lines by the protocol's `LineSplitter` (a chunk may end in
//! the middle of a line, or hold several). There is no `EventSource` here to reconnect: when the response ends or
//! fails, this hook waits out the session's back-off and fetches again with `after=` its cursor.

use gloo_net::http::Request;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, ReadableStreamDefaultReader};

use super::files::js_message;
use super::lane_task::run_while_enabled;
use super::round_trip::post_round_trip;
use super::{
    back_off, note_no_answer, with_patience, LaneHandle, LaneOptions, LaneRecorder, LinkStatus, NO_ANSWER_AFTER,
};
use crate::diagram::NoteTone;
use crate::lane_text;
use protocol::ndjson::{self, LineSplitter, StreamLine};
use protocol::routes::StreamQuery;
use protocol::{ClientId, Transport};

pub fn use_http_stream(options: LaneOptions) -> LaneHandle {
    let recorder = LaneRecorder::new(Transport::HttpStream, &options);
    let client = options.client.clone();
    run_while_enabled(recorder, options.enabled, options.held_back, move |abort| {
        read_again_and_again(recorder, client.clone(), abort, read_stream)
    });
    recorder.handle(post_round_trip(recorder, options.client))
}

/// Why one response stopped being read (here, and in the gRPC-web lane, which reads its call the same way).
pub(super) enum StreamEnd {
    /// The server restarted: fetch again at once, from #1 of the new run.
    Restarted,
    /// Ended or failed: drawn as a lost connection, then the back-off.
    Lost { label: String, detail: String },
}

pub(super) fn lost(label: &str, detail: impl Into<String>) -> StreamEnd {
    StreamEnd::Lost { label: label.into(), detail: detail.into() }
}

/// A lane whose browser has no machinery to reconnect: `read` one response to its end, then again, at once after a
/// restart or after the session's back-off, for as long as the lane runs.
pub(super) async fn read_again_and_again(
    recorder: LaneRecorder,
    client: ClientId,
    abort: Option<AbortSignal>,
    read: impl AsyncFn(LaneRecorder, &ClientId, Option<&AbortSignal>) -> StreamEnd,
) {
    loop {
        match read(recorder, &client, abort.as_ref()).await {
            StreamEnd::Restarted => {}
            StreamEnd::Lost { label, detail } => {
                recorder.connection_lost(label, detail);
                back_off(recorder).await;
            }
        }
    }
}

/// A reader whose stream is cancelled when it is dropped, so a response this hook stops reading (a restart, a bad
/// line) does not keep holding one of the browser's connections. The gRPC-web lane reads its body the same way.
pub(super) struct Reader(pub(super) ReadableStreamDefaultReader);

impl Drop for Reader {
    fn drop(&mut self) {
        // A stream the lane's abort already ended refuses to be cancelled; that refusal is expected, and must not
        // surface as an unhandled rejection.
        let cancelled = JsFuture::from(self.0.cancel());
        wasm_bindgen_futures::spawn_local(async move {
            let _ = cancelled.await;
        });
    }
}

impl Reader {
    /// The next chunk, `Ok(None)` when the response ended.
    pub(super) async fn next(&self) -> Result<Option<Vec<u8>>, String> {
        let result = JsFuture::from(self.0.read()).await.map_err(describe)?;
        let done = Reflect::get(&result, &JsValue::from_str("done")).ok().and_then(|done| done.as_bool());
        if done != Some(false) {
            return Ok(None);
        }
        let value = Reflect::get(&result, &JsValue::from_str("value")).map_err(describe)?;
        Ok(Some(Uint8Array::new(&value).to_vec()))
    }
}

fn describe(error: JsValue) -> String {
    js_message(&error).unwrap_or_else(|| "the read failed".into())
}

async fn read_stream(recorder: LaneRecorder, client: &ClientId, abort: Option<&AbortSignal>) -> StreamEnd {
    let shown = StreamQuery { after: Some(recorder.cursor()), client: None };
    let url = StreamQuery { client: Some(client.clone()), ..shown.clone() }.http_stream_url();
    recorder.set_status(LinkStatus::Connecting);
    let sent = recorder
        .request(format!("GET {}", shown.http_stream_url()), format!("GET {url}; Accept: {}", ndjson::CONTENT_TYPE));
    let request = Request::get(&url).header("accept", ndjson::CONTENT_TYPE).abort_signal(abort).send();
    let opened =
        with_patience(request, NO_ANSWER_AFTER, || note_no_answer(recorder, "Opening an HTTP stream", NO_ANSWER_AFTER))
            .await;
    let response = match opened {
        Ok(response) => response,
        Err(error) => return lost("stream failed", error.to_string()),
    };
    if response.status() != 200 {
        let status = response.status();
        return lost(&format!("HTTP {status}"), response.text().await.unwrap_or_default());
    }
    recorder.connected();
    recorder.set_status(LinkStatus::Open);
    let answer = recorder.response(
        format!("200 · {}", ndjson::CONTENT_TYPE),
        "the response stays open; a JSON line per event, in chunks".into(),
        Some(sent.at),
    );
    let Some(body) = response.body() else { return lost("stream failed", "the response has no body") };
    let reader = Reader(body.get_reader().unchecked_into());
    let mut splitter = LineSplitter::default();
    let mut request = Some(sent.id);
    let mut exchange = None;
    let mut reads = 0u64;
    loop {
        let chunk = match reader.next().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return lost("stream ended", "the server closed the response; fetching again with after="),
            Err(error) => return lost("stream failed", error),
        };
        reads += 1;
        let carried = splitter.held();
        let lines = splitter.push(&chunk);
        let completed = lines.len();
        for (index, line) in lines.into_iter().enumerate() {
            let line = match line {
                Ok(line) => line,
                Err(error) => return lost("unreadable stream", error.to_string()),
            };
            match StreamLine::decode(&line) {
                Ok(StreamLine::Hello(hello)) => {
                    if recorder.observe_epoch(&hello.epoch) {
                        return StreamEnd::Restarted; // `after=` would point into the old run
                    }
                    recorder.served_by(hello.instance.as_deref());
                    recorder.bind_exchange(request.take(), Some(answer), hello.exchange);
                    exchange = Some(hello.exchange);
                }
                Ok(StreamLine::Event(event)) => {
                    let label = format!("line #{} · {}", event.seq, event.body.kind_name());
                    let how = lane_text::line_in_read(reads, chunk.len(), completed, index, carried);
                    recorder.event_noting(&event, label, &line, line.len(), exchange, Some(how));
                }
                Ok(StreamLine::Gap(gap)) => recorder.gap(gap),
                Ok(StreamLine::KeepAlive) => {}
                Err(error) => recorder.note(NoteTone::Error, "undecodable line".into(), error.to_string()),
            }
        }
    }
}
