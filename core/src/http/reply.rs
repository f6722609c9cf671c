//! Responses as plain data. Handlers return a [`Reply`] or an [`ApiError`]; the shell turns them
//! into a `worker::Response` and adds the headers every response carries.

use serde_json::json;

use crate::telemetry::log::truncate;

/// A response before it meets the runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub fn json(status: u16, content_type: &'static str, body: &serde_json::Value) -> Reply {
        Reply {
            status,
            content_type,
            body: body.to_string(),
            headers: Vec::new(),
        }
    }
}

/// Longest `instance` and `detail` a problem echoes: whatever the input, a problem stays small.
const MAX_ECHO_CHARS: usize = 256;

/// Vigil's own problem types, as URNs (they name a type; nothing is served there); a custom `title` needs its own `type`
/// (RFC 9457 §4.2.1), and `about:blank` keeps the HTTP status phrase as its title.
const PROBLEM_TYPE_BASE: &str = "urn:vigil:problem:";

/// The one error type of the HTTP layer, rendered as RFC 9457 problem+json.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub title: &'static str,
    pub detail: String,
    /// Extra headers the problem needs (`Allow` on 405, `WWW-Authenticate` on 401).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: u16, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            title,
            detail: detail.into(),
            headers: Vec::new(),
        }
    }

    pub fn not_found(_path: &str) -> ApiError {
        // The path is already the problem's `instance`; it is not echoed a second time.
        ApiError::new(404, "Not Found", "no route for this path")
    }

    pub fn method_not_allowed(method: &str, allow: &'static str) -> ApiError {
        let mut error = ApiError::new(
            405,
            "Method Not Allowed",
            format!("{method} is not allowed here; use {allow}"),
        );
        error.headers.push(("Allow", allow.to_string()));
        error
    }

    /// The problem document for this error, naming the request it answers.
    pub fn into_reply(self, instance: &str, request_id: &str) -> Reply {
        let body = json!({
            "type": problem_type(self.status, self.title),
            "title": self.title,
            "status": self.status,
            "detail": truncate(&self.detail, MAX_ECHO_CHARS),
            "instance": truncate(instance, MAX_ECHO_CHARS),
            "requestId": request_id,
        });
        let mut reply = Reply::json(self.status, "application/problem+json", &body);
        reply.headers = self.headers;
        reply
    }
}

/// `about:blank` when the title is the status's own phrase, else a type URI named after it.
fn problem_type(status: u16, title: &str) -> String {
    let standard = matches!(
        (status, title),
        (400, "Bad Request")
            | (401, "Unauthorized")
            | (403, "Forbidden")
            | (404, "Not Found")
            | (405, "Method Not Allowed")
            | (500, "Internal Server Error")
            | (503, "Service Unavailable")
    );
    if standard {
        return "about:blank".into();
    }
    let slug: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{PROBLEM_TYPE_BASE}{slug}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_not_allowed_is_a_problem_with_allow() {
        let reply = ApiError::method_not_allowed("DELETE", "GET, HEAD").into_reply("/livez", "r1");
        assert_eq!(reply.status, 405);
        assert_eq!(reply.content_type, "application/problem+json");
        assert_eq!(reply.headers, vec![("Allow", "GET, HEAD".to_string())]);
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["status"], 405);
        assert_eq!(body["title"], "Method Not Allowed");
        assert_eq!(body["instance"], "/livez");
        assert_eq!(body["requestId"], "r1");
    }

    #[test]
    fn a_problem_stays_small_whatever_the_path() {
        let path = format!("/{}", "x".repeat(60_000));
        let reply = ApiError::not_found(&path).into_reply(&path, "r1");
        assert!(reply.body.len() < 1_024, "{} bytes", reply.body.len());
    }

    #[test]
    fn a_custom_title_has_its_own_type_and_a_standard_one_is_about_blank() {
        let custom = ApiError::new(503, "Store Unavailable", "d").into_reply("/x", "r");
        let body: serde_json::Value = serde_json::from_str(&custom.body).unwrap();
        assert_eq!(body["type"], "urn:vigil:problem:store-unavailable");
        let standard = ApiError::not_found("/x").into_reply("/x", "r");
        let body: serde_json::Value = serde_json::from_str(&standard.body).unwrap();
        assert_eq!(body["type"], "about:blank");
    }
}
