//! The words a lane writes on its arrows and notes: plain Rust, so what a learner reads is tested without a browser.

use protocol::{Arrival, Event, EventBody};

use crate::diagram::NoteTone;

/// Longest piece of a broadcast drawn on its arrow; the whole text is in the arrow's tooltip.
const BROADCAST_LABEL_CHARS: usize = 18;

/// An event's arrow label (the transport's own `label`, plus what the event adds) and its tooltip. `bytes` is what
/// it added to the lane's body bytes; `size` its size as the lane received it (a stream's own bytes for the event,
/// or its JSON inside a poll body). The texts are shown as text: Leptos escapes them, so a message cannot inject
/// markup into the page.
pub fn event_text(event: &Event, mut label: String, bytes: usize, size: usize, latency_ms: f64) -> (String, String) {
    let kind = event.body.kind_name();
    let mut detail = format!(
        "event #{} ({kind}), {bytes} B; latency {latency_ms:.1} ms (receive time − emitted_at, clock-corrected)",
        event.seq
    );
    match &event.body {
        EventBody::Message { text } => detail.push_str(&format!("\nmessage: “{text}”")),
        EventBody::Broadcast { text } => {
            detail.push_str(&format!("\nfrom the teacher: “{text}”"));
            label.push_str(&format!(" · “{}”", shortened(text, BROADCAST_LABEL_CHARS)));
        }
        EventBody::Audio(clip) => {
            label.push_str(&format!(" · {:.1} kB", size as f64 / 1000.0));
            detail.push_str(&format!(
                "\naudio: {} Hz for {} ms; the {} file is {} B, {size} B as this lane received it",
                clip.frequency_hz,
                clip.duration_ms,
                clip.mime_type,
                clip.data.len()
            ));
        }
        EventBody::Tick { .. } => {}
    }
    (label, detail)
}

/// The note an arrival gets beside its arrow, if it is anything but the next one in order.
pub fn arrival_note(arrival: Arrival, seq: u64) -> Option<(NoteTone, String)> {
    match arrival {
        Arrival::InOrder => None,
        Arrival::Duplicate => Some((NoteTone::Warning, format!("duplicate #{seq}"))),
        Arrival::Late => Some((NoteTone::Warning, format!("#{seq} out of order"))),
        Arrival::AfterLoss { missing } => Some((NoteTone::Error, format!("{missing} events missing before #{seq}"))),
    }
}

/// A webhook receiver's view of an acknowledged delivery. An event delivered after a later one is a retry that
/// was overtaken, which a receiver must expect; later events delivered first do not mean anything was lost yet.
pub fn delivery_note(arrival: Arrival, seq: u64) -> Option<(NoteTone, String)> {
    match arrival {
        Arrival::InOrder | Arrival::AfterLoss { .. } => None,
        Arrival::Duplicate => Some((NoteTone::Warning, format!("#{seq} delivered again (a redelivery)"))),
        Arrival::Late => Some((NoteTone::Warning, format!("#{seq} arrived after later events: a retry overtaken"))),
    }
}

/// Where a line of an HTTP stream fell among the reads of its `ReadableStream`: read `read` (of `read_bytes`)
/// completed `completed` lines, this one the `index`-th; the first of them began in an earlier read when `carried`
/// bytes of it were held over. The server writes a line per chunk, but the browser's reads need not follow them.
pub fn line_in_read(read: u64, read_bytes: usize, completed: usize, index: usize, carried: usize) -> String {
    let mut text = format!(
        "read #{read} of the response body ({read_bytes} B) completed {completed} line{}; this was line {} of them",
        if completed == 1 { "" } else { "s" },
        index + 1
    );
    if index == 0 && carried > 0 {
        text.push_str(&format!(", begun in an earlier read ({carried} B held over)"));
    }
    text
}

/// At most `limit` characters of `text`, with an ellipsis when cut.
fn shortened(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: EventBody) -> Event {
        Event { seq: 7, emitted_at: 0, body }
    }

    #[test]
    fn a_line_says_which_read_completed_it_and_whether_it_began_earlier() {
        assert_eq!(
            line_in_read(3, 210, 2, 0, 40),
            "read #3 of the response body (210 B) completed 2 lines; this was line 1 of them, begun in an earlier \
             read (40 B held over)"
        );
        assert_eq!(
            line_in_read(4, 102, 1, 0, 0),
            "read #4 of the response body (102 B) completed 1 line; this was line 1 of them"
        );
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(shortened("hello", 18), "hello");
        assert_eq!(shortened("ééééé", 3), "ééé…");
    }

    #[test]
    fn a_broadcast_shows_its_start_on_the_arrow_and_all_of_it_in_the_tooltip() {
        let text = "please all look at the projector now";
        let (label, detail) = event_text(&event(EventBody::Broadcast { text: text.into() }), "#7".into(), 90, 90, 1.25);
        assert_eq!(label, "#7 · “please all look at…”");
        assert!(detail.starts_with("event #7 (broadcast), 90 B; latency 1.2 ms"), "{detail}");
        assert!(detail.ends_with(&format!("from the teacher: “{text}”")));
    }

    #[test]
    fn only_out_of_order_arrivals_get_a_note() {
        assert_eq!(arrival_note(Arrival::InOrder, 3), None);
        assert_eq!(arrival_note(Arrival::Late, 3), Some((NoteTone::Warning, "#3 out of order".into())));
        assert_eq!(
            arrival_note(Arrival::AfterLoss { missing: 2 }, 9),
            Some((NoteTone::Error, "2 events missing before #9".into()))
        );
    }
}
