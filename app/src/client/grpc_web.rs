//! gRPC-web: `lab.v1.Events/Subscribe` as a browser can call it. A browser's `fetch` cannot speak HTTP/2's framing
//! or read trailers, so gRPC-web puts the call in one `POST` over whatever HTTP the page has: the request body is
//! the protobuf `SubscribeRequest` behind a 5-byte prefix (flag, length), the response body a prefixed protobuf
//! `Event` per message and, last, a frame with the top flag bit set that carries what native gRPC sends as
//! trailers (`grpc-status`). When the call ends or fails, this hook waits out the session's back-off and calls
//! again from its cursor, like the HTTP stream lane.

use gloo_net::http::Request;
use js_sys::Uint8Array;
use leptos::prelude::*;
use prost::Message;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use super::http_stream::{lost, read_again_and_again, Reader, StreamEnd};
use super::lane_task::{run_while_enabled, LaneLoop};
use super::round_trip::post_round_trip;
use super::{note_no_answer, with_patience, LaneHandle, LaneOptions, LaneRecorder, LinkStatus, NO_ANSWER_AFTER};
use crate::diagram::NoteTone;
use protocol::grpc::framing::{self, Frame, FrameReader, PREFIX_LEN};
use protocol::grpc::{v1, Delivered, SUBSCRIBE_PATH, WEB_CONTENT_TYPE};
use protocol::{ClientId, Epoch, Transport};

/// The largest message this client takes: an audio event is the largest the lab sends.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// gRPC's status for a call the server aborted: the lab's restart (a new run, numbered from 1).
const ABORTED: &str = "10";

pub fn use_grpc_web(options: LaneOptions) -> LaneHandle {
    let recorder = LaneRecorder::new(Transport::Grpc, &options);
    // Off when the page loads (its default): it joins when first switched on, not where the page started.
    if !options.enabled.get_untracked() {
        recorder.join_at_present();
    }
    let client = options.client.clone();
    run_while_enabled(recorder, options.enabled, options.held_back, move |abort| {
        let client = client.clone();
        async move { grpc_loop_code().await((recorder, client, abort)).await }
    });
    recorder.handle(post_round_trip(recorder, options.client))
}

/// The calls, again and again, and with them protobuf and gRPC-web's framing, in a wasm chunk of their own.
#[lazy]
fn grpc_loop_code() -> LaneLoop<(LaneRecorder, ClientId, Option<AbortSignal>)> {
    |(recorder, client, abort)| Box::pin(read_again_and_again(recorder, client, abort, subscribe))
}

async fn subscribe(recorder: LaneRecorder, client: &ClientId, abort: Option<&AbortSignal>) -> StreamEnd {
    let after = recorder.resume_point();
    let message = v1::SubscribeRequest { after, client: client.to_string() };
    let body = framing::encode_message(&message.encode_to_vec());
    recorder.set_status(LinkStatus::Connecting);
    let (label, field) = match after {
        Some(after) => (format!("after={after}"), format!("after: {after}")),
        // No `after`: the server starts at its newest event.
        None => ("from now".to_owned(), "no after".to_owned()),
    };
    let sent = recorder.request(
        format!("POST {SUBSCRIBE_PATH} · {label}"),
        format!(
            "POST {SUBSCRIBE_PATH}; Content-Type: {WEB_CONTENT_TYPE}\nbody: one {}-byte frame: flag 0x00, length {}, \
             SubscribeRequest {{ {field}, client }}\n{}",
            body.len(),
            body.len() - PREFIX_LEN,
            hex(&body)
        ),
    );
    // The client id goes in the URL too: the server's byte tap files a request by its address before any handler
    // has decoded the body, and gRPC ignores the query.
    let url = format!("{SUBSCRIBE_PATH}?client={client}");
    let request = Request::post(&url)
        .header("content-type", WEB_CONTENT_TYPE)
        .header("accept", WEB_CONTENT_TYPE)
        .header("x-grpc-web", "1")
        .abort_signal(abort)
        .body(Uint8Array::from(&body[..]));
    let request = match request {
        Ok(request) => request.send(),
        Err(error) => return lost("call failed", error.to_string()),
    };
    let opened =
        with_patience(request, NO_ANSWER_AFTER, || note_no_answer(recorder, "Calling Subscribe", NO_ANSWER_AFTER))
            .await;
    let response = match opened {
        Ok(response) => response,
        Err(error) => return lost("call failed", error.to_string()),
    };
    let headers = response.headers();
    if response.status() != 200 {
        return lost(&format!("HTTP {}", response.status()), response.text().await.unwrap_or_default());
    }
    // A call refused at once is "trailers-only": its status is in the headers and the body is empty.
    if let Some(status) = headers.get("grpc-status").filter(|status| status != "0") {
        let message = headers.get("grpc-message").unwrap_or_default();
        return lost(&format!("grpc-status {status}"), decode_percent(&message));
    }
    if let Some(epoch) = headers.get(protocol::headers::EPOCH) {
        if recorder.observe_epoch(&Epoch(epoch)) {
            return StreamEnd::Restarted;
        }
    }
    recorder.served_by(headers.get(protocol::headers::INSTANCE).as_deref());
    recorder.connected();
    recorder.set_status(LinkStatus::Open);
    let answer = recorder.response(
        format!("200 · {WEB_CONTENT_TYPE}"),
        "the response stays open: a prefixed protobuf Event per message, then a trailer frame".into(),
        Some(sent.at),
    );
    let exchange = headers.get(protocol::headers::EXCHANGE).and_then(|value| value.parse().ok());
    recorder.bind_exchange(Some(sent.id), Some(answer), exchange.unwrap_or(0));
    let Some(body) = response.body() else { return lost("call failed", "the response has no body") };
    let reader = Reader(body.get_reader().unchecked_into());
    let mut frames = FrameReader::new(MAX_MESSAGE);
    loop {
        let chunk = match reader.next().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                let why = match frames.finish() {
                    Ok(()) => "the response ended without a trailer frame".to_owned(),
                    Err(error) => error.to_string(),
                };
                return lost("call ended", why);
            }
            Err(error) => return lost("call failed", error),
        };
        let read = match frames.push(&chunk) {
            Ok(read) => read,
            Err(error) => return lost("unreadable frame", error.to_string()),
        };
        for frame in read {
            match frame {
                Frame::Message { compressed: true, .. } => {
                    return lost("unreadable frame", "a compressed message, which this client never asked for");
                }
                Frame::Message { compressed: false, payload } => {
                    let decoded = v1::Event::decode(&payload[..]).map_err(|error| error.to_string());
                    match decoded.and_then(|message| Delivered::try_from(message).map_err(|e| e.to_string())) {
                        Ok(Delivered::Event(event)) => {
                            let label = format!("msg #{} · {}", event.seq, event.body.kind_name());
                            // What arrived, prefix and protobuf, in hex: the inspector shows it as received.
                            let framed = framing::encode_message(&payload);
                            let how = format!("frame: flag 0x00, length {} B of protobuf", payload.len());
                            recorder.event_noting(&event, label, &hex(&framed), framed.len(), exchange, Some(how));
                        }
                        Ok(Delivered::Gap(gap)) => recorder.gap(gap),
                        Err(error) => recorder.note(NoteTone::Error, "undecodable message".into(), error),
                    }
                }
                Frame::Trailers(_) => {
                    let status = frame.trailer("grpc-status").unwrap_or("missing").to_owned();
                    let message = decode_percent(frame.trailer("grpc-message").unwrap_or_default());
                    if status == ABORTED {
                        recorder.note(NoteTone::Info, format!("trailers · grpc-status {status}"), message);
                        return StreamEnd::Restarted;
                    }
                    return lost(&format!("trailers · grpc-status {status}"), message);
                }
            }
        }
    }
}

/// gRPC percent-encodes `grpc-message` (RFC 3986 style) so any text fits a header.
fn decode_percent(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|digits| u8::from_str_radix(digits, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The first bytes in hex, for the arrow's detail: the prefix is the lesson.
fn hex(bytes: &[u8]) -> String {
    const SHOWN: usize = 48;
    let shown: Vec<String> = bytes.iter().take(SHOWN).map(|byte| format!("{byte:02x}")).collect();
    let more = if bytes.len() > SHOWN { format!(" … ({} B more)", bytes.len() - SHOWN) } else { String::new() };
    format!("{}{more}", shown.join(" "))
}
