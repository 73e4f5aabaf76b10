//! The header: generator knobs, the message box, and which lanes are on.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::audio_button::SendToneButton;
use super::fault_controls::{FaultControls, FaultScope};
use super::message_draft::MessageDraft;
use super::number_knob::NumberKnob;
use super::round_trip_button::RoundTripButton;
use crate::client::{publish_message, update_generator};
use protocol::{
    GeneratorSettings, GeneratorUpdate, Transport, MAX_MESSAGE_BYTES, MAX_PAYLOAD_BYTES, MAX_RATE_PER_SECOND,
    MIN_RATE_PER_SECOND,
};

/// One switch per lane, all on at start.
#[derive(Clone, Copy)]
pub struct LaneToggles {
    pub short_poll: RwSignal<bool>,
    pub long_poll: RwSignal<bool>,
    pub sse: RwSignal<bool>,
    pub web_socket: RwSignal<bool>,
}

impl LaneToggles {
    pub fn all_on() -> Self {
        Self {
            short_poll: RwSignal::new(true),
            long_poll: RwSignal::new(true),
            sse: RwSignal::new(true),
            web_socket: RwSignal::new(true),
        }
    }

    /// Which lanes are on, in page order: kept while a replay has them all off, to turn them back on after.
    pub fn states(&self) -> [bool; 4] {
        Transport::ALL.map(|transport| self.of(transport).get_untracked())
    }

    pub fn set_states(&self, states: [bool; 4]) {
        for (transport, on) in Transport::ALL.into_iter().zip(states) {
            // Setting a lane to what it already is would still wake its task, which takes any wake while running
            // for a client-side drop and reconnects.
            let toggle = self.of(transport);
            if toggle.get_untracked() != on {
                toggle.set(on);
            }
        }
    }

    pub fn of(&self, transport: Transport) -> RwSignal<bool> {
        match transport {
            Transport::ShortPoll => self.short_poll,
            Transport::LongPoll => self.long_poll,
            Transport::Sse => self.sse,
            Transport::WebSocket => self.web_socket,
        }
    }
}

#[component]
pub fn Controls(
    generator: GeneratorSettings,
    toggles: LaneToggles,
    poll_interval_ms: RwSignal<u32>,
    fault_scope: FaultScope,
    /// One round trip on every lane that is on.
    round_trip: Callback<()>,
) -> impl IntoView {
    view! {
        <section class="controls" aria-label="controls">
            <GeneratorKnobs initial=generator />
            <MessageBox />
            <SendToneButton />
            <RoundTripButton round_trip />
            <FaultControls scope=fault_scope />
            <fieldset class="toggles">
                <legend>"Lanes"</legend>
                {Transport::ALL
                    .into_iter()
                    .map(|transport| {
                        let enabled = toggles.of(transport);
                        view! {
                            <label>
                                <input
                                    type="checkbox"
                                    data-testid=format!("toggle-{}", transport.id())
                                    prop:checked=move || enabled.get()
                                    on:change:target=move |event| enabled.set(event.target().checked())
                                />
                                {transport.title()}
                            </label>
                        }
                    })
                    .collect_view()}
                <label>
                    "poll every "
                    <select
                        data-testid="poll-interval"
                        on:change:target=move |event| {
                            if let Ok(millis) = event.target().value().parse() {
                                poll_interval_ms.set(millis);
                            }
                        }
                    >
                        {[250u32, 500, 1000, 2000, 5000]
                            .into_iter()
                            .map(|millis| view! {
                                <option value=millis selected=move || poll_interval_ms.get() == millis>
                                    {format!("{} s", millis as f64 / 1000.0)}
                                </option>
                            })
                            .collect_view()}
                    </select>
                </label>
            </fieldset>
        </section>
    }
}

/// The server's generator: shared by everyone connected, so a change here changes every browser's lanes.
#[component]
fn GeneratorKnobs(initial: GeneratorSettings) -> impl IntoView {
    let settings = RwSignal::new(initial);
    let error = RwSignal::new(None::<String>);
    let apply = move |update: GeneratorUpdate| {
        spawn_local(async move {
            match update_generator(update).await {
                Ok(applied) => {
                    settings.set(applied);
                    error.set(None);
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    view! {
        <fieldset class="generator">
            <legend>"Generator (shared by everyone)"</legend>
            <NumberKnob
                label="events/s"
                testid="generator-rate"
                min=MIN_RATE_PER_SECOND
                max=MAX_RATE_PER_SECOND
                step=0.1
                value=Signal::derive(move || settings.get().rate_per_second)
                on_commit=move |text: String| {
                    match text.parse::<f64>() {
                        Ok(rate) => apply(GeneratorUpdate { rate_per_second: Some(rate), ..Default::default() }),
                        Err(_) => error.set(Some("events/s must be a number".into())),
                    }
                }
            />
            <NumberKnob
                label="payload bytes"
                testid="generator-payload"
                min=0.0
                max=MAX_PAYLOAD_BYTES as f64
                step=1.0
                value=Signal::derive(move || settings.get().payload_bytes as f64)
                on_commit=move |text: String| {
                    match text.parse::<usize>() {
                        Ok(bytes) => apply(GeneratorUpdate { payload_bytes: Some(bytes), ..Default::default() }),
                        Err(_) => error.set(Some("payload bytes must be a whole number".into())),
                    }
                }
            />
            <button
                type="button"
                data-testid="generator-pause"
                on:click=move |_| apply(GeneratorUpdate { paused: Some(!settings.get_untracked().paused), ..Default::default() })
            >
                {move || if settings.get().paused { "Resume" } else { "Pause" }}
            </button>
            <p class="error" role="alert" data-testid="generator-error">{move || error.get()}</p>
        </fieldset>
    }
}

/// Publishes a message through `POST /api/publish`; it comes back on every lane.
#[component]
fn MessageBox() -> impl IntoView {
    let draft = MessageDraft::new();
    let text = draft.text;
    let send = move |event| draft.submit(event, publish_message);
    view! {
        <form class="message-box" on:submit=send>
            <label>
                "Message "
                <input
                    type="text"
                    data-testid="message-input"
                    maxlength=MAX_MESSAGE_BYTES
                    placeholder="Hello, class"
                    prop:value=move || text.get()
                    on:input:target=move |event| text.set(event.target().value())
                />
            </label>
            <button type="submit" data-testid="message-send">"Send"</button>
            <output data-testid="publish-result">{move || draft.result_text("sent as #")}</output>
        </form>
    }
}
