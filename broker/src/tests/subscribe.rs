use mqtt5_protocol::packet::subscribe::{SubscribePacket, TopicFilter};
use mqtt5_protocol::packet::subscribe_options::{RetainHandling, SubscriptionOptions};
use mqtt5_protocol::packet::unsubscribe::UnsubscribePacket;
use mqtt5_protocol::QoS;

use super::*;
use crate::BrokerConfig;

#[test]
fn wildcards_match_and_dollar_topics_stay_apart() {
    let mut harness = Harness::new();
    let subscriber = harness.connect("sub");
    let publisher = harness.connect("pub");
    for filter in ["sport/+", "news/#", "#"] {
        harness.subscribe(subscriber, filter, QoS::AtMostOnce);
    }
    let other = harness.connect("sys");
    harness.subscribe(other, "$SYS/#", QoS::AtMostOnce);
    for topic in ["sport/tennis", "news", "$SYS/load", "x/y/z"] {
        harness.send(publisher, &publish(topic, QoS::AtMostOnce, 0, "m"));
    }
    assert_eq!(
        harness.trace(),
        vec![
            "2 -> PUBLISH",
            "1 <- PUBLISH sport/tennis q0 \"m\"",
            "2 -> PUBLISH",
            "1 <- PUBLISH news q0 \"m\"",
            "2 -> PUBLISH",
            "3 <- PUBLISH $SYS/load q0 \"m\"",
            "2 -> PUBLISH",
            "1 <- PUBLISH x/y/z q0 \"m\"",
        ]
    );
}

#[test]
fn suback_reason_codes_per_filter() {
    let config = BrokerConfig { max_subscriptions: 2, ..BrokerConfig::default() };
    for (connect, expected) in [
        (v5("a"), "1 <- SUBACK [0x00,0x01,0x8F,0x8F,0x9E,0x02,0x97]"),
        (v311("a", true), "1 <- SUBACK [0x00,0x01,0x80,0x80,0x80,0x02,0x80]"),
    ] {
        let mut harness = Harness::config(config.clone());
        let connection = harness.connect_with(connect.clone());
        let subscribe = SubscribePacket { protocol_version: connect.protocol_version, ..SubscribePacket::new(7) }
            .add_filter("a", QoS::AtMostOnce)
            .add_filter("b/+", QoS::AtLeastOnce)
            .add_filter("c/#/d", QoS::AtMostOnce)
            .add_filter("", QoS::AtMostOnce)
            .add_filter("$share/group/e", QoS::AtMostOnce)
            .add_filter("a", QoS::ExactlyOnce)
            .add_filter("f", QoS::AtMostOnce);
        harness.send(connection, &subscribe);
        assert_eq!(harness.trace(), vec!["1 -> SUBSCRIBE", expected]);
        assert_eq!(harness.broker.stats().subscriptions, 2);
    }
}

#[test]
fn malformed_subscribes_disconnect() {
    // SUBSCRIBE bodies after a v5 CONNECT: packet id 1 and an empty property list, then the payload.
    // The spec calls some of them malformed (0x81) and some protocol errors (0x82).
    let cases: [(&str, &[u8], &str); 7] = [
        ("no filters", &[0x82, 0x03, 0x00, 0x01, 0x00], "0x82"),
        (
            "no filters after a user property",
            &[0x82, 0x0A, 0x00, 0x01, 0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'],
            "0x82",
        ),
        ("reserved option bits", &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0xC0], "0x81"),
        ("flags not 0x02", &[0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00], "0x81"),
        ("QoS 3", &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x03], "0x82"),
        ("Retain Handling 3", &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x31], "0x82"),
        (
            "QoS 3 in the second filter",
            &[0x82, 0x0B, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x01, 0x00, 0x01, b'b', 0x03],
            "0x82",
        ),
    ];
    for (case, bytes, code) in cases {
        let mut harness = Harness::new();
        let connection = harness.connect("a");
        harness.raw(connection, bytes);
        assert_eq!(harness.trace(), vec![format!("1 <- DISCONNECT rc={code}"), "1 closed".to_owned()], "{case}");
        assert_eq!(harness.broker.stats().protocol_errors, 1);
    }
    // v3.1.1: the same faults close the socket without a word; and v3.1.1 has no property list.
    let cases: [&[u8]; 2] = [&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04], &[0x82, 0x02, 0x00, 0x01]];
    for bytes in cases {
        let mut harness = Harness::new();
        let connection = harness.connect_with(v311("a", true));
        harness.raw(connection, bytes);
        assert_eq!(harness.trace(), vec!["1 closed"], "{bytes:?}");
    }
}

#[test]
fn unsubscribe_says_which_existed() {
    let mut harness = Harness::new();
    let connection = harness.connect("a");
    harness.subscribe(connection, "a/b", QoS::AtLeastOnce);
    harness.send(connection, &UnsubscribePacket::new(3).add_filter("a/b").add_filter("c"));
    assert_eq!(harness.trace(), vec!["1 -> UNSUBSCRIBE", "1 <- UNSUBACK [0x00,0x11]"]);
    assert_eq!(harness.broker.stats().subscriptions, 0);
    let v3 = harness.connect_with(v311("b", true));
    harness.send(v3, &UnsubscribePacket::new_v311(4).add_filter("x"));
    assert_eq!(harness.trace(), vec!["2 -> UNSUBSCRIBE", "2 <- UNSUBACK []"]);
}

fn retained_setup() -> (Harness, ConnectionId) {
    let mut harness = Harness::new();
    let publisher = harness.connect("pub");
    for (topic, payload) in [("r/a", "1"), ("r/b", "2"), ("r/a", "3")] {
        harness.send(publisher, &publish(topic, QoS::AtLeastOnce, 1, payload).with_retain(true));
    }
    harness.trace();
    (harness, publisher)
}

#[test]
fn retained_messages_follow_the_suback() {
    let (mut harness, publisher) = retained_setup();
    assert_eq!(harness.broker.stats().retained, 2);
    let subscriber = harness.connect("sub");
    harness.send(subscriber, &SubscribePacket::new(5).add_filter("r/#", QoS::AtLeastOnce));
    assert_eq!(
        harness.trace(),
        vec![
            "2 -> SUBSCRIBE",
            "2 <- SUBACK [0x01]",
            "2 <- PUBLISH r/a q1 id=1 retain \"3\"",
            "2 <- PUBLISH r/b q1 id=2 retain \"2\"",
        ]
    );
    // A live message is forwarded without RETAIN; an empty retained payload deletes.
    harness.send(publisher, &publish("r/b", QoS::AtMostOnce, 0, "").with_retain(true));
    assert_eq!(harness.trace(), vec!["1 -> PUBLISH", "2 <- PUBLISH r/b q0 \"\""]);
    assert_eq!(harness.broker.stats().retained, 1);
}

#[test]
fn retain_handling_and_retain_as_published() {
    // (retain handling, retain as published, lines after the SUBACK on the first and on a repeated SUBSCRIBE)
    let cases: [(RetainHandling, bool, usize, usize); 3] = [
        (RetainHandling::SendAtSubscribe, false, 2, 2),
        (RetainHandling::SendAtSubscribeIfNew, false, 2, 0),
        (RetainHandling::DoNotSend, true, 0, 0),
    ];
    for (handling, retain_as_published, first, again) in cases {
        let (mut harness, publisher) = retained_setup();
        let subscriber = harness.connect("sub");
        let options = SubscriptionOptions {
            retain_handling: handling,
            retain_as_published,
            ..SubscriptionOptions::new(QoS::AtMostOnce)
        };
        let subscribe = SubscribePacket::new(5).add_filter_with_options(TopicFilter::with_options("r/#", options));
        harness.send(subscriber, &subscribe);
        assert_eq!(harness.trace().len(), 2 + first, "{handling:?}");
        harness.send(subscriber, &subscribe);
        assert_eq!(harness.trace().len(), 2 + again, "{handling:?} again");
        harness.send(publisher, &publish("r/a", QoS::AtMostOnce, 0, "live").with_retain(true));
        let expected =
            if retain_as_published { "2 <- PUBLISH r/a q0 retain \"live\"" } else { "2 <- PUBLISH r/a q0 \"live\"" };
        assert_eq!(harness.trace(), vec!["1 -> PUBLISH", expected]);
    }
}

#[test]
fn no_local_skips_the_publishers_own_messages() {
    let mut harness = Harness::new();
    let connection = harness.connect("me");
    let options = SubscriptionOptions { no_local: true, ..SubscriptionOptions::new(QoS::AtMostOnce) };
    harness.send(connection, &SubscribePacket::new(1).add_filter_with_options(TopicFilter::with_options("t", options)));
    harness.subscribe(connection, "t/#", QoS::AtMostOnce);
    harness.send(connection, &publish("t", QoS::AtMostOnce, 0, "x"));
    // "t/#" (without No Local) still matches.
    assert_eq!(harness.trace(), vec!["1 -> PUBLISH", "1 <- PUBLISH t q0 \"x\""]);
    harness.send(connection, &UnsubscribePacket::new(2).add_filter("t/#"));
    harness.trace();
    harness.send(connection, &publish("t", QoS::AtMostOnce, 0, "x"));
    assert_eq!(harness.trace(), vec!["1 -> PUBLISH"]);
}

#[test]
fn retained_store_is_bounded() {
    let config = BrokerConfig { max_retained: 1, ..BrokerConfig::default() };
    let mut harness = Harness::config(config);
    let connection = harness.connect("a");
    harness.send(connection, &publish("one", QoS::AtLeastOnce, 1, "x").with_retain(true));
    harness.send(connection, &publish("two", QoS::AtLeastOnce, 2, "x").with_retain(true));
    harness.send(connection, &publish("one", QoS::AtLeastOnce, 3, "y").with_retain(true));
    assert_eq!(
        harness.trace(),
        vec![
            "1 -> PUBLISH",
            "1 <- PUBACK id=1 rc=0x10",
            "1 -> PUBLISH",
            "1 <- PUBACK id=2 rc=0x97",
            "1 -> PUBLISH",
            "1 <- PUBACK id=3 rc=0x10"
        ]
    );
    assert_eq!(harness.broker.stats().retained, 1);
}

/// With nobody subscribed, a v5 publisher hears 0x10 No matching subscribers (as from Mosquitto); once someone is,
/// plain success. The lab's own topics always have a listener: the hub.
#[test]
fn a_v5_publisher_hears_when_nobody_is_subscribed() {
    let mut harness = Harness::config(BrokerConfig::default());
    let publisher = harness.connect("p");
    harness.send(publisher, &publish("news", QoS::AtLeastOnce, 1, "x"));
    assert_eq!(harness.trace(), vec!["1 -> PUBLISH", "1 <- PUBACK id=1 rc=0x10"]);
    let subscriber = harness.connect("s");
    harness.send(subscriber, &SubscribePacket::new(1).add_filter("news", QoS::AtMostOnce));
    harness.trace();
    harness.send(publisher, &publish("news", QoS::AtLeastOnce, 2, "x"));
    // Subscribers get the message before the publisher's PUBACK, as with Mosquitto.
    assert_eq!(harness.trace(), vec!["1 -> PUBLISH", "2 <- PUBLISH news q0 \"x\"", "1 <- PUBACK id=2"]);
}
