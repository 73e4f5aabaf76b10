//! The header: generator knobs, the message box, and which lanes are on.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client::{publish_message, restart_stream, set_delivery_delay, update_generator};
use crate::model::{
    DeliveryDelay, GeneratorSettings, GeneratorUpdate, Transport, MAX_INJECTED_DELAY_MS, MAX_MESSAGE_BYTES,
    MAX_PAYLOAD_BYTES, MAX_RATE_PER_SECOND, MIN_RATE_PER_SECOND,
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

    fn of(&self, transport: Transport) -> RwSignal<bool> {
        match transport {
            Transport::ShortPoll => self.short_poll,
            Transport::LongPoll => self.long_poll,
            Transport::Sse => self.sse,
            Transport::WebSocket => self.web_socket,
        }
    }
}

#[component]
pub fn Controls(generator: GeneratorSettings, toggles: LaneToggles, poll_interval_ms: RwSignal<u32>) -> impl IntoView {
    view! {
        <section class="controls" aria-label="controls">
            <GeneratorKnobs initial=generator />
            <MessageBox />
            <RestartButton />
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
            <label>
                "events/s "
                <input
                    type="number"
                    data-testid="generator-rate"
                    min=MIN_RATE_PER_SECOND
                    max=MAX_RATE_PER_SECOND
                    step="0.1"
                    prop:value=move || settings.get().rate_per_second
                    on:change:target=move |event| {
                        match event.target().value().parse::<f64>() {
                            Ok(rate) => apply(GeneratorUpdate { rate_per_second: Some(rate), ..Default::default() }),
                            Err(_) => error.set(Some("events/s must be a number".into())),
                        }
                    }
                />
            </label>
            <label>
                "payload bytes "
                <input
                    type="number"
                    data-testid="generator-payload"
                    min="0"
                    max=MAX_PAYLOAD_BYTES
                    step="1"
                    prop:value=move || settings.get().payload_bytes
                    on:change:target=move |event| {
                        match event.target().value().parse::<usize>() {
                            Ok(bytes) => apply(GeneratorUpdate { payload_bytes: Some(bytes), ..Default::default() }),
                            Err(_) => error.set(Some("payload bytes must be a whole number".into())),
                        }
                    }
                />
            </label>
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
    let text = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<u64, String>>);
    let send = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let message = text.get_untracked();
        spawn_local(async move {
            match publish_message(message).await {
                Ok(ack) => {
                    result.set(Some(Ok(ack.seq)));
                    text.set(String::new());
                }
                Err(error) => result.set(Some(Err(error.to_string()))),
            }
        });
    };
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
            <output data-testid="publish-result">
                {move || match result.get() {
                    Some(Ok(seq)) => format!("sent as #{seq}"),
                    Some(Err(error)) => error,
                    None => String::new(),
                }}
            </output>
        </form>
    }
}

/// Faults for everyone connected: restart the server's stream (a new epoch, numbering from 1; every lane must notice
/// and resync), and delay every delivery by a fixed time plus random jitter.
#[component]
fn RestartButton() -> impl IntoView {
    let outcome = RwSignal::new(String::new());
    let delay = RwSignal::new(DeliveryDelay::default());
    let apply_delay = move |change: fn(&mut DeliveryDelay, u32), text: String| {
        let Ok(millis) = text.parse::<u32>() else {
            outcome.set("delay and jitter are whole milliseconds".into());
            return;
        };
        let mut next = delay.get_untracked();
        change(&mut next, millis);
        spawn_local(async move {
            match set_delivery_delay(next).await {
                Ok(applied) => {
                    delay.set(applied);
                    outcome.set(format!("delivery delayed {} ms + up to {} ms", applied.delay_ms, applied.jitter_ms));
                }
                Err(error) => outcome.set(error.to_string()),
            }
        });
    };
    let restart = move |_| {
        spawn_local(async move {
            outcome.set(match restart_stream().await {
                Ok(report) => format!("new epoch {}", report.epoch),
                Err(error) => error.to_string(),
            });
        });
    };
    view! {
        <fieldset class="faults">
            <legend>"Faults (for everyone)"</legend>
            <button
                type="button"
                data-testid="restart-stream"
                title="As if the server restarted: a new epoch, events numbered from 1 again"
                on:click=restart
            >
                "Restart server stream"
            </button>
            <label>
                " delay ms "
                <input
                    type="number"
                    data-testid="fault-delay"
                    min="0"
                    max=MAX_INJECTED_DELAY_MS
                    step="50"
                    prop:value=move || delay.get().delay_ms
                    on:change:target=move |event| apply_delay(|delay, ms| delay.delay_ms = ms, event.target().value())
                />
            </label>
            <label>
                "jitter ms "
                <input
                    type="number"
                    data-testid="fault-jitter"
                    min="0"
                    max=MAX_INJECTED_DELAY_MS
                    step="50"
                    prop:value=move || delay.get().jitter_ms
                    on:change:target=move |event| apply_delay(|delay, ms| delay.jitter_ms = ms, event.target().value())
                />
            </label>
            <output data-testid="fault-outcome">{move || outcome.get()}</output>
        </fieldset>
    }
}
