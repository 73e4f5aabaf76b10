//! Checks a WebSocket handshake the way RFC 6455 §4.2.2 defines it, with the browser's own SHA-1 (Web Crypto), so
//! the inspector can show the server's `Sec-WebSocket-Accept` is the one the key calls for.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::inspect::WEBSOCKET_GUID;

/// base64(SHA-1(key + GUID)), or `None` where the browser offers no Web Crypto (pages not on https or localhost).
pub async fn expected_accept(key: &str) -> Option<String> {
    let window = web_sys::window()?;
    let subtle = window.crypto().ok()?.subtle();
    let input = format!("{key}{WEBSOCKET_GUID}");
    let promise = subtle.digest_with_str_and_u8_array("SHA-1", input.as_bytes()).ok()?;
    let digest = JsFuture::from(promise).await.ok()?.dyn_into::<js_sys::ArrayBuffer>().ok()?;
    let bytes = js_sys::Uint8Array::new(&digest).to_vec();
    // btoa takes a "binary string": one char per byte.
    let binary: String = bytes.iter().map(|byte| char::from(*byte)).collect();
    window.btoa(&binary).ok()
}
