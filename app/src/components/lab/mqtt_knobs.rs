//! The MQTT lane's own knobs: what it subscribes to and at which QoS, whether the broker keeps its session, its
//! keep-alive, and the "drop after PUBREC" fault. Knobs are checked here and applied together (the lane
//! disconnects cleanly and connects again with them); knobs that fail the check are never sent.

use leptos::prelude::*;

use crate::client::MqttControls;
use protocol::mqtt::{ClientSettings, Qos, SettingsError, KEEP_ALIVE_SECS};

#[component]
pub fn MqttKnobs() -> impl IntoView {
    let Some(controls) = use_context::<MqttControls>() else { return ().into_any() };
    let initial = controls.settings.get_untracked();
    let filter = RwSignal::new(initial.filter.clone());
    let qos = RwSignal::new(initial.qos);
    let keep_session = RwSignal::new(initial.keep_session);
    let keep_alive = RwSignal::new(initial.keep_alive_secs.to_string());
    let problem = RwSignal::new(String::new());
    let apply = move |_| {
        let result =
            keep_alive.get_untracked().trim().parse::<u16>().map_err(|_| SettingsError::KeepAliveOutOfRange).and_then(
                |keep_alive_secs| {
                    controls.apply(ClientSettings {
                        filter: filter.get_untracked().trim().to_owned(),
                        qos: qos.get_untracked(),
                        keep_session: keep_session.get_untracked(),
                        keep_alive_secs,
                    })
                },
            );
        problem.set(match result {
            Ok(()) => String::new(),
            Err(error) => format!("not applied: {error}"),
        });
    };
    // Only a QoS 2 delivery has a PUBREC: armed on a lane subscribed at a lower QoS it would wait for ever.
    let arm = move |_| {
        if controls.settings.with_untracked(|settings| settings.qos != Qos::ExactlyOnce) {
            controls
                .fault_outcome
                .set("not armed: this fault needs QoS 2 deliveries; set QoS 2 and apply first".into());
            return;
        }
        controls.drop_after_pubrec.set(true);
        controls.fault_outcome.set("armed: the next QoS 2 delivery drops the socket after PUBREC".into());
    };
    let in_flight = move || {
        let in_flight = controls.in_flight.get();
        format!(
            "in flight: QoS 2 awaiting PUBREL {} · our QoS 1 awaiting PUBACK {}",
            in_flight.qos2_awaiting_release, in_flight.qos1_awaiting_ack
        )
    };
    let applied = move || {
        let settings = controls.settings.get();
        format!(
            "now: {} at QoS {}, session {}, keep-alive {} s",
            settings.filter,
            settings.qos.level(),
            if settings.keep_session { "kept" } else { "clean" },
            settings.keep_alive_secs
        )
    };
    view! {
        <div class="mqtt-knobs" data-testid="mqtt-knobs">
            <label>
                "filter "
                <input
                    type="text"
                    data-testid="mqtt-filter"
                    size="14"
                    title="MQTT topic filter: + matches one level, # the rest; events are under lab/events/<kind>"
                    prop:value=move || filter.get()
                    on:input=move |event| filter.set(event_target_value(&event))
                />
            </label>
            <label>
                " QoS "
                <select
                    data-testid="mqtt-qos"
                    on:change=move |event| {
                        if let Some(chosen) = event_target_value(&event).parse().ok().and_then(Qos::from_level) {
                            qos.set(chosen);
                        }
                    }
                    prop:value=move || qos.get().level().to_string()
                >
                    {Qos::ALL
                        .iter()
                        .map(|level| {
                            let text = level.level().to_string();
                            view! { <option value=text.clone() selected=*level == initial.qos>{text.clone()}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <label title="clean start = 0 with a session expiry: the broker queues QoS 1 and 2 messages while the page is away">
                <input
                    type="checkbox"
                    data-testid="mqtt-keep-session"
                    prop:checked=move || keep_session.get()
                    on:change=move |event| keep_session.set(event_target_checked(&event))
                />
                " keep session"
            </label>
            <label>
                " keep-alive "
                <input
                    type="number"
                    data-testid="mqtt-keep-alive"
                    min=KEEP_ALIVE_SECS.start().to_string()
                    max=KEEP_ALIVE_SECS.end().to_string()
                    prop:value=move || keep_alive.get()
                    on:input=move |event| keep_alive.set(event_target_value(&event))
                />
                " s"
            </label>
            <button type="button" data-testid="mqtt-apply" on:click=apply>
                "apply"
            </button>
            <button
                type="button"
                data-testid="mqtt-drop-after-pubrec"
                title="The next QoS 2 delivery: the page answers PUBREC, then drops its socket before PUBREL arrives"
                on:click=arm
            >
                "drop after PUBREC"
            </button>
            <span class="mqtt-problem" data-testid="mqtt-problem" role="alert">{move || problem.get()}</span>
            <span class="mqtt-applied" data-testid="mqtt-applied">{applied}</span>
            <span class="mqtt-in-flight" data-testid="mqtt-in-flight">{in_flight}</span>
            <span class="mqtt-fault" data-testid="mqtt-fault-outcome">{move || controls.fault_outcome.get()}</span>
        </div>
    }
    .into_any()
}
