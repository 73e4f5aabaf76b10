//! Light and dark themes. With no choice made the stylesheet follows the system's `prefers-color-scheme`; a choice
//! is put on `<html data-theme>` and remembered in a cookie, which the server reads to render that attribute, so
//! the first paint has the right colours without an inline script (the page's policy forbids one).

use leptos::prelude::*;

use protocol::Theme;

/// The reader's theme: what they chose, if anything, and what their system prefers.
#[derive(Clone, Copy)]
pub struct ThemeChoice {
    chosen: RwSignal<Option<Theme>>,
    system_prefers_dark: RwSignal<bool>,
}

impl ThemeChoice {
    /// On the server, the choice in the request's cookie (put in context by the server); in the browser, the one
    /// the server rendered onto `<html>`, so both render the same toggle.
    pub fn provide() -> ThemeChoice {
        let choice = ThemeChoice {
            chosen: RwSignal::new(use_context::<Theme>().or_else(theme_on_page)),
            system_prefers_dark: RwSignal::new(false),
        };
        // After hydration: the server cannot know the system's preference, only the browser can.
        Effect::new(move |_| choice.system_prefers_dark.set(system_prefers_dark()));
        provide_context(choice);
        choice
    }

    pub fn shown(&self) -> Theme {
        self.chosen.get().unwrap_or(if self.system_prefers_dark.get() { Theme::Dark } else { Theme::Light })
    }

    /// Switches to the other theme and remembers it. Browser only.
    pub fn toggle(&self) {
        let next = self.shown().other();
        self.chosen.set(Some(next));
        apply(next);
    }
}

/// The toggle in the site navigation.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let choice = expect_context::<ThemeChoice>();
    let dark = move || choice.shown() == Theme::Dark;
    view! {
        <button
            type="button"
            class="theme-toggle"
            data-testid="theme-toggle"
            aria-pressed=move || dark().to_string()
            title="Dark or light colours, remembered on this browser (shortcut: t)"
            on:click=move |_| choice.toggle()
        >
            "Dark theme"
        </button>
    }
}

fn theme_on_page() -> Option<Theme> {
    if !cfg!(target_arch = "wasm32") {
        return None;
    }
    let root = web_sys::window()?.document()?.document_element()?;
    Theme::from_id(&root.get_attribute("data-theme")?)
}

fn system_prefers_dark() -> bool {
    web_sys::window()
        .and_then(|window| window.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|query| query.matches())
}

fn apply(theme: Theme) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|window| window.document()) else { return };
    if let Some(root) = document.document_element() {
        let _ = root.set_attribute("data-theme", theme.id());
    }
    if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
        let _ = html.set_cookie(&theme.cookie_assignment());
    }
}

#[cfg(test)]
mod tests {
    //! The stylesheet's palettes, read as a browser would not: to check their contrast before anyone squints.

    use std::collections::HashMap;

    const STYLESHEET: &str = include_str!("../../../../style/main.css");

    /// The `--name: #rrggbb;` declarations of the block after `marker`.
    fn palette(marker: &str) -> HashMap<String, String> {
        let start = STYLESHEET.find(marker).unwrap_or_else(|| panic!("no {marker} in the stylesheet"));
        let block = &STYLESHEET[start..];
        let block = &block[block.find('{').unwrap()..];
        let block = &block[..block.find('}').unwrap()];
        block
            .lines()
            .filter_map(|line| line.trim().strip_prefix("--")?.strip_suffix(';')?.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect()
    }

    /// WCAG 2 relative luminance of `#rrggbb`.
    fn luminance(hex: &str) -> f64 {
        let channel = |at: usize| {
            let value = f64::from(u8::from_str_radix(&hex[at..at + 2], 16).unwrap()) / 255.0;
            if value <= 0.039_28 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (a, b) = (luminance(a), luminance(b));
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    const TEXT: [&str; 9] = ["fg", "muted", "link", "request", "response", "event", "warning", "error", "highlight"];
    const GROUNDS: [&str; 9] = [
        "bg",
        "control-bg",
        "panel",
        "diagram-bg",
        "lifeline-name-bg",
        "replay-bg",
        "replay-diagram-bg",
        "teacher-bg",
        "tab-limit-bg",
    ];

    #[test]
    fn both_palettes_reach_wcag_aa() {
        for marker in ["/* palette: light */", "/* palette: dark (chosen) */"] {
            let colours = palette(marker);
            let colour = |name: &str| colours.get(name).unwrap_or_else(|| panic!("{marker} lacks --{name}"));
            // Each transport's colour names it in text (the lane strip, the figures' columns) as well as marks.
            let lane_colours: Vec<String> =
                protocol::Transport::ALL.iter().map(|transport| format!("lane-{}", transport.id())).collect();
            for ground in GROUNDS {
                for text in TEXT.iter().copied().chain(lane_colours.iter().map(String::as_str)) {
                    let ratio = contrast(colour(text), colour(ground));
                    assert!(ratio >= 4.5, "{marker}: --{text} on --{ground} is {ratio:.2}:1, under 4.5:1");
                }
            }
            // Non-text marks need 3:1 (WCAG 1.4.11): the lifelines and the figures' bars.
            for (mark, ground) in [("lifeline", "diagram-bg"), ("focus", "bg"), ("chart-latency", "panel")]
                .into_iter()
                .chain(["chart-head", "chart-framing", "chart-payload"].map(|bar| (bar, "panel")))
            {
                let ratio = contrast(colour(mark), colour(ground));
                assert!(ratio >= 3.0, "{marker}: --{mark} on --{ground} is {ratio:.2}:1, under 3:1");
            }
        }
    }

    #[test]
    fn every_transport_has_its_colour() {
        for transport in protocol::Transport::ALL {
            let id = transport.id();
            let rule = format!("[data-lane=\"{id}\"] {{ --lane: var(--lane-{id}); }}");
            assert!(STYLESHEET.contains(&rule), "the stylesheet lacks `{rule}`");
        }
    }

    #[test]
    fn the_system_dark_palette_is_the_chosen_one() {
        let chosen = palette("/* palette: dark (chosen) */");
        assert_eq!(palette(":root:not([data-theme=\"light\"])"), chosen);
        assert_eq!(palette("/* palette: light */").len(), chosen.len(), "a variable missing from one palette");
    }
}
