//! Slack incoming-webhook messages: blocks with severity colour, summary, value and runbook
//! link; alert text escaped so it can neither mention `<!channel>` nor forge links.

use serde_json::{json, Value};

use super::{cut_point, status, Batch};
use crate::alerting::severity::Severity;
use crate::notify::AlertNotification;

/// Slack rejects section text longer than this.
const SLACK_TEXT_MAX_CHARS: usize = 3000;
/// Longer URLs are not turned into links.
const URL_MAX_CHARS: usize = 2000;

/// Alerts shown one by one in a group's message; the rest are counted.
const GROUP_MAX_SHOWN: usize = 20;

/// A Slack message: one alert as its own message; a group as a headline with one attachment
/// per alert.
pub fn slack(batch: &Batch<'_>) -> Value {
    match batch.alerts {
        [n] => one(n),
        alerts => {
            let mut attachments: Vec<Value> = alerts
                .iter()
                .take(GROUP_MAX_SHOWN)
                .map(|n| one(n)["attachments"][0].clone())
                .collect();
            if alerts.len() > GROUP_MAX_SHOWN {
                let more = format!("…and {} more", alerts.len() - GROUP_MAX_SHOWN);
                attachments.push(json!({ "blocks": [section(more)] }));
            }
            let headline = mrkdwn(&batch.headline(), SLACK_TEXT_MAX_CHARS);
            json!({ "text": headline, "attachments": attachments })
        }
    }
}

fn one(n: &AlertNotification) -> Value {
    let headline = format!("[{}] {}", status(n).to_ascii_uppercase(), n.alertname);
    let summary = n.annotation("summary");
    let description = n.annotation("description");
    let lines = [
        format!("*{headline}* ({})", n.severity.as_str()),
        summary.to_owned(),
        format!("*Value:* {}", n.value),
        format!("*Service:* {} ({})", n.service, n.environment),
        description.to_owned(),
    ];
    let lines: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.is_empty())
        .collect();

    let mut blocks = vec![section(mrkdwn(&lines.join("\n"), SLACK_TEXT_MAX_CHARS))];
    let runbook = n.annotation("runbook_url");
    if !runbook.is_empty() {
        blocks.push(section(slack_runbook(runbook)));
    }
    let fallback = match summary {
        "" => format!("{headline} ({})", n.severity.as_str()),
        _ => format!("{headline} ({}): {summary}", n.severity.as_str()),
    };
    json!({
        "text": mrkdwn(&fallback, SLACK_TEXT_MAX_CHARS),
        "attachments": [{ "color": slack_color(n), "blocks": blocks }],
    })
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

fn slack_color(n: &AlertNotification) -> &'static str {
    if n.kind.is_resolved() {
        return "#2eb886";
    }
    match n.severity {
        Severity::Page => "#d00000",
        Severity::Ticket => "#ff9900",
        Severity::Info => "#9e9e9e",
    }
}

/// The one place that emits `<…|…>`: a link for a safe http(s) URL, escaped text otherwise.
fn slack_runbook(url: &str) -> String {
    match http_url(url) {
        Some(url) => format!("<{}|Runbook>", url.replace('&', "&amp;")),
        None => format!("Runbook: {}", mrkdwn(url, SLACK_TEXT_MAX_CHARS - 9)),
    }
}

/// `url` if it is an http(s) URL that can sit inside a Slack link: no `<`, `>`, `|`,
/// whitespace or control characters, and of sane length.
pub(super) fn http_url(url: &str) -> Option<&str> {
    let scheme = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let forbidden = |c: char| matches!(c, '<' | '>' | '|') || c.is_whitespace() || c.is_control();
    let ok = (scheme("http://") || scheme("https://"))
        && url.chars().count() <= URL_MAX_CHARS
        && !url.chars().any(forbidden);
    ok.then_some(url)
}

/// Escapes Slack's control characters (`&`, `<`, `>`) and clips to `max_chars`, never leaving
/// half an entity such as `&am` behind.
fn mrkdwn(text: &str, max_chars: usize) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let Some(end) = cut_point(&escaped, max_chars) else {
        return escaped;
    };
    let end = escaped[..end]
        .rfind('&')
        .filter(|&amp| !escaped[amp..end].contains(';'))
        .unwrap_or(end);
    format!("{}…", &escaped[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::sample;
    use crate::notify::NotificationKind::{Firing, Resolved};

    use std::collections::BTreeMap;

    fn render(n: &AlertNotification) -> Value {
        let group = BTreeMap::new();
        slack(&Batch {
            receiver: "slack",
            group: &group,
            alerts: std::slice::from_ref(n),
        })
    }

    fn slack_texts(n: &AlertNotification) -> Vec<String> {
        let body = render(n);
        let blocks = body["attachments"][0]["blocks"].as_array().cloned();
        let mut texts: Vec<String> = blocks
            .unwrap_or_default()
            .iter()
            .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
            .collect();
        texts.extend(body["text"].as_str().map(str::to_owned));
        texts
    }

    #[test]
    fn slack_escapes_mentions_and_ampersands_from_alert_text() {
        let mut n = sample(Firing);
        n.annotations
            .insert("summary".into(), "<!channel> R&D is down".into());
        n.alertname = "<https://evil.example|click>".into();
        for text in slack_texts(&n) {
            assert!(!text.contains("<!channel>"), "{text}");
            assert!(!text.contains("<https://evil"), "{text}");
        }
        assert!(slack_texts(&n)[0].contains("&lt;!channel&gt; R&amp;D is down"));
    }

    #[test]
    fn slack_links_only_safe_http_runbooks() {
        let n = sample(Firing);
        assert_eq!(
            slack_texts(&n)[1],
            "<https://runbooks.example/errors|Runbook>"
        );

        for url in [
            "javascript:alert(1)",
            "https://x.example/a|Click me",
            "https://x/<!here>",
        ] {
            let mut n = sample(Firing);
            n.annotations.insert("runbook_url".into(), url.into());
            let text = &slack_texts(&n)[1];
            assert!(text.starts_with("Runbook: "), "{text}");
            assert!(!text.contains('<') && !text.contains('>'), "{text}");
        }
    }

    #[test]
    fn slack_runbook_link_escapes_ampersands_in_the_url() {
        let mut n = sample(Firing);
        n.annotations
            .insert("runbook_url".into(), "https://wiki.example/?a=1&b=2".into());
        assert_eq!(
            slack_texts(&n)[1],
            "<https://wiki.example/?a=1&amp;b=2|Runbook>"
        );
    }

    #[test]
    fn slack_message_shows_status_severity_summary_and_value() {
        let texts = slack_texts(&sample(Firing));
        assert!(texts[0].starts_with("*[FIRING] high_error_ratio* (page)\nError ratio above 5%"));
        assert!(texts[0].contains("*Value:* 0.12"));
        assert!(slack_texts(&sample(Resolved))[0].starts_with("*[RESOLVED] high_error_ratio*"));
    }

    #[test]
    fn slack_color_follows_kind_and_severity() {
        let color = |n: &AlertNotification| render(n)["attachments"][0]["color"].clone();
        let mut n = sample(Firing);
        assert_eq!(color(&n), "#d00000");
        n.severity = Severity::Ticket;
        assert_eq!(color(&n), "#ff9900");
        n.severity = Severity::Info;
        assert_eq!(color(&n), "#9e9e9e");
        n.kind = Resolved;
        assert_eq!(color(&n), "#2eb886");
    }

    #[test]
    fn slack_text_is_clipped_without_splitting_an_entity() {
        let mut n = sample(Firing);
        n.annotations.insert("description".into(), "&".repeat(5000));
        let text = &slack_texts(&n)[0];
        assert!(text.chars().count() <= SLACK_TEXT_MAX_CHARS);
        assert!(text.ends_with("&amp;…"));
    }

    #[test]
    fn a_group_is_one_message_with_an_attachment_per_alert() {
        let alerts: Vec<AlertNotification> = (0..25).map(|_| sample(Firing)).collect();
        let group = BTreeMap::from([("alertname".to_string(), "high_error_ratio".to_string())]);
        let body = slack(&Batch {
            receiver: "slack",
            group: &group,
            alerts: &alerts,
        });
        assert_eq!(body["text"], "[FIRING:25] alertname=high_error_ratio");
        let attachments = body["attachments"].as_array().cloned().unwrap_or_default();
        assert_eq!(attachments.len(), GROUP_MAX_SHOWN + 1);
        assert_eq!(attachments[0]["color"], "#d00000");
        assert_eq!(attachments[20]["blocks"][0]["text"]["text"], "…and 5 more");
    }
}
