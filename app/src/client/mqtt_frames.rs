//! Which measured frame is which MQTT packet's. The server's tap numbers a WebSocket connection's data messages each
//! way (`WireUnit::Frame`'s `message`), and the page sends and receives every packet as one message, so counting
//! its own tells which number each packet's arrow takes. The exchange that names the connection's records comes
//! only with the CONNACK: arrows drawn before it (the CONNECT, the CONNACK itself) wait for it.

use crate::diagram::WireKey;

/// Arrows waiting for the exchange at most: before the CONNACK only the CONNECT and the CONNACK are drawn.
const MOST_WAITING: usize = 8;

#[derive(Debug, Default)]
pub struct MessageNumbers {
    sent: u64,
    received: u64,
    exchange: Option<u64>,
    /// The message being read, until an arrow of it is drawn.
    reading: Option<u64>,
    /// (arrow, to the server, message number), drawn before the exchange was known.
    waiting: Vec<(u64, bool, u64)>,
}

impl MessageNumbers {
    /// One more message sent, drawn as `arrow`: its binding, unless it has to wait for the exchange.
    pub fn sent(&mut self, arrow: u64) -> Option<(u64, WireKey)> {
        self.sent += 1;
        self.key(arrow, true, self.sent)
    }

    /// One more message received, read now: the next [`Self::received_arrow`] is its arrow (an event's PUBLISH
    /// draws none: its frame is found by the event's seq).
    pub fn received(&mut self) {
        self.received += 1;
        self.reading = Some(self.received);
    }

    /// An arrow drawn for what was received: the binding of the message being read, if it has no arrow yet and
    /// the exchange is known.
    pub fn received_arrow(&mut self, arrow: u64) -> Option<(u64, WireKey)> {
        let number = self.reading.take()?;
        self.key(arrow, false, number)
    }

    /// The CONNACK named the connection's exchange: the bindings of every arrow that waited for it.
    pub fn exchange_known(&mut self, exchange: u64) -> Vec<(u64, WireKey)> {
        self.exchange = Some(exchange);
        std::mem::take(&mut self.waiting)
            .into_iter()
            .map(|(arrow, to_server, number)| (arrow, WireKey::Message { exchange, to_server, number }))
            .collect()
    }

    fn key(&mut self, arrow: u64, to_server: bool, number: u64) -> Option<(u64, WireKey)> {
        match self.exchange {
            Some(exchange) => Some((arrow, WireKey::Message { exchange, to_server, number })),
            None => {
                if self.waiting.len() < MOST_WAITING {
                    self.waiting.push((arrow, to_server, number));
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_before_the_connack_wait_for_its_exchange_and_later_ones_bind_at_once() {
        let mut numbers = MessageNumbers::default();
        assert_eq!(numbers.sent(10), None, "the CONNECT: no exchange yet");
        numbers.received(); // the CONNACK
        assert_eq!(numbers.received_arrow(11), None);
        assert_eq!(
            numbers.exchange_known(7),
            [
                (10, WireKey::Message { exchange: 7, to_server: true, number: 1 }),
                (11, WireKey::Message { exchange: 7, to_server: false, number: 1 }),
            ]
        );
        assert_eq!(numbers.sent(12), Some((12, WireKey::Message { exchange: 7, to_server: true, number: 2 })));
        // An event's PUBLISH is counted but bound by its seq; the next packet is the third message received.
        numbers.received();
        numbers.received(); // the SUBACK
        assert_eq!(
            numbers.received_arrow(13),
            Some((13, WireKey::Message { exchange: 7, to_server: false, number: 3 }))
        );
    }

    #[test]
    fn what_waits_is_bounded() {
        let mut numbers = MessageNumbers::default();
        (0..100).for_each(|arrow| assert_eq!(numbers.sent(arrow), None));
        assert_eq!(numbers.exchange_known(1).len(), MOST_WAITING);
    }
}
