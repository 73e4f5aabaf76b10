use leptos::html::Div;
use leptos::prelude::*;

use crate::client::{use_clock_offset, use_lane, use_tab_share, use_wire_feed, LaneOptions, LaneStart};
use crate::components::common::lazily::lazily;
use crate::components::common::theme::ThemeChoice;
use crate::components::context::ControlMarks;
use crate::components::context::FaultScope;
use crate::components::context::HighlightedEvent;
use crate::components::context::Inspection;
use crate::components::context::LaneToggles;
use crate::components::context::LessonFocus;
use crate::components::context::SharedLogProblem;
use crate::components::context::{KnobsDrawer, ShownLanes};
use crate::components::diagram::diagram_clock::{use_view_clock, utc_offset_minutes};
use crate::components::diagram::diagram_legend::DiagramLegend;
use crate::components::diagram::fitted_height::use_fitted_height;
use crate::components::diagram::inspector::Inspector;
use crate::components::diagram::time_axis::TimeAxis;
use crate::components::export::diagram_toolbar::DiagramToolbar;
use crate::components::export::live_export::{live_diagram, live_trace};
use crate::components::export::trace_loader::LoadedTrace;
use crate::components::lab::controls::KnobsProps;
use crate::components::lab::controls::Toolbar;
use crate::components::lab::explainer::Explainer;
use crate::components::lab::keyboard_shortcuts::{use_keyboard_shortcuts, ShortcutTargets, ShortcutsHelp};
use crate::components::lab::knobs_code;
use crate::components::lab::knobs_drawer::{KnobsButton, KnobsPanel};
use crate::components::lab::lane::Lane;
use crate::components::lab::lane_strip::LaneStrip;
use crate::components::lab::measurement_notes::{ClockOffsetNote, SideChannelNote};
use crate::components::lab::metrics_panel::MetricsPanel;
use crate::components::lab::native_grpc_wire::NativeGrpcWire;
use crate::components::lab::tab_limit_notice::TabLimitNotice;
use crate::components::lab::teacher_message::TeacherMessageBanner;
use crate::components::lab::view_controls::{ViewBar, ViewControl};
use crate::components::lessons::lesson_panel::{LessonNavigation, LessonPanelProps};
use crate::components::lessons::lesson_panel_code;
use crate::components::replay::replay_code;
use crate::components::replay::replay_view::ReplayViewProps;
use crate::diagram::DiagramLayout;
use crate::page_snapshot;
use crate::tab_share::HELD_LANES;
use protocol::{LabSnapshot, PerTransport, Transport};

/// Whether the pointer is over a lane's sequence diagram (rather than its header or figures).
fn is_over_diagram(event: &leptos::ev::MouseEvent) -> bool {
    use wasm_bindgen::JsCast;
    event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|element| element.closest(".sequence-diagram").ok().flatten().is_some())
}

/// The lab itself. On the server the snapshot comes from context; in the browser, from the JSON the server wrote.
/// `with_lesson`: the lesson named by the page's address (`/learn/<id>`) is shown above the lanes.
#[component]
pub fn LabPage(#[prop(optional)] with_lesson: bool) -> impl IntoView {
    let snapshot = use_context::<LabSnapshot>().or_else(page_snapshot::read_from_page);
    view! {
        <main class="lab" class:with-lesson=with_lesson>
            // A lesson explains as it goes, beside the lanes; the lab's own introduction is one folded line.
            {(!with_lesson).then(|| view! { <Explainer /> })}
            {snapshot.is_none().then(|| view! {
                <p class="error">"The lab's starting state is missing from this page; reload it."</p>
            })}
            {snapshot.map(|snapshot| view! { <Lab snapshot with_lesson /> })}
        </main>
    }
}

/// The live part: a toolbar, the lane strip, and the lanes shown side by side on one time axis (the knobs drawer
/// beside them when open, a lesson's steps beside them on a lesson page); the legend, export and figures below.
#[component]
fn Lab(snapshot: LabSnapshot, with_lesson: bool) -> impl IntoView {
    let start = LaneStart { after: snapshot.head_seq, epoch: snapshot.epoch.clone() };
    let toggles = LaneToggles::default_on();
    let shown = ShownLanes::default_shown();
    let knobs = KnobsDrawer::remembered();
    provide_context(knobs);
    let poll_interval_ms = RwSignal::new(1000u32);
    let fault_scope = FaultScope::new(snapshot.client.clone());
    provide_context(fault_scope);
    let clock_offset = use_clock_offset();
    // Long polling, SSE and HTTP streaming each keep one of the browser's 6 connections to this server open; this
    // browser's lab tabs agree which of them may (see `tab_share`). Short polls come and go; a WebSocket is not
    // among the 6.
    let tab_share = use_tab_share(snapshot.client.clone());
    let never_held_back = Signal::derive(|| false);
    let teacher_message = RwSignal::new(None);
    let options = |enabled: RwSignal<bool>, held_back: Signal<bool>| LaneOptions {
        clock_offset: clock_offset.into(),
        start: start.clone(),
        client: snapshot.client.clone(),
        enabled: enabled.into(),
        held_back,
        poll_interval_ms: poll_interval_ms.into(),
        teacher_message,
    };
    let lanes = Transport::ALL.map(|transport| {
        let held_back = if HELD_LANES.contains(&transport) { tab_share.held_back } else { never_held_back };
        (use_lane(transport)(options(toggles.of(transport), held_back)), toggles.of(transport))
    });
    let handles: Vec<_> = lanes.iter().map(|(handle, _)| *handle).collect();
    let round_trip = Callback::new(move |()| {
        for (handle, enabled) in lanes {
            if enabled.get_untracked() {
                handle.round_trip.run(());
            }
        }
    });
    let wire_feed = use_wire_feed(snapshot.client.clone(), &handles);
    provide_context(SharedLogProblem(wire_feed.log_problem));
    provide_context(HighlightedEvent::default());
    let lesson_focus = LessonFocus::default();
    provide_context(lesson_focus);
    let inspection = Inspection(RwSignal::new(None));
    provide_context(inspection);
    let replay = RwSignal::new(None::<LoadedTrace>);
    let replaying = Memo::new(move |_| replay.with(Option::is_some));
    let view_held = RwSignal::new(false);
    let view = ViewControl::new(handles.iter().map(|handle| (handle.transport, handle.trace)).collect());
    let clock = use_view_clock(Signal::derive(move || view_held.get() || replaying.get()), view.mode.into());
    let help_open = RwSignal::new(false);
    let lesson_navigation = LessonNavigation::default();
    let shortcuts = ShortcutTargets {
        view: view.clone(),
        toggles,
        help_open,
        knobs,
        shown,
        theme: use_context::<ThemeChoice>(),
        replaying,
        lesson: lesson_navigation,
        inspection,
    };
    use_keyboard_shortcuts(move |shortcut| shortcuts.run(shortcut));
    // Any fixed instant near now works as the origin; the server's render time is one both sides agree on.
    let layout = RwSignal::new(DiagramLayout::new(snapshot.server_time as f64 / 1000.0));
    Effect::new(move |_| layout.update(|layout| layout.utc_offset_minutes = utc_offset_minutes()));
    let control_marks = ControlMarks(RwSignal::new(true));
    provide_context(control_marks);
    control_marks.follow(layout);
    use_fitted_height(layout, move || {
        for transport in Transport::ALL {
            shown.of(transport).track();
        }
        knobs.0.track();
        view.mode.track();
    });

    // A replay switches the live lanes off (nothing live runs beside it, to be mistaken for it) and back to how
    // they were when it ends.
    let lanes_before_replay = StoredValue::new(toggles.states());
    let on_load = Callback::new(move |loaded: LoadedTrace| {
        if !replaying.get_untracked() {
            lanes_before_replay.set_value(toggles.states());
            toggles.set_states(PerTransport::default());
            inspection.0.set(None);
        }
        replay.set(Some(loaded));
    });
    let on_exit = Callback::new(move |()| {
        replay.set(None);
        toggles.set_states(lanes_before_replay.get_value());
    });
    let container = NodeRef::<Div>::new();
    let shown_diagram = live_diagram(&handles, layout.read_only(), clock, container);
    let make_trace =
        live_trace(lanes.to_vec(), layout.read_only(), clock, poll_interval_ms, clock_offset, snapshot.client.clone());
    let traces: Vec<_> = handles.iter().map(|handle| (handle.transport, Signal::from(handle.trace))).collect();

    let lesson = with_lesson.then(|| {
        let props = LessonPanelProps {
            toggles,
            shown,
            poll_interval_ms,
            lanes: handles.clone(),
            navigation: lesson_navigation,
        };
        lazily(lesson_panel_code(), props)
    });

    view! {
        // Beside a lesson's steps, the drawer takes a column of its own only when two lanes or fewer share the
        // rest; with more, each would be too narrow to read, so it lies over them (style/main.css).
        <div
            class="lab-layout"
            class:few-lanes=move || Transport::ALL.iter().filter(|transport| shown.of(**transport).get()).count() <= 2
        >
            {lesson}
            <div class="lab-main">
                <div class="live-controls" hidden=move || replaying.get()>
                    <Toolbar round_trip>
                        <ViewBar control=view held=view_held clock layout=layout.read_only() help_open />
                        <KnobsButton drawer=knobs />
                    </Toolbar>
                    <TeacherMessageBanner message=teacher_message.read_only() />
                    <TabLimitNotice tab_share />
                    <ShortcutsHelp open=help_open />
                    <LaneStrip lanes=handles.clone() toggles shown />
                </div>
                <Show when=move || !replaying.get()>
                    <div
                        class="lanes"
                        class:lesson-focusing=move || lesson_focus.is_active()
                        data-testid="lanes"
                        node_ref=container
                        on:mouseover=move |event| view_held.set(is_over_diagram(&event))
                        on:mouseleave=move |_| view_held.set(false)
                    >
                        <TimeAxis layout=layout.read_only() clock />
                        {lanes
                            .into_iter()
                            .map(|(handle, enabled)| {
                                let shown = shown.of(handle.transport);
                                view! { <Lane handle enabled shown layout=layout.read_only() clock /> }
                            })
                            .collect_view()}
                    </div>
                    <DiagramLegend control_marks />
                    <DiagramToolbar shown=shown_diagram make_trace on_load />
                    // How the figures are measured matters on the open lab; in a lesson it would be one more thing.
                    {(!with_lesson).then(|| view! {
                        <ClockOffsetNote clock_offset />
                        <SideChannelNote cost=wire_feed.cost />
                    })}
                    <MetricsPanel lanes=handles.clone() />
                    <Inspector lanes=traces.clone() />
                    <NativeGrpcWire />
                </Show>
                {move || replay.get().map(|loaded| lazily(replay_code(), ReplayViewProps { loaded, on_load, on_exit }))}
            </div>
            <KnobsPanel drawer=knobs>
                // Made at the drawer's first opening, or at once on a lesson's page: its steps point at controls in it.
                {move || {
                    (with_lesson || knobs.ever_opened()).then(|| {
                        let props = KnobsProps { generator: snapshot.generator, poll_interval_ms, fault_scope };
                        lazily(knobs_code(), props)
                    })
                }}
            </KnobsPanel>
        </div>
    }
}
