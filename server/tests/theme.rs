//! The reader's theme travels in a cookie and is rendered by the server onto `<html>`, so the first paint is right.

use crate::common;

use common::TestServer;

async fn html_tag(server: &TestServer, path: &str, cookie: Option<&str>) -> String {
    let mut request = server.http.get(server.url(path));
    if let Some(cookie) = cookie {
        request = request.header(reqwest::header::COOKIE, cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    let start = page.find("<html").expect("an <html> tag");
    page[start..start + page[start..].find('>').unwrap() + 1].to_owned()
}

#[tokio::test]
async fn a_theme_cookie_is_rendered_onto_every_page() {
    let server = TestServer::start().await;
    for path in ["/", "/scale", "/present"] {
        assert_eq!(html_tag(&server, path, Some("lab_theme=dark")).await, r#"<html lang="en" data-theme="dark">"#);
        assert_eq!(
            html_tag(&server, path, Some("other=1; lab_theme=light")).await,
            r#"<html lang="en" data-theme="light">"#
        );
    }
}

#[tokio::test]
async fn without_a_valid_choice_the_page_follows_the_system() {
    let server = TestServer::start().await;
    assert_eq!(html_tag(&server, "/", None).await, r#"<html lang="en">"#);
    // Anything unrecognised, markup included, is no choice at all: it is never echoed into the page.
    for cookie in ["lab_theme=purple", "lab_theme=\"><script>", "lab_theme="] {
        assert_eq!(html_tag(&server, "/", Some(cookie)).await, r#"<html lang="en">"#, "{cookie}");
    }
}
