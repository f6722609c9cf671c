//! Request bodies for each receiver, rendered from an [`AlertNotification`] at delivery time.
//!
//! Alert text comes from rules and label values, so it is treated as untrusted: Slack text is
//! escaped so it can neither mention `<!channel>` nor forge links, only http(s) runbook URLs
//! become links, and every field with a receiver-side length limit is clipped on a character
//! boundary so an oversized annotation cannot make a notification undeliverable forever.

use super::{AlertNotification, Channel};
use crate::alerting::severity::Severity;
use crate::time::iso_timestamp;
use serde_json::{json, Value};

/// How far ahead `endsAt` is set while firing, so Alertmanager resolves the alert by itself if
/// Vigil stops re-sending it (Prometheus does the same with a few evaluation intervals).
pub const ALERTMANAGER_RESOLVE_LEAD_MS: f64 = 5.0 * 60_000.0;
/// Alertmanager's "no end yet" in its webhook format.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// Slack rejects section text longer than this.
const SLACK_TEXT_MAX_CHARS: usize = 3000;
/// Longer URLs are not turned into links.
const URL_MAX_CHARS: usize = 2000;
const PAGERDUTY_SUMMARY_MAX_CHARS: usize = 1024;
/// Keeps the PagerDuty `dedup_key` within its 255-character limit.
const DEDUP_SERVICE_MAX_CHARS: usize = 200;

/// The JSON body for `channel`. `now_ms` is the delivery time; `routing_key` is only used by
/// PagerDuty (without it the key is empty and PagerDuty rejects the event).
pub fn render(
    channel: Channel,
    n: &AlertNotification,
    now_ms: f64,
    routing_key: Option<&str>,
) -> Value {
    match channel {
        Channel::Slack => slack(n),
        Channel::Webhook => webhook(n, now_ms),
        Channel::PagerDuty => pagerduty(n, now_ms, routing_key.unwrap_or_default()),
        Channel::Alertmanager => alertmanager(n, now_ms),
    }
}

fn status(n: &AlertNotification) -> &'static str {
    if n.kind.is_resolved() {
        "resolved"
    } else {
        "firing"
    }
}

fn resolved_at_ms(n: &AlertNotification, now_ms: f64) -> f64 {
    n.ends_at_ms.unwrap_or(now_ms)
}

fn slack(n: &AlertNotification) -> Value {
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
fn http_url(url: &str) -> Option<&str> {
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

/// `text` limited to `max_chars` characters, ending in "…" when it was cut.
fn clip(text: &str, max_chars: usize) -> String {
    match cut_point(text, max_chars) {
        Some(end) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Where to cut `text` (a char boundary) so that it plus "…" fits in `max_chars`;
/// `None` when it fits as is.
fn cut_point(text: &str, max_chars: usize) -> Option<usize> {
    text.char_indices().nth(max_chars)?;
    text.char_indices()
        .nth(max_chars.saturating_sub(1))
        .map(|(i, _)| i)
}

/// Alertmanager's webhook format (version 4) with a single alert, so receivers written for
/// Alertmanager work unchanged.
fn webhook(n: &AlertNotification, now_ms: f64) -> Value {
    let labels = n.all_labels();
    let ends_at = if n.kind.is_resolved() {
        iso_timestamp(resolved_at_ms(n, now_ms))
    } else {
        ZERO_TIME.to_owned()
    };
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname={}}}", Value::from(n.alertname.as_str())),
        "truncatedAlerts": 0,
        "status": status(n),
        "receiver": "vigil",
        "groupLabels": { "alertname": n.alertname },
        "commonLabels": labels,
        "commonAnnotations": n.annotations,
        "externalURL": "",
        "alerts": [{
            "status": status(n),
            "labels": labels,
            "annotations": n.annotations,
            "startsAt": iso_timestamp(n.starts_at_ms),
            "endsAt": ends_at,
            "generatorURL": n.generator_url.as_deref().unwrap_or_default(),
            "fingerprint": n.fingerprint(),
        }],
    })
}

/// PagerDuty Events API v2. One `dedup_key` per alert makes a repeat a no-op for an open
/// incident and lets `resolve` close it.
fn pagerduty(n: &AlertNotification, now_ms: f64, routing_key: &str) -> Value {
    let resolved = n.kind.is_resolved();
    let summary = match n.annotation("summary") {
        "" => n.alertname.clone(),
        summary => format!("{}: {summary}", n.alertname),
    };
    let links: Vec<Value> = http_url(n.annotation("runbook_url"))
        .map(|href| json!({ "href": href, "text": "Runbook" }))
        .into_iter()
        .collect();
    let event_ms = if resolved {
        resolved_at_ms(n, now_ms)
    } else {
        n.starts_at_ms
    };
    json!({
        "routing_key": routing_key,
        "event_action": if resolved { "resolve" } else { "trigger" },
        "dedup_key": format!("vigil/{}/{}", clip(&n.service, DEDUP_SERVICE_MAX_CHARS), n.fingerprint()),
        "payload": {
            "summary": clip(&summary, PAGERDUTY_SUMMARY_MAX_CHARS),
            // PagerDuty requires a non-empty source.
            "source": if n.service.is_empty() { "vigil" } else { &n.service },
            "severity": pagerduty_severity(n.severity),
            "timestamp": iso_timestamp(event_ms),
            "component": n.service,
            "group": n.environment,
            "class": n.alertname,
            "custom_details": {
                "labels": n.all_labels(),
                "annotations": n.annotations,
                "value": n.value,
            },
        },
        "links": links,
    })
}

fn pagerduty_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Page => "critical",
        Severity::Ticket => "warning",
        Severity::Info => "info",
    }
}

/// Alertmanager API v2 `POST /api/v2/alerts` body: an array of one postableAlert.
fn alertmanager(n: &AlertNotification, now_ms: f64) -> Value {
    let ends_at_ms = if n.kind.is_resolved() {
        resolved_at_ms(n, now_ms)
    } else {
        now_ms + ALERTMANAGER_RESOLVE_LEAD_MS
    };
    json!([{
        "labels": n.all_labels(),
        "annotations": n.annotations,
        "startsAt": iso_timestamp(n.starts_at_ms),
        "endsAt": iso_timestamp(ends_at_ms),
        "generatorURL": n.generator_url.as_deref().unwrap_or_default(),
    }])
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::super::NotificationKind::{Firing, Repeat, Resolved};
    use super::*;

    const NOW_MS: f64 = 1_700_000_900_000.0;

    fn slack_texts(n: &AlertNotification) -> Vec<String> {
        let body = render(Channel::Slack, n, NOW_MS, None);
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
        let color = |n: &AlertNotification| {
            render(Channel::Slack, n, NOW_MS, None)["attachments"][0]["color"].clone()
        };
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
    fn webhook_mirrors_the_alertmanager_webhook_format() {
        let n = sample(Firing);
        let body = render(Channel::Webhook, &n, NOW_MS, None);
        assert_eq!(body["version"], "4");
        assert_eq!(body["status"], "firing");
        assert_eq!(body["receiver"], "vigil");
        assert_eq!(body["groupKey"], r#"{}:{alertname="high_error_ratio"}"#);
        assert_eq!(
            body["groupLabels"],
            json!({ "alertname": "high_error_ratio" })
        );
        let alert = &body["alerts"][0];
        assert_eq!(alert["status"], "firing");
        assert_eq!(
            alert["labels"],
            json!({
                "alertname": "high_error_ratio", "severity": "page", "service": "api",
                "environment": "production", "team": "ops",
            })
        );
        assert_eq!(body["commonLabels"], alert["labels"]);
        assert_eq!(alert["annotations"]["summary"], "Error ratio above 5%");
        assert_eq!(alert["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(
            alert["generatorURL"],
            "https://vigil.example/alerts/high_error_ratio"
        );
        assert_eq!(alert["fingerprint"], n.fingerprint());
    }

    #[test]
    fn webhook_reports_resolution_time_and_treats_repeat_as_firing() {
        let resolved = render(Channel::Webhook, &sample(Resolved), NOW_MS, None);
        assert_eq!(resolved["status"], "resolved");
        assert_eq!(resolved["alerts"][0]["status"], "resolved");
        assert_eq!(resolved["alerts"][0]["endsAt"], "2023-11-14T22:23:20.000Z");
        let repeat = render(Channel::Webhook, &sample(Repeat), NOW_MS, None);
        assert_eq!(repeat["status"], "firing");
    }

    fn pagerduty_body(n: &AlertNotification) -> Value {
        render(Channel::PagerDuty, n, NOW_MS, Some("R0UT1NGKEY"))
    }

    #[test]
    fn pagerduty_dedup_key_matches_across_transitions_of_one_alert() {
        let keys: Vec<Value> = [Firing, Repeat, Resolved]
            .map(|kind| pagerduty_body(&sample(kind))["dedup_key"].clone())
            .to_vec();
        assert_eq!(keys[0], keys[1]);
        assert_eq!(keys[0], keys[2]);
        assert_eq!(
            keys[0],
            format!("vigil/api/{}", sample(Firing).fingerprint())
        );
    }

    #[test]
    fn pagerduty_dedup_key_differs_between_alerts() {
        let mut other = sample(Firing);
        other.alertname = "high_latency".into();
        assert_ne!(
            pagerduty_body(&sample(Firing))["dedup_key"],
            pagerduty_body(&other)["dedup_key"]
        );
    }

    #[test]
    fn pagerduty_triggers_while_firing_and_resolves_on_resolved() {
        let firing = pagerduty_body(&sample(Firing));
        assert_eq!(firing["routing_key"], "R0UT1NGKEY");
        assert_eq!(firing["event_action"], "trigger");
        assert_eq!(firing["payload"]["source"], "api");
        assert_eq!(
            firing["payload"]["summary"],
            "high_error_ratio: Error ratio above 5%"
        );
        assert_eq!(firing["payload"]["custom_details"]["value"], 0.12);
        assert_eq!(
            firing["links"],
            json!([{ "href": "https://runbooks.example/errors", "text": "Runbook" }])
        );
        assert_eq!(pagerduty_body(&sample(Repeat))["event_action"], "trigger");
        assert_eq!(pagerduty_body(&sample(Resolved))["event_action"], "resolve");
    }

    #[test]
    fn pagerduty_severity_maps_page_ticket_and_others() {
        let mut n = sample(Firing);
        for (severity, expected) in [
            (Severity::Page, "critical"),
            (Severity::Ticket, "warning"),
            (Severity::Info, "info"),
        ] {
            n.severity = severity;
            assert_eq!(pagerduty_body(&n)["payload"]["severity"], expected);
        }
    }

    #[test]
    fn pagerduty_summary_is_truncated_on_a_character_boundary() {
        let mut n = sample(Firing);
        n.annotations.insert("summary".into(), "é🔥".repeat(1000));
        let summary = pagerduty_body(&n)["payload"]["summary"]
            .as_str()
            .map(str::to_owned);
        let summary = summary.unwrap_or_default();
        assert_eq!(summary.chars().count(), PAGERDUTY_SUMMARY_MAX_CHARS);
        assert!(summary.ends_with('…'));
        assert!(summary.starts_with("high_error_ratio: é🔥"));
    }

    #[test]
    fn alertmanager_ends_at_is_ahead_while_firing() {
        for kind in [Firing, Repeat] {
            let body = render(Channel::Alertmanager, &sample(kind), NOW_MS, None);
            assert_eq!(body.as_array().map(Vec::len), Some(1));
            assert_eq!(body[0]["startsAt"], "2023-11-14T22:13:20.000Z");
            assert_eq!(
                body[0]["endsAt"],
                iso_timestamp(NOW_MS + ALERTMANAGER_RESOLVE_LEAD_MS)
            );
            assert_eq!(body[0]["endsAt"], "2023-11-14T22:33:20.000Z");
            assert_eq!(body[0]["labels"]["alertname"], "high_error_ratio");
        }
    }

    #[test]
    fn alertmanager_ends_at_is_the_resolve_time_when_resolved() {
        let body = render(Channel::Alertmanager, &sample(Resolved), NOW_MS, None);
        assert_eq!(body[0]["endsAt"], "2023-11-14T22:23:20.000Z");
        let mut unknown_end = sample(Resolved);
        unknown_end.ends_at_ms = None;
        let body = render(Channel::Alertmanager, &unknown_end, NOW_MS, None);
        assert_eq!(body[0]["endsAt"], iso_timestamp(NOW_MS));
    }

    #[test]
    fn rendering_survives_hostile_numbers_and_empty_fields() {
        let mut n = sample(Firing);
        n.value = f64::NAN;
        n.starts_at_ms = f64::INFINITY;
        n.service.clear();
        n.annotations.clear();
        for channel in Channel::ALL {
            assert!(!render(channel, &n, f64::NAN, None).is_null());
        }
        assert_eq!(pagerduty_body(&n)["payload"]["source"], "vigil");
    }
}
