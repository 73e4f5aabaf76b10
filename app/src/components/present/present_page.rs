//! The presenter view at `/present`, made for a projector (1280×720, large type, high contrast): the link and QR
//! code students join with, how many of them are connected on each transport (polled from `/api/class` once a
//! second), a box for the teacher's broadcast, and the generator's rate.

use std::time::Duration;

use gloo_timers::future::sleep;
use leptos::prelude::*;
use leptos::task::{spawn_local, spawn_local_scoped_with_cancellation};

use crate::client::{broadcast_message, class_presence, update_generator};
use crate::components::common::message_draft::MessageDraft;
use crate::components::common::teacher_only::TeacherOnly;
use crate::components::context::ClassRole;
use protocol::{ClassPresence, GeneratorUpdate, JoinUrlSource, Transport, MAX_MESSAGE_BYTES, PRESENCE_WINDOW_SECONDS};

/// How often the counts are asked for.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// The rates a teacher is offered with one click (events per second).
const QUICK_RATES: [f64; 5] = [0.5, 1.0, 2.0, 5.0, 10.0];

#[component]
pub fn PresentPage() -> impl IntoView {
    let teacher = ClassRole::of_page().teacher;
    let presence = RwSignal::new(None::<ClassPresence>);
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        spawn_local_scoped_with_cancellation(async move {
            loop {
                match class_presence().await {
                    Ok(now) => {
                        presence.set(Some(now));
                        error.set(None);
                    }
                    Err(failure) => error.set(Some(failure.to_string())),
                }
                sleep(POLL_EVERY).await;
            }
        });
    });
    view! {
        <main class="present" data-testid="present-page">
            <JoinPanel presence=presence.read_only() />
            <CountsPanel presence=presence.read_only() error=error.read_only() />
            <section class="present-actions" aria-label="teacher's controls">
                <TeacherOnly teacher what="broadcast or change the generator" />
                <fieldset class="present-actions-controls" disabled=!teacher>
                    <BroadcastBox />
                    <RateBox presence />
                </fieldset>
            </section>
        </main>
    }
}

#[component]
fn JoinPanel(presence: ReadSignal<Option<ClassPresence>>) -> impl IntoView {
    let join = move || presence.with(|presence| presence.as_ref().map(|presence| presence.join.clone()));
    let url = move || join().map_or_else(|| "…".to_owned(), |join| join.url);
    let unreachable = move || join().is_some_and(|join| join.source == JoinUrlSource::LoopbackOnly);
    let source = move || join().map(|join| join.explain()).unwrap_or_default();
    view! {
        <section class="present-join" aria-label="join the lab">
            <h1>"Join the lab"</h1>
            // Served by the lab itself (the page's policy allows same-origin images); rendered with the page, so
            // it shows before the page's script has run.
            <img class="join-qr" data-testid="join-qr" src="/api/class/qr.svg" alt="QR code of the join link" />
            <p class="join-url" data-testid="join-url">{url}</p>
            <p class="join-source" class:warning=unreachable data-testid="join-source">{source}</p>
            <p class="join-hint">"Same network as this laptop · one lab tab each"</p>
        </section>
    }
}

#[component]
fn CountsPanel(presence: ReadSignal<Option<ClassPresence>>, error: ReadSignal<Option<String>>) -> impl IntoView {
    let pages = move || presence.with(|presence| presence.as_ref().map_or("–".to_owned(), |p| p.pages.to_string()));
    let on = move |transport: Transport| {
        presence.with(|presence| {
            presence
                .as_ref()
                .and_then(|presence| presence.transports.get(&transport))
                .map_or("–".to_owned(), |counted| counted.pages.to_string())
        })
    };
    view! {
        <section class="present-counts" aria-label="connected now">
            <h2>"Connected now"</h2>
            <p class="class-pages">
                <span class="count" data-testid="class-pages">{pages}</span>
                " lab pages"
            </p>
            <ul class="transport-counts">
                {Transport::ALL
                    .into_iter()
                    .map(|transport| view! {
                        <li class=format!("transport-count {}", transport.id()) data-lane=transport.id() data-testid=format!("class-count-{}", transport.id())>
                            <span class="count" data-testid="count">{move || on(transport)}</span>
                            <span class="name">{transport.title()}</span>
                        </li>
                    })
                    .collect_view()}
            </ul>
            <p class="poll-note" data-testid="class-poll-note">
                {format!(
                    "Polled from /api/class every second. A page counts on a transport while its connection is open; \
                     on short and long polling, while it asked within the last {PRESENCE_WINDOW_SECONDS} s."
                )}
            </p>
            <p class="error" role="alert" data-testid="class-error">{move || error.get()}</p>
        </section>
    }
}

/// The teacher's message: a `broadcast` event every lane of every student draws.
#[component]
fn BroadcastBox() -> impl IntoView {
    let draft = MessageDraft::new();
    let text = draft.text;
    let send = move |event| draft.submit(event, broadcast_message);
    view! {
        <form class="broadcast" on:submit=send>
            <label for="broadcast-input">"Broadcast to every student's lanes"</label>
            <span class="broadcast-row">
                <input
                    id="broadcast-input"
                    type="text"
                    data-testid="broadcast-input"
                    maxlength=MAX_MESSAGE_BYTES
                    placeholder="Watch event numbers arrive in each lane"
                    prop:value=move || text.get()
                    on:input:target=move |event| text.set(event.target().value())
                />
                <button type="submit" data-testid="broadcast-send">"Send"</button>
            </span>
            <output data-testid="broadcast-result">{move || draft.result_text("sent as event #")}</output>
        </form>
    }
}

/// The generator's rate as it is now (shared by everyone), with a few one-click rates.
#[component]
fn RateBox(presence: RwSignal<Option<ClassPresence>>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let rate = move || {
        presence.with(|presence| {
            presence.as_ref().map_or("–".to_owned(), |presence| {
                let generator = presence.generator;
                let paused = if generator.paused { " (paused)" } else { "" };
                format!("{} events/s{paused}", generator.rate_per_second)
            })
        })
    };
    let set_rate = move |rate_per_second: f64| {
        spawn_local(async move {
            let update = GeneratorUpdate { rate_per_second: Some(rate_per_second), ..Default::default() };
            match update_generator(update).await {
                Ok(applied) => {
                    presence.update(|presence| {
                        if let Some(presence) = presence {
                            presence.generator = applied;
                        }
                    });
                    error.set(None);
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
        });
    };
    view! {
        <div class="present-rate">
            <span class="label">"Generator"</span>
            <span class="rate" data-testid="present-rate">{rate}</span>
            <span class="quick-rates">
                {QUICK_RATES
                    .into_iter()
                    .map(|quick| view! {
                        <button type="button" data-testid=format!("present-rate-{quick}") on:click=move |_| set_rate(quick)>
                            {format!("{quick}/s")}
                        </button>
                    })
                    .collect_view()}
            </span>
            <span class="error" role="alert">{move || error.get()}</span>
        </div>
    }
}
