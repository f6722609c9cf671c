//! What local dev's `send_email` binding recorded: it writes each raw message to a `.eml` file
//! and prints the file's path, which the hub's log holds.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::harness::Worker;

/// A recorded mail: its headers and its decoded plain-text and HTML parts.
#[derive(Debug)]
pub struct Mail {
    headers: Vec<(String, String)>,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The value of header `name` ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map_or("", |(_, v)| v.as_str())
    }

    fn parse(raw: &str) -> Mail {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let headers: Vec<(String, String)> = head
            .split("\r\n")
            .filter_map(|line| line.split_once(": "))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let mut mail = Mail {
            headers,
            text: String::new(),
            html: String::new(),
        };
        let boundary = mail
            .header("Content-Type")
            .split("boundary=\"")
            .nth(1)
            .map(|b| b.trim_end_matches('"').to_string())
            .unwrap_or_default();
        for part in body.split(&format!("--{boundary}")) {
            let Some((part_head, encoded)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let joined: String = encoded.split_whitespace().collect();
            let bytes = STANDARD.decode(joined).unwrap_or_default();
            let decoded = String::from_utf8(bytes).unwrap_or_default();
            if part_head.contains("text/plain") {
                mail.text = decoded;
            } else if part_head.contains("text/html") {
                mail.html = decoded;
            }
        }
        mail
    }
}

/// The mails the hub sent so far, oldest first, once at least one is recorded (waits up to
/// 10 s: the binding's log line reaches wrangler asynchronously).
pub fn sent(worker: &Worker) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let paths = eml_paths(&worker.logs());
        if !paths.is_empty() || Instant::now() > deadline {
            return paths
                .iter()
                .map(|p| Mail::parse(&std::fs::read_to_string(p).unwrap_or_default()))
                .collect();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every `.eml` path in `log`, colour codes stripped.
fn eml_paths(log: &str) -> Vec<String> {
    log.split_whitespace()
        .map(|word| {
            let plain: String = word.split('\u{1b}').next().unwrap_or("").to_string();
            plain
        })
        .filter(|word| word.starts_with('/') && word.ends_with(".eml"))
        .collect()
}
