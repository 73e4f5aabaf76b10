//! Where each record of a lane is drawn. Time flows down; every lane uses the same origin and scale, so one
//! instant is at the same height in all of them.

use super::control::ControlMark;
use super::trace::{Millis, NoteTone, RecordKind, TraceRecord};

/// An arrow or note placed on the lane's drawing, in SVG user units. `y` grows with time from the layout's
/// origin; the component scrolls the drawing with [`DiagramLayout::scroll_offset`].
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedRecord {
    pub id: u64,
    /// How many measured wire records the arrow had when placed: part of its render key, so an arrow is redrawn
    /// when its bytes arrive.
    pub measured: usize,
    /// The event's sequence number, for highlighting it across lanes.
    pub seq: Option<u64>,
    pub shape: Shape,
    /// Drawn text; `None` when it would overlap the previous label (the tooltip still has it).
    pub label: Option<Label>,
    /// Label and detail together, for the tooltip.
    pub title: String,
    /// `browser`, `server` or `across`: which way the message went, for styling.
    pub direction: &'static str,
    /// `request`, `response`, `event`, `gap`, `info`, `warning` or `error`, for styling and tests.
    pub class: &'static str,
    /// Where a request that opened its TCP connection left the browser: drawn as a small square there. A request
    /// on a kept-alive connection has none, so short polling on one connection shows one square for many arrows.
    pub opens_connection: Option<(f64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Arrow {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
    },
    /// A response that the server held: the bar on the server lifeline, then the arrow back.
    HeldArrow {
        bar_top: f64,
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
    },
    /// An event: a dot where the server emitted it and an arrow to where the browser received it.
    EventArrow {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
    },
    /// A band across both lifelines (gaps, errors, closes).
    Note {
        y: f64,
    },
    /// A span of time on the browser's side, beside its lifeline: a round trip from sending to receipt.
    Bracket {
        x: f64,
        y1: f64,
        y2: f64,
    },
    /// A mark on a lifeline at one instant (a TCP connection closing).
    Point {
        x: f64,
        y: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
}

/// The SVG primitives a shape is drawn with: always one line, sometimes a bar or a dot.
#[derive(Clone, Debug, PartialEq)]
pub struct Strokes {
    pub line: (f64, f64, f64, f64),
    /// Whether the line ends in an arrowhead (messages do, notes do not).
    pub arrowhead: bool,
    /// A held request's bar on the server lifeline: (x, top, height).
    pub bar: Option<(f64, f64, f64)>,
    /// Where an event was emitted: (x, y).
    pub dot: Option<(f64, f64)>,
}

impl Shape {
    /// A round trip of a few milliseconds is a fraction of a pixel at 40 px/s: drawn at least this tall to be seen.
    pub const BRACKET_MIN_HEIGHT: f64 = 3.0;

    /// Where the message ends: the instant it arrived.
    pub fn arrival_y(&self) -> f64 {
        match *self {
            Shape::Arrow { y2, .. }
            | Shape::HeldArrow { y2, .. }
            | Shape::EventArrow { y2, .. }
            | Shape::Bracket { y2, .. } => y2,
            Shape::Note { y } | Shape::Point { y, .. } => y,
        }
    }

    pub fn strokes(&self, width: f64) -> Strokes {
        match *self {
            Shape::Arrow { x1, y1, x2, y2 } => {
                Strokes { line: (x1, y1, x2, y2), arrowhead: true, bar: None, dot: None }
            }
            Shape::HeldArrow { bar_top, x1, y1, x2, y2 } => Strokes {
                line: (x1, y1, x2, y2),
                arrowhead: true,
                bar: Some((x1 - 3.0, bar_top, (y1 - bar_top).max(1.0))),
                dot: None,
            },
            Shape::EventArrow { x1, y1, x2, y2 } => {
                Strokes { line: (x1, y1, x2, y2), arrowhead: true, bar: None, dot: Some((x1, y1)) }
            }
            Shape::Note { y } => Strokes { line: (0.0, y, width, y), arrowhead: false, bar: None, dot: None },
            // The bar's end caps are the line's own (square) caps; the send is marked by the upstream arrow beside it.
            Shape::Bracket { x, y1, y2 } => Strokes {
                line: (x, y1, x, y2.max(y1 + Self::BRACKET_MIN_HEIGHT)),
                arrowhead: false,
                bar: None,
                dot: None,
            },
            Shape::Point { x, y } => Strokes { line: (x, y, x, y), arrowhead: false, bar: None, dot: None },
        }
    }
}

/// A horizontal grid line with its wall-clock label, shared by every lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub y: f64,
    pub label: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DiagramLayout {
    pub width: f64,
    pub height: f64,
    /// Vertical scale.
    pub px_per_second: f64,
    /// Time drawn at y = 0; any fixed instant near the session keeps coordinates small enough for SVG's floats.
    pub origin: Millis,
    pub browser_x: f64,
    pub server_x: f64,
    /// Closest two drawn labels may be, vertically; labels in denser traffic are left to the tooltip.
    pub min_label_gap: f64,
    /// Local time's offset from UTC, for tick labels.
    pub utc_offset_minutes: i32,
    /// Whether control marks (pings, keep-alives, closes, `204`s) are drawn; off for a calm view.
    pub show_control: bool,
}

impl DiagramLayout {
    /// How far left of the browser's lifeline a round trip's bracket stands.
    pub const BRACKET_INSET: f64 = 8.0;

    pub fn new(origin: Millis) -> Self {
        Self {
            width: 300.0,
            height: 480.0,
            px_per_second: 40.0,
            origin,
            browser_x: 36.0,
            server_x: 264.0,
            min_label_gap: 12.0,
            utc_offset_minutes: 0,
            show_control: true,
        }
    }

    /// The shortest and tallest a fitted diagram is drawn, in its own units: under 8 s of history is too little to
    /// compare lanes by, and past 30 s a lane is taller than any screen it would be read on.
    pub const FITTED_HEIGHT: (f64, f64) = (320.0, 1200.0);

    /// The drawing height that fills `room_px` of screen when a lane's drawing is `drawn_width_px` wide: the drawing
    /// keeps its proportions, so a wider lane needs fewer units for the same pixels. Rounded to 10 units so a
    /// pixel's wobble in the page's layout does not redraw every lane.
    pub fn fitted_height(&self, room_px: f64, drawn_width_px: f64) -> f64 {
        if !(room_px > 0.0 && drawn_width_px > 0.0) {
            return self.height;
        }
        let units = room_px * self.width / drawn_width_px;
        let (least, most) = Self::FITTED_HEIGHT;
        ((units / 10.0).round() * 10.0).clamp(least, most)
    }

    /// Seconds of history visible at once.
    pub fn window_seconds(&self) -> f64 {
        self.height / self.px_per_second
    }

    pub fn y(&self, at: Millis) -> f64 {
        (at - self.origin) * self.px_per_second / 1000.0
    }

    /// How far up to shift the drawing so that `now` sits at the bottom edge.
    pub fn scroll_offset(&self, now: Millis) -> f64 {
        self.y(now) - self.height
    }

    /// The most characters a label is drawn with. The drawing is 300 units wide with 10 px text, and a longer
    /// label ran off both edges (a webhook's "no answer: connection closed before a complete response · retry in
    /// 2.0 s"); the tooltip keeps all of it.
    pub const MOST_LABEL_CHARS: usize = 50;

    /// How close two arrows are drawn for them to read as one line: packets of one instant.
    const SAME_INSTANT_PX: f64 = 2.0;
    /// How many labels of one instant are written under the first, before the rest are left out.
    const MOST_STACKED_LABELS: u32 = 5;

    /// Places every record; labels that would overlap the previous drawn label are left out, except a note's,
    /// which moves down clear of it, and those of packets sent in the same instant as the last labelled one.
    pub fn place(&self, records: impl IntoIterator<Item = impl std::borrow::Borrow<TraceRecord>>) -> Vec<PlacedRecord> {
        let mut last_label_y = f64::NEG_INFINITY;
        // The arrow whose label was last drawn where it belongs, and how many were written under it since.
        let (mut instant_y, mut stacked) = (f64::NEG_INFINITY, 0);
        records
            .into_iter()
            .map(|record| {
                let mut placed = self.place_one(record.borrow());
                let arrival_y = placed.shape.arrival_y();
                // Notes and gaps (a failure, a close, lost events) and round trips are rare and matter most: always
                // labelled. A fault brings several at once (the error, the wait before reconnecting, the close), so
                // one that would land on the label before it is written a line lower, not over it. So do packets
                // of one instant (an MQTT handshake, a PUBLISH and its PUBACK): their arrows are one line at this
                // scale, and their labels, written in order, are what tells them apart and what a click can hit.
                if let Some(label) = &mut placed.label {
                    let crowded = label.y - last_label_y < self.min_label_gap;
                    match placed.shape {
                        Shape::Note { .. } => label.y = label.y.max(last_label_y + self.min_label_gap),
                        Shape::Bracket { .. } => {}
                        _ if crowded
                            && (arrival_y - instant_y).abs() <= Self::SAME_INSTANT_PX
                            && stacked < Self::MOST_STACKED_LABELS =>
                        {
                            label.y = last_label_y + self.min_label_gap;
                            stacked += 1;
                        }
                        _ if crowded => {
                            placed.label = None;
                            return placed;
                        }
                        _ => (instant_y, stacked) = (arrival_y, 0),
                    }
                    last_label_y = label.y;
                }
                placed
            })
            .collect()
    }

    /// Places only the records that can be seen at `now` (plus a second of margin either side of the window), so
    /// the DOM holds what is on screen, not the whole retained history.
    pub fn place_visible<'a>(
        &self,
        records: impl IntoIterator<Item = &'a TraceRecord>,
        now: Millis,
    ) -> Vec<PlacedRecord> {
        self.place(records.into_iter().filter(|record| self.is_visible(record, now)))
    }

    /// Whether [`Self::place_visible`] draws `record` at `now`: exports use it to show what the diagram shows.
    pub fn is_visible(&self, record: &TraceRecord, now: Millis) -> bool {
        let oldest_visible = now - self.window_seconds() * 1000.0 - 1000.0;
        record.arrived_at.max(record.sent_at) >= oldest_visible && (self.show_control || !record.is_control())
    }

    /// The `now` records are placed for when the diagram's clock reads `clock`: the next whole second, so placement
    /// is redone once a second as records scroll out, not every frame.
    pub fn placement_time(clock: Millis) -> Millis {
        (clock / 1000.0).ceil() * 1000.0
    }

    fn place_one(&self, record: &TraceRecord) -> PlacedRecord {
        let (sent, arrived) = (self.y(record.sent_at), self.y(record.arrived_at));
        let middle = (self.browser_x + self.server_x) / 2.0;
        // Browser → server labels sit above their arrow and server → browser labels below it, so a request and
        // its immediate answer (the same instant on one machine) both stay readable.
        let label_y = match record.kind {
            // A delivery and its answer often share an instant: the POST's label above, the answer's below.
            RecordKind::Request | RecordKind::Delivery { .. } => arrived - 3.0,
            // Below the label of the event that completed it, which arrived at the same instant.
            RecordKind::RoundTrip { .. } => arrived + 10.0 + self.min_label_gap,
            _ => arrived + 10.0,
        };
        let label = Some(Label { x: middle, y: label_y, text: record.label_within(Self::MOST_LABEL_CHARS) });
        let (shape, direction) = match record.kind {
            RecordKind::Request => {
                (Shape::Arrow { x1: self.browser_x, y1: sent, x2: self.server_x, y2: arrived }, "server")
            }
            RecordKind::Response { held_from: Some(held_from) } => (
                Shape::HeldArrow {
                    bar_top: self.y(held_from),
                    x1: self.server_x,
                    y1: sent,
                    x2: self.browser_x,
                    y2: arrived,
                },
                "browser",
            ),
            RecordKind::Response { held_from: None } => {
                (Shape::Arrow { x1: self.server_x, y1: sent, x2: self.browser_x, y2: arrived }, "browser")
            }
            RecordKind::Event { .. } | RecordKind::Delivery { waited_from: None, .. } => {
                (Shape::EventArrow { x1: self.server_x, y1: sent, x2: self.browser_x, y2: arrived }, "browser")
            }
            // The wait before a retry is the sender's, so it is drawn as a held answer is: a bar on its lifeline.
            RecordKind::Delivery { waited_from: Some(waited_from), .. } => (
                Shape::HeldArrow {
                    bar_top: self.y(waited_from),
                    x1: self.server_x,
                    y1: sent,
                    x2: self.browser_x,
                    y2: arrived,
                },
                "browser",
            ),
            RecordKind::Answer { .. } => {
                (Shape::Arrow { x1: self.browser_x, y1: sent, x2: self.server_x, y2: arrived }, "server")
            }
            RecordKind::Gap { .. } | RecordKind::Note { .. } => (Shape::Note { y: arrived }, "across"),
            RecordKind::RoundTrip { .. } => {
                (Shape::Bracket { x: self.browser_x - Self::BRACKET_INSET, y1: sent, y2: arrived }, "browser")
            }
            // Both ends share one measured instant: a flat arrow, drawn as the server saw it cross.
            RecordKind::Control { mark: ControlMark::TcpClose, .. } => {
                (Shape::Point { x: self.browser_x, y: arrived }, "across")
            }
            RecordKind::Control { from_browser: true, .. } => {
                (Shape::Arrow { x1: self.browser_x, y1: arrived, x2: self.server_x, y2: arrived }, "server")
            }
            RecordKind::Control { from_browser: false, .. } => {
                (Shape::Arrow { x1: self.server_x, y1: arrived, x2: self.browser_x, y2: arrived }, "browser")
            }
        };
        let class = match record.kind {
            RecordKind::Request => "request",
            RecordKind::Response { .. } if record.answered_no_content() => "no-content",
            RecordKind::Response { .. } => "response",
            RecordKind::Event { .. } | RecordKind::Delivery { .. } => "event",
            RecordKind::Answer { accepted: true } => "response",
            RecordKind::Answer { accepted: false } => "error",
            RecordKind::Gap { .. } => "gap",
            RecordKind::Note { tone: NoteTone::Info } => "info",
            RecordKind::Note { tone: NoteTone::Warning } => "warning",
            RecordKind::Note { tone: NoteTone::Error } => "error",
            RecordKind::RoundTrip { .. } => "round-trip",
            RecordKind::Control { mark, .. } => mark.class(),
        };
        let mut title = if record.detail.is_empty() {
            record.label.clone()
        } else {
            format!("{} — {}", record.label, record.detail)
        };
        if let Some(bytes) = record.bytes() {
            title.push_str(&format!(
                "\nmeasured at the server's socket: head {} B · framing {} B · payload {} B",
                bytes.head, bytes.framing, bytes.payload
            ));
        }
        let connection = record.tcp_connection();
        if let Some((connection, opened)) = connection {
            let how = if opened { "opened by this request" } else { "kept alive, reused" };
            title.push_str(&format!("\nTCP connection #{connection}: {how}"));
        }
        let opens_connection = matches!(connection, Some((_, true))).then(|| (self.browser_x, self.y(record.sent_at)));
        PlacedRecord {
            id: record.id,
            measured: record.wire.len(),
            opens_connection,
            seq: record.seq(),
            shape,
            label,
            title,
            direction,
            class,
        }
    }

    /// Grid lines every second between `from` and `to`, labelled every five seconds with local wall-clock time.
    pub fn ticks(&self, from: Millis, to: Millis) -> Vec<Tick> {
        let first = (from / 1000.0).ceil() as i64;
        let last = (to / 1000.0).floor() as i64;
        (first..=last)
            .map(|second| Tick {
                y: self.y(second as f64 * 1000.0),
                label: (second % 5 == 0).then(|| self.clock_label(second)),
            })
            .collect()
    }

    /// Local wall-clock time of `at`, to the second.
    pub fn wall_clock_text(&self, at: Millis) -> String {
        self.clock_label((at / 1000.0).floor() as i64)
    }

    /// The span of time in view when `now` is at the bottom edge, for the caption of an export.
    pub fn window_text(&self, now: Millis) -> String {
        let oldest = now - self.window_seconds() * 1000.0;
        format!("{} to {} local time", self.wall_clock_text(oldest), self.wall_clock_text(now))
    }

    fn clock_label(&self, unix_second: i64) -> String {
        let local = unix_second + i64::from(self.utc_offset_minutes) * 60;
        let of_day = local.rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", of_day / 3600, of_day / 60 % 60, of_day % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagram::trace::TraceLog;

    use crate::diagram::control::ControlMark;

    fn layout() -> DiagramLayout {
        DiagramLayout::new(1_000_000.0)
    }

    fn record(kind: RecordKind, sent_at: Millis, arrived_at: Millis) -> TraceRecord {
        TraceRecord::new(0, kind, "x".into(), String::new(), sent_at, arrived_at)
    }

    #[test]
    fn control_marks_are_flat_their_own_class_and_hidden_by_the_toggle() {
        let mut layout = layout();
        let ping =
            record(RecordKind::Control { mark: ControlMark::Ping, from_browser: false }, 1_001_000.0, 1_001_000.0);
        let pong =
            record(RecordKind::Control { mark: ControlMark::Pong, from_browser: true }, 1_001_000.0, 1_001_000.0);
        let closed =
            record(RecordKind::Control { mark: ControlMark::TcpClose, from_browser: false }, 1_002_000.0, 1_002_000.0);
        let mut timeout = record(RecordKind::Response { held_from: Some(1_000_000.0) }, 1_003_000.0, 1_003_000.0);
        timeout.label = "204 · timeout".into();
        let request = record(RecordKind::Request, 1_003_000.0, 1_003_000.0);
        let all = [ping, pong, closed, timeout, request];
        let placed = layout.place(&all);
        let classes: Vec<_> = placed.iter().map(|placed| placed.class).collect();
        assert_eq!(classes, ["ping", "pong", "tcp-close", "no-content", "request"]);
        assert_eq!(placed[0].shape, Shape::Arrow { x1: 264.0, y1: 40.0, x2: 36.0, y2: 40.0 }, "server to browser");
        assert_eq!(placed[1].shape, Shape::Arrow { x1: 36.0, y1: 40.0, x2: 264.0, y2: 40.0 }, "browser to server");
        assert_eq!(placed[2].shape, Shape::Point { x: 36.0, y: 80.0 });

        layout.show_control = false;
        let calm: Vec<_> = all.iter().filter(|record| layout.is_visible(record, 1_004_000.0)).collect();
        assert_eq!(calm.len(), 1, "only the request is left");
        assert_eq!(calm[0].kind, RecordKind::Request);
    }

    #[test]
    fn a_label_too_long_for_the_drawing_is_cut_and_the_tooltip_keeps_it() {
        let mut answer = record(RecordKind::Answer { accepted: false }, 1_001_000.0, 1_001_000.0);
        answer.label = "no answer: connection closed before a complete response · retry in 2.0 s".into();
        let placed = layout().place([&answer]);
        let drawn = &placed[0].label.as_ref().expect("labelled").text;
        assert_eq!(drawn.chars().count(), DiagramLayout::MOST_LABEL_CHARS);
        assert!(drawn.ends_with('…'), "{drawn}");
        assert!(placed[0].title.starts_with(&answer.label), "{}", placed[0].title);
    }

    #[test]
    fn a_fitted_diagram_fills_the_room_at_its_drawn_scale() {
        let layout = DiagramLayout::new(0.0);
        // A lane drawn at its own 300 units wide fills 450 px with 450 units; drawn at 200 px, with 680.
        assert_eq!(layout.fitted_height(450.0, 300.0), 450.0);
        assert_eq!(layout.fitted_height(453.0, 200.0), 680.0);
        // Never shorter than 8 s of history nor taller than 30 s; nothing measured keeps the height it had.
        assert_eq!(layout.fitted_height(100.0, 300.0), 320.0);
        assert_eq!(layout.fitted_height(2000.0, 150.0), 1200.0);
        assert_eq!(layout.fitted_height(500.0, 0.0), layout.height);
        assert_eq!(layout.fitted_height(f64::NAN, 300.0), layout.height);
    }

    #[test]
    fn same_instant_same_height_in_every_lane() {
        let a = DiagramLayout::new(500.0);
        let b = DiagramLayout { browser_x: 10.0, ..DiagramLayout::new(500.0) };
        assert_eq!(a.y(2500.0), b.y(2500.0));
        assert_eq!(a.y(2500.0), 80.0);
    }

    #[test]
    fn now_sits_at_the_bottom_edge() {
        let layout = layout();
        let now = 1_020_000.0;
        assert_eq!(layout.y(now) - layout.scroll_offset(now), layout.height);
        assert_eq!(layout.window_seconds(), 12.0);
    }

    #[test]
    fn event_arrow_runs_from_emission_on_server_to_receipt_in_browser() {
        let layout = layout();
        let placed = layout.place([record(RecordKind::Event { seq: 42 }, 1_001_000.0, 1_001_500.0)]);
        assert_eq!(
            placed[0].shape,
            Shape::EventArrow { x1: layout.server_x, y1: 40.0, x2: layout.browser_x, y2: 60.0 }
        );
        assert_eq!(placed[0].direction, "browser");
    }

    #[test]
    fn request_goes_right_and_held_response_has_a_bar() {
        let layout = layout();
        let placed = layout.place([
            record(RecordKind::Request, 1_000_000.0, 1_000_000.0),
            record(RecordKind::Response { held_from: Some(1_000_000.0) }, 1_010_000.0, 1_010_000.0),
        ]);
        assert!(matches!(placed[0].shape, Shape::Arrow { x1, x2, .. } if x1 < x2));
        assert_eq!(
            placed[1].shape,
            Shape::HeldArrow { bar_top: 0.0, x1: layout.server_x, y1: 400.0, x2: layout.browser_x, y2: 400.0 }
        );
    }

    #[test]
    fn only_the_request_that_opened_its_tcp_connection_gets_the_square_and_every_request_names_its_connection() {
        let layout = layout();
        let on_connection = |sent_at: Millis, new_connection: bool| {
            let mut request = record(RecordKind::Request, sent_at, sent_at + 10.0);
            request.wire.push(protocol::WireRecord {
                id: 1,
                exchange: 1,
                transport: Some(protocol::Transport::ShortPoll),
                direction: protocol::WireDirection::ToServer,
                at: 0,
                unit: protocol::WireUnit::Request {
                    method: "GET".into(),
                    target: "/api/poll".into(),
                    connection: 7,
                    new_connection,
                },
                bytes: protocol::WireBytes { head: 100, framing: 0, payload: 0 },
                raw: String::new(),
            });
            request
        };
        let placed = layout.place([
            on_connection(1_001_000.0, true),
            on_connection(1_002_000.0, false),
            on_connection(1_003_000.0, false),
        ]);
        let squares: Vec<_> = placed.iter().map(|placed| placed.opens_connection).collect();
        assert_eq!(squares, [Some((layout.browser_x, 40.0)), None, None]);
        assert!(placed[0].title.ends_with("TCP connection #7: opened by this request"), "{}", placed[0].title);
        assert!(placed[2].title.ends_with("TCP connection #7: kept alive, reused"), "{}", placed[2].title);
        let unmeasured = layout.place([record(RecordKind::Request, 1_001_000.0, 1_001_000.0)]);
        assert_eq!(unmeasured[0].opens_connection, None, "no square until the tap has said");
    }

    #[test]
    fn crowded_labels_are_dropped_but_arrows_kept() {
        let layout = layout();
        // 10 events per second at 40 px/s: 4 px apart, so only every third label fits a 12 px gap.
        let records: Vec<_> =
            (0..9).map(|i| record(RecordKind::Event { seq: i }, 1_000_000.0, 1_000_000.0 + 100.0 * i as f64)).collect();
        let placed = layout.place(&records);
        assert_eq!(placed.len(), 9);
        let labelled: Vec<_> = placed.iter().enumerate().filter(|(_, p)| p.label.is_some()).map(|(i, _)| i).collect();
        assert_eq!(labelled, vec![0, 3, 6]);
    }

    #[test]
    fn packets_of_one_instant_are_labelled_one_under_another_in_order() {
        let layout = layout();
        let at = 1_000_000.0;
        // A WebSocket's 101, then MQTT's CONNECT, CONNACK, SUBSCRIBE and SUBACK within two milliseconds.
        let mut records = vec![record(RecordKind::Response { held_from: None }, at, at)];
        for index in 0..4 {
            let kind = if index % 2 == 0 { RecordKind::Request } else { RecordKind::Response { held_from: None } };
            records.push(record(kind, at + 0.4 * index as f64, at + 0.4 * (index + 1) as f64));
        }
        let placed = layout.place(&records);
        let ys: Vec<f64> = placed.iter().map(|p| p.label.as_ref().expect("every packet labelled").y).collect();
        for pair in ys.windows(2) {
            assert_eq!(pair[1] - pair[0], layout.min_label_gap, "{ys:?}");
        }
        // Arrows stay where their instants are: only the labels move.
        assert!(placed.iter().all(|p| (p.shape.arrival_y() - layout.y(at)).abs() < 0.1));

        // Past the most a stack holds, the rest of the instant goes unlabelled (the tooltip still names it).
        let crowd: Vec<_> = (0..9).map(|i| record(RecordKind::Request, at, at + 0.1 * i as f64)).collect();
        let labelled = layout.place(&crowd).iter().filter(|p| p.label.is_some()).count();
        assert_eq!(labelled, 1 + DiagramLayout::MOST_STACKED_LABELS as usize);
    }

    #[test]
    fn request_and_its_instant_answer_both_keep_their_labels() {
        let layout = layout();
        let placed = layout.place([
            record(RecordKind::Request, 1_000_000.0, 1_000_000.0),
            record(RecordKind::Response { held_from: None }, 1_000_001.0, 1_000_001.0),
        ]);
        assert!(placed.iter().all(|p| p.label.is_some()));
        assert!(placed[0].label.as_ref().unwrap().y < placed[1].label.as_ref().unwrap().y);
    }

    #[test]
    fn only_records_in_the_visible_window_are_placed() {
        let layout = layout(); // 12 s window
        let now = 1_100_000.0;
        let records = [
            record(RecordKind::Request, now - 20_000.0, now - 20_000.0),
            // Emitted long ago but received inside the window: its arrow crosses into view, so it stays.
            record(RecordKind::Event { seq: 1 }, now - 20_000.0, now - 5_000.0),
            record(RecordKind::Request, now - 1_000.0, now - 1_000.0),
        ];
        let placed = layout.place_visible(&records, now);
        assert_eq!(placed.len(), 2);
        assert_eq!(placed[0].seq, Some(1));
    }

    #[test]
    fn notes_keep_their_label_among_crowded_events() {
        let layout = layout();
        let mut records: Vec<_> =
            (0..6).map(|i| record(RecordKind::Event { seq: i }, 1_000_000.0, 1_000_000.0 + 100.0 * i as f64)).collect();
        records.insert(3, record(RecordKind::Note { tone: NoteTone::Error }, 1_000_250.0, 1_000_250.0));
        let placed = layout.place(&records);
        assert!(placed[3].label.is_some(), "the note must be labelled");
    }

    #[test]
    fn notes_that_come_together_are_written_one_under_another_not_over_each_other() {
        let layout = layout();
        let at = 1_000_000.0;
        let placed = layout.place([
            record(RecordKind::Response { held_from: None }, at, at),
            record(RecordKind::Note { tone: NoteTone::Error }, at + 1.0, at + 1.0),
            record(RecordKind::Note { tone: NoteTone::Info }, at + 1.0, at + 1.0),
            record(RecordKind::Note { tone: NoteTone::Info }, at + 10_000.0, at + 10_000.0),
        ]);
        let ys: Vec<f64> = placed.iter().map(|placed| placed.label.as_ref().expect("every one labelled").y).collect();
        for pair in ys.windows(2) {
            assert!(pair[1] - pair[0] >= layout.min_label_gap, "labels overlap: {ys:?}");
        }
        // A note with room keeps its own place.
        assert_eq!(
            ys[3],
            layout
                .place_one(&record(RecordKind::Note { tone: NoteTone::Info }, at + 10_000.0, at + 10_000.0))
                .label
                .unwrap()
                .y
        );
    }

    #[test]
    fn a_round_trip_is_a_bracket_beside_the_browser_from_send_to_receipt() {
        let layout = layout();
        let placed = layout.place([
            record(RecordKind::Request, 1_001_000.0, 1_001_000.0),
            record(RecordKind::Event { seq: 7 }, 1_001_000.5, 1_001_500.0),
            record(RecordKind::RoundTrip { seq: 7 }, 1_001_000.0, 1_001_500.0),
        ]);
        let bracket = &placed[2];
        assert_eq!(bracket.shape, Shape::Bracket { x: layout.browser_x - 8.0, y1: 40.0, y2: 60.0 });
        assert_eq!((bracket.class, bracket.seq), ("round-trip", Some(7)));
        // Its label sits below the event's, and is kept although the two are close.
        let (event_label, bracket_label) = (placed[1].label.as_ref().unwrap(), bracket.label.as_ref().unwrap());
        assert_eq!(bracket_label.y - event_label.y, layout.min_label_gap);
        assert_eq!(bracket.shape.strokes(layout.width).line, (28.0, 40.0, 28.0, 60.0));
        assert!(!bracket.shape.strokes(layout.width).arrowhead);
    }

    #[test]
    fn a_round_trip_of_a_millisecond_is_still_visible() {
        let strokes = Shape::Bracket { x: 28.0, y1: 100.0, y2: 100.04 }.strokes(300.0);
        assert_eq!(strokes.line, (28.0, 100.0, 28.0, 100.0 + Shape::BRACKET_MIN_HEIGHT));
    }

    #[test]
    fn notes_span_the_lane() {
        let mut log = TraceLog::default();
        log.push(RecordKind::Note { tone: NoteTone::Error }, "closed".into(), String::new(), 1_000_250.0, 1_000_250.0);
        let placed = layout().place(log.records());
        assert_eq!(placed[0].shape, Shape::Note { y: 10.0 });
        assert_eq!(placed[0].direction, "across");
    }

    #[test]
    fn exports_name_the_window_in_local_time() {
        let layout = DiagramLayout { utc_offset_minutes: -90, ..DiagramLayout::new(0.0) };
        let now = 86_400_000.0 + 3_600_000.0 + 13_500.0;
        assert_eq!(layout.wall_clock_text(now), "23:30:13");
        assert_eq!(layout.window_text(now), "23:30:01 to 23:30:13 local time");
        assert_eq!(DiagramLayout::placement_time(12_000.5), 13_000.0);
        assert_eq!(DiagramLayout::placement_time(12_000.0), 12_000.0);
    }

    #[test]
    fn ticks_every_second_labelled_every_five_in_local_time() {
        let layout = DiagramLayout { utc_offset_minutes: 60, ..DiagramLayout::new(0.0) };
        let ticks = layout.ticks(4_500.0, 10_200.0);
        assert_eq!(ticks.len(), 6);
        assert_eq!(ticks[0].y, 200.0);
        assert_eq!(ticks[0].label.as_deref(), Some("01:00:05"));
        assert_eq!(ticks[1].label, None);
        assert_eq!(ticks[5].label.as_deref(), Some("01:00:10"));
    }
}
