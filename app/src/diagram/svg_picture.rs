//! One standalone SVG picture of the lanes: a caption saying what it shows (live, or a replay of which file), then
//! the time axis and each lane's diagram side by side under its title, as on the page. The browser serialises each
//! part with its styles written in ([`crate::client::diagram_picture`]); this only arranges them.

use std::fmt::Write;

/// One drawing to place: a lane's diagram or the time axis.
#[derive(Clone, Debug, PartialEq)]
pub struct PicturePart {
    /// Written above the drawing (a lane's title); `None` for the time axis.
    pub heading: Option<String>,
    /// The part's own `<svg>` element as XML, styles already inlined.
    pub markup: String,
    pub width: f64,
    pub height: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    pub svg: String,
    pub width: f64,
    pub height: f64,
}

const MARGIN: f64 = 8.0;
const GAP: f64 = 8.0;
const CAPTION_HEIGHT: f64 = 22.0;
const HEADING_HEIGHT: f64 = 20.0;
const INK: &str = "#202124";

/// `parts` left to right under `caption`, on white (a transparent PNG would vanish on a dark slide).
pub fn compose(caption: &str, parts: &[PicturePart]) -> Picture {
    let top = MARGIN + CAPTION_HEIGHT + HEADING_HEIGHT;
    let width =
        2.0 * MARGIN + parts.iter().map(|part| part.width).sum::<f64>() + GAP * parts.len().saturating_sub(1) as f64;
    let height = top + parts.iter().map(|part| part.height).fold(0.0, f64::max) + MARGIN;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif">"#
    );
    let _ = write!(svg, r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##);
    let _ = write!(
        svg,
        r#"<text x="{MARGIN}" y="{}" font-size="13" font-weight="600" fill="{INK}">{}</text>"#,
        MARGIN + 14.0,
        xml_text(caption)
    );
    let mut x = MARGIN;
    for part in parts {
        if let Some(heading) = &part.heading {
            let _ = write!(
                svg,
                r#"<text x="{x}" y="{}" font-size="12" font-weight="600" fill="{INK}">{}</text>"#,
                top - 6.0,
                xml_text(heading)
            );
        }
        let _ = write!(svg, r#"<g transform="translate({x} {top})">{}</g>"#, part.markup);
        x += part.width + GAP;
    }
    svg.push_str("</svg>");
    Picture { svg, width, height }
}

fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(heading: Option<&str>, width: f64) -> PicturePart {
        PicturePart {
            heading: heading.map(str::to_owned),
            markup: format!(r#"<svg width="{width}" height="480"/>"#),
            width,
            height: 480.0,
        }
    }

    #[test]
    fn parts_sit_side_by_side_under_their_headings() {
        let picture =
            compose("Replay of a<b>.json — not live", &[part(None, 64.0), part(Some("Short polling"), 300.0)]);
        assert_eq!((picture.width, picture.height), (8.0 + 64.0 + 8.0 + 300.0 + 8.0, 50.0 + 480.0 + 8.0));
        assert!(picture.svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="388" height="538""#));
        assert!(picture.svg.contains(">Replay of a&lt;b&gt;.json — not live</text>"));
        assert!(picture.svg.contains(r#"<g transform="translate(8 50)"><svg width="64" height="480"/></g>"#));
        assert!(picture
            .svg
            .contains(r##"<text x="80" y="44" font-size="12" font-weight="600" fill="#202124">Short polling</text>"##));
        assert!(picture.svg.contains(r#"<g transform="translate(80 50)">"#));
        assert!(picture.svg.ends_with("</g></svg>"));
    }

    #[test]
    fn no_parts_still_make_a_picture() {
        let picture = compose("empty", &[]);
        assert_eq!(picture.width, 16.0);
        assert!(picture.svg.contains(">empty</text>"));
    }
}
