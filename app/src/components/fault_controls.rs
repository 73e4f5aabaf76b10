//! The Faults panel: failures the server makes for everyone connected, so each lane's recovery can be watched.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::number_knob::NumberKnob;
use crate::client::{restart_stream, set_delivery_delay};
use crate::model::{DeliveryDelay, MAX_INJECTED_DELAY_MS};

const MAX_DELAY: f64 = MAX_INJECTED_DELAY_MS as f64;

/// Faults for everyone connected: restart the server's stream (a new epoch, numbering from 1; every lane must notice
/// and resync), and delay every delivery by a fixed time plus random jitter.
#[component]
pub fn FaultControls() -> impl IntoView {
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
            <NumberKnob
                label="delay ms"
                testid="fault-delay"
                min=0.0
                max=MAX_DELAY
                step=50.0
                value=Signal::derive(move || delay.get().delay_ms.into())
                on_commit=move |text: String| apply_delay(|delay, ms| delay.delay_ms = ms, text)
            />
            <NumberKnob
                label="jitter ms"
                testid="fault-jitter"
                min=0.0
                max=MAX_DELAY
                step=50.0
                value=Signal::derive(move || delay.get().jitter_ms.into())
                on_commit=move |text: String| apply_delay(|delay, ms| delay.jitter_ms = ms, text)
            />
            <output data-testid="fault-outcome">{move || outcome.get()}</output>
        </fieldset>
    }
}
