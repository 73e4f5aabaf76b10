//! Handing files to the learner (downloads), the clipboard, and reading a file they chose. Browser only: called
//! from event handlers, which never run while the page is rendered on the server.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BrowserError {
    #[error("this browser gives no clipboard to this page (only https and localhost pages get one); copy the text below by hand")]
    NoClipboard,
    #[error("{0}")]
    Js(String),
}

/// A JavaScript exception as a sentence: its message when it has one.
pub(crate) fn js_error(value: JsValue) -> BrowserError {
    BrowserError::Js(js_message(&value).unwrap_or_else(|| format!("{value:?}")))
}

/// What a thrown JavaScript value says: an `Error`'s message, or the value itself if it is a string.
pub(crate) fn js_message(value: &JsValue) -> Option<String> {
    value.dyn_ref::<js_sys::Error>().map(|error| String::from(error.message())).or_else(|| value.as_string())
}

pub(crate) fn missing(what: &str) -> BrowserError {
    BrowserError::Js(format!("this browser has no {what}"))
}

pub fn download_text(file_name: &str, mime: &str, text: &str) -> Result<(), BrowserError> {
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(js_error)?;
    download_blob(file_name, &blob)
}

/// `data` as a blob of type `mime`.
pub(crate) fn blob_of_bytes(data: &[u8], mime: &str) -> Result<web_sys::Blob, BrowserError> {
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let parts = js_sys::Array::of1(&JsValue::from(js_sys::Uint8Array::from(data)));
    web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(js_error)
}

pub fn download_bytes(file_name: &str, mime: &str, data: &[u8]) -> Result<(), BrowserError> {
    download_blob(file_name, &blob_of_bytes(data, mime)?)
}

/// Saves `blob` as `file_name` through a link the page clicks: the browser's own download, which tests can catch.
pub fn download_blob(file_name: &str, blob: &web_sys::Blob) -> Result<(), BrowserError> {
    let document = web_sys::window().and_then(|window| window.document()).ok_or_else(|| missing("document"))?;
    let url = web_sys::Url::create_object_url_with_blob(blob).map_err(js_error)?;
    let link: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(js_error)?.dyn_into().map_err(|_| missing("link element"))?;
    link.set_download(file_name);
    link.set_href(&url);
    link.click();
    // The browser reads the blob after the click returns; the URL only has to outlive that.
    gloo_timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    Ok(())
}

pub async fn copy_text(text: &str) -> Result<(), BrowserError> {
    let navigator = web_sys::window().ok_or_else(|| missing("window"))?.navigator();
    // Browsers leave `navigator.clipboard` undefined on plain-http pages, such as a classroom's address; calling
    // through it would throw.
    let clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard")).map_err(js_error)?;
    if clipboard.is_undefined() || clipboard.is_null() {
        return Err(BrowserError::NoClipboard);
    }
    let clipboard: web_sys::Clipboard = clipboard.unchecked_into();
    JsFuture::from(clipboard.write_text(text)).await.map_err(js_error)?;
    Ok(())
}

pub async fn read_text(file: &web_sys::File) -> Result<String, BrowserError> {
    let text = JsFuture::from(file.text()).await.map_err(js_error)?;
    text.as_string().ok_or_else(|| BrowserError::Js("the file could not be read as text".into()))
}

/// `transport-lab-<stamp>.<extension>`, the stamp from the browser's UTC clock, so a teacher's files sort by time.
pub fn export_file_name(what: &str, extension: &str) -> String {
    let iso = String::from(js_sys::Date::new_0().to_iso_string());
    format!("transport-lab-{what}{}.{extension}", file_stamp(&iso))
}

/// `2026-11-22T02:31:05.123Z` → `-2026-11-22-023105`: no characters that some file systems refuse.
fn file_stamp(iso: &str) -> String {
    let Some((date, time)) = iso.split_once('T') else { return String::new() };
    let time: String = time.chars().take(8).filter(char::is_ascii_digit).collect();
    format!("-{date}-{time}")
}

#[cfg(test)]
mod tests {
    use super::file_stamp;

    #[test]
    fn stamps_are_safe_file_name_parts() {
        assert_eq!(file_stamp("2026-11-22T02:31:05.123Z"), "-2026-11-22-023105");
        assert_eq!(file_stamp("nonsense"), "");
    }
}
