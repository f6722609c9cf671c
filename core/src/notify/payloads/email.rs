//! Email: a MIME message (`multipart/alternative`, plain text and HTML) for a batch of alerts,
//! handed raw to the `send_email` binding. Bodies are base64 so any alert text survives
//! transport; the subject is an RFC 2047 encoded word when it is not plain ASCII; alert text in
//! HTML is escaped and only http(s) runbooks become links.

use std::fmt::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{resolved_at_ms, slack::http_url, status, Batch};
use crate::notify::AlertNotification;
use crate::status::html::escape;
use crate::time::iso_timestamp;

/// Subject lines are kept short enough for every mail client.
const SUBJECT_MAX_CHARS: usize = 200;

/// The raw message from `from` to `to`. `message_id` (`<unique@domain>`) is the caller's, so
/// rendering stays pure.
pub fn message(
    batch: &Batch<'_>,
    from: &str,
    to: &[String],
    now_ms: f64,
    message_id: &str,
) -> String {
    let boundary = format!(
        "vigil-{}",
        message_id.trim_matches(['<', '>']).replace('@', ".")
    );
    let subject = super::clip(&batch.headline(), SUBJECT_MAX_CHARS);
    let date = chrono::DateTime::from_timestamp_millis(now_ms as i64)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S +0000");
    let mut mail = String::new();
    for (name, value) in [
        ("From", format!("Vigil <{from}>")),
        ("To", to.join(", ")),
        ("Subject", header_text(&subject)),
        ("Date", date.to_string()),
        ("Message-ID", message_id.to_string()),
        ("MIME-Version", "1.0".to_string()),
        (
            "Content-Type",
            format!("multipart/alternative; boundary=\"{boundary}\""),
        ),
    ] {
        let _ = write!(mail, "{name}: {value}\r\n");
    }
    for (kind, body) in [
        ("plain", text(batch, now_ms)),
        ("html", html(batch, now_ms)),
    ] {
        let _ = write!(
            mail,
            "\r\n--{boundary}\r\nContent-Type: text/{kind}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            base64_lines(&body)
        );
    }
    let _ = write!(mail, "\r\n--{boundary}--\r\n");
    mail
}

/// One alert's facts, in the order a reader needs them.
fn facts(n: &AlertNotification, now_ms: f64) -> Vec<(&'static str, String)> {
    let mut facts = vec![
        ("Status", status(n).to_string()),
        ("Severity", n.severity.as_str().to_string()),
        ("Summary", n.annotation("summary").to_string()),
        ("Value", n.value.to_string()),
        ("Service", n.service.clone()),
        ("Started", iso_timestamp(n.starts_at_ms)),
    ];
    if n.kind.is_resolved() {
        facts.push(("Resolved", iso_timestamp(resolved_at_ms(n, now_ms))));
    }
    facts.push(("Description", n.annotation("description").to_string()));
    facts.push(("Runbook", n.annotation("runbook_url").to_string()));
    facts.retain(|(_, value)| !value.is_empty());
    facts
}

fn text(batch: &Batch<'_>, now_ms: f64) -> String {
    let mut out = format!("{}\n", batch.headline());
    for n in batch.alerts {
        let _ = write!(out, "\n{}\n", n.alertname);
        for (name, value) in facts(n, now_ms) {
            let _ = writeln!(out, "  {name}: {value}");
        }
    }
    out
}

fn html(batch: &Batch<'_>, now_ms: f64) -> String {
    let mut out = format!(
        "<!doctype html><html><body><h1>{}</h1>",
        escape(&batch.headline())
    );
    for n in batch.alerts {
        let _ = write!(out, "<h2>{}</h2><table>", escape(&n.alertname));
        for (name, value) in facts(n, now_ms) {
            let cell = match (name, http_url(&value)) {
                ("Runbook", Some(url)) => format!("<a href=\"{0}\">{0}</a>", escape(url)),
                _ => escape(&value),
            };
            let _ = write!(
                out,
                "<tr><th align=\"left\">{name}</th><td>{cell}</td></tr>"
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>");
    out
}

/// `text` as a header value: as is when plain printable ASCII, else an RFC 2047 encoded word.
fn header_text(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        text.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(text))
    }
}

/// Base64 in lines of 76 characters, as MIME requires.
fn base64_lines(text: &str) -> String {
    let encoded = STANDARD.encode(text);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    lines.join("\r\n")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::notify::tests::sample;
    use crate::notify::NotificationKind::{Firing, Resolved};

    fn decoded_parts(mail: &str) -> Vec<String> {
        mail.split("--vigil-")
            .filter_map(|part| part.split_once("base64\r\n\r\n"))
            .map(|(_, body)| {
                let joined: String = body.split_whitespace().collect();
                let bytes = STANDARD
                    .decode(joined.trim_end_matches('-'))
                    .unwrap_or_default();
                String::from_utf8(bytes).unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn a_mail_has_headers_a_text_and_an_html_part_with_every_fact() {
        let mut resolved = sample(Resolved);
        resolved.service = "www".into();
        resolved
            .annotations
            .insert("summary".into(), "<b>ünïcode</b>".into());
        let alerts = [sample(Firing), resolved];
        let group = BTreeMap::from([("alertname".to_string(), "high_error_ratio".to_string())]);
        let batch = Batch {
            receiver: "oncall-mail",
            group: &group,
            alerts: &alerts,
        };
        let to = ["a@example.com".to_string(), "b@example.com".to_string()];
        let mail = message(
            &batch,
            "vigil@example.com",
            &to,
            1_700_000_900_000.0,
            "<id1@example.com>",
        );
        assert!(mail.starts_with(
            "From: Vigil <vigil@example.com>\r\nTo: a@example.com, b@example.com\r\n"
        ));
        assert!(mail.contains("Subject: [FIRING:1, RESOLVED:1] alertname=high_error_ratio\r\n"));
        assert!(mail.contains("Date: Tue, 14 Nov 2023 22:28:20 +0000\r\n"));
        assert!(mail.contains("Message-ID: <id1@example.com>\r\n"));
        assert!(mail.contains("boundary=\"vigil-id1.example.com\""));
        assert!(mail.ends_with("--vigil-id1.example.com--\r\n"));
        let parts = decoded_parts(&mail);
        assert_eq!(parts.len(), 2, "{mail}");
        let (text, html) = (&parts[0], &parts[1]);
        for fact in [
            "Severity: page",
            "Summary: Error ratio above 5%",
            "Value: 0.12",
            "Service: api",
            "Started: 2023-11-14T22:13:20.000Z",
            "Runbook: https://runbooks.example/errors",
            "Status: resolved",
            "Summary: <b>ünïcode</b>",
        ] {
            assert!(text.contains(fact), "{fact} in {text}");
        }
        assert!(html.contains("&lt;b&gt;ünïcode&lt;/b&gt;"), "{html}");
        assert!(html.contains("<a href=\"https://runbooks.example/errors\">"));
        assert!(!html.contains("<b>"));
    }

    #[test]
    fn a_subject_that_is_not_ascii_is_encoded() {
        assert_eq!(header_text("plain"), "plain");
        assert_eq!(header_text("é"), "=?UTF-8?B?w6k=?=");
        assert_eq!(header_text("a\r\nBcc: x"), "=?UTF-8?B?YQ0KQmNjOiB4?=");
    }
}
