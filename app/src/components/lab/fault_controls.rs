//! The Faults panel, and whose connections the page's fault buttons hit.

use leptos::prelude::*;

use crate::components::context::{ClassRole, FaultScope};
use leptos::task::spawn_local;

use crate::client::{clear_faults, restart_stream, set_delivery_delay};
use crate::components::common::number_knob::NumberKnob;
use protocol::{DelayRule, FaultTarget, MAX_INJECTED_DELAY_MS, MAX_OFFLINE_SECONDS};

const MAX_DELAY: f64 = MAX_INJECTED_DELAY_MS as f64;

/// Faults for all lanes: delay every delivery by a fixed time plus random jitter, how long "offline" lasts, and
/// restarting the server's stream (a new epoch, numbering from 1; every lane must notice and resync), which by its
/// nature hits everyone.
#[component]
pub fn FaultControls(scope: FaultScope) -> impl IntoView {
    let outcome = RwSignal::new(String::new());
    let delay = RwSignal::new(DelayRule::default());
    let apply_delay = move |change: fn(&mut DelayRule, u32), text: String| {
        let Ok(millis) = text.parse::<u32>() else {
            outcome.set("delay and jitter are whole milliseconds".into());
            return;
        };
        let mut next = delay.get_untracked();
        change(&mut next, millis);
        let FaultTarget { transport, client } = scope.target(None);
        next.transport = transport;
        next.client = client;
        let whose = scope.whose();
        spawn_local(async move {
            match set_delivery_delay(&next).await {
                Ok(applied) => {
                    outcome.set(format!(
                        "{whose} deliveries delayed {} ms + up to {} ms",
                        applied.delay_ms, applied.jitter_ms
                    ));
                    delay.set(applied);
                }
                Err(error) => outcome.set(error.to_string()),
            }
        });
    };
    let set_offline_seconds = move |text: String| match text.parse::<u32>() {
        Ok(seconds) if (1..=MAX_OFFLINE_SECONDS).contains(&seconds) => scope.offline_seconds.set(seconds),
        _ => outcome.set(format!("offline lasts 1 to {MAX_OFFLINE_SECONDS} whole seconds")),
    };
    let teacher = ClassRole::of_page().teacher;
    let clear = move |_| {
        // The teacher clears everyone's; anyone else, this page's own.
        let client = (!teacher).then(|| scope.client());
        spawn_local(async move {
            match clear_faults(client).await {
                Ok(()) => {
                    delay.set(DelayRule::default());
                    let whose = if teacher { "for everyone" } else { "for this page" };
                    outcome.set(format!("every delay and offline fault cleared, {whose}"));
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
            <legend>"Faults"</legend>
            <label title=if teacher {
                "Which connections the drop, offline and delay faults hit"
            } else {
                "Only the teacher can aim faults at everyone; yours hit this page"
            }>
                <input
                    type="checkbox"
                    data-testid="fault-everyone"
                    disabled=!teacher
                    prop:checked=move || scope.everyone.get()
                    on:change=move |event| scope.everyone.set(event_target_checked(&event))
                />
                " for everyone connected (not just this page)"
            </label>
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
            <NumberKnob
                label="offline s"
                testid="fault-offline-seconds"
                min=1.0
                max=f64::from(MAX_OFFLINE_SECONDS)
                step=1.0
                value=Signal::derive(move || scope.offline_seconds.get().into())
                on_commit=set_offline_seconds
            />
            <button
                type="button"
                data-testid="restart-stream"
                disabled=!teacher
                title=if teacher {
                    "As if the server restarted: a new epoch, events numbered from 1 again (for everyone)"
                } else {
                    "Only the teacher can restart the class's stream"
                }
                on:click=restart
            >
                "Restart server stream"
            </button>
            <button
                type="button"
                data-testid="clear-faults"
                title=if teacher {
                    "Remove every delay and offline fault, for everyone"
                } else {
                    "Remove this page's delay and offline faults"
                }
                on:click=clear
            >
                "Clear faults"
            </button>
            <output data-testid="fault-outcome">{move || outcome.get()}</output>
        </fieldset>
    }
}
