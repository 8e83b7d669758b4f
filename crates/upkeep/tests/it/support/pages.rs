//! Driving the server-rendered pages like a browser without JavaScript: GET a page, read its hidden
//! `csrf_token`, POST the form with the cookies a browser would send, follow nothing automatically.

use std::collections::BTreeMap;

use reqwest::StatusCode;

use super::server::{TestServer, set_cookie, set_cookie_line};

pub const SESSION: &str = "upkeep_session";
pub const CSRF: &str = "upkeep_csrf";

/// What came back, read once.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub session_line: Option<String>,
    pub body: String,
}

impl Answer {
    /// The hidden `csrf_token` of the first form on the page.
    pub fn csrf_token(&self) -> String {
        hidden_value(&self.body, "csrf_token")
            .unwrap_or_else(|| panic!("no csrf_token on the page:\n{}", self.body))
    }
}

pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// A browser without JavaScript: keeps cookies, sends them, follows no redirects.
pub struct Browser<'a> {
    pub server: &'a TestServer,
    pub cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    pub fn new(server: &'a TestServer) -> Self {
        Self {
            server,
            cookies: BTreeMap::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            self.server.url(path)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header("cookie", self.cookie_header())
        };
        let response = request.send().await.expect("request");
        for name in [SESSION, CSRF] {
            match set_cookie(&response, name) {
                Some(value) if value.is_empty() => {
                    self.cookies.remove(name);
                }
                Some(value) => {
                    self.cookies.insert(name.to_string(), value);
                }
                None => {}
            }
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let location = header(reqwest::header::LOCATION);
        let retry_after = header(reqwest::header::RETRY_AFTER);
        let session_line = set_cookie_line(&response, SESSION);
        let status = response.status();
        let body = response.text().await.expect("body");
        Answer {
            status,
            location,
            retry_after,
            session_line,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = self.server.client.get(self.url(path));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let request = self.server.client.post(self.url(path)).form(fields);
        self.send(request).await
    }

    /// GET `page`, then POST `fields` plus that page's `csrf_token` to `action`.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
        let token = self.get(page).await.csrf_token();
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        self.post(action, &fields).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn signed_in(server: &'a TestServer, email: &str, password: &str) -> Self {
        let mut browser = Self::new(server);
        let answer = browser.sign_in(email, password).await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "sign in as {email}: {}",
            answer.body
        );
        browser
    }
}
