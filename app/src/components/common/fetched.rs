//! A page's one fetch, started once the page runs in the browser.

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client::ClientError;

/// What `load` answered: `None` while it runs, then its value or its error as text. A plain task rather than a
/// Resource inside <Transition>: the suspense machinery added tens of KB of wasm that every page would download.
pub fn fetched<T, F>(load: impl Fn() -> F + 'static) -> RwSignal<Option<Result<T, String>>>
where
    T: Send + Sync + 'static,
    F: Future<Output = Result<T, ClientError>> + 'static,
{
    let outcome = RwSignal::new(None);
    Effect::new(move |_| {
        let answer = load();
        spawn_local(async move { outcome.set(Some(answer.await.map_err(|error| error.to_string()))) });
    });
    outcome
}
