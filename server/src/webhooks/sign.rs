//! HMAC-SHA256 over `protocol::webhook::signed_content`: the one part of Standard Webhooks the protocol crate
//! leaves to each side (the browser uses WebCrypto).

use hmac::{Hmac, Mac};
use protocol::webhook::{signature_header, signatures_in, signed_content, WebhookSecret};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// HMAC accepts a key of any length, so this never fails in practice; it is an `Option` so nothing here can panic.
fn mac(secret: &WebhookSecret, id: &str, timestamp: u64, body: &[u8]) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.key()).ok()?;
    mac.update(&signed_content(id, timestamp, body));
    Some(mac)
}

/// The `webhook-signature` header value for this message.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: u64, body: &[u8]) -> Option<String> {
    Some(signature_header(&mac(secret, id, timestamp, body)?.finalize().into_bytes()))
}

/// Whether any `v1` signature in `header` is this message's, compared in constant time.
pub fn verify(secret: &WebhookSecret, id: &str, timestamp: u64, body: &[u8], header: &str) -> bool {
    signatures_in(header)
        .any(|signature| mac(secret, id, timestamp, body).is_some_and(|mac| mac.verify_slice(&signature).is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_reference_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let (id, timestamp, body) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        let signature = sign(&secret, id, timestamp, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(&secret, id, timestamp, body, &format!("v1,bm90IGl0 {signature}")));
        assert!(!verify(&secret, id, timestamp, br#"{"test": 2432232315}"#, &signature), "a changed body");
        assert!(!verify(&secret, id, timestamp + 1, body, &signature), "a changed timestamp");
        assert!(!verify(&secret, id, timestamp, body, ""));
    }
}
