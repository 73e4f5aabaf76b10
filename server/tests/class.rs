//! Classroom mode over real HTTP: who is connected (`/api/class`), the join QR code, the teacher's broadcast.

use crate::common;

use std::time::Duration;

use common::TestServer;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use protocol::{ApiErrorBody, ClassPresence, Event, EventBody, JoinUrlSource, PollResponse, PublishAck, Transport};
use tokio::time::timeout;

const PATIENCE: Duration = Duration::from_secs(10);

async fn presence(server: &TestServer) -> ClassPresence {
    let response = server.http.get(server.url("/api/class")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn pages_on(presence: &ClassPresence, transport: Transport) -> u64 {
    presence.transports[&transport].pages
}

/// Waits until the presence count satisfies `done`, or panics with `why` after 10 s.
async fn wait_for_presence(server: &TestServer, why: &str, done: impl Fn(&ClassPresence) -> bool) -> ClassPresence {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = presence(server).await;
        if done(&now) {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "{why}: {now:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn error_body(response: reqwest::Response, status: u16) -> ApiErrorBody {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_empty_class_has_no_pages_and_a_join_link_on_the_bound_port() {
    let server = TestServer::start().await;
    let class = presence(&server).await;
    assert_eq!(class.pages, 0);
    assert!(Transport::ALL.into_iter().all(|transport| class.transports[&transport] == Default::default()));
    assert_eq!(class.join.url, format!("http://{}/", server.addr));
    // The test server listens on loopback: the presenter view must say students cannot reach it.
    assert_eq!(class.join.source, JoinUrlSource::LoopbackOnly);
    assert_eq!(class.window_seconds, 6);
    assert!(class.generator.paused);
}

#[tokio::test]
async fn each_page_counts_once_overall_and_once_per_transport_it_is_connected_on() {
    let server = TestServer::start().await;
    // Page "alice" streams over SSE and holds a long poll; "bob" has a WebSocket; "carol" short-polls; "dave"
    // reads an HTTP stream; a client that names no page holds an SSE stream too.
    let alice_sse = server.http.get(server.url("/api/sse?client=alice")).send().await.unwrap();
    let _anonymous_sse = server.http.get(server.url("/api/sse")).send().await.unwrap();
    server.wait_for_open(Transport::Sse, 2, "both SSE streams are held").await;
    let long_poll = tokio::spawn({
        let (http, url) = (server.http.clone(), server.url("/api/long-poll?after=0&timeout=30&client=alice"));
        async move { http.get(url).send().await.unwrap().status() }
    });
    server.wait_for_open(Transport::LongPoll, 1, "the long poll is held").await;
    let (bob, _) = tokio_tungstenite::connect_async(server.ws_url("/api/ws?client=bob")).await.unwrap();
    server.wait_for_open(Transport::WebSocket, 1, "the WebSocket is open").await;
    let poll = server.http.get(server.url("/api/poll?after=0&client=carol")).send().await.unwrap();
    assert_eq!(poll.status(), 200);
    let dave = server.http.get(server.url("/api/stream?client=dave")).send().await.unwrap();
    server.wait_for_open(Transport::HttpStream, 1, "the HTTP stream is held").await;
    // Erin watches a webhook endpoint of her page: reading its delivery log is her presence on that lane.
    let endpoint: serde_json::Value = server
        .http
        .post(server.url("/api/webhooks/endpoints"))
        .json(&serde_json::json!({"url": "lab", "client": "erin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deliveries = format!("/api/webhooks/endpoints/{}/deliveries", endpoint["id"].as_str().unwrap());
    assert_eq!(server.http.get(server.url(&deliveries)).send().await.unwrap().status(), 200);

    // Frank's page has its MQTT lane on: its broker connection is its presence there.
    let _frank = common::mqtt_socket::MqttSocket::open_as(&server, "frank").await;
    server.wait_for_open(Transport::Mqtt, 1, "the MQTT socket is open").await;
    // Gina's gRPC-web lane: the page named in the call's request message.
    let url = server.url(protocol::grpc::SUBSCRIBE_PATH);
    let (status, _, _gina) = common::grpc_web::subscribe_as(&server.http, &url, None, "gina").await;
    assert_eq!(status, 200);
    server.wait_for_open(Transport::Grpc, 1, "the gRPC call is held").await;

    let class = presence(&server).await;
    assert_eq!(class.pages, 7, "{class:?}");
    for transport in Transport::ALL {
        assert_eq!(pages_on(&class, transport), 1, "{transport:?}: {class:?}");
    }
    assert_eq!(class.transports[&Transport::Sse].open_connections, 2, "the anonymous stream is a connection");

    // A closed WebSocket leaves the count at once: its connection was the whole of its presence.
    drop(bob);
    wait_for_presence(&server, "bob's WebSocket closed", |class| pages_on(class, Transport::WebSocket) == 0).await;
    drop(alice_sse);
    wait_for_presence(&server, "alice's SSE stream closed", |class| pages_on(class, Transport::Sse) == 0).await;
    drop(dave);
    wait_for_presence(&server, "dave's HTTP stream closed", |class| pages_on(class, Transport::HttpStream) == 0).await;

    // Answering the long poll does not end alice's presence on it: the next one follows at once.
    server.publish("wake").await;
    assert_eq!(timeout(PATIENCE, long_poll).await.unwrap().unwrap(), 200);
    let class = presence(&server).await;
    assert_eq!(pages_on(&class, Transport::LongPoll), 1);
    assert_eq!(class.transports[&Transport::LongPoll].open_connections, 0);
}

#[tokio::test]
async fn a_page_whose_lanes_are_all_off_is_present_through_its_side_channel() {
    let server = TestServer::start().await;
    let wire = server.http.get(server.url("/api/wire?client=dave&after=0")).send().await.unwrap();
    assert_eq!(wire.status(), 200);
    let class = presence(&server).await;
    assert_eq!(class.pages, 1);
    assert!(Transport::ALL.into_iter().all(|transport| pages_on(&class, transport) == 0));
}

#[tokio::test]
async fn bad_input_gets_a_json_error_naming_it() {
    let server = TestServer::start().await;
    let unknown = server.http.get(server.url("/api/class?room=5")).send().await.unwrap();
    let body = error_body(unknown, 400).await;
    assert_eq!((body.error.as_str(), body.field.as_deref()), ("invalid_parameter", Some("room")));
    let qr = server.http.get(server.url("/api/class/qr.svg?size=9")).send().await.unwrap();
    assert_eq!(error_body(qr, 400).await.field.as_deref(), Some("size"));

    let broadcast = |body: serde_json::Value| server.http.post(server.url("/api/class/broadcast")).json(&body).send();
    let blank = error_body(broadcast(serde_json::json!({"text": "  "})).await.unwrap(), 400).await;
    assert_eq!((blank.error.as_str(), blank.field.as_deref()), ("invalid_field", Some("text")));
    let long = error_body(broadcast(serde_json::json!({"text": "x".repeat(1025)})).await.unwrap(), 400).await;
    assert_eq!(long.field.as_deref(), Some("text"));
    let extra = error_body(broadcast(serde_json::json!({"text": "hi", "to": "all"})).await.unwrap(), 400).await;
    assert_eq!(extra.field.as_deref(), Some("to"));
    let not_json = server.http.post(server.url("/api/class/broadcast")).body("hi").send().await.unwrap();
    assert_eq!(error_body(not_json, 415).await.error, "unsupported_media_type");
    assert_eq!(server.state.hub().head_seq(), 0, "nothing refused was published");
}

#[tokio::test]
async fn the_join_qr_code_is_an_svg_of_the_configured_url() {
    let server = TestServer::start_with(&["--public-url", "http://192.168.1.20:3000/"]).await;
    let class = presence(&server).await;
    assert_eq!(class.join.url, "http://192.168.1.20:3000/");
    assert_eq!(class.join.source, JoinUrlSource::Configured);

    let response = server.http.get(server.url("/api/class/qr.svg")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    // The same URL encodes to the same picture, so the code shows this URL and no other.
    assert_eq!(svg, server::core::join_link::qr_svg("http://192.168.1.20:3000/").unwrap());
    assert_ne!(svg, server::core::join_link::qr_svg("http://192.168.1.21:3000/").unwrap());
}

#[tokio::test]
async fn a_broadcast_reaches_polls_and_streams_as_its_own_kind() {
    let server = TestServer::start().await;
    let sse = server.http.get(server.url("/api/sse?after=0&client=erin")).send().await.unwrap();
    let mut sse = sse.bytes_stream().eventsource();
    let hello = timeout(PATIENCE, sse.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(hello.event, "hello");

    let response = server
        .http
        .post(server.url("/api/class/broadcast"))
        .json(&serde_json::json!({"text": "eyes on the projector"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let ack: PublishAck = response.json().await.unwrap();
    let expected = EventBody::Broadcast { text: "eyes on the projector".into() };

    let streamed = timeout(PATIENCE, sse.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(streamed.event, "broadcast", "an EventSource must listen for this name");
    let event: Event = serde_json::from_str(&streamed.data).unwrap();
    assert_eq!((event.seq, &event.body), (ack.seq, &expected));

    let polled: PollResponse =
        server.http.get(server.url("/api/poll?after=0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(polled.events.len(), 1);
    assert_eq!(polled.events[0].body, expected);
}
