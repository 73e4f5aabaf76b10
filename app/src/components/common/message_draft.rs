use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client::ClientError;
use protocol::PublishAck;

/// A message being typed and what became of the last one sent: the state both the lab's message box and the
/// presenter's broadcast box keep. Each box keeps its own markup and its own endpoint.
#[derive(Clone, Copy)]
pub struct MessageDraft {
    pub text: RwSignal<String>,
    /// The sequence number the last message got, or why it was refused.
    result: RwSignal<Option<Result<u64, String>>>,
}

impl Default for MessageDraft {
    fn default() -> Self {
        Self::new()
    }
}

impl MessageDraft {
    pub fn new() -> Self {
        Self { text: RwSignal::new(String::new()), result: RwSignal::new(None) }
    }

    /// Sends the draft with `send`; on success the box empties and shows the event's number, on failure it keeps
    /// the text and shows the reason.
    pub fn submit<Sent>(self, event: leptos::ev::SubmitEvent, send: impl FnOnce(String) -> Sent + 'static)
    where
        Sent: Future<Output = Result<PublishAck, ClientError>> + 'static,
    {
        event.prevent_default();
        // What the box shows is what is sent. Text typed before the page hydrated is in the input but was never
        // seen by `on:input`, so the signal alone would send an empty message.
        let message = typed_text(&event).unwrap_or_else(|| self.text.get_untracked());
        self.text.set(message.clone());
        spawn_local(async move {
            match send(message).await {
                Ok(ack) => {
                    self.result.set(Some(Ok(ack.seq)));
                    self.text.set(String::new());
                }
                Err(error) => self.result.set(Some(Err(error.to_string()))),
            }
        });
    }

    /// `sent_as` followed by the sequence number, the refusal, or nothing yet.
    pub fn result_text(self, sent_as: &'static str) -> String {
        match self.result.get() {
            Some(Ok(seq)) => format!("{sent_as}{seq}"),
            Some(Err(error)) => error,
            None => String::new(),
        }
    }
}

/// The value of the submitted form's text input, read from the page.
fn typed_text(event: &leptos::ev::SubmitEvent) -> Option<String> {
    use wasm_bindgen::JsCast;
    let form = event.target()?.dyn_into::<web_sys::Element>().ok()?;
    let input = form.query_selector("input[type=text]").ok()??;
    Some(input.dyn_into::<web_sys::HtmlInputElement>().ok()?.value())
}
