//! Responses as plain data. Handlers return a [`Reply`] or an [`ApiError`]; the shell turns them
//! into a `worker::Response` and adds the headers every response carries.

use serde_json::json;

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

    pub fn not_found(path: &str) -> ApiError {
        ApiError::new(404, "Not Found", format!("no route for {path}"))
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
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            "requestId": request_id,
        });
        let mut reply = Reply::json(self.status, "application/problem+json", &body);
        reply.headers = self.headers;
        reply
    }
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
}
