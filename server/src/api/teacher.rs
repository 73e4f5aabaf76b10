//! Who runs the class. The actions that reach every page (the generator, a restart, faults for everyone, a
//! broadcast, clearing everyone's faults) are the teacher's; a student's page may still break its own connections.
//!
//! The teacher proves it with a key: printed at start inside a link (as Jupyter prints its token), which sets an
//! HttpOnly, SameSite=Strict cookie, or sent by programs in the `x-lab-teacher` header. A lab that listens on
//! loopback alone, on one instance, has one user, who is the teacher: `./lab run` asks for nothing.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use protocol::headers::{cookie_values, TEACHER_KEY as TEACHER_HEADER};
use protocol::routes;
use subtle::ConstantTimeEq;

use crate::api::error::ApiError;

/// The cookie the teacher link sets.
pub const TEACHER_COOKIE: &str = "lab_teacher";
/// Random bytes in a generated key (hex in the link): not guessable by a student with the whole lesson to try.
const KEY_BYTES: usize = 16;

#[derive(Clone)]
pub struct TeacherGate {
    key: Arc<str>,
    /// One user on loopback: nobody to keep out.
    everyone_is_teacher: bool,
}

impl TeacherGate {
    /// `key` as configured, or a fresh random one.
    pub fn new(key: Option<String>, everyone_is_teacher: bool) -> Self {
        let key = key.unwrap_or_else(|| {
            let bytes: [u8; KEY_BYTES] = rand::random();
            bytes.iter().map(|byte| format!("{byte:02x}")).collect()
        });
        Self { key: key.into(), everyone_is_teacher }
    }

    pub fn everyone_is_teacher(&self) -> bool {
        self.everyone_is_teacher
    }

    /// The path and query of the teacher link (the server prints it with the address students use).
    pub fn link_path(&self) -> String {
        format!("{}?key={}", routes::TEACHER, self.key)
    }

    pub fn role(&self, headers: &HeaderMap) -> Role {
        let presented = presented_keys(headers).any(|key| self.matches(key));
        Role { teacher: self.everyone_is_teacher || presented }
    }

    /// Compared in constant time: the key is the only secret the lab has.
    pub fn matches(&self, key: &str) -> bool {
        key.as_bytes().ct_eq(self.key.as_bytes()).into()
    }
}

/// The keys a request presents: its `x-lab-teacher` header and its `lab_teacher` cookies.
fn presented_keys(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let header = headers.get_all(TEACHER_HEADER).iter().filter_map(|value| value.to_str().ok());
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookie_values(cookies, TEACHER_COOKIE));
    header.chain(cookies)
}

/// Whether the request comes from the teacher.
#[derive(Clone, Copy, Debug)]
pub struct Role {
    pub teacher: bool,
}

impl Role {
    /// Refuses `action` (said in the error: "restart the stream") unless this is the teacher.
    pub fn require_teacher(self, action: &'static str) -> Result<(), ApiError> {
        if self.teacher {
            Ok(())
        } else {
            Err(ApiError::TeacherOnly { action })
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Role
where
    TeacherGate: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(TeacherGate::from_ref(state).role(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_key_in_the_header_or_the_cookie_makes_the_teacher() {
        let gate = TeacherGate::new(Some("k3y".into()), false);
        assert!(gate.role(&headers(&[("x-lab-teacher", "k3y")])).teacher);
        assert!(gate.role(&headers(&[("cookie", "theme=dark; lab_teacher=k3y")])).teacher);
        assert!(!gate.role(&headers(&[])).teacher);
        assert!(!gate.role(&headers(&[("x-lab-teacher", "k3")])).teacher);
        assert!(!gate.role(&headers(&[("cookie", "lab_teacher=k3yy; x=k3y")])).teacher);
        assert!(!gate.role(&headers(&[("cookie", "lab_teacherx=k3y")])).teacher);
        assert!(TeacherGate::new(None, true).role(&headers(&[])).teacher);
    }

    #[test]
    fn a_generated_key_is_long_random_hex() {
        let (one, two) = (TeacherGate::new(None, false), TeacherGate::new(None, false));
        assert_eq!(one.key.len(), KEY_BYTES * 2);
        assert!(one.key.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(one.key, two.key);
    }
}
