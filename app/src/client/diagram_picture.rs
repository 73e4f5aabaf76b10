//! The diagram on screen as one standalone SVG file, and that picture as a PNG. Browser only (export buttons).
//!
//! The page styles its diagrams with its stylesheet, which a saved file does not have. So each drawing is cloned
//! and every element's computed style is written onto the clone as SVG presentation attributes (`fill`,
//! `stroke`…): attributes, not `style="…"`, because the page's Content-Security-Policy refuses inline style.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CssStyleDeclaration, Element, Window};

use super::files::{js_error, missing, BrowserError};
use crate::diagram::svg_picture::{compose, Picture, PicturePart};

/// What a drawing's look depends on, and whether children inherit it (then a child repeats it only if it differs).
const STYLE_PROPERTIES: [(&str, bool); 12] = [
    ("fill", true),
    ("fill-opacity", true),
    ("stroke", true),
    ("stroke-width", true),
    ("stroke-dasharray", true),
    ("stroke-opacity", true),
    ("paint-order", true),
    ("font-family", true),
    ("font-size", true),
    ("font-weight", true),
    ("visibility", true),
    ("opacity", false),
];

/// The time axis and every lane's diagram inside `container`, as one picture under `caption`.
pub fn picture_of(container: &Element, caption: &str) -> Result<Picture, BrowserError> {
    let window = web_sys::window().ok_or_else(|| missing("window"))?;
    // The lanes shown side by side, as the page shows them: a hidden lane is recording, not on screen.
    let drawings =
        container.query_selector_all("svg.time-axis, section:not([hidden]) svg.sequence-diagram").map_err(js_error)?;
    let mut parts = Vec::new();
    for index in 0..drawings.length() {
        let Some(drawing) = drawings.item(index).and_then(|node| node.dyn_into::<Element>().ok()) else { continue };
        // A lane's title is its section's accessible name; the time axis has none.
        let heading = drawing.closest("section").ok().flatten().and_then(|section| section.get_attribute("aria-label"));
        let size = |name: &str| drawing.get_attribute(name).and_then(|value| value.parse::<f64>().ok());
        parts.push(PicturePart {
            heading,
            markup: standalone(&window, &drawing)?,
            width: size("width").unwrap_or_else(|| f64::from(drawing.client_width())),
            height: size("height").unwrap_or_else(|| f64::from(drawing.client_height())),
        });
    }
    Ok(compose(caption, &parts))
}

/// `drawing` as XML that looks the same without the page's stylesheet.
fn standalone(window: &Window, drawing: &Element) -> Result<String, BrowserError> {
    let copy: Element = drawing.clone_node_with_deep(true).map_err(js_error)?.unchecked_into();
    write_styles(window, drawing, &copy, None)?;
    // A deep clone has the same elements in the same document order.
    let originals = drawing.query_selector_all("*").map_err(js_error)?;
    let copies = copy.query_selector_all("*").map_err(js_error)?;
    for index in 0..originals.length().min(copies.length()) {
        let (Some(original), Some(copied)) = (originals.item(index), copies.item(index)) else { continue };
        let (original, copied): (Element, Element) = (original.unchecked_into(), copied.unchecked_into());
        let parent = original.parent_element().and_then(|parent| window.get_computed_style(&parent).ok().flatten());
        write_styles(window, &original, &copied, parent.as_ref())?;
    }
    web_sys::XmlSerializer::new().map_err(js_error)?.serialize_to_string(&copy).map_err(js_error)
}

fn write_styles(
    window: &Window,
    original: &Element,
    copy: &Element,
    parent: Option<&CssStyleDeclaration>,
) -> Result<(), BrowserError> {
    let Some(style) = window.get_computed_style(original).map_err(js_error)? else { return Ok(()) };
    for (property, inherited) in STYLE_PROPERTIES {
        let value = style.get_property_value(property).map_err(js_error)?;
        let inherits_it =
            inherited && parent.is_some_and(|parent| parent.get_property_value(property).ok() == Some(value.clone()));
        let is_initial = !inherited && value == "1";
        if !value.is_empty() && !inherits_it && !is_initial {
            copy.set_attribute(property, &value).map_err(js_error)?;
        }
    }
    Ok(())
}

/// `picture` drawn at `scale` device pixels per unit and encoded as PNG.
pub async fn png_of(picture: &Picture, scale: f64) -> Result<web_sys::Blob, BrowserError> {
    let document = web_sys::window().and_then(|window| window.document()).ok_or_else(|| missing("document"))?;
    let image = web_sys::HtmlImageElement::new().map_err(js_error)?;
    // A data: URL, which the page's policy allows for images (a blob: URL it does not).
    let encoded = String::from(js_sys::encode_uri_component(&picture.svg));
    image.set_src(&format!("data:image/svg+xml;charset=utf-8,{encoded}"));
    JsFuture::from(image.decode()).await.map_err(js_error)?;
    let canvas: web_sys::HtmlCanvasElement =
        document.create_element("canvas").map_err(js_error)?.dyn_into().map_err(|_| missing("canvas"))?;
    let (width, height) = ((picture.width * scale).ceil(), (picture.height * scale).ceil());
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let context: web_sys::CanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(js_error)?
        .ok_or_else(|| missing("2D canvas"))?
        .dyn_into()
        .map_err(|_| missing("2D canvas"))?;
    context.draw_image_with_html_image_element_and_dw_and_dh(&image, 0.0, 0.0, width, height).map_err(js_error)?;
    let (sender, receiver) = futures::channel::oneshot::channel::<JsValue>();
    let on_blob: Closure<dyn FnMut(JsValue)> = Closure::once(move |blob: JsValue| {
        let _ = sender.send(blob);
    });
    canvas.to_blob(on_blob.as_ref().unchecked_ref()).map_err(js_error)?;
    let blob = receiver.await.map_err(|_| BrowserError::Js("the canvas gave no PNG".into()))?;
    blob.dyn_into().map_err(|_| BrowserError::Js("the canvas could not encode a PNG".into()))
}
