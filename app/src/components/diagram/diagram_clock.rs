//! The diagram's "now", advanced once per animation frame so all lanes scroll together and smoothly.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::diagram::view_clock::ViewMode;
use crate::diagram::Millis;

/// An animation-frame callback that holds itself, so it can ask for the next frame.
type SelfSchedulingFrame = Rc<RefCell<Option<Closure<dyn FnMut()>>>>;

/// Browser wall-clock milliseconds, updated every frame while `held` is false; 0 during server rendering. Holding
/// the view still lets a learner point at an arrow: a moving target cannot be clicked.
pub fn use_diagram_clock(held: Signal<bool>) -> ReadSignal<Millis> {
    use_view_clock(held, Signal::stored(ViewMode::Live))
}

/// The instant at the diagram's bottom edge as `mode` maps the wall clock (live, paused or slowed), updated every
/// frame while `held` is false.
pub fn use_view_clock(held: Signal<bool>, mode: Signal<ViewMode>) -> ReadSignal<Millis> {
    let (now, set_now) = signal(0.0);
    // Everything browser-bound is made inside the effect, which runs only in the browser.
    Effect::new(move |_| {
        let running = Arc::new(AtomicBool::new(true));
        let frame: SelfSchedulingFrame = Rc::new(RefCell::new(None));
        let next_frame = frame.clone();
        let still_running = running.clone();
        *frame.borrow_mut() = Some(Closure::new(move || {
            if !still_running.load(Ordering::Relaxed) {
                // Breaks the closure's reference to itself so it can be freed.
                next_frame.borrow_mut().take();
                return;
            }
            if !held.get_untracked() {
                let shown = mode.get_untracked().view_time(crate::client::now());
                // A paused view stays the same value: nothing downstream needs to hear about it every frame.
                if shown != now.get_untracked() {
                    set_now.set(shown);
                }
            }
            if let Some(callback) = next_frame.borrow().as_ref() {
                request_frame(callback);
            }
        }));
        if let Some(callback) = frame.borrow().as_ref() {
            request_frame(callback);
        }
        on_cleanup(move || running.store(false, Ordering::Relaxed));
    });
    now
}

fn request_frame(callback: &Closure<dyn FnMut()>) {
    if let Some(window) = web_sys::window() {
        let _ = window.request_animation_frame(callback.as_ref().unchecked_ref());
    }
}

/// Local time's offset from UTC, for wall-clock labels. Browser only.
pub fn utc_offset_minutes() -> i32 {
    // JavaScript reports minutes *behind* UTC, hence the sign.
    -(js_sys::Date::new_0().get_timezone_offset() as i32)
}
