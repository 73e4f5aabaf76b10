//! The teacher's newest broadcast, shown once above the lanes (each lane also draws it as an event arrow).

use leptos::prelude::*;

use crate::client::TeacherMessage;

#[component]
pub fn TeacherMessageBanner(message: ReadSignal<Option<TeacherMessage>>) -> impl IntoView {
    move || {
        message.get().map(|message| {
            view! {
                <p class="teacher-message" role="status" data-testid="teacher-message">
                    <span class="from">"From the teacher"</span>
                    // Text, never markup: Leptos escapes it.
                    <span data-testid="teacher-message-text">{message.text}</span>
                    <span class="seq">{format!("event #{}, in every lane below", message.seq)}</span>
                </p>
            }
        })
    }
}
