//! Runs a lane's connection task while its toggle is on, and stops it (closing whatever it holds) the moment the
//! toggle goes off or the page goes away.

use std::future::Future;

use futures::channel::oneshot;
use futures::future::{select, Either};
use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use web_sys::{AbortController, AbortSignal};

use super::{LaneRecorder, LinkStatus};
use crate::diagram::NoteTone;

/// A lane's connection loop as a wasm chunk gives it back: a `#[lazy]` function named `*_loop_code` returns one.
/// The lanes that start switched off (webhooks, MQTT, gRPC) fetch theirs when first switched on, so a page that
/// never turns them on never downloads their clients' code.
pub type LaneLoop<Args> = fn(Args) -> futures::future::LocalBoxFuture<'static, ()>;

/// Whatever stops the running task: aborts its in-flight fetch and drops its future (which closes sockets and
/// event sources it owns).
struct Stopper {
    abort: Option<AbortController>,
    _cancel: oneshot::Sender<()>,
}

impl Drop for Stopper {
    fn drop(&mut self) {
        if let Some(abort) = &self.abort {
            abort.abort();
        }
    }
}

/// Starts `task` whenever `enabled` becomes true (and nothing holds it back) and stops it when it becomes false,
/// when it is held back, or when the lane goes away. A client-side drop (the lane's `browser_drop` trigger) stops
/// the task and starts it afresh: the new connection resumes from the lane's cursor like any reconnect, and so does
/// a lane that was held back and is let go.
pub fn run_while_enabled<F, Fut>(recorder: LaneRecorder, enabled: Signal<bool>, held_back: Signal<bool>, task: F)
where
    F: Fn(Option<AbortSignal>) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    // Effects run only in the browser, so everything browser-bound is created here, and the cleanup registered
    // inside the effect runs before its next run and when the lane is disposed: on the browser's one thread.
    Effect::new(move |was_running: Option<bool>| {
        let on = enabled.get();
        let held = held_back.get();
        recorder.track_browser_drops();
        if on && !held {
            if was_running == Some(true) {
                recorder.connection_lost(
                    "browser dropped the connection".into(),
                    "closed by this page (client-side fault); reconnecting from the cursor".into(),
                );
            }
            let abort = AbortController::new().ok();
            let signal = abort.as_ref().map(AbortController::signal);
            let (cancel, cancelled) = oneshot::channel::<()>();
            let work = Box::pin(task(signal));
            spawn_local(async move {
                // Either the task ends by itself or the stopper is dropped, which drops the task. The cancel is polled
                // first: stopping also aborts the in-flight fetch, and a task polled after that would take the abort
                // for a network failure (a "long poll failed" note, a back-off, a lane left "retrying" while off).
                if let Either::Left(_) = select(cancelled, work).await {}
            });
            let stopper = SendWrapper::new(Stopper { abort, _cancel: cancel });
            on_cleanup(move || drop(stopper));
        } else if on {
            recorder.set_status(LinkStatus::HeldBack);
            if was_running == Some(true) {
                recorder.note(
                    NoteTone::Warning,
                    "paused: connection limit".into(),
                    "other lab tabs of this browser hold the connections it allows per server; closed by this page \
                     (see the note above the lanes)"
                        .into(),
                );
            }
        } else {
            recorder.set_status(LinkStatus::Off);
            if was_running == Some(true) {
                recorder.note(NoteTone::Info, "lane turned off".into(), "connection closed by the browser".into());
            }
        }
        on && !held
    });
}
