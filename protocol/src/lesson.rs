//! Guided lessons. Each lesson is one TOML file in `lessons/` (written by people, read by the server on every
//! request so a teacher can add one without a rebuild) and reaches the page as JSON in these shapes.

use serde::{Deserialize, Serialize};

use super::Transport;

/// A lesson: it sets up the lanes, walks through steps that say what to watch and highlight the arrows they talk
/// about, and ends with a question whose answer the learner reads off the live lanes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// The file's name without `.toml`; also its address, `/learn/<id>`.
    pub id: String,
    /// Position in the sequence (1 first).
    pub order: u32,
    pub title: String,
    /// One sentence for the list of lessons.
    pub summary: String,
    pub setup: LessonSetup,
    pub steps: Vec<LessonStep>,
    pub try_this: TryThis,
    /// Where the claims come from (RFC 6455, the HTML Standard, the lab's own measurements).
    #[serde(default)]
    pub references: Vec<Reference>,
}

/// What the lesson switches on before its first step. Only this browser's own settings: the generator is shared by
/// everyone connected, so a lesson asks the learner to change it rather than changing it for a whole class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonSetup {
    /// The lanes that are on; the others are switched off.
    pub lanes: Vec<Transport>,
    /// Short polling's interval, one of [`POLL_INTERVAL_CHOICES_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u32>,
}

/// The intervals the lab's "poll every" menu offers.
pub const POLL_INTERVAL_CHOICES_MS: [u32; 5] = [250, 500, 1000, 2000, 5000];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonStep {
    pub title: String,
    /// Plain text; a blank line starts a new paragraph.
    pub text: String,
    /// What to look at on screen while reading this step.
    pub watch: String,
    /// The arrows this step talks about; the others are dimmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight: Option<Highlight>,
    /// Controls and figures to outline, so the learner finds them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub point_at: Vec<ScreenTarget>,
}

/// Which arrows to highlight: those of `kinds` in `lanes` (every lane of the lesson when empty).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Highlight {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lanes: Vec<Transport>,
    pub kinds: Vec<ArrowKind>,
}

impl Highlight {
    /// Whether an arrow of class `kind` (as the diagram names it, see `PlacedRecord::class`) in `lane` is one
    /// this highlight talks about.
    pub fn covers(&self, lane: Transport, kind: &str) -> bool {
        (self.lanes.is_empty() || self.lanes.contains(&lane)) && self.kinds.iter().any(|wanted| wanted.class() == kind)
    }
}

/// The kinds of mark a lane draws, named as the diagram's `data-kind` attribute names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrowKind {
    /// Browser → server: requests, the upgrade, upstream frames.
    Request,
    /// Server → browser answers, including held long polls and the 101.
    Response,
    /// One hub event arriving.
    Event,
    /// Events the server no longer had.
    Gap,
    /// Notes: waits, reconnects.
    Info,
    Warning,
    Error,
}

impl ArrowKind {
    pub fn class(self) -> &'static str {
        match self {
            ArrowKind::Request => "request",
            ArrowKind::Response => "response",
            ArrowKind::Event => "event",
            ArrowKind::Gap => "gap",
            ArrowKind::Info => "info",
            ArrowKind::Warning => "warning",
            ArrowKind::Error => "error",
        }
    }
}

/// An element of the page, by its `data-testid`; inside one lane when `lane` is given, else anywhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenTarget {
    pub testid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<Transport>,
}

impl ScreenTarget {
    /// A CSS selector for it. A lane's control is found anywhere marked with that lane (`data-lane`): in the lane
    /// itself, or among its knobs in the page's drawer.
    pub fn selector(&self) -> String {
        match self.lane {
            Some(lane) => format!("[data-lane=\"{}\"] [data-testid=\"{}\"]", lane.id(), self.testid),
            None => format!("[data-testid=\"{}\"]", self.testid),
        }
    }
}

/// The lesson's last step: something to do, then a question answered from the live figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TryThis {
    /// What to do first, in plain words.
    pub task: String,
    /// The controls the task uses (outlined on screen; the end-to-end test uses them in this order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<ScreenTarget>,
    pub question: String,
    pub answer: Answer,
    /// Shown once the answer is right: why the figure is what it is.
    pub explanation: String,
}

/// How a learner's answer is checked: always against the figures the page shows at that moment, never against a
/// number written in the lesson.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer {
    /// "Which lane has the highest …?" among the lesson's lanes.
    LaneWithMost { metric: Metric },
    /// "Which lane has the lowest …?" among the lesson's lanes.
    LaneWithLeast { metric: Metric },
    /// "What is … on this lane?", accepted within `within_percent` of the figure on screen (at least ±1).
    Number {
        metric: Metric,
        lane: Transport,
        #[serde(default = "default_within_percent")]
        within_percent: f64,
    },
}

fn default_within_percent() -> f64 {
    10.0
}

impl Answer {
    pub fn metric(&self) -> Metric {
        match *self {
            Answer::LaneWithMost { metric } | Answer::LaneWithLeast { metric } | Answer::Number { metric, .. } => {
                metric
            }
        }
    }
}

/// A figure each lane shows under its diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Events,
    Requests,
    EmptyResponses,
    LatencyLast,
    LatencyP50,
    LatencyMax,
    BytesPerEvent,
    Recoveries,
    LastRecoveryMs,
    LostInGaps,
    Missed,
    /// The latest audio clip's size as this lane received it.
    AudioBytes,
    /// The latest round trip from this lane to the server and back.
    RoundTripMs,
}

impl Metric {
    /// The `data-testid` of the figure on screen.
    pub fn testid(self) -> &'static str {
        match self {
            Metric::Events => "metric-events",
            Metric::Requests => "metric-requests",
            Metric::EmptyResponses => "metric-empty",
            Metric::LatencyLast => "metric-latency-last",
            Metric::LatencyP50 => "metric-latency-p50",
            Metric::LatencyMax => "metric-latency-max",
            Metric::BytesPerEvent => "metric-bytes-per-event",
            Metric::Recoveries => "metric-recoveries",
            Metric::LastRecoveryMs => "metric-last-recovery",
            Metric::LostInGaps => "metric-gaps",
            Metric::Missed => "metric-missed",
            Metric::AudioBytes => "metric-audio-bytes",
            Metric::RoundTripMs => "metric-round-trip-last",
        }
    }

    /// How the lesson names it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Events => "events",
            Metric::Requests => "requests",
            Metric::EmptyResponses => "empty responses",
            Metric::LatencyLast => "latest latency",
            Metric::LatencyP50 => "median latency (p50)",
            Metric::LatencyMax => "longest latency (max)",
            Metric::BytesPerEvent => "bytes per event",
            Metric::Recoveries => "recoveries",
            Metric::LastRecoveryMs => "time the last recovery took",
            Metric::LostInGaps => "events lost in gaps",
            Metric::Missed => "missed events",
            Metric::AudioBytes => "bytes of the audio clip",
            Metric::RoundTripMs => "latest round trip",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub title: String,
    pub url: String,
}

/// A lesson in the list at `/learn` and `GET /api/lessons`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LessonSummary {
    pub id: String,
    pub order: u32,
    pub title: String,
    pub summary: String,
}

impl From<&Lesson> for LessonSummary {
    fn from(lesson: &Lesson) -> Self {
        Self {
            id: lesson.id.clone(),
            order: lesson.order,
            title: lesson.title.clone(),
            summary: lesson.summary.clone(),
        }
    }
}

/// Whether `id` can name a lesson file: lowercase letters, digits and dashes, so it can never reach outside
/// `lessons/`.
pub fn is_lesson_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

impl Lesson {
    /// What is wrong with a lesson as written, beyond what its shape already rules out. Empty when it can be shown.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_lesson_id(&self.id) {
            problems.push(format!("id `{}` must be lowercase letters, digits and dashes", self.id));
        }
        if self.title.trim().is_empty() {
            problems.push("title is empty".into());
        }
        if self.setup.lanes.is_empty() {
            problems.push("setup.lanes names no lane".into());
        }
        if let Some(interval) = self.setup.poll_interval_ms {
            if !POLL_INTERVAL_CHOICES_MS.contains(&interval) {
                problems.push(format!(
                    "setup.poll_interval_ms {interval} is not one of the lab's choices {POLL_INTERVAL_CHOICES_MS:?}"
                ));
            }
        }
        if self.steps.is_empty() {
            problems.push("there are no steps".into());
        }
        for (number, step) in self.steps.iter().enumerate() {
            if step.text.trim().is_empty() || step.watch.trim().is_empty() {
                problems.push(format!("step {} needs both text and watch", number + 1));
            }
            let lanes = step.highlight.iter().flat_map(|highlight| &highlight.lanes);
            let targets = step.point_at.iter().filter_map(|target| target.lane.as_ref());
            for lane in lanes.chain(targets) {
                if !self.setup.lanes.contains(lane) {
                    problems.push(format!("step {} names lane {} which the setup leaves off", number + 1, lane.id()));
                }
            }
        }
        match &self.try_this.answer {
            Answer::Number { lane, within_percent, .. } => {
                if !self.setup.lanes.contains(lane) {
                    problems.push(format!("the answer reads lane {}, which the setup leaves off", lane.id()));
                }
                if !(0.0..=100.0).contains(within_percent) {
                    problems.push("answer.within_percent must be between 0 and 100".into());
                }
            }
            Answer::LaneWithMost { .. } | Answer::LaneWithLeast { .. } if self.setup.lanes.len() < 2 => {
                problems.push("a which-lane question needs at least two lanes in the setup".into());
            }
            _ => {}
        }
        for target in self.try_this.controls.iter().filter_map(|target| target.lane.as_ref()) {
            if !self.setup.lanes.contains(target) {
                problems.push(format!("try_this uses lane {} which the setup leaves off", target.id()));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson() -> Lesson {
        Lesson {
            id: "short-polling".into(),
            order: 1,
            title: "Short polling".into(),
            summary: "asks again and again".into(),
            setup: LessonSetup { lanes: vec![Transport::ShortPoll, Transport::LongPoll], poll_interval_ms: Some(1000) },
            steps: vec![LessonStep {
                title: "Ask".into(),
                text: "The browser asks.".into(),
                watch: "the arrows".into(),
                highlight: Some(Highlight { lanes: vec![Transport::ShortPoll], kinds: vec![ArrowKind::Request] }),
                point_at: vec![],
            }],
            try_this: TryThis {
                task: "Wait.".into(),
                controls: vec![],
                question: "Which lane asked most?".into(),
                answer: Answer::LaneWithMost { metric: Metric::Requests },
                explanation: "Because.".into(),
            },
            references: vec![],
        }
    }

    #[test]
    fn a_sound_lesson_has_no_problems() {
        assert_eq!(lesson().problems(), Vec::<String>::new());
    }

    #[test]
    fn problems_name_what_is_wrong() {
        let mut broken = lesson();
        broken.id = "../etc".into();
        broken.setup.poll_interval_ms = Some(300);
        broken.steps[0].highlight = Some(Highlight { lanes: vec![Transport::Sse], kinds: vec![ArrowKind::Event] });
        broken.try_this.answer =
            Answer::Number { metric: Metric::Events, lane: Transport::WebSocket, within_percent: 10.0 };
        let problems = broken.problems().join("\n");
        assert!(problems.contains("id `../etc`"), "{problems}");
        assert!(problems.contains("300"), "{problems}");
        assert!(problems.contains("step 1 names lane sse"), "{problems}");
        assert!(problems.contains("reads lane web_socket"), "{problems}");
    }

    #[test]
    fn highlight_covers_its_kinds_in_its_lanes() {
        let everywhere = Highlight { lanes: vec![], kinds: vec![ArrowKind::Response] };
        assert!(everywhere.covers(Transport::Sse, "response"));
        assert!(!everywhere.covers(Transport::Sse, "request"));
        let one_lane = Highlight { lanes: vec![Transport::LongPoll], kinds: vec![ArrowKind::Response] };
        assert!(one_lane.covers(Transport::LongPoll, "response"));
        assert!(!one_lane.covers(Transport::ShortPoll, "response"));
    }

    #[test]
    fn answers_are_tagged_and_default_their_tolerance() {
        let answer: Answer =
            serde_json::from_str(r#"{"type":"number","metric":"last_recovery_ms","lane":"sse"}"#).unwrap();
        assert_eq!(
            answer,
            Answer::Number { metric: Metric::LastRecoveryMs, lane: Transport::Sse, within_percent: 10.0 }
        );
        assert!(serde_json::from_str::<Answer>(r#"{"type":"lane_with_most","metric":"speed"}"#).is_err());
    }

    #[test]
    fn a_target_inside_a_lane_is_found_inside_that_lane() {
        let target = ScreenTarget { testid: "drop".into(), lane: Some(Transport::WebSocket) };
        assert_eq!(target.selector(), r#"[data-lane="web_socket"] [data-testid="drop"]"#);
    }

    #[test]
    fn lesson_ids_cannot_leave_the_folder() {
        assert!(is_lesson_id("two-way-2"));
        for bad in ["", "../x", "A", "a/b", "a.toml", "a b"] {
            assert!(!is_lesson_id(bad), "{bad}");
        }
    }
}
