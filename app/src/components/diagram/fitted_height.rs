//! The diagrams as tall as the window has room for below where they start, so the first screen is mostly diagram
//! on a projector, a laptop or a phone, whatever is above the lanes and however many are shown (a wider lane is a
//! taller drawing at the same scale). The arithmetic is plain Rust ([`DiagramLayout::fitted_height`]); this reads
//! the page.

use leptos::prelude::*;

use crate::diagram::DiagramLayout;

/// Refits after the page's layout settles whenever `changes` reads something new (lanes shown, a drawer opened) and
/// whenever the window is resized; and once a second, for what moves the lanes without telling (a banner from the
/// teacher, a folded text opened, a font arriving). One measurement a second costs nothing beside the drawing.
pub fn use_fitted_height(layout: RwSignal<DiagramLayout>, changes: impl Fn() + 'static) {
    Effect::new(move |_| {
        changes();
        request_animation_frame(move || fit(layout));
    });
    let resized = window_event_listener(leptos::ev::resize, move |_| request_animation_frame(move || fit(layout)));
    on_cleanup(move || resized.remove());
    // In an effect, which runs in the browser only: there is no timer to set while the server renders the page.
    Effect::new(move |_| {
        let ticking = set_interval_with_handle(move || fit(layout), std::time::Duration::from_secs(1)).ok();
        on_cleanup(move || {
            if let Some(ticking) = ticking {
                ticking.clear();
            }
        });
    });
}

fn fit(layout: RwSignal<DiagramLayout>) {
    let Some(window) = web_sys::window() else { return };
    let Some(diagram) = window
        .document()
        .and_then(|document| document.query_selector("section.lane:not([hidden]) svg.sequence-diagram").ok().flatten())
    else {
        return;
    };
    let Some((top, width)) = bounds(&diagram) else { return };
    let number = |value: Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>| value.ok().and_then(|v| v.as_f64());
    let (Some(viewport), Some(scrolled)) = (number(window.inner_height()), window.scroll_y().ok()) else { return };
    let top_on_page = top + scrolled;
    // Paused or slowed, a sentence stands over the bottom of the window (`view-state`), where the newest arrival
    // is drawn: the one Step has just shown. The drawing ends above it instead.
    let covered = window
        .document()
        .and_then(|document| document.query_selector(".view-state.paused, .view-state.slow").ok().flatten())
        .and_then(|sentence| bounds(&sentence))
        .map_or(0.0, |(sentence_top, _)| (viewport - sentence_top + 8.0).max(0.0));
    // Far down the page (a phone, a lesson above the lanes) the learner scrolls to the diagrams anyway: then they
    // fill most of the window. The few pixels kept free show that the lane's figures follow.
    let room = if top_on_page < viewport * 0.6 { viewport - top_on_page - 12.0 } else { viewport * 0.8 } - covered;
    let fitted = layout.with_untracked(|layout| layout.fitted_height(room, width));
    if layout.with_untracked(|layout| layout.height != fitted) {
        layout.update(|layout| layout.height = fitted);
    }
}

/// The element's top in the window and its width, in CSS pixels (`getBoundingClientRect`, reached through
/// `js_sys` so no more of `web_sys` is compiled for it).
pub fn bounds(element: &web_sys::Element) -> Option<(f64, f64)> {
    use wasm_bindgen::JsCast;
    let method = js_sys::Reflect::get(element, &"getBoundingClientRect".into()).ok()?;
    let rect = method.dyn_into::<js_sys::Function>().ok()?.call0(element).ok()?;
    let read = |name: &str| js_sys::Reflect::get(&rect, &name.into()).ok()?.as_f64();
    Some((read("top")?, read("width")?))
}
