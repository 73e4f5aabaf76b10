//! The two lines above the lanes that say where their numbers come from: the clock offset latencies are
//! corrected by, and what the side channel carrying the measured bytes cost.

use leptos::prelude::*;

use crate::client::SideChannelCost;
use crate::clock_offset::ClockOffset;

#[component]
pub fn ClockOffsetNote(clock_offset: ReadSignal<Option<ClockOffset>>) -> impl IntoView {
    let text = move || {
        match clock_offset.get() {
        None => "Clock offset: measuring (NTP-style exchanges over /api/time)…".to_owned(),
        Some(clock) => format!(
            "Clock offset (server − browser): {:+.1} ms ± {:.1} ms, from the {} quickest of {} exchanges over /api/time{}",
            clock.offset_ms,
            clock.uncertainty_ms,
            clock.kept,
            clock.samples,
            if clock.correction_ms() == 0.0 {
                ". Within its uncertainty of zero, so latencies are not corrected (one clock, or clocks too close to tell apart)."
            } else {
                ". Every latency below is corrected by it."
            }
        ),
    }
    };
    view! { <p class="clock-offset" data-testid="clock-offset">{text}</p> }
}

#[component]
pub fn SideChannelNote(cost: ReadSignal<SideChannelCost>) -> impl IntoView {
    let text = move || {
        let cost = cost.get();
        let dropped = if cost.records_dropped > 0 {
            format!(" The server had already dropped {} old records for this page.", cost.records_dropped)
        } else {
            String::new()
        };
        format!("{} requests, {} B so far, counted apart from every lane.{dropped}", cost.requests, cost.body_bytes)
    };
    view! {
        <p class="side-channel" data-testid="side-channel">
            "Bytes on the arrows were measured at the server's sockets and fetched from /api/wire: "
            {text}
        </p>
    }
}
