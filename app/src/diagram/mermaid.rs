//! The diagram as Mermaid `sequenceDiagram` text, to paste into notes, slides or a Markdown file.
//!
//! Each lane is a `box` holding its own Browser and Server participants, so the text reads like the page: lanes
//! side by side. Messages from every lane are written in the order they arrived, so Mermaid's one vertical order is
//! the page's one time axis. Mermaid draws arrows level, so what the page shows by slope goes into the text: how
//! long the server held a long poll, how late an event arrived.
//!
//! Text goes through [`escape_text`]: in Mermaid's sequence grammar `;` ends a statement and `#` starts a comment
//! (both anywhere on a line), `%%` starts a comment too, and a message ends at the line's end. Mermaid's own entity
//! codes (`#59;`) stand for such characters and are turned back into them when it draws.

use std::fmt::Write;

use super::control::ControlMark;
use super::trace::{Millis, NoteTone, RecordKind, TraceRecord};
use protocol::Transport;

/// Mermaid text for `lanes`, each with the records to show in the order they were recorded.
pub fn sequence_diagram(title: &str, lanes: &[(Transport, Vec<TraceRecord>)]) -> String {
    let mut out = String::from("sequenceDiagram\n");
    let title = title_text(title);
    if !title.is_empty() {
        let _ = writeln!(out, "    title {title}");
    }
    out.push_str("    %% Made by Transport Lab: one box per lane, each with its own Browser and Server.\n");
    for (transport, _) in lanes {
        let (browser, server) = participants(*transport);
        let _ = writeln!(out, "    box {} {}", lane_tint(*transport), escape_text(transport.title()));
        let (left, right) = transport.lifelines();
        let _ = writeln!(out, "        participant {browser} as {left}");
        let _ = writeln!(out, "        participant {server} as {right}");
        out.push_str("    end\n");
    }
    let mut messages: Vec<(Transport, &TraceRecord)> =
        lanes.iter().flat_map(|(transport, records)| records.iter().map(move |record| (*transport, record))).collect();
    // Stable: records of one instant keep lane order, then recording order.
    messages.sort_by(|(_, a), (_, b)| a.arrived_at.total_cmp(&b.arrived_at));
    for (transport, record) in messages {
        out.push_str(&statement(transport, record));
    }
    out
}

/// Mermaid-safe text: every character Mermaid's sequence grammar would read as syntax becomes an entity code.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            // After the first `:` the rest is the message, but a message starting `wrap:` would set wrapping.
            ':' => out.push_str("#58;"),
            '%' => out.push_str("#37;"),
            // Mermaid draws labels as sanitised HTML: markup and entities must stay text.
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '"' => out.push_str("#quot;"),
            '\n' => out.push_str("<br/>"),
            character if character.is_control() => out.push(' '),
            character => out.push(character),
        }
    }
    out
}

/// A title is lexed as plain text up to `#`, `;` or the line's end, and entity codes are not decoded in it.
fn title_text(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| if matches!(c, '#' | ';' | '%' | '<' | '>') || c.is_control() { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn participants(transport: Transport) -> (String, String) {
    (format!("{}_browser", transport.id()), format!("{}_server", transport.id()))
}

/// A light background per lane, written as `rgb()`: a `#rrggbb` colour would start a comment.
fn lane_tint(transport: Transport) -> &'static str {
    match transport {
        Transport::ShortPoll => "rgb(232, 240, 254)",
        Transport::LongPoll => "rgb(230, 244, 234)",
        Transport::Sse => "rgb(254, 247, 224)",
        Transport::WebSocket => "rgb(243, 232, 253)",
        Transport::HttpStream => "rgb(252, 232, 236)",
        Transport::Webhook => "rgb(236, 239, 241)",
        Transport::Mqtt => "rgb(232, 245, 233)",
        Transport::Grpc => "rgb(255, 243, 224)",
    }
}

fn statement(transport: Transport, record: &TraceRecord) -> String {
    let (browser, server) = participants(transport);
    let mut text = record.label_with_bytes();
    if text.trim().is_empty() {
        text = "(no label)".into();
    }
    let message =
        |arrow: &str, from: &str, to: &str, text: &str| format!("    {from}{arrow}{to}: {}\n", escape_text(text));
    let note = |tint: Option<&str>, text: &str| {
        let line = format!("Note over {browser},{server}: {}\n", escape_text(text));
        match tint {
            Some(tint) => format!("    rect {tint}\n        {line}    end\n"),
            None => format!("    {line}"),
        }
    };
    match record.kind {
        RecordKind::Request => message("->>", &browser, &server, &text),
        RecordKind::Response { held_from } => {
            if let Some(held_from) = held_from {
                text.push_str(&format!(" · held {:.1} s", (record.sent_at - held_from) / 1000.0));
            }
            message("-->>", &server, &browser, &text)
        }
        RecordKind::Event { .. } => {
            text.push_str(&format!(" · latency {}", millis(record.arrived_at - record.sent_at)));
            message("-)", &server, &browser, &text)
        }
        RecordKind::Delivery { waited_from, .. } => {
            if let Some(waited_from) = waited_from {
                text.push_str(&format!(" · after waiting {:.1} s", (record.sent_at - waited_from) / 1000.0));
            }
            message("->>", &server, &browser, &text)
        }
        RecordKind::Answer { .. } => message("-->>", &browser, &server, &text),
        RecordKind::Gap { .. } | RecordKind::Note { tone: NoteTone::Warning } => note(Some(WARNING_TINT), &text),
        RecordKind::Note { tone: NoteTone::Error } => note(Some(ERROR_TINT), &text),
        RecordKind::Note { tone: NoteTone::Info } => note(None, &text),
        // Mermaid has no span on one lifeline; the note sits where the message came back, and says since when.
        RecordKind::RoundTrip { .. } => format!("    Note left of {browser}: {}\n", escape_text(&text)),
        RecordKind::Control { mark: ControlMark::TcpClose, .. } => {
            format!("    Note over {browser},{server}: {}\n", escape_text(&text))
        }
        RecordKind::Control { from_browser: true, .. } => message("-)", &browser, &server, &text),
        RecordKind::Control { from_browser: false, .. } => message("-)", &server, &browser, &text),
    }
}

const WARNING_TINT: &str = "rgba(249, 171, 0, 0.18)";
const ERROR_TINT: &str = "rgba(217, 48, 37, 0.15)";

fn millis(value: Millis) -> String {
    if value.abs() < 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64, kind: RecordKind, label: &str, sent_at: Millis, arrived_at: Millis) -> TraceRecord {
        TraceRecord::new(id, kind, label.into(), String::new(), sent_at, arrived_at)
    }

    #[test]
    fn syntax_characters_become_entity_codes() {
        assert_eq!(escape_text("a;b#c:d%e<f>&\"g\nh\tz"), "a#59;b#35;c#58;d#37;e#lt;f#gt;#amp;#quot;g<br/>h z");
        // Text that looks like an entity code stays text: its `#` and `;` are escaped too.
        assert_eq!(escape_text("#9829;"), "#35;9829#59;");
        assert_eq!(escape_text("GET /api/poll?after=41 · 487 B"), "GET /api/poll?after=41 · 487 B");
    }

    #[test]
    fn lanes_are_boxes_declared_before_any_message() {
        let text = sequence_diagram(
            "Transport Lab",
            &[(Transport::ShortPoll, vec![record(0, RecordKind::Request, "GET", 1.0, 1.0)]), (Transport::Sse, vec![])],
        );
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "sequenceDiagram");
        assert_eq!(lines[1], "    title Transport Lab");
        assert_eq!(
            &lines[3..11],
            [
                "    box rgb(232, 240, 254) Short polling",
                "        participant short_poll_browser as Browser",
                "        participant short_poll_server as Server",
                "    end",
                "    box rgb(254, 247, 224) Server-Sent Events",
                "        participant sse_browser as Browser",
                "        participant sse_server as Server",
                "    end",
            ]
        );
        assert_eq!(lines[11], "    short_poll_browser->>short_poll_server: GET");
        assert_eq!(lines.len(), 12);
    }

    #[test]
    fn messages_of_every_lane_follow_one_time_axis() {
        let short_poll = vec![
            record(0, RecordKind::Request, "GET /api/poll?after=4", 1_000.0, 1_000.0),
            record(1, RecordKind::Response { held_from: None }, "200 · 1 event", 1_003.0, 1_003.0),
            record(2, RecordKind::Event { seq: 5 }, "#5 tick", 700.0, 1_003.0),
        ];
        let long_poll = vec![
            record(0, RecordKind::Request, "GET /api/long-poll?after=4", 0.0, 0.0),
            record(1, RecordKind::Response { held_from: Some(0.0) }, "200 · 1 event", 702.0, 702.0),
        ];
        let web_socket = vec![record(7, RecordKind::Event { seq: 5 }, "WS text #5", 700.0, 700.4)];
        let text = sequence_diagram(
            "",
            &[(Transport::ShortPoll, short_poll), (Transport::LongPoll, long_poll), (Transport::WebSocket, web_socket)],
        );
        let messages: Vec<_> = text.lines().skip_while(|line| !line.contains("->>") && !line.contains("-)")).collect();
        assert_eq!(
            messages,
            [
                "    long_poll_browser->>long_poll_server: GET /api/long-poll?after=4",
                "    web_socket_server-)web_socket_browser: WS text #35;5 · latency 0.4 ms",
                "    long_poll_server-->>long_poll_browser: 200 · 1 event · held 0.7 s",
                "    short_poll_browser->>short_poll_server: GET /api/poll?after=4",
                "    short_poll_server-->>short_poll_browser: 200 · 1 event",
                "    short_poll_server-)short_poll_browser: #35;5 tick · latency 303 ms",
            ]
        );
        assert!(!text.contains("title"), "no title line when there is no title");
    }

    #[test]
    fn failures_and_gaps_are_tinted_notes_across_the_lane() {
        let records = vec![
            record(0, RecordKind::Note { tone: NoteTone::Error }, "closed: 1006", 1.0, 1.0),
            record(1, RecordKind::Gap { from: 2, to: 3 }, "gap: #2–#3 lost", 2.0, 2.0),
            record(2, RecordKind::Note { tone: NoteTone::Info }, "wait 0.4 s", 3.0, 3.0),
        ];
        let text = sequence_diagram("t", &[(Transport::Sse, records)]);
        let body: Vec<_> = text.lines().skip(7).collect();
        assert_eq!(
            body,
            [
                "    rect rgba(217, 48, 37, 0.15)",
                "        Note over sse_browser,sse_server: closed#58; 1006",
                "    end",
                "    rect rgba(249, 171, 0, 0.18)",
                "        Note over sse_browser,sse_server: gap#58; #35;2–#35;3 lost",
                "    end",
                "    Note over sse_browser,sse_server: wait 0.4 s",
            ]
        );
    }

    #[test]
    fn a_round_trip_is_a_note_beside_the_browser_where_it_came_back() {
        let records = vec![
            record(0, RecordKind::Request, "WS text publish", 10.0, 10.0),
            record(1, RecordKind::Event { seq: 4 }, "WS text #4", 11.0, 12.5),
            record(2, RecordKind::RoundTrip { seq: 4 }, "round trip 2.5 ms", 10.0, 12.5),
        ];
        let text = sequence_diagram("t", &[(Transport::WebSocket, records)]);
        assert_eq!(text.lines().last(), Some("    Note left of web_socket_browser: round trip 2.5 ms"));
    }

    #[test]
    fn no_line_carries_a_raw_separator_or_comment_start_in_its_text() {
        let hostile = "x; y # z %% w\nnext: <b>&amp;</b>";
        let records = vec![
            record(0, RecordKind::Request, hostile, 1.0, 1.0),
            record(1, RecordKind::Note { tone: NoteTone::Warning }, hostile, 2.0, 2.0),
            record(2, RecordKind::Event { seq: 1 }, "", 2.0, 3.0),
        ];
        let text = sequence_diagram("lesson #1; week 3 <draft>", &[(Transport::WebSocket, records)]);
        assert!(text.contains("    title lesson 1 week 3 draft\n"), "{text}");
        assert!(text.contains(": (no label) · latency 1.0 ms"), "an empty label still makes a message");
        let statements = text.lines().filter(|line| !line.trim_start().starts_with("%%"));
        let texts: Vec<_> = statements.filter_map(|line| line.split_once(": ").map(|(_, text)| text)).collect();
        assert_eq!(texts.len(), 3);
        for text in texts {
            assert!(!strip_entity_codes(text).contains([';', '#', '%', '<', '>', ':']), "{text}");
        }
        assert!(text.contains("x#59; y #35; z #37;#37; w<br/>next#58; #lt;b#gt;#amp;amp#59;#lt;/b#gt;"), "{text}");
    }

    /// Removes `#name;` codes the way Mermaid finds them (`#\w+;`).
    fn strip_entity_codes(line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(start) = rest.find('#') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let name_len = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
            if name_len > 0 && after[name_len..].starts_with(';') {
                rest = &after[name_len + 1..];
            } else {
                out.push('#');
                rest = after;
            }
        }
        out.push_str(rest);
        out.replace("<br/>", "")
    }
}
