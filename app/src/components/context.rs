//! What the page's parts share through Leptos context, in one place: each type is provided once by the page that
//! owns it and read by any part below it, so no component has to import another component to reach it.

use leptos::prelude::*;

use protocol::{ClientId, FaultTarget, Highlight, LabSnapshot, PerTransport, Transport};

/// Whether this page was opened by the teacher, as the server said in the page's snapshot. The server checks every
/// request that acts on the whole class; the page only disables those controls for anyone else and says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassRole {
    pub teacher: bool,
}

impl ClassRole {
    pub fn of_page() -> Self {
        let snapshot = use_context::<LabSnapshot>().or_else(crate::page_snapshot::read_from_page);
        Self { teacher: snapshot.is_some_and(|snapshot| snapshot.teacher) }
    }
}

/// The event a learner points at or pinned, highlighted in every lane at once.
#[derive(Clone, Copy)]
pub struct HighlightedEvent {
    pub hovered: RwSignal<Option<u64>>,
    pub pinned: RwSignal<Option<u64>>,
}

impl Default for HighlightedEvent {
    fn default() -> Self {
        Self { hovered: RwSignal::new(None), pinned: RwSignal::new(None) }
    }
}

impl HighlightedEvent {
    pub fn is(&self, seq: u64) -> bool {
        self.pinned.get().or(self.hovered.get()) == Some(seq)
    }
}

/// The arrows the current lesson step talks about; the lanes dim every other arrow while it is set.
#[derive(Clone, Copy)]
pub struct LessonFocus(pub RwSignal<Option<Highlight>>);

impl Default for LessonFocus {
    fn default() -> Self {
        Self(RwSignal::new(None))
    }
}

impl LessonFocus {
    /// Whether an arrow of `kind` in `lane` is one the lesson points at (false when no step highlights anything).
    pub fn covers(&self, lane: Transport, kind: &str) -> bool {
        self.0.with(|focus| focus.as_ref().is_some_and(|highlight| highlight.covers(lane, kind)))
    }

    pub fn is_active(&self) -> bool {
        self.0.with(Option::is_some)
    }
}

/// Which arrow is open in the inspector: its lane and its record id.
#[derive(Clone, Copy)]
pub struct Inspection(pub RwSignal<Option<(Transport, u64)>>);

/// Whose connections the fault buttons hit: this page's (the default, so one student cannot cut the whole class)
/// or everyone's (a teacher demonstrating on the projector). Provided as context by the lab page.
#[derive(Clone, Copy)]
pub struct FaultScope {
    client: StoredValue<ClientId>,
    pub everyone: RwSignal<bool>,
    /// How long the per-lane "offline" button cuts the lane off.
    pub offline_seconds: RwSignal<u32>,
}

impl FaultScope {
    pub fn new(client: ClientId) -> Self {
        Self { client: StoredValue::new(client), everyone: RwSignal::new(false), offline_seconds: RwSignal::new(5) }
    }

    pub fn client(&self) -> ClientId {
        self.client.get_value()
    }

    pub fn target(&self, transport: Option<Transport>) -> FaultTarget {
        let client = (!self.everyone.get_untracked()).then(|| self.client.get_value());
        FaultTarget { transport, client }
    }

    /// "this page" or "everyone", for outcome messages.
    pub fn whose(&self) -> &'static str {
        if self.everyone.get_untracked() {
            "everyone's"
        } else {
            "this page's"
        }
    }
}

/// One switch per lane, all on at start.
#[derive(Clone, Copy)]
pub struct LaneToggles(PerTransport<RwSignal<bool>>);

impl LaneToggles {
    /// The lanes a page opens with (see [`Transport::on_at_start`]).
    pub fn default_on() -> Self {
        Self(PerTransport::from_fn(|transport| RwSignal::new(transport.on_at_start())))
    }

    /// Which lanes are on, in page order: kept while a replay has them all off, to turn them back on after.
    pub fn states(&self) -> PerTransport<bool> {
        self.0.map(|_, toggle| toggle.get_untracked())
    }

    pub fn set_states(&self, states: PerTransport<bool>) {
        for (transport, &on) in states.iter() {
            // Setting a lane to what it already is would still wake its task, which takes any wake while running
            // for a client-side drop and reconnects.
            let toggle = self.of(transport);
            if toggle.get_untracked() != on {
                toggle.set(on);
            }
        }
    }

    pub fn of(&self, transport: Transport) -> RwSignal<bool> {
        self.0[transport]
    }
}

/// Why the shared log cannot be reached now, when several instances share one (`None` otherwise, and always in one
/// process): every lane shows it, since none of them can receive anything new meanwhile. Provided by the lab page.
#[derive(Clone, Copy)]
pub struct SharedLogProblem(pub ReadSignal<Option<String>>);

/// Whether the diagrams draw control marks (pings, pongs, close frames, keep-alives, TCP closes, `204`s): the
/// legend's toggle, shared by the live lanes and a replay.
#[derive(Clone, Copy)]
pub struct ControlMarks(pub RwSignal<bool>);

impl ControlMarks {
    /// Keeps `layout` drawing control marks or not, as the toggle says.
    pub fn follow(self, layout: RwSignal<crate::diagram::DiagramLayout>) {
        Effect::new(move |_| {
            let shown = self.0.get();
            layout.update(|layout| layout.show_control = shown);
        });
    }
}

/// Which lanes are drawn side by side. Separate from [`LaneToggles`]: a lane that is on keeps connecting and
/// recording whether it is shown or not, and its figures stay in the lane strip above the diagrams.
#[derive(Clone, Copy)]
pub struct ShownLanes(PerTransport<RwSignal<bool>>);

impl ShownLanes {
    /// Four lanes side by side is the most a 1280-pixel projector shows readably; the four that started the lab
    /// are the comparison most lessons begin with.
    pub fn default_shown() -> Self {
        Self(PerTransport::from_fn(|transport| {
            RwSignal::new(matches!(
                transport,
                Transport::ShortPoll | Transport::LongPoll | Transport::Sse | Transport::WebSocket
            ))
        }))
    }

    pub fn of(&self, transport: Transport) -> RwSignal<bool> {
        self.0[transport]
    }

    pub fn set_states(&self, states: PerTransport<bool>) {
        for (transport, &shown) in states.iter() {
            self.of(transport).set(shown);
        }
    }

    /// Switching a lane on by hand (its switch, its number key) is asking to watch it: it is shown too. Lanes
    /// switched back on after a replay, or by a lesson, are not shown by this.
    pub fn switched(&self, transport: Transport, on: bool) {
        if on {
            self.of(transport).set(true);
        }
    }
}

/// Whether the knobs drawer (generator, faults, polling interval) is open: the toolbar's button, and a lesson
/// step that points at a control inside it.
/// The second signal says whether it has been open at all: its controls are a wasm chunk fetched at the first
/// opening, and kept from then on.
#[derive(Clone, Copy)]
pub struct KnobsDrawer(pub RwSignal<bool>, pub(crate) Memo<bool>);
