//! The lab's broker over its WebSocket door (`GET /api/mqtt`), packet by packet, with tungstenite as the socket and
//! mqtt5-protocol as the codec: what a page's MQTT lane does, and what it must not be able to do. Clients nobody
//! here wrote (paho-mqtt, mosquitto_pub/sub) and Mosquitto itself are in `mqtt_peers.rs`.

use crate::common;

use std::time::Duration;

use common::mqtt_socket::{seq_of, MqttSocket, WAIT};
use common::TestServer;
use futures::SinkExt;
use mqtt5_protocol::packet::pubcomp::PubCompPacket;
use mqtt5_protocol::packet::pubrec::PubRecPacket;
use mqtt5_protocol::{ConnectOptions, Packet, QoS};
use protocol::{mqtt, routes, ApiErrorBody, Transport};
use tokio_tungstenite::tungstenite::Message;

/// A session the broker keeps for a minute after its socket goes.
fn kept_session(client_id: &str) -> ConnectOptions {
    ConnectOptions::new(client_id)
        .with_keep_alive(Duration::from_secs(60))
        .with_clean_start(false)
        .with_session_expiry_interval(60)
}

#[tokio::test]
async fn without_the_mqtt_subprotocol_the_handshake_is_refused_with_a_400_naming_it() {
    let server = TestServer::start().await;
    let error = tokio_tungstenite::connect_async(server.ws_url(routes::MQTT)).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = error else { panic!("{error}") };
    assert_eq!(response.status(), 400);
    let body: ApiErrorBody = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert!(body.message.contains("mqtt"), "{}", body.message);
}

#[tokio::test]
async fn frames_that_break_rfc_6455_get_its_close_codes() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let server = TestServer::start().await;
    let mut client = MqttSocket::open(&server).await;
    let bad_utf8 = Frame::message(vec![0xff, 0xfe, 0xfd], OpCode::Data(Data::Text), true);
    client.socket.send(Message::Frame(bad_utf8)).await.unwrap();
    assert_eq!(common::close_frame_of(&mut client.socket).await.0, 1007);

    let mut client = MqttSocket::open(&server).await;
    let reserved = Frame::message(vec![1, 2, 3], OpCode::Data(Data::Reserved(3)), true);
    client.socket.send(Message::Frame(reserved)).await.unwrap();
    assert_eq!(common::close_frame_of(&mut client.socket).await.0, 1002);

    let mut client = MqttSocket::open(&server).await;
    client.socket.send(Message::binary(vec![0u8; 512 * 1024])).await.unwrap();
    let (code, reason) = common::close_frame_of(&mut client.socket).await;
    assert_eq!(code, 1009, "{reason}");
}

#[tokio::test]
async fn a_text_frame_is_not_mqtt_and_closes_with_1003() {
    let server = TestServer::start().await;
    let mut client = MqttSocket::open(&server).await;
    client.socket.send(Message::text("CONNECT please")).await.unwrap();
    let (code, _) = common::close_frame_of(&mut client.socket).await;
    assert_eq!(code, 1003);
}

#[tokio::test]
async fn each_hub_event_arrives_as_a_qos2_publish_with_its_seq_and_the_connack_names_the_exchange() {
    let server = TestServer::start().await;
    let mut client = MqttSocket::open(&server).await;
    let connack = client.connect(ConnectOptions::new("page").with_keep_alive(Duration::from_secs(60))).await;
    let exchange = connack.properties.get_user_property_value(mqtt::EXCHANGE_PROPERTY).unwrap();
    assert!(exchange.parse::<u64>().unwrap() > 0);
    client.subscribe(mqtt::EVENTS_FILTER, QoS::ExactlyOnce).await;

    let seq = server.publish("over MQTT").await;
    let publish = client.publish().await;
    assert_eq!((publish.topic_name.as_str(), publish.qos), ("lab/events/message", QoS::ExactlyOnce));
    assert_eq!(seq_of(&publish), seq);
    let event: serde_json::Value = serde_json::from_slice(&publish.payload).unwrap();
    assert_eq!((event["seq"].as_u64(), event["payload"]["text"].as_str()), (Some(seq), Some("over MQTT")), "{event}");

    // The rest of the QoS 2 exchange: PUBREC from us, PUBREL from the broker, PUBCOMP from us.
    let id = publish.packet_id.unwrap();
    client.send(&PubRecPacket::new(id)).await;
    assert!(matches!(client.next().await, Some(Packet::PubRel(rel)) if rel.packet_id == id));
    client.send(&PubCompPacket::new(id)).await;
    assert_eq!(server.stats().await.transports[&Transport::Mqtt].events_delivered, 1);
}

/// The tap names each MQTT packet's frame as the page needs to find it: an event's PUBLISH by its seq and label,
/// the other packets as `mqtt`, and every message numbered each way in the order it crossed, as the page counts
/// its own sends and receipts.
#[tokio::test]
async fn the_wire_records_name_each_packet_s_frame_by_seq_or_by_its_message_number() {
    let server = TestServer::start().await;
    let mut client = MqttSocket::open_as(&server, "mqttpage").await;
    client.connect(ConnectOptions::new("page").with_keep_alive(Duration::from_secs(60))).await;
    client.subscribe(mqtt::EVENTS_FILTER, QoS::AtMostOnce).await;
    let seq = server.publish("measured").await;
    assert_eq!(seq_of(&client.publish().await), seq);
    let expected = [
        (protocol::WireDirection::ToServer, 1, None),      // CONNECT
        (protocol::WireDirection::ToClient, 1, None),      // CONNACK
        (protocol::WireDirection::ToServer, 2, None),      // SUBSCRIBE
        (protocol::WireDirection::ToClient, 2, None),      // SUBACK
        (protocol::WireDirection::ToClient, 3, Some(seq)), // the event's PUBLISH
    ];
    let deadline = tokio::time::Instant::now() + WAIT;
    let frames = loop {
        let url = server.url("/api/wire?client=mqttpage");
        let page: protocol::WirePage = server.http.get(url).send().await.unwrap().json().await.unwrap();
        let frames: Vec<_> = page
            .records
            .iter()
            .filter_map(|record| match &record.unit {
                protocol::WireUnit::Frame { message: Some(number), seq, event, .. } => {
                    Some((record.direction, *number, *seq, *event))
                }
                _ => None,
            })
            .collect();
        if frames.len() >= expected.len() || tokio::time::Instant::now() > deadline {
            break frames;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let numbered: Vec<_> = frames.iter().map(|(direction, number, seq, _)| (*direction, *number, *seq)).collect();
    assert_eq!(numbered, expected);
    let to_client_labels: Vec<_> = frames
        .iter()
        .filter(|(direction, ..)| *direction == protocol::WireDirection::ToClient)
        .map(|(.., event)| *event)
        .collect();
    assert_eq!(
        to_client_labels,
        [Some(protocol::WireLabel::Mqtt), Some(protocol::WireLabel::Mqtt), Some(protocol::WireLabel::Message)]
    );
}

/// The lesson's fault: the connection dies right after the page's PUBREC. The kept session remembers that the
/// message was received, so on return the broker sends PUBREL (not the PUBLISH again), and the message counts once.
#[tokio::test]
async fn dropped_after_pubrec_the_session_resumes_with_pubrel_and_the_message_arrives_once() {
    let server = TestServer::start().await;
    let mut client = MqttSocket::open(&server).await;
    client.connect(kept_session("resumer")).await;
    client.subscribe(mqtt::EVENTS_FILTER, QoS::ExactlyOnce).await;
    let first = server.publish("once").await;
    let publish = client.publish().await;
    assert_eq!(seq_of(&publish), first);
    let id = publish.packet_id.unwrap();
    client.send(&PubRecPacket::new(id)).await;
    // Gone without DISCONNECT, before the PUBREL could arrive (or be answered).
    drop(client);
    server.wait_for_open(Transport::Mqtt, 0, "the dropped socket is still open").await;

    let mut client = MqttSocket::open(&server).await;
    let connack = client.connect(kept_session("resumer")).await;
    assert!(connack.session_present);
    assert!(matches!(client.next().await, Some(Packet::PubRel(rel)) if rel.packet_id == id));
    client.send(&PubCompPacket::new(id)).await;
    // The next thing on the socket is the next event, not the first one again.
    let second = server.publish("after").await;
    let next = client.publish().await;
    assert_eq!(seq_of(&next), second);
    assert!(!next.dup);
}

#[tokio::test]
async fn qos1_events_published_while_away_are_delivered_on_return_in_order() {
    let server = TestServer::start().await;
    let mut client = MqttSocket::open(&server).await;
    client.connect(kept_session("away")).await;
    client.subscribe("lab/events/message", QoS::AtLeastOnce).await;
    drop(client);
    server.wait_for_open(Transport::Mqtt, 0, "the socket is still open").await;
    let mut published = Vec::new();
    for text in ["one", "two", "three"] {
        published.push(server.publish(text).await);
    }
    // The broker holds them for the absent client, and says so in /api/stats.
    let held = server.stats().await.mqtt;
    assert_eq!((held.sessions_away, held.queued, held.connections), (1, 3, 0), "{held:?}");
    let mut client = MqttSocket::open(&server).await;
    assert!(client.connect(kept_session("away")).await.session_present);
    let mut received = Vec::new();
    for _ in 0..3 {
        let publish = client.publish().await;
        assert_eq!(publish.qos, QoS::AtLeastOnce);
        received.push(seq_of(&publish));
    }
    assert_eq!(received, published);
}

#[tokio::test]
async fn a_drop_fault_cuts_the_socket_without_a_close_frame_and_the_will_is_published() {
    let server = TestServer::start().await;
    let mut watcher = MqttSocket::open(&server).await;
    watcher.connect(ConnectOptions::new("watcher").with_keep_alive(Duration::from_secs(60))).await;
    watcher.subscribe("lab/presence/#", QoS::AtLeastOnce).await;

    let mut victim = MqttSocket::open_as(&server, "victim").await;
    let will = mqtt5_protocol::WillMessage::new("lab/presence/victim", b"gone".to_vec());
    victim.connect(ConnectOptions::new("victim").with_keep_alive(Duration::from_secs(60)).with_will(will)).await;

    let dropped = server.http.post(server.url("/api/faults/drop")).json(&serde_json::json!({"client": "victim"}));
    assert_eq!(dropped.send().await.unwrap().status(), 200);
    assert!(victim.next().await.is_none(), "the dropped socket should end");
    let will = watcher.publish().await;
    assert_eq!((will.topic_name.as_str(), &will.payload[..]), ("lab/presence/victim", &b"gone"[..]));
}

#[tokio::test]
async fn after_a_restart_the_broker_publishes_the_new_runs_events() {
    let server = TestServer::start().await;
    let mut client = MqttSocket::open(&server).await;
    client.connect(ConnectOptions::new("through-restart").with_keep_alive(Duration::from_secs(60))).await;
    client.subscribe(mqtt::EVENTS_FILTER, QoS::AtMostOnce).await;
    let before = client_epoch_after_publish(&server, &mut client).await;
    let restarted = server.http.post(server.url(routes::FAULTS_RESTART)).send().await.unwrap();
    assert_eq!(restarted.status(), 200);
    let after = client_epoch_after_publish(&server, &mut client).await;
    assert_ne!(before, after, "events after the restart carry the new run's epoch");
}

async fn client_epoch_after_publish(server: &TestServer, client: &mut MqttSocket) -> String {
    let seq = server.publish("which run?").await;
    let publish = client.publish().await;
    assert_eq!(seq_of(&publish), seq);
    publish.properties.get_user_property_value(mqtt::EPOCH_PROPERTY).unwrap().to_owned()
}

#[tokio::test]
async fn a_chat_message_the_lab_refuses_is_answered_0x99_and_a_good_one_reaches_every_lane() {
    let server = TestServer::start().await;
    let mut client = MqttSocket::open(&server).await;
    client.connect(ConnectOptions::new("talker").with_keep_alive(Duration::from_secs(60))).await;
    let too_long = "x".repeat(protocol::MAX_MESSAGE_BYTES + 1);
    let refused = mqtt5_protocol::packet::publish::PublishPacket::new(mqtt::CHAT_TOPIC, too_long, QoS::AtLeastOnce);
    client.send(&refused.with_packet_id(1)).await;
    match client.next().await {
        Some(Packet::PubAck(ack)) => assert_eq!(ack.reason_code, mqtt5_protocol::ReasonCode::PayloadFormatInvalid),
        other => panic!("expected PUBACK 0x99, got {other:?}"),
    }
    let accepted = mqtt5_protocol::packet::publish::PublishPacket::new(mqtt::CHAT_TOPIC, "hello", QoS::AtLeastOnce);
    client.send(&accepted.with_packet_id(2)).await;
    assert!(
        matches!(client.next().await, Some(Packet::PubAck(ack)) if ack.reason_code == mqtt5_protocol::ReasonCode::Success)
    );
    // The PUBACK can overtake the hub's append (the lab publishes once the broker's lock is released): wait for it.
    let deadline = tokio::time::Instant::now() + WAIT;
    let texts = loop {
        let events: serde_json::Value =
            server.http.get(server.url("/api/poll?after=0")).send().await.unwrap().json().await.unwrap();
        let texts: Vec<String> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|event| event["payload"]["text"].as_str().map(str::to_owned))
            .collect();
        if !texts.is_empty() || tokio::time::Instant::now() > deadline {
            break texts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(texts, ["hello"]);
}

/// One request rate for every way of publishing: a chat message counts against its address's allowance as a POST
/// does, and one over it is answered 0x97 Quota exceeded in its PUBACK (0x96 Message rate too high is a
/// DISCONNECT's code only), never published.
#[tokio::test]
async fn chat_messages_over_the_address_s_rate_are_answered_0x97_and_not_published() {
    let server = TestServer::start_with(&["--max-requests-per-second", "1", "--request-burst", "4"]).await;
    let mut client = MqttSocket::open(&server).await;
    client.connect(ConnectOptions::new("flooder").with_keep_alive(Duration::from_secs(60))).await;
    let mut codes = Vec::new();
    for id in 1..=8u16 {
        let chat = mqtt5_protocol::packet::publish::PublishPacket::new(mqtt::CHAT_TOPIC, "flood", QoS::AtLeastOnce);
        client.send(&chat.with_packet_id(id)).await;
        match client.next().await {
            Some(Packet::PubAck(ack)) => codes.push(ack.reason_code as u8),
            other => panic!("expected a PUBACK, got {other:?}"),
        }
    }
    let accepted = codes.iter().filter(|&&code| code == 0x00).count();
    // The handshake took one of the burst of 4; a second may refill one more.
    assert!((3..=4).contains(&accepted), "{codes:?}");
    assert!(codes[accepted..].iter().all(|&code| code == 0x97), "{codes:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.state.hub_slot.current().events_after(0, 100).events.len(),
        accepted,
        "only those were published"
    );
}
