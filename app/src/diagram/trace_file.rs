//! A trace file: everything the lanes recorded, saved so it can be replayed later without a server (a teacher
//! records one before class). Its JSON is `{"format": "transport-lab-trace", "version": 3, ...}`; a file is checked
//! before anything is drawn from it, and a bad one is refused with a sentence saying what is wrong.

use std::collections::HashSet;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::layout::DiagramLayout;
use super::trace::{Millis, RecordKind, TraceRecord};
use crate::clock_offset::ClockOffset;
use protocol::{DelayRule, GeneratorSettings, Transport};

pub const TRACE_FORMAT: &str = "transport-lab-trace";
/// Bumped whenever a field or a record's JSON shape changes meaning. Version 2 added round-trip records and the
/// WebSocket `ack` wire key; version 3 control marks, the `connection_closed` wire unit and the carried capture.
/// Every older file is a valid newer file, so all are read.
pub const TRACE_VERSION: u32 = 3;
/// The oldest version this page still reads.
pub const OLDEST_READABLE_VERSION: u32 = 1;
/// Most records a lane may bring: far more than a lane keeps (800), but a bound, so a huge file cannot hang the page.
pub const MAX_RECORDS_PER_LANE: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceFile {
    pub format: String,
    pub version: u32,
    /// Browser wall clock when the file was made (milliseconds since the Unix epoch, like every time here).
    pub exported_at: Millis,
    /// The diagram's "now" at export (earlier than `exported_at` if the view was held still): a replay ends on the
    /// view that was exported (or on the last record, should one have arrived after it).
    pub view_at: Millis,
    /// The time drawn at y = 0 (see `DiagramLayout::origin`).
    pub origin: Millis,
    /// The knobs when the file was made, to read its figures by.
    #[serde(default)]
    pub settings: TraceSettings,
    /// Every lane, in page order, with everything it had recorded.
    pub lanes: Vec<LaneTrace>,
    /// The page's connections as the server captured them (its pcapng export, base64), when the server had any:
    /// a replay exports pcapng from it as the live page did. Optional, so files without it are still version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcapng_base64: Option<String>,
}

/// The four bytes every pcapng file starts with: a Section Header Block's type.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceSettings {
    /// The server's generator (`None` when the page could not ask the server).
    #[serde(default)]
    pub generator: Option<GeneratorSettings>,
    /// Delay rules that applied to this page.
    #[serde(default)]
    pub delay_rules: Vec<DelayRule>,
    #[serde(default)]
    pub poll_interval_ms: Option<u32>,
    /// The page's clock offset estimate, by which its latencies were corrected.
    #[serde(default)]
    pub clock_offset: Option<ClockOffset>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaneTrace {
    pub transport: Transport,
    /// Whether the lane was switched on at export.
    pub enabled: bool,
    pub records: Vec<TraceRecord>,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TraceFileError {
    #[error("this file is not JSON ({0})")]
    NotJson(String),
    #[error("this is not a Transport Lab trace: its \"format\" is {found}, not \"{TRACE_FORMAT}\"")]
    WrongFormat { found: String },
    #[error("this trace is version {found}; this page reads versions {OLDEST_READABLE_VERSION} to {TRACE_VERSION}")]
    UnsupportedVersion { found: String },
    #[error("the trace is malformed: {0}")]
    Malformed(String),
    #[error("the trace is inconsistent: {0}")]
    Inconsistent(String),
}

impl TraceFile {
    /// A file of `lanes` as recorded now. Times are rounded to the microsecond: far finer than anything drawn, and
    /// short enough in decimal that JSON gives back exactly the same numbers, so a file read back equals itself.
    pub fn new(
        exported_at: Millis,
        view_at: Millis,
        origin: Millis,
        settings: TraceSettings,
        lanes: Vec<LaneTrace>,
    ) -> Self {
        let mut lanes = lanes;
        for record in lanes.iter_mut().flat_map(|lane| lane.records.iter_mut()) {
            record.sent_at = to_microseconds(record.sent_at);
            record.arrived_at = to_microseconds(record.arrived_at);
            if let RecordKind::Response { held_from: Some(held_from) } = &mut record.kind {
                *held_from = to_microseconds(*held_from);
            }
        }
        Self {
            format: TRACE_FORMAT.to_owned(),
            version: TRACE_VERSION,
            exported_at: to_microseconds(exported_at),
            view_at: to_microseconds(view_at),
            origin: to_microseconds(origin),
            settings,
            lanes,
            pcapng_base64: None,
        }
    }

    /// Carries `pcapng` (the server's capture of the page's connections) in the file.
    pub fn with_capture(mut self, pcapng: &[u8]) -> Self {
        self.pcapng_base64 = Some(STANDARD.encode(pcapng));
        self
    }

    /// The capture the file carries, if it carries one (checked when the file was read).
    pub fn capture(&self) -> Option<Vec<u8>> {
        STANDARD.decode(self.pcapng_base64.as_deref()?).ok()
    }

    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    /// Reads and checks a file: the format and version first (so an old or foreign file gets the right sentence),
    /// then every field, then what the fields must agree on.
    pub fn parse(text: &str) -> Result<TraceFile, TraceFileError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|error| TraceFileError::NotJson(error.to_string()))?;
        let found = |field: &str| value.get(field).map_or_else(|| "missing".to_owned(), |found| found.to_string());
        if value.get("format").and_then(|format| format.as_str()) != Some(TRACE_FORMAT) {
            return Err(TraceFileError::WrongFormat { found: found("format") });
        }
        let readable = u64::from(OLDEST_READABLE_VERSION)..=u64::from(TRACE_VERSION);
        if !value.get("version").and_then(|version| version.as_u64()).is_some_and(|version| readable.contains(&version))
        {
            return Err(TraceFileError::UnsupportedVersion { found: found("version") });
        }
        // serde_json names the line and column; in an exported (pretty-printed) file that finds the field. Naming
        // its path too (serde_path_to_error) cost 23 KB of gzipped wasm.
        let file: TraceFile =
            serde_json::from_str(text).map_err(|error| TraceFileError::Malformed(error.to_string()))?;
        file.check()?;
        Ok(file)
    }

    fn check(&self) -> Result<(), TraceFileError> {
        let inconsistent = |message: String| Err(TraceFileError::Inconsistent(message));
        if self.lanes.is_empty() {
            return inconsistent("it has no lanes".into());
        }
        let mut transports = HashSet::new();
        for (index, lane) in self.lanes.iter().enumerate() {
            if !transports.insert(lane.transport) {
                return inconsistent(format!("lanes[{index}] repeats the {} lane", lane.transport.id()));
            }
            if lane.records.len() > MAX_RECORDS_PER_LANE {
                return inconsistent(format!("lanes[{index}] has over {MAX_RECORDS_PER_LANE} records"));
            }
            // Each arrow is drawn (and inspected) by its id.
            let mut ids = HashSet::new();
            if let Some(record) = lane.records.iter().find(|record| !ids.insert(record.id)) {
                return inconsistent(format!("lanes[{index}] has two records with id {}", record.id));
            }
        }
        if let Some(encoded) = &self.pcapng_base64 {
            match STANDARD.decode(encoded) {
                Ok(pcapng) if pcapng.starts_with(&PCAPNG_MAGIC) => {}
                Ok(_) => return inconsistent("its pcapng_base64 is not a pcapng capture".into()),
                Err(error) => return inconsistent(format!("its pcapng_base64 is not base64 ({error})")),
            }
        }
        Ok(())
    }

    /// Earliest and latest moment anything was recorded, if anything was.
    pub fn recorded_span(&self) -> Option<(Millis, Millis)> {
        self.lanes.iter().flat_map(|lane| &lane.records).fold(None, |span, record| {
            let (first, last) = span.unwrap_or((record.arrived_at, record.arrived_at));
            Some((first.min(record.arrived_at), last.max(record.arrived_at)))
        })
    }

    pub fn record_count(&self) -> usize {
        self.lanes.iter().map(|lane| lane.records.len()).sum()
    }

    /// The lanes a replay draws: those that were on at export or recorded something. A lane that was off the
    /// whole time has nothing to show and would only narrow the others.
    pub fn replayed_lanes(&self) -> impl Iterator<Item = &LaneTrace> {
        self.lanes.iter().filter(|lane| lane.enabled || !lane.records.is_empty())
    }

    /// One line on what the trace holds and the knobs it was recorded with, so its figures can be read.
    pub fn summary(&self, layout: &DiagramLayout) -> String {
        let lanes = self.replayed_lanes().count();
        let mut parts = vec![format!(
            "Recorded until {}; {} records from {lanes} lane{}",
            layout.wall_clock_text(self.view_at),
            self.record_count(),
            if lanes == 1 { "" } else { "s" }
        )];
        let settings = &self.settings;
        if let Some(generator) = settings.generator {
            let paused = if generator.paused { ", paused" } else { "" };
            parts.push(format!(
                "generator {} events/s, {} B payload{paused}",
                generator.rate_per_second, generator.payload_bytes
            ));
        }
        if let Some(poll_interval_ms) = settings.poll_interval_ms {
            parts.push(format!("short polls every {} s", f64::from(poll_interval_ms) / 1000.0));
        }
        for rule in &settings.delay_rules {
            let whom = rule.transport.map_or("every lane", |transport| transport.title());
            parts.push(format!("delay {} ms + up to {} ms jitter on {whom}", rule.delay_ms, rule.jitter_ms));
        }
        parts.join(" · ") + "."
    }
}

fn to_microseconds(millis: Millis) -> Millis {
    (millis * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagram::{NoteTone, TraceLog, WireKey};
    use protocol::{WireBytes, WireDirection, WireRecord, WireUnit};

    /// A lane with one of every kind of record, at times with more digits than a microsecond.
    fn recorded_lane() -> TraceLog {
        let mut log = TraceLog::default();
        let t = 1_795_303_724_621.196_3;
        let request = log.push(RecordKind::Request, "GET /api/poll?after=41".into(), "d".into(), t, t);
        log.push(RecordKind::Response { held_from: Some(t) }, "200 · 1 event".into(), String::new(), t + 9.5, t + 9.5);
        let event = log.push(RecordKind::Event { seq: 42 }, "#42 tick".into(), "latency".into(), t + 1.0, t + 9.7);
        log.set_body(event, r#"{"seq":42}"#);
        log.push(RecordKind::Gap { from: 2, to: 3 }, "gap: #2–#3 lost".into(), String::new(), t + 10.0, t + 10.0);
        log.push(
            RecordKind::Note { tone: NoteTone::Error },
            "closed: 1006".into(),
            "no close frame".into(),
            t,
            t + 11.0,
        );
        log.bind(request, WireKey::Request(17));
        log.attach(
            WireRecord {
                id: 1,
                exchange: 17,
                transport: Some(Transport::ShortPoll),
                direction: WireDirection::ToServer,
                at: 1_795_303_724_621_196,
                unit: WireUnit::Request {
                    method: "GET".into(),
                    target: "/api/poll".into(),
                    connection: 1,
                    new_connection: true,
                },
                bytes: WireBytes { head: 487, framing: 0, payload: 0 },
                raw: "GET /api/poll HTTP/1.1\r\n\r\n".into(),
            },
            0.0,
        );
        log
    }

    fn file() -> TraceFile {
        let lane = LaneTrace {
            transport: Transport::ShortPoll,
            enabled: true,
            records: recorded_lane().records().iter().cloned().collect(),
        };
        let settings = TraceSettings {
            generator: Some(GeneratorSettings { rate_per_second: 2.0, payload_bytes: 10, paused: false }),
            delay_rules: vec![DelayRule { delay_ms: 400, jitter_ms: 100, transport: None, client: None }],
            poll_interval_ms: Some(1000),
            clock_offset: Some(ClockOffset { offset_ms: 0.2, uncertainty_ms: 0.9, kept: 8, samples: 32 }),
        };
        let off = LaneTrace { transport: Transport::Sse, enabled: false, records: Vec::new() };
        TraceFile::new(1_795_303_730_000.123_4, 1_795_303_729_999.9, 1_795_303_700_000.0, settings, vec![lane, off])
    }

    #[test]
    fn a_file_read_back_is_the_same_file() {
        let file = file();
        let json = file.to_json().unwrap();
        assert_eq!(TraceFile::parse(&json).unwrap(), file);
        assert!(json.contains(r#""format": "transport-lab-trace""#) && json.contains(r#""version": 3"#));
    }

    #[test]
    fn version_1_files_still_read_and_round_trips_survive_export() {
        let mut file = file();
        let t = 1_795_303_725_000.0;
        let round_trip =
            TraceRecord::new(9, RecordKind::RoundTrip { seq: 43 }, "round trip 2.5 ms".into(), "d".into(), t, t + 2.5);
        file.lanes[0].records.push(round_trip.clone());
        let json = file.to_json().unwrap();
        assert!(json.contains(r#""type": "round_trip""#), "{json}");
        assert_eq!(TraceFile::parse(&json).unwrap().lanes[0].records.last(), Some(&round_trip));
        let version_1 = self::file().to_json().unwrap().replacen(r#""version": 3"#, r#""version": 1"#, 1);
        assert_eq!(TraceFile::parse(&version_1).unwrap().version, 1);
    }

    #[test]
    fn times_are_kept_to_the_microsecond_and_everything_else_exactly() {
        let original = recorded_lane();
        let file = file();
        let read = TraceFile::parse(&file.to_json().unwrap()).unwrap();
        let replayed = TraceLog::from_records(read.lanes[0].records.clone());
        assert_eq!(replayed.len(), original.len());
        for (back, before) in replayed.records().iter().zip(original.records()) {
            let close = |a: Millis, b: Millis| (a - b).abs() <= 0.0005;
            assert!(close(back.sent_at, before.sent_at) && close(back.arrived_at, before.arrived_at));
            match (&back.kind, &before.kind) {
                (RecordKind::Response { held_from: Some(a) }, RecordKind::Response { held_from: Some(b) }) => {
                    assert!(close(*a, *b))
                }
                (back, before) => assert_eq!(back, before),
            }
            assert_eq!(
                (back.id, &back.label, &back.detail, back.key, &back.wire, &back.body, back.seq()),
                (before.id, &before.label, &before.detail, before.key, &before.wire, &before.body, before.seq())
            );
            assert_eq!(back.label_with_bytes(), before.label_with_bytes());
        }
        assert_eq!(read.lanes[0].records[0].arrived_at, 1_795_303_724_621.196);
        assert_eq!(read.exported_at, 1_795_303_730_000.123);
    }

    #[test]
    fn a_foreign_or_future_file_is_refused_by_name() {
        let error = TraceFile::parse(r#"{"format": "har", "version": 1}"#).unwrap_err();
        assert_eq!(error, TraceFileError::WrongFormat { found: r#""har""#.into() });
        assert!(error.to_string().contains("not a Transport Lab trace"));
        let error = TraceFile::parse(r#"[1, 2]"#).unwrap_err();
        assert_eq!(error, TraceFileError::WrongFormat { found: "missing".into() });
        let error = TraceFile::parse(r#"{"format": "transport-lab-trace", "version": 4}"#).unwrap_err();
        assert_eq!(error.to_string(), "this trace is version 4; this page reads versions 1 to 3");
        assert!(matches!(TraceFile::parse("{\"format\": "), Err(TraceFileError::NotJson(_))));
        assert!(matches!(TraceFile::parse(""), Err(TraceFileError::NotJson(_))));
    }

    #[test]
    fn a_malformed_file_says_where() {
        let json = file().to_json().unwrap().replacen(r#""type": "event""#, r#""type": "teleport""#, 1);
        let line = json.lines().position(|line| line.contains("teleport")).unwrap() + 1;
        let error = TraceFile::parse(&json).unwrap_err();
        let TraceFileError::Malformed(message) = &error else { panic!("{error:?}") };
        assert!(message.starts_with("unknown variant `teleport`, expected one of `request`"), "{message}");
        assert!(message.contains(&format!("at line {line} column")), "{message}");

        let mut json: serde_json::Value = serde_json::from_str(&file().to_json().unwrap()).unwrap();
        json.as_object_mut().unwrap().remove("lanes");
        assert!(TraceFile::parse(&json.to_string()).unwrap_err().to_string().contains("missing field `lanes`"));
    }

    #[test]
    fn lanes_must_be_distinct_and_records_uniquely_numbered() {
        let mut twice = file();
        twice.lanes[1].transport = Transport::ShortPoll;
        let error = TraceFile::parse(&twice.to_json().unwrap()).unwrap_err();
        assert_eq!(error, TraceFileError::Inconsistent("lanes[1] repeats the short_poll lane".into()));

        let mut clash = file();
        clash.lanes[0].records[1].id = clash.lanes[0].records[0].id;
        let error = TraceFile::parse(&clash.to_json().unwrap()).unwrap_err();
        assert_eq!(error, TraceFileError::Inconsistent("lanes[0] has two records with id 0".into()));

        let mut empty = file();
        empty.lanes.clear();
        assert!(matches!(TraceFile::parse(&empty.to_json().unwrap()), Err(TraceFileError::Inconsistent(_))));
    }

    #[test]
    fn a_capture_travels_in_the_file_and_a_bad_one_is_refused() {
        let pcapng = [0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0];
        let carried = TraceFile::parse(&file().with_capture(&pcapng).to_json().unwrap()).unwrap();
        assert_eq!(carried.capture().as_deref(), Some(&pcapng[..]));
        assert_eq!(TraceFile::parse(&file().to_json().unwrap()).unwrap().capture(), None);

        let not_pcapng = file().with_capture(b"<html>");
        let error = TraceFile::parse(&not_pcapng.to_json().unwrap()).unwrap_err();
        assert_eq!(error, TraceFileError::Inconsistent("its pcapng_base64 is not a pcapng capture".into()));
        let mut not_base64 = file();
        not_base64.pcapng_base64 = Some("%%%".into());
        let error = TraceFile::parse(&not_base64.to_json().unwrap()).unwrap_err().to_string();
        assert!(error.contains("its pcapng_base64 is not base64"), "{error}");
    }

    #[test]
    fn span_covers_every_lane() {
        let file = file();
        let (first, last) = file.recorded_span().unwrap();
        assert_eq!(first, 1_795_303_724_621.196);
        assert!((last - first - 11.0).abs() < 1e-6);
        assert_eq!(file.record_count(), 5);
    }

    #[test]
    fn a_lane_off_the_whole_time_is_not_replayed_but_one_switched_off_with_records_is() {
        let mut file = file();
        let replayed = |file: &TraceFile| file.replayed_lanes().map(|lane| lane.transport).collect::<Vec<_>>();
        assert_eq!(replayed(&file), [Transport::ShortPoll]);
        file.lanes[0].enabled = false;
        assert_eq!(replayed(&file), [Transport::ShortPoll], "switched off after recording: still drawn");
    }

    #[test]
    fn summary_names_the_knobs() {
        let layout = DiagramLayout::new(0.0);
        assert_eq!(
            file().summary(&layout),
            "Recorded until 23:28:49; 5 records from 1 lane · generator 2 events/s, 10 B payload · \
             short polls every 1 s · delay 400 ms + up to 100 ms jitter on every lane."
        );
    }
}
