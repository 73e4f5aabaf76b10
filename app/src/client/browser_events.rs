//! Bridges DOM events (from `EventSource` and `WebSocket`) into a channel an async task can read, and removes the
//! listeners when dropped so no callback outlives the task that owns it.

use futures::channel::mpsc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::EventTarget;

type Listener = Closure<dyn FnMut(web_sys::Event)>;

pub struct Listeners {
    target: EventTarget,
    installed: Vec<(&'static str, Listener)>,
}

impl Listeners {
    pub fn new(target: &EventTarget) -> Self {
        Self { target: target.clone(), installed: Vec::new() }
    }

    /// Forwards every `name` event, mapped by `map`, into `sink`.
    pub fn forward<T: 'static>(
        &mut self,
        name: &'static str,
        sink: &mpsc::UnboundedSender<T>,
        map: impl Fn(web_sys::Event) -> T + 'static,
    ) {
        let sink = sink.clone();
        let closure = Listener::new(move |event: web_sys::Event| {
            // The receiver is gone only when the task is being torn down; nothing is left to tell.
            let _ = sink.unbounded_send(map(event));
        });
        if self.target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref()).is_ok() {
            self.installed.push((name, closure));
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for (name, closure) in &self.installed {
            let _ = self.target.remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        }
    }
}
