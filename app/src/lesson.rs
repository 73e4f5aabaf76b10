//! A lesson's answer checked against the lanes' live figures, and the small text rules of lesson files. Plain Rust,
//! so the checking is unit-tested; the lesson panel only renders it.

use crate::metrics::LaneMetrics;
use protocol::{Answer, Metric, Transport};

/// The figure `metric` as the lane shows it; `None` while the lane has none yet (shown as "–").
pub fn metric_value(metric: Metric, metrics: &LaneMetrics) -> Option<f64> {
    let count = |value: u64| Some(value as f64);
    match metric {
        Metric::Events => count(metrics.events_received),
        Metric::Requests => count(metrics.requests),
        Metric::EmptyResponses => count(metrics.empty_responses),
        Metric::LatencyLast => metrics.latency.last(),
        Metric::LatencyP50 => metrics.latency.quantile(0.5),
        Metric::LatencyMax => metrics.latency.max(),
        Metric::BytesPerEvent => metrics.bytes_per_event(),
        Metric::Recoveries => count(metrics.recoveries),
        Metric::LastRecoveryMs => metrics.last_recovery_ms,
        Metric::LostInGaps => count(metrics.lost_in_gaps),
        Metric::Missed => count(metrics.silently_missed),
        Metric::AudioBytes => metrics.audio_bytes.map(|bytes| bytes as f64),
        Metric::RoundTripMs => metrics.round_trip.last(),
    }
}

/// What the learner answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Given {
    Lane(Transport),
    /// The text typed into the box, as typed.
    Number(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Right,
    /// Not right; the text says where to look again, never what the figure is.
    Wrong(String),
    /// The figure the question needs is not on screen yet (the task has not been done, or no traffic yet).
    NotYet(String),
}

/// Checks `given` against the figures on screen now. `lanes` are the lesson's lanes with their current figures.
pub fn check(answer: &Answer, given: &Given, lanes: &[(Transport, LaneMetrics)]) -> Verdict {
    let metric = answer.metric();
    let values: Vec<(Transport, f64)> =
        lanes.iter().filter_map(|(lane, metrics)| metric_value(metric, metrics).map(|value| (*lane, value))).collect();
    match (answer, given) {
        (Answer::LaneWithMost { .. } | Answer::LaneWithLeast { .. }, Given::Lane(chosen)) => {
            if values.len() < 2 {
                return Verdict::NotYet(format!(
                    "Fewer than two lanes show their {} yet: do the task, wait a few seconds and try again.",
                    metric.name()
                ));
            }
            let most = matches!(answer, Answer::LaneWithMost { .. });
            let best = values.iter().map(|(_, value)| *value).reduce(if most { f64::max } else { f64::min });
            match values.iter().find(|(lane, _)| lane == chosen) {
                Some((_, value)) if Some(*value) == best => Verdict::Right,
                Some(_) => Verdict::Wrong(format!(
                    "Not that one: compare the {} of each lane (outlined) and pick the {}.",
                    metric.name(),
                    if most { "highest" } else { "lowest" }
                )),
                None => Verdict::NotYet(format!("{} shows no {} yet.", chosen.title(), metric.name())),
            }
        }
        (Answer::Number { lane, within_percent, .. }, Given::Number(text)) => {
            let Some(actual) = values.iter().find(|(found, _)| found == lane).map(|(_, value)| *value) else {
                return Verdict::NotYet(format!(
                    "{} shows no {} yet: do the task first, then read the figure.",
                    lane.title(),
                    metric.name()
                ));
            };
            let Some(typed) = parse_number(text) else {
                return Verdict::Wrong("Type the number as the lane shows it, e.g. 412 or 12.5.".into());
            };
            let tolerance = (actual.abs() * within_percent / 100.0).max(1.0);
            if (typed - actual).abs() <= tolerance {
                Verdict::Right
            } else {
                Verdict::Wrong(format!(
                    "Not quite: read the {} in the {} lane again (outlined).",
                    metric.name(),
                    lane.title()
                ))
            }
        }
        _ => Verdict::Wrong("This question wants the other kind of answer.".into()),
    }
}

/// A number as a person copies it off the screen: `1,234`, `12.5 ms`, `8 044 B`.
pub fn parse_number(text: &str) -> Option<f64> {
    let kept: String = text.chars().filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-').collect();
    kept.parse().ok().filter(|value: &f64| value.is_finite())
}

/// A lesson text's paragraphs: a blank line starts a new one; single line breaks are just spaces.
pub fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|paragraph| !paragraph.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_requests(requests: u64) -> LaneMetrics {
        LaneMetrics { requests, ..LaneMetrics::default() }
    }

    fn lanes() -> Vec<(Transport, LaneMetrics)> {
        vec![(Transport::ShortPoll, with_requests(40)), (Transport::Sse, with_requests(1))]
    }

    #[test]
    fn the_lane_with_the_most_is_right_and_the_other_is_wrong() {
        let answer = Answer::LaneWithMost { metric: Metric::Requests };
        assert_eq!(check(&answer, &Given::Lane(Transport::ShortPoll), &lanes()), Verdict::Right);
        assert!(matches!(check(&answer, &Given::Lane(Transport::Sse), &lanes()), Verdict::Wrong(_)));
        let answer = Answer::LaneWithLeast { metric: Metric::Requests };
        assert_eq!(check(&answer, &Given::Lane(Transport::Sse), &lanes()), Verdict::Right);
    }

    #[test]
    fn a_tie_accepts_either_lane() {
        let tied = vec![(Transport::Sse, with_requests(1)), (Transport::WebSocket, with_requests(1))];
        let answer = Answer::LaneWithLeast { metric: Metric::Requests };
        assert_eq!(check(&answer, &Given::Lane(Transport::Sse), &tied), Verdict::Right);
        assert_eq!(check(&answer, &Given::Lane(Transport::WebSocket), &tied), Verdict::Right);
    }

    #[test]
    fn a_figure_not_yet_shown_asks_to_do_the_task_first() {
        let answer = Answer::LaneWithLeast { metric: Metric::LatencyP50 };
        assert!(matches!(check(&answer, &Given::Lane(Transport::Sse), &lanes()), Verdict::NotYet(_)));
        let number = Answer::Number { metric: Metric::LastRecoveryMs, lane: Transport::Sse, within_percent: 10.0 };
        assert!(matches!(check(&number, &Given::Number("5".into()), &lanes()), Verdict::NotYet(_)));
    }

    #[test]
    fn a_number_is_accepted_within_its_tolerance_of_the_figure_on_screen() {
        let recovered = LaneMetrics { last_recovery_ms: Some(2_400.0), ..LaneMetrics::default() };
        let lanes = vec![(Transport::WebSocket, recovered)];
        let answer =
            Answer::Number { metric: Metric::LastRecoveryMs, lane: Transport::WebSocket, within_percent: 10.0 };
        let verdict = |text: &str| check(&answer, &Given::Number(text.into()), &lanes);
        assert_eq!(verdict("2400.0 ms"), Verdict::Right);
        assert_eq!(verdict("2,600"), Verdict::Right);
        assert!(matches!(verdict("2700"), Verdict::Wrong(_)));
        assert!(matches!(verdict("soon"), Verdict::Wrong(_)));
    }

    #[test]
    fn small_counts_allow_one_either_way() {
        let lanes = vec![(Transport::Sse, with_requests(2))];
        let answer = Answer::Number { metric: Metric::Requests, lane: Transport::Sse, within_percent: 10.0 };
        assert_eq!(check(&answer, &Given::Number("3".into()), &lanes), Verdict::Right);
        assert!(matches!(check(&answer, &Given::Number("4".into()), &lanes), Verdict::Wrong(_)));
    }

    #[test]
    fn numbers_are_read_the_way_people_copy_them() {
        assert_eq!(parse_number("1,234"), Some(1234.0));
        assert_eq!(parse_number("12.5 ms"), Some(12.5));
        assert_eq!(parse_number("8 044 B"), Some(8044.0));
        assert_eq!(parse_number("–"), None);
    }

    #[test]
    fn blank_lines_make_paragraphs() {
        assert_eq!(paragraphs("One\nline.\n\n  Two.  \n\n\n"), ["One line.", "Two."]);
    }
}
