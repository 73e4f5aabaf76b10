//! The webhook lane's header: the endpoint's secret, the knobs of the lab's own receiver (the lane's faults), what
//! the receiver did, and the signatures this page re-checked.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client::{set_webhook_receiver, WebhookWatch};
use protocol::webhook::{ReceiverKnobs, ReceiverMode, DEFAULT_SLOW_SECS};

const MODES: [(ReceiverMode, &str, &str); 6] = [
    (ReceiverMode::Healthy, "healthy", "200 at once"),
    (ReceiverMode::Slow, "slow", "processes, then answers 200 after the seconds set"),
    (ReceiverMode::Error500, "error500", "answers 500: the sender retries"),
    (ReceiverMode::Timeout, "timeout", "answers only after the sender gave up waiting"),
    (ReceiverMode::Gone, "gone", "answers 410 Gone: the sender stops delivering here"),
    (ReceiverMode::RejectSignatures, "reject_signatures", "answers 401 as if every signature were wrong"),
];

fn mode_id(mode: ReceiverMode) -> &'static str {
    MODES.iter().find(|(known, _, _)| *known == mode).map_or("healthy", |(_, id, _)| id)
}

#[component]
pub fn WebhookReceiver() -> impl IntoView {
    let Some(watch) = use_context::<WebhookWatch>() else { return ().into_any() };
    let knobs = RwSignal::new(ReceiverKnobs::default());
    let problem = RwSignal::new(String::new());
    // One write at a time, always of the latest knobs: two PUTs in flight could be applied in either order, and
    // each sends every knob.
    let writing = StoredValue::new(false);
    // The server's view wins once known: another tab or a test may have turned the knobs.
    Effect::new(move |_| {
        if let Some(state) = watch.receiver.get() {
            if state.knobs != knobs.get_untracked() && !writing.get_value() {
                knobs.set(state.knobs);
            }
        }
    });
    let apply = move |change: Box<dyn FnOnce(&mut ReceiverKnobs)>| {
        let Some(endpoint) = watch.endpoint.get_untracked() else { return };
        let mut wanted = knobs.get_untracked();
        change(&mut wanted);
        knobs.set(wanted);
        watch.knob_writes.update(|writes| *writes += 1);
        if writing.get_value() {
            return; // the running writer sends these when its PUT is answered
        }
        writing.set_value(true);
        spawn_local(async move {
            loop {
                let sent = knobs.get_untracked();
                let result = set_webhook_receiver(&endpoint.id, &sent).await;
                let latest = knobs.get_untracked() == sent;
                match result {
                    Ok(state) if latest => {
                        problem.set(String::new());
                        watch.receiver.set(Some(state));
                    }
                    Ok(_) => {}
                    Err(error) => problem.set(error.to_string()),
                }
                if latest {
                    break;
                }
            }
            // A state read while these were being written is older than them.
            watch.knob_writes.update(|writes| *writes += 1);
            writing.set_value(false);
        });
    };
    let on_mode = move |event| {
        let chosen = event_target_value(&event);
        if let Some((mode, _, _)) = MODES.iter().find(|(_, id, _)| *id == chosen) {
            let mode = *mode;
            apply(Box::new(move |knobs| knobs.mode = mode));
        }
    };
    let on_slow = move |event| {
        if let Ok(secs) = event_target_value(&event).parse::<f64>() {
            apply(Box::new(move |knobs| knobs.slow_secs = Some(secs)));
        }
    };
    let on_dedupe = move |event| {
        let on = event_target_checked(&event);
        apply(Box::new(move |knobs| knobs.dedupe = on));
    };
    let counts = move || {
        watch.receiver.get().map(|state| {
            let counts = state.counts;
            format!(
                "processed {} · duplicates processed {} · duplicates skipped {} · out of order {} · signatures refused {}",
                counts.processed,
                counts.duplicates_processed,
                counts.duplicates_skipped,
                counts.out_of_order,
                counts.rejected_signatures
            )
        })
    };
    let tally = move || {
        let tally = watch.signatures.get();
        let mut text = format!("{} valid, {} invalid", tally.valid, tally.invalid);
        if tally.not_checked > 0 {
            text.push_str(&format!(", {} not checked (see an arrow's tooltip)", tally.not_checked));
        }
        text
    };
    view! {
        <div class="webhook-receiver" data-testid="webhook-receiver">
            <p class="side-channel-note">
                "The browser is neither party: the lab's sender POSTs every event to the lab's own receiver over a \
                 real TCP connection, and this page reads the sender's delivery log twice a second over a side \
                 channel. Arrows are drawn when the sender measured them."
            </p>
            <p>
                "secret "
                <code data-testid="webhook-secret">
                    {move || watch.endpoint.get().map(|endpoint| endpoint.secret).unwrap_or_else(|| "(not registered)".into())}
                </code>
            </p>
            <OwnReceiver watch />
            <div class="receiver-knobs" hidden=move || watch.target.get().is_some()>
                <label>
                    "receiver "
                    <select
                        data-testid="receiver-mode"
                        on:change=on_mode
                        prop:value=move || mode_id(knobs.get().mode)
                        prop:disabled=move || watch.endpoint.get().is_none()
                    >
                        {MODES
                            .iter()
                            .map(|(mode, id, help)| {
                                let mode = *mode;
                                view! {
                                    <option value=*id title=*help selected=mode == ReceiverMode::Healthy>
                                        {id.replace('_', " ")}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label hidden=move || knobs.get().mode != ReceiverMode::Slow>
                    " by "
                    <input
                        type="number"
                        min="0"
                        max="60"
                        step="0.5"
                        data-testid="receiver-slow-secs"
                        prop:value=move || knobs.get().slow_secs.unwrap_or(DEFAULT_SLOW_SECS).to_string()
                        on:change=on_slow
                    />
                    " s"
                </label>
                <label title="Acknowledge a webhook-id seen before without processing it again">
                    <input
                        type="checkbox"
                        data-testid="receiver-dedupe"
                        prop:checked=move || knobs.get().dedupe
                        prop:disabled=move || watch.endpoint.get().is_none()
                        on:change=on_dedupe
                    />
                    " dedupe by webhook-id"
                </label>
            </div>
            <p data-testid="receiver-counts" hidden=move || watch.target.get().is_some()>{counts}</p>
            <p data-testid="signature-tally" title="Each delivery's HMAC-SHA256 recomputed in this browser with WebCrypto, from the secret above">
                "signatures re-checked in this browser: " {tally}
            </p>
            <p class="error" data-testid="webhook-disabled" hidden=move || watch.disabled.get().is_none()>
                {move || watch.disabled.get().map(|why| format!("deliveries stopped: {why}. Turn the lane off and on to register again."))}
            </p>
            <p class="error" hidden=move || problem.get().is_empty()>{move || problem.get()}</p>
        </div>
    }
    .into_any()
}

/// Deliveries to a receiver of the user's own, such as a student's laptop: its answers then decide the retries.
/// The lab sends only where its allow-list lets it (loopback unless the teacher named more), and says why not.
#[component]
fn OwnReceiver(watch: WebhookWatch) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let url = draft.get_untracked().trim().to_owned();
        if !url.is_empty() {
            watch.target_refused.set(None);
            watch.target.set(Some(url));
        }
    };
    view! {
        <form class="own-receiver" data-testid="own-receiver" on:submit=submit>
            <Show
                when=move || watch.target.get().is_some()
                fallback=move || view! {
                    <label>
                        "or send to your own receiver "
                        <input
                            type="url"
                            placeholder="http://127.0.0.1:9000/hook"
                            data-testid="own-receiver-url"
                            prop:value=move || draft.get()
                            on:input=move |event| draft.set(event_target_value(&event))
                        />
                    </label>
                    <button type="submit" data-testid="own-receiver-use">"use it"</button>
                }
            >
                <span data-testid="own-receiver-target">
                    {move || format!("deliveries go to {}; its answers decide the retries ", watch.target.get().unwrap_or_default())}
                </span>
                <button type="button" data-testid="own-receiver-back" on:click=move |_| watch.target.set(None)>
                    "back to the lab's receiver"
                </button>
            </Show>
            <p class="error" data-testid="own-receiver-refused" hidden=move || watch.target_refused.get().is_none()>
                {move || watch.target_refused.get()}
            </p>
        </form>
    }
}
