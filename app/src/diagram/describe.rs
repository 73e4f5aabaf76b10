//! A lane's drawing in words, for its SVG `<desc>`: what a screen reader says instead of showing the arrows.

use super::layout::{DiagramLayout, PlacedRecord, Shape};
use super::trace::Millis;

/// What is on screen at one view time: messages (arrows) and notes (gaps, errors, closes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InView {
    pub arrows: usize,
    pub notes: usize,
}

impl InView {
    /// Counts what ends between the top and bottom edges when `now` is at the bottom: an arrow counts once its
    /// head is on screen, as a reader sees it arrive.
    pub fn count(layout: &DiagramLayout, placed: &[PlacedRecord], now: Millis) -> InView {
        let top = layout.scroll_offset(now);
        let bottom = top + layout.height;
        let on_screen = |y: f64| (top..=bottom).contains(&y);
        placed.iter().fold(InView::default(), |mut seen, record| {
            match record.shape {
                Shape::Note { y } if on_screen(y) => seen.notes += 1,
                Shape::Arrow { y2, .. } | Shape::HeldArrow { y2, .. } | Shape::EventArrow { y2, .. }
                    if on_screen(y2) =>
                {
                    seen.arrows += 1
                }
                _ => {}
            }
            seen
        })
    }

    pub fn sentence(self) -> String {
        let plural = |count: usize, one: &str, many: &str| format!("{count} {}", if count == 1 { one } else { many });
        format!("{} and {} in view.", plural(self.arrows, "arrow", "arrows"), plural(self.notes, "note", "notes"))
    }
}

/// The glyph a note carries at its left end, so a gap or an error reads without its colour.
pub fn note_marker(class: &str) -> Option<&'static str> {
    match class {
        "gap" => Some("⋯ gap"),
        "error" => Some("✕"),
        "warning" => Some("!"),
        "info" => Some("i"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::trace::{NoteTone, RecordKind, TraceRecord};
    use super::*;

    #[test]
    fn counts_what_has_arrived_within_the_window() {
        let layout = DiagramLayout::new(0.0);
        let window = layout.window_seconds() * 1000.0;
        let now = 100_000.0;
        let records = [
            // scrolled out above the top
            TraceRecord::new(0, RecordKind::Request, "old".into(), String::new(), 1.0, now - window - 500.0),
            TraceRecord::new(1, RecordKind::Request, "GET".into(), String::new(), now - 2_000.0, now - 1_990.0),
            TraceRecord::new(
                2,
                RecordKind::Note { tone: NoteTone::Error },
                "closed".into(),
                String::new(),
                now - 5.0,
                now - 5.0,
            ),
            // not arrived yet: below the bottom edge
            TraceRecord::new(
                3,
                RecordKind::Response { held_from: None },
                "200".into(),
                String::new(),
                now - 10.0,
                now + 300.0,
            ),
        ];
        let seen = InView::count(&layout, &layout.place(&records), now);
        assert_eq!(seen, InView { arrows: 1, notes: 1 });
        assert_eq!(seen.sentence(), "1 arrow and 1 note in view.");
        assert_eq!(InView { arrows: 12, notes: 0 }.sentence(), "12 arrows and 0 notes in view.");
    }
}
