//! Carries [`crate::tab_share`]'s messages between this browser's lab tabs over a `BroadcastChannel`, and runs its
//! counts: one as the page opens, then one every few seconds, since a tab that crashed said no goodbye. The lanes
//! start at once and a tab that finds the connections taken closes its held ones after its first count (a third of
//! a second), so a lone tab, the usual case, never waits.

use std::pin::pin;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::stream::FusedStream;
use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local_scoped_with_cancellation;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

use super::browser_events::Listeners;
use crate::tab_share::{TabShare, TabShareStatus};
use protocol::{ClientId, TabId, TabMessage};

/// Every lab page of this origin in this browser listens here.
const CHANNEL_NAME: &str = "transport-lab-tabs";
/// How long a count waits for the other tabs' answers (a busy or hidden tab answers later; the next count hears it).
const COUNT_WINDOW: Duration = Duration::from_millis(300);
const RECOUNT_EVERY: Duration = Duration::from_secs(5);

enum Command {
    Message(String),
    TakeOver,
}

/// What the page needs: the tab's standing, which held lanes must wait, and the "take over" button's action.
#[derive(Clone, Copy)]
pub struct TabShareHandle {
    pub status: ReadSignal<TabShareStatus>,
    pub held_back: Signal<bool>,
    commands: StoredValue<mpsc::UnboundedSender<Command>>,
}

impl TabShareHandle {
    /// Runs this tab's held lanes; the tab that has held longest pauses instead.
    pub fn take_over(&self) {
        self.commands.with_value(|commands| {
            // Only fails once the page is going away.
            let _ = commands.unbounded_send(Command::TakeOver);
        });
    }
}

/// Starts sharing this browser's connections with its other lab tabs (browser only: the work runs in an effect).
pub fn use_tab_share(page: ClientId) -> TabShareHandle {
    let status = RwSignal::new(TabShareStatus::Checking);
    let (commands, receiver) = mpsc::unbounded();
    let receiver = StoredValue::new_local(Some(receiver));
    let listener_commands = commands.clone();
    Effect::new(move |_| {
        let Some(receiver) = receiver.try_update_value(Option::take).flatten() else { return };
        let page = page.clone();
        let commands = listener_commands.clone();
        spawn_local_scoped_with_cancellation(coordinate(page, commands, receiver, status));
    });
    // A tab runs while it counts (a lone tab, the usual case, starts at once); only a tab that finds the
    // connections taken closes its held lanes.
    let held_back = Memo::new(move |_| matches!(status.get(), TabShareStatus::Paused { .. }));
    TabShareHandle { status: status.read_only(), held_back: held_back.into(), commands: StoredValue::new(commands) }
}

async fn coordinate(
    page: ClientId,
    commands: mpsc::UnboundedSender<Command>,
    mut receiver: mpsc::UnboundedReceiver<Command>,
    status: RwSignal<TabShareStatus>,
) {
    let Ok(channel) = BroadcastChannel::new(CHANNEL_NAME) else {
        // No way to find the other tabs (a very old browser): run, as the lab did before tabs shared.
        status.set(TabShareStatus::Holding { other_holders: 0 });
        return;
    };
    let mut listeners = Listeners::new(&channel);
    listeners.forward("message", &commands, |event| Command::Message(message_text(event)));
    let mut share = TabShare::new(TabId { opened_at: js_sys::Date::now() as u64, page: page.to_string() });
    let _goodbye = Goodbye::new(&channel, &share.leave());
    let post = |messages: Vec<TabMessage>| {
        for message in messages {
            if let Ok(text) = serde_json::to_string(&message) {
                let _ = channel.post_message(&JsValue::from_str(&text));
            }
        }
    };
    // The commands end only when the page's lab is torn down, which also cancels this task.
    while !receiver.is_terminated() {
        post(vec![share.start_count()]);
        // Answers (and any other news) until the window closes, then the decision.
        let window_ends = js_sys::Date::now() + COUNT_WINDOW.as_millis() as f64;
        while let Some(command) = next_command(&mut receiver, window_ends).await {
            post(handle(&mut share, command));
        }
        post(share.finish_count());
        publish(status, share.status());
        let recount_at = js_sys::Date::now() + RECOUNT_EVERY.as_millis() as f64;
        while let Some(command) = next_command(&mut receiver, recount_at).await {
            post(handle(&mut share, command));
            publish(status, share.status());
        }
    }
}

fn handle(share: &mut TabShare, command: Command) -> Vec<TabMessage> {
    match command {
        Command::Message(text) => match serde_json::from_str(&text) {
            Ok(message) => share.receive(message),
            Err(_) => Vec::new(),
        },
        Command::TakeOver => share.take_over(),
    }
}

/// The next command, or `None` once the clock passes `until` (browser milliseconds) or the page is going away.
async fn next_command(receiver: &mut mpsc::UnboundedReceiver<Command>, until: f64) -> Option<Command> {
    let left = until - js_sys::Date::now();
    if left <= 0.0 {
        return None;
    }
    let next = pin!(receiver.next());
    let timer = pin!(gloo_timers::future::sleep(Duration::from_millis(left as u64)));
    match select(next, timer).await {
        Either::Left((command, _)) => command,
        Either::Right(_) => None,
    }
}

fn publish(status: RwSignal<TabShareStatus>, now: TabShareStatus) {
    if status.get_untracked() != now {
        status.set(now);
    }
}

fn message_text(event: web_sys::Event) -> String {
    event.dyn_into::<MessageEvent>().ok().and_then(|message| message.data().as_string()).unwrap_or_default()
}

/// Tells the other tabs this one is gone, from `pagehide`: sent at once, since no task runs after it. Said again
/// when dropped, in case the page's lab is torn down without the page going away.
struct Goodbye {
    channel: BroadcastChannel,
    text: String,
    listener: Closure<dyn FnMut(web_sys::Event)>,
}

impl Goodbye {
    fn new(channel: &BroadcastChannel, message: &TabMessage) -> Self {
        let text = serde_json::to_string(message).unwrap_or_default();
        let listener = {
            let (channel, text) = (channel.clone(), text.clone());
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                let _ = channel.post_message(&JsValue::from_str(&text));
            })
        };
        if let Some(window) = web_sys::window() {
            let _ = window.add_event_listener_with_callback("pagehide", listener.as_ref().unchecked_ref());
        }
        Self { channel: channel.clone(), text, listener }
    }
}

impl Drop for Goodbye {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            let _ = window.remove_event_listener_with_callback("pagehide", self.listener.as_ref().unchecked_ref());
        }
        let _ = self.channel.post_message(&JsValue::from_str(&self.text));
        self.channel.close();
    }
}
