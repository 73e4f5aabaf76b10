//! Says, above the lanes, why this tab's long polling, SSE and HTTP streaming are paused (this browser's other lab tabs hold the
//! connections it allows per server) and offers to run them here instead.

use leptos::prelude::*;

use crate::client::TabShareHandle;
use crate::tab_share::{PauseReason, TabShareStatus, CONNECTIONS_HELD_PER_TAB, CONNECTIONS_PER_SERVER};

#[component]
pub fn TabLimitNotice(tab_share: TabShareHandle) -> impl IntoView {
    let limit = format!(
        "A browser opens at most {CONNECTIONS_PER_SERVER} HTTP/1.1 connections to one server, shared by all its \
         tabs, and each lab tab keeps up to {CONNECTIONS_HELD_PER_TAB} of them open for as long as it runs (its long \
         poll, its SSE stream, its HTTP stream and its gRPC-web call)."
    );
    move || match tab_share.status.get() {
        TabShareStatus::Paused { holders, reason } => {
            let what_happened = match reason {
                PauseReason::Crowded => format!(
                    "{holders} other lab tab{} of this browser already {} theirs: one more would leave no connection \
                     for short polls, the measured-bytes side channel or loading a page, and every tab would stall \
                     without a word.",
                    if holders == 1 { "" } else { "s" },
                    if holders == 1 { "holds" } else { "hold" }
                ),
                PauseReason::TakenOver => "Another lab tab of this browser took over this tab's share.".to_owned(),
            };
            view! {
                <aside class="tab-limit" role="alert" data-testid="tab-limit" data-reason=format!("{reason:?}")>
                    <strong>"Long polling, SSE and HTTP streaming are paused in this tab. "</strong>
                    {limit.clone()} " " {what_happened}
                    " Short polling and WebSocket (not counted among the "{CONNECTIONS_PER_SERVER}") keep running here. "
                    "Close another lab tab and this one resumes by itself."
                    <button type="button" data-testid="tab-take-over" on:click=move |_| tab_share.take_over()>
                        "Run them in this tab (pauses the lab tab that has held them longest)"
                    </button>
                </aside>
            }
            .into_any()
        }
        TabShareStatus::Holding { other_holders } if other_holders > 0 => view! {
            <p class="tab-share" data-testid="tab-share">
                {format!(
                    "{} {other_holders} other lab tab{} of this browser run{} theirs too; a further tab will pause its \
                     long polling, SSE and HTTP streaming and say so.",
                    limit.clone(),
                    if other_holders == 1 { "" } else { "s" },
                    if other_holders == 1 { "s" } else { "" },
                )}
            </p>
        }
        .into_any(),
        TabShareStatus::Holding { .. } | TabShareStatus::Checking => ().into_any(),
    }
}
