//! The toolbar above the lanes (the message box, a tone, a round trip) and the knobs in the drawer beside them.

use leptos::prelude::*;

use leptos::task::spawn_local;

use crate::client::{publish_message, update_generator};
use crate::components::common::message_draft::MessageDraft;
use crate::components::common::number_knob::NumberKnob;
use crate::components::common::teacher_only::TeacherOnly;
use crate::components::context::{ClassRole, FaultScope};
use crate::components::lab::audio_button::SendToneButton;
use crate::components::lab::fault_controls::FaultControls;
use crate::components::lab::mqtt_knobs::MqttKnobs;
use crate::components::lab::round_trip_button::RoundTripButton;
use crate::components::lab::webhook_receiver::WebhookReceiver;
use protocol::{
    GeneratorSettings, GeneratorUpdate, MAX_MESSAGE_BYTES, MAX_PAYLOAD_BYTES, MAX_RATE_PER_SECOND, MIN_RATE_PER_SECOND,
};

/// The row above the lanes: what a learner does most. Everything else waits in the knobs drawer.
#[component]
pub fn Toolbar(
    /// One round trip on every lane that is on.
    round_trip: Callback<()>,
    children: Children,
) -> impl IntoView {
    view! {
        <section class="toolbar" aria-label="actions">
            <MessageBox />
            <SendToneButton />
            <RoundTripButton round_trip />
            {children()}
        </section>
    }
}

/// The knobs drawer's contents: the shared generator, the faults, and how often the polling lane asks.
#[component]
pub fn Knobs(generator: GeneratorSettings, poll_interval_ms: RwSignal<u32>, fault_scope: FaultScope) -> impl IntoView {
    view! {
        <div class="controls">
            <GeneratorKnobs initial=generator />
            <FaultControls scope=fault_scope />
            // The webhook and MQTT lanes' own knobs: more than a lane's header has room for. `data-lane` is what a
            // lesson's pointer at a lane's control finds (`ScreenTarget::selector`).
            <fieldset class="lane-knobs" data-lane="webhook">
                <legend>"Webhooks: the receiver"</legend>
                <WebhookReceiver />
            </fieldset>
            <fieldset class="lane-knobs" data-lane="mqtt">
                <legend>"MQTT"</legend>
                <MqttKnobs />
            </fieldset>
            <fieldset class="polling">
                <legend>"Short polling"</legend>
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
        </div>
    }
}

/// The server's generator: shared by everyone connected, so a change here changes every browser's lanes.
#[component]
fn GeneratorKnobs(initial: GeneratorSettings) -> impl IntoView {
    let teacher = ClassRole::of_page().teacher;
    let settings = RwSignal::new(initial);
    let error = RwSignal::new(None::<String>);
    // A refused value must not stay in its box as if it were the generator's: the boxes show the server's again
    // (a notification re-applies every box's value), beside the reason.
    let refuse = move |why: String| {
        error.set(Some(why));
        settings.update(|_| ());
    };
    let apply = move |update: GeneratorUpdate| {
        spawn_local(async move {
            match update_generator(update).await {
                Ok(applied) => {
                    settings.set(applied);
                    error.set(None);
                }
                Err(failure) => refuse(failure.to_string()),
            }
        });
    };
    view! {
        // A disabled fieldset disables every control inside it: only the teacher changes what everyone receives.
        <fieldset class="generator" disabled=!teacher>
            <legend>"Generator (shared by everyone)"</legend>
            <TeacherOnly teacher what="change the generator" />
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
                        Err(_) => refuse("events/s must be a number".into()),
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
                        Err(_) => refuse("payload bytes must be a whole number".into()),
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
                <span class="visually-hidden">"Message to every lane"</span>
                <input
                    type="text"
                    data-testid="message-input"
                    maxlength=MAX_MESSAGE_BYTES
                    placeholder="Message to every lane"
                    prop:value=move || text.get()
                    on:input:target=move |event| text.set(event.target().value())
                />
            </label>
            <button type="submit" data-testid="message-send">"Send"</button>
            <output data-testid="publish-result">{move || draft.result_text("sent as #")}</output>
        </form>
    }
}
