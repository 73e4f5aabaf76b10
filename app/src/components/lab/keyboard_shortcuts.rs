//! The lab's keyboard shortcuts: which key does what is plain Rust ([`shortcut_for`]); one window listener, removed
//! with the page, hands the result to the page.

use leptos::prelude::*;

use crate::components::common::theme::ThemeChoice;
use crate::components::context::{Inspection, KnobsDrawer, LaneToggles, ShownLanes};
use crate::components::lab::view_controls::ViewControl;
use crate::components::lessons::lesson_panel::LessonNavigation;
use protocol::Transport;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    TogglePause,
    Step,
    SlowMotion,
    Live,
    /// A lane, counted from 0 in page order.
    ToggleLane(usize),
    Theme,
    /// Opens or closes the knobs drawer.
    Knobs,
    /// The guided lesson's next or previous step (a lesson page only).
    LessonNext,
    LessonBack,
    Help,
    /// Closes what is open: the list of shortcuts, else the inspector.
    Close,
}

/// What had focus when a key went down: typing is never taken over, and Space still presses a focused button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTarget {
    /// A text field, a select, anything editable.
    Typing,
    /// A button, link, checkbox or summary, which Space and Enter activate.
    Control,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPress<'a> {
    /// `KeyboardEvent.key`.
    pub key: &'a str,
    /// Ctrl, Alt or Meta held: such combinations belong to the browser and the system. Shift is not among them,
    /// since `?` needs it on most layouts.
    pub with_modifier: bool,
    pub target: KeyTarget,
}

/// The keys, as the help panel and docs/src/guide/keyboard-and-display.md list them.
pub const SHORTCUTS: [(&str, &str); 11] = [
    ("p or Space", "pause or resume the view (traffic keeps being recorded)"),
    (". or →", "step: show the next arrival in any lane (pauses first)"),
    ("s", "slow motion: the view at ¼ speed, falling behind live"),
    ("l", "back to live"),
    ("1 2 3 4 5 6 7 8", "turn a lane off or on, in page order"),
    ("k", "open or close the knobs: generator, faults, polling, webhook receiver, MQTT"),
    ("t", "dark or light theme"),
    ("n", "a lesson's next step"),
    ("b", "a lesson's previous step"),
    ("?", "this list"),
    ("Esc", "close this list, or the inspector"),
];

pub fn shortcut_for(press: KeyPress) -> Option<Shortcut> {
    if press.with_modifier || press.target == KeyTarget::Typing {
        return None;
    }
    let shortcut = match press.key {
        " " if press.target == KeyTarget::Control => return None,
        "p" | "P" | " " => Shortcut::TogglePause,
        "." | "ArrowRight" => Shortcut::Step,
        "s" | "S" => Shortcut::SlowMotion,
        "l" | "L" => Shortcut::Live,
        "1" => Shortcut::ToggleLane(0),
        "2" => Shortcut::ToggleLane(1),
        "3" => Shortcut::ToggleLane(2),
        "4" => Shortcut::ToggleLane(3),
        "5" => Shortcut::ToggleLane(4),
        "6" => Shortcut::ToggleLane(5),
        "7" => Shortcut::ToggleLane(6),
        "8" => Shortcut::ToggleLane(7),
        "k" | "K" => Shortcut::Knobs,
        "t" | "T" => Shortcut::Theme,
        "n" | "N" => Shortcut::LessonNext,
        "b" | "B" => Shortcut::LessonBack,
        "?" => Shortcut::Help,
        "Escape" => Shortcut::Close,
        _ => return None,
    };
    Some(shortcut)
}

/// Listens for shortcuts on the whole window for as long as the calling component lives.
pub fn use_keyboard_shortcuts(on_shortcut: impl Fn(Shortcut) + 'static) {
    let handle = window_event_listener(leptos::ev::keydown, move |event| {
        let with_modifier = event.ctrl_key() || event.alt_key() || event.meta_key();
        let key = event.key();
        let target = key_target(event.target());
        if let Some(shortcut) = shortcut_for(KeyPress { key: &key, with_modifier, target }) {
            // Space would scroll the page and → scroll it sideways.
            event.prevent_default();
            on_shortcut(shortcut);
        }
    });
    on_cleanup(move || handle.remove());
}

/// What the lab page's shortcuts act on.
pub struct ShortcutTargets {
    pub view: ViewControl,
    pub toggles: LaneToggles,
    pub help_open: RwSignal<bool>,
    pub knobs: KnobsDrawer,
    pub shown: ShownLanes,
    /// Provided by the app around every page (absent only when a page is rendered on its own).
    pub theme: Option<ThemeChoice>,
    /// While a saved trace is replayed the live view and lanes are set aside; only theme and help keys apply.
    pub replaying: Memo<bool>,
    /// The lesson's steps; on the lab without a lesson there is nowhere to go.
    pub lesson: LessonNavigation,
    /// The arrow open in the inspector, which Escape closes.
    pub inspection: Inspection,
}

impl ShortcutTargets {
    pub fn run(&self, shortcut: Shortcut) {
        let live_only = !self.replaying.get_untracked();
        match shortcut {
            Shortcut::TogglePause if live_only => self.view.toggle_pause(),
            Shortcut::Step if live_only => self.view.step(),
            Shortcut::SlowMotion if live_only => self.view.slow_motion(),
            Shortcut::Live if live_only => self.view.live(),
            Shortcut::ToggleLane(index) if live_only => {
                if let Some(&transport) = Transport::ALL.get(index) {
                    let toggle = self.toggles.of(transport);
                    toggle.update(|on| *on = !*on);
                    self.shown.switched(transport, toggle.get_untracked());
                }
            }
            Shortcut::Knobs if live_only => self.knobs.0.update(|open| *open = !*open),
            Shortcut::Theme => {
                if let Some(theme) = self.theme {
                    theme.toggle();
                }
            }
            Shortcut::LessonNext => self.lesson.next(),
            Shortcut::LessonBack => self.lesson.back(),
            Shortcut::Help => self.help_open.update(|open| *open = !*open),
            // The uppermost first: the list of shortcuts over everything, then the inspector over the lanes.
            Shortcut::Close if self.help_open.get_untracked() => self.help_open.set(false),
            Shortcut::Close => self.inspection.0.set(None),
            _ => {}
        }
    }
}

fn key_target(target: Option<web_sys::EventTarget>) -> KeyTarget {
    use wasm_bindgen::JsCast;
    let Some(element) = target.and_then(|target| target.dyn_into::<web_sys::HtmlElement>().ok()) else {
        return KeyTarget::Other;
    };
    if element.is_content_editable() {
        return KeyTarget::Typing;
    }
    match element.tag_name().as_str() {
        "TEXTAREA" | "SELECT" => KeyTarget::Typing,
        "INPUT" => {
            let kind = element.get_attribute("type").unwrap_or_default().to_ascii_lowercase();
            if ["checkbox", "radio", "button", "submit", "reset"].contains(&kind.as_str()) {
                KeyTarget::Control
            } else {
                KeyTarget::Typing
            }
        }
        "BUTTON" | "A" | "SUMMARY" => KeyTarget::Control,
        _ => KeyTarget::Other,
    }
}

/// The list of shortcuts, opened with `?` or its button and closed with Escape.
#[component]
pub fn ShortcutsHelp(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <section
            class="shortcuts-help"
            data-testid="shortcuts-help"
            role="dialog"
            aria-label="Keyboard shortcuts"
            hidden=move || !open.get()
        >
            <h2>"Keyboard shortcuts"</h2>
            <dl>
                {SHORTCUTS
                    .into_iter()
                    .map(|(keys, what)| view! { <dt><kbd>{keys}</kbd></dt><dd>{what}</dd> })
                    .collect_view()}
            </dl>
            <p class="shortcuts-note">"Not while typing in a text box; Ctrl, Alt and ⌘ combinations are left alone."</p>
            <button type="button" data-testid="shortcuts-close" on:click=move |_| open.set(false)>"Close"</button>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(key: &str) -> Option<Shortcut> {
        shortcut_for(KeyPress { key, with_modifier: false, target: KeyTarget::Other })
    }

    #[test]
    fn keys_map_to_their_actions() {
        assert_eq!(press("p"), Some(Shortcut::TogglePause));
        assert_eq!(press(" "), Some(Shortcut::TogglePause));
        assert_eq!(press("."), Some(Shortcut::Step));
        assert_eq!(press("ArrowRight"), Some(Shortcut::Step));
        assert_eq!(press("s"), Some(Shortcut::SlowMotion));
        assert_eq!(press("l"), Some(Shortcut::Live));
        assert_eq!(press("1"), Some(Shortcut::ToggleLane(0)));
        assert_eq!(press("4"), Some(Shortcut::ToggleLane(3)));
        assert_eq!(press("5"), Some(Shortcut::ToggleLane(4)));
        assert_eq!(press("6"), Some(Shortcut::ToggleLane(5)));
        assert_eq!(press("7"), Some(Shortcut::ToggleLane(6)));
        assert_eq!(press("8"), Some(Shortcut::ToggleLane(7)));
        assert_eq!(press("9"), None);
        assert_eq!(press("t"), Some(Shortcut::Theme));
        assert_eq!(press("k"), Some(Shortcut::Knobs));
        assert_eq!(press("n"), Some(Shortcut::LessonNext));
        assert_eq!(press("b"), Some(Shortcut::LessonBack));
        assert_eq!(press("?"), Some(Shortcut::Help));
        assert_eq!(press("Escape"), Some(Shortcut::Close));
        assert_eq!(press("x"), None);
    }

    #[test]
    fn typing_and_modifier_combinations_are_left_alone() {
        for key in ["p", "1", " ", "?", "Escape"] {
            assert_eq!(shortcut_for(KeyPress { key, with_modifier: false, target: KeyTarget::Typing }), None);
        }
        // Ctrl+P prints, Ctrl+1 picks a tab, ⌘+L goes to the address bar.
        for key in ["p", "1", "l", "t"] {
            assert_eq!(shortcut_for(KeyPress { key, with_modifier: true, target: KeyTarget::Other }), None);
        }
    }

    #[test]
    fn space_still_presses_a_focused_button() {
        assert_eq!(shortcut_for(KeyPress { key: " ", with_modifier: false, target: KeyTarget::Control }), None);
        assert_eq!(
            shortcut_for(KeyPress { key: "p", with_modifier: false, target: KeyTarget::Control }),
            Some(Shortcut::TogglePause)
        );
    }

    #[test]
    fn every_listed_key_does_something() {
        for (keys, _) in SHORTCUTS {
            for key in keys.split(' ').filter(|word| *word != "or") {
                let key = match key {
                    "→" => "ArrowRight",
                    "Space" => " ",
                    "Esc" => "Escape",
                    other => other,
                };
                assert!(press(key).is_some(), "{key} is listed but does nothing");
            }
        }
    }
}
