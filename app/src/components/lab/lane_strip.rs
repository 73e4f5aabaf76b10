//! The lane strip above the diagrams: every lane there is, each with its on/off switch, the button that shows it
//! side by side with the others, and its figures at a glance. It is the lane chooser and the summary of the lanes
//! not drawn at once, so a lane keeps recording, and keeps being seen to, whether it is shown or not. On a phone
//! the same buttons switch which lane is in view.

use leptos::prelude::*;

use crate::client::LaneHandle;
use crate::components::context::{LaneToggles, ShownLanes};
use protocol::Transport;

/// At this width and under, the lanes are a strip swiped one at a time (`style/main.css`), so a lane's button
/// brings it into view instead of hiding it.
const PHONE_QUERY: &str = "(max-width: 600px)";

#[component]
pub fn LaneStrip(lanes: Vec<LaneHandle>, toggles: LaneToggles, shown: ShownLanes) -> impl IntoView {
    view! {
        <ul class="lane-strip" data-testid="lane-strip" aria-label="lanes: switch each on or off, choose which to show">
            {lanes
                .into_iter()
                .map(|handle| view! { <LaneChip handle on=toggles.of(handle.transport) shown /> })
                .collect_view()}
        </ul>
    }
}

#[component]
fn LaneChip(handle: LaneHandle, on: RwSignal<bool>, shown: ShownLanes) -> impl IntoView {
    let transport = handle.transport;
    let lanes = shown;
    let shown = lanes.of(transport);
    let id = transport.id();
    let title = transport.title();
    let choose = move |_| {
        if is_phone() {
            shown.set(true);
            request_animation_frame(move || scroll_lane_into_view(transport));
        } else {
            shown.update(|shown| *shown = !*shown);
        }
    };
    view! {
        <li
            class="lane-chip"
            class:shown=move || shown.get()
            class:off=move || !on.get()
            data-lane=id
            data-testid=format!("chip-{id}")
        >
            <input
                type="checkbox"
                role="switch"
                class="switch"
                data-testid=format!("toggle-{id}")
                aria-label=format!("{title} on")
                title="On: the lane connects and records. Off: it disconnects."
                prop:checked=move || on.get()
                on:change:target=move |event| {
                    let checked = event.target().checked();
                    on.set(checked);
                    lanes.switched(transport, checked);
                }
            />
            <button
                type="button"
                class="chip-name"
                data-testid=format!("show-{id}")
                aria-pressed=move || shown.get().to_string()
                title=format!("{title}: show it side by side with the others, or hide it (a hidden lane keeps recording)")
                on:click=choose
            >
                {short_name(transport)}
            </button>
            <span class="glance" data-testid="glance" aria-live="off">
                {move || if on.get() { handle.metrics.with(|metrics| metrics.glance()) } else { "off".to_owned() }}
                <span class="glance-status">{move || format!(" · {}", handle.status.get().text())}</span>
            </span>
        </li>
    }
}

/// The name a chip has room for: eight chips share a projector's width.
fn short_name(transport: Transport) -> &'static str {
    match transport {
        Transport::ShortPoll => "Short poll",
        Transport::LongPoll => "Long poll",
        Transport::Sse => "SSE",
        Transport::HttpStream => "HTTP stream",
        other => other.title(),
    }
}

fn is_phone() -> bool {
    web_sys::window()
        .and_then(|window| window.match_media(PHONE_QUERY).ok().flatten())
        .is_some_and(|query| query.matches())
}

/// Scrolls the lanes' strip sideways so `transport`'s lane starts just right of the sticky time axis. The page
/// itself stays where it is, so the lane buttons stay under the thumb.
fn scroll_lane_into_view(transport: Transport) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|window| window.document()) else { return };
    let found = |selector: &str| document.query_selector(selector).ok().flatten();
    let html = |element: web_sys::Element| element.dyn_into::<web_sys::HtmlElement>().ok();
    let (Some(lanes), Some(lane), Some(axis)) = (
        found("[data-testid=\"lanes\"]").and_then(html),
        found(&format!("[data-testid=\"lane-{}\"]", transport.id())).and_then(html),
        // The axis is an <svg>, not an HTML element: its width is read as any element's.
        found(".lanes > .time-axis"),
    ) else {
        return;
    };
    lanes.set_scroll_left(lane.offset_left() - axis.client_width());
}
