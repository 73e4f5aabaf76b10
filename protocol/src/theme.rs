//! The colour theme a reader chose, remembered in a cookie the server reads before it renders, so the first paint
//! already has the right colours (the page's policy forbids the inline script that would otherwise set them).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    /// The cookie's name; its value is [`Theme::id`].
    pub const COOKIE: &'static str = "lab_theme";
    /// A year: the choice outlives the session, as a reader expects of a preference.
    const COOKIE_MAX_AGE_SECONDS: u32 = 365 * 24 * 3600;

    pub fn id(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn from_id(id: &str) -> Option<Theme> {
        [Theme::Light, Theme::Dark].into_iter().find(|theme| theme.id() == id)
    }

    pub fn other(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }

    /// The chosen theme in a request's `Cookie` header, if any; anything unrecognised counts as no choice, so the
    /// page follows the system's preference.
    pub fn from_cookie_header(header: &str) -> Option<Theme> {
        crate::headers::cookie_values(header, Self::COOKIE).next().and_then(Theme::from_id)
    }

    /// What `document.cookie` is set to, to remember this choice for every page of the lab.
    pub fn cookie_assignment(self) -> String {
        format!("{}={}; Path=/; Max-Age={}; SameSite=Lax", Self::COOKIE, self.id(), Self::COOKIE_MAX_AGE_SECONDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_choice_among_other_cookies() {
        assert_eq!(Theme::from_cookie_header("a=1; lab_theme=dark; b=2"), Some(Theme::Dark));
        assert_eq!(Theme::from_cookie_header("lab_theme=light"), Some(Theme::Light));
        assert_eq!(Theme::from_cookie_header(" lab_theme = dark "), None);
        assert_eq!(Theme::from_cookie_header("lab_theme=purple"), None);
        assert_eq!(Theme::from_cookie_header("other_lab_theme=dark"), None);
        assert_eq!(Theme::from_cookie_header(""), None);
    }

    #[test]
    fn the_cookie_written_is_the_cookie_read() {
        for theme in [Theme::Light, Theme::Dark] {
            let assignment = theme.cookie_assignment();
            let pair = assignment.split(';').next().unwrap();
            assert_eq!(Theme::from_cookie_header(pair), Some(theme));
        }
    }
}
