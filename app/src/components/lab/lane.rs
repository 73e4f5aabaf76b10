use leptos::prelude::*;

use crate::components::diagram::sequence_diagram::{live_placement, SequenceDiagram};
use crate::components::lab::lane_audio::LaneAudio;
use crate::components::lab::lane_metrics::LaneMetricsView;
use leptos::task::spawn_local;

use crate::client::{drop_connections, go_offline, ClientError, LaneHandle};
use crate::components::context::{FaultScope, KnobsDrawer, SharedLogProblem};
use crate::diagram::{DiagramLayout, Millis};
use protocol::{FaultReport, FaultTarget, OfflineRequest, Transport};

#[component]
pub fn Lane(
    handle: LaneHandle,
    enabled: RwSignal<bool>,
    /// Drawn side by side with the others; a hidden lane keeps recording, and its figures are in the lane strip.
    shown: RwSignal<bool>,
    layout: ReadSignal<DiagramLayout>,
    clock: ReadSignal<Millis>,
) -> impl IntoView {
    let transport = handle.transport;
    let placed = live_placement(handle.trace, layout, clock);
    view! {
        <section
            class="lane"
            class:off=move || !enabled.get()
            hidden=move || !shown.get()
            data-lane=transport.id()
            data-testid=format!("lane-{}", transport.id())
            aria-label=transport.title()
        >
            <header class="lane-header">
                // Only when several instances share one log (`./lab cluster`): which one answered last.
                {move || {
                    handle.metrics.with(|metrics| metrics.served_by.clone()).map(|instance| {
                        view! {
                            <span
                                class="instance"
                                data-testid="lane-instance"
                                title="the lab instance that answered this lane last (x-lab-instance)"
                            >
                                {instance}
                            </span>
                        }
                    })
                }}
                <LogProblemBadge />
                <h2>{transport.title()}</h2>
                <span class="status" data-testid="lane-status" title=move || handle.status.get().detail()>
                    {move || handle.status.get().text()}
                </span>
                <p class="summary" title=transport.summary()>{transport.summary()}</p>
                {if transport.browser_takes_part() {
                    view! { <LaneFaults transport browser_drop=handle.browser_drop /> }.into_any()
                } else {
                    // A webhook's faults are the receiver's answers; the browser holds no connection to cut.
                    view! {
                        <p class="lane-knobs-note">"Its faults are the receiver's answers: " <KnobsLink /></p>
                    }
                        .into_any()
                }}
            </header>
            <SequenceDiagram transport placed layout clock />
            <LaneMetricsView metrics=handle.metrics />
            <LaneAudio clip=handle.clip />
        </section>
    }
}

/// "log unavailable" while the instances cannot reach their shared log: the lane stays connected and will go on
/// from where it was, but nothing new can be published meanwhile.
#[component]
fn LogProblemBadge() -> impl IntoView {
    let problem = use_context::<SharedLogProblem>().map(|shared| shared.0);
    move || {
        problem.and_then(|problem| problem.get()).map(|reason| {
            view! {
                <span class="log-problem" data-testid="lane-log-problem" role="status" title=reason>
                    "log unavailable"
                </span>
            }
        })
    }
}

/// This lane's fault buttons: the server drops the connection, the browser drops it, or the network goes away for
/// a while. Each hits this page's lane, or every page's with "for everyone" ticked in the Faults panel.
#[component]
fn LaneFaults(transport: Transport, browser_drop: Trigger) -> impl IntoView {
    let scope = expect_context::<FaultScope>();
    let outcome = RwSignal::new(String::new());
    let report = move |result: Result<FaultReport, ClientError>, what: String| {
        outcome.set(match result {
            Ok(report) if report.dropped_connections == 0 => format!("{what}; nothing was held open"),
            Ok(report) => format!("{what}; dropped {} connection(s)", report.dropped_connections),
            Err(error) => error.to_string(),
        });
    };
    let server_drop = move |_| {
        let target = scope.target(Some(transport));
        let whose = scope.whose();
        spawn_local(async move { report(drop_connections(&target).await, format!("server drop ({whose})")) });
    };
    let offline = move |_| {
        let FaultTarget { transport, client } = scope.target(Some(transport));
        let seconds = scope.offline_seconds.get_untracked();
        let whose = scope.whose();
        spawn_local(async move {
            let result = go_offline(&OfflineRequest { seconds, transport, client }).await;
            report(result, format!("offline {seconds} s ({whose})"));
        });
    };
    let browser_side_drop = move |_| {
        browser_drop.notify();
        outcome.set("the browser closed its connection".into());
    };
    view! {
        <span class="lane-faults">
            <button
                type="button"
                data-testid="drop"
                title="The server drops this lane's open connection, as a crash or a cut cable would"
                on:click=server_drop
            >
                "server drop"
            </button>
            <button
                type="button"
                data-testid="browser-drop"
                title="This page closes its own connection and reconnects, resuming from its cursor"
                on:click=browser_side_drop
            >
                "browser drop"
            </button>
            <button
                type="button"
                data-testid="go-offline"
                title="The server drops the connection and refuses this lane's requests for the seconds set under Faults"
                on:click=offline
            >
                {move || format!("offline {} s", scope.offline_seconds.get())}
            </button>
            // MQTT's own knobs live in the drawer; a row of their own would fall below the header's edge.
            {(transport == Transport::Mqtt).then(|| view! { <KnobsLink text="QoS, topics, sessions…" /> })}
            <span class="drop-outcome" data-testid="drop-outcome" title=move || outcome.get()>
                {move || outcome.get()}
            </span>
        </span>
    }
}

/// Opens the knobs drawer, where the webhook and MQTT lanes keep the knobs their header has no room for.
#[component]
fn KnobsLink(#[prop(default = "Knobs & faults")] text: &'static str) -> impl IntoView {
    let drawer = use_context::<KnobsDrawer>();
    view! {
        <button
            type="button"
            class="knobs-link"
            on:click=move |_| {
                if let Some(drawer) = drawer {
                    drawer.0.set(true);
                }
            }
        >
            {text}
        </button>
    }
}
