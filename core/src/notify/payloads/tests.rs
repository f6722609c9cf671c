use super::*;
use crate::notify::tests::sample;
use crate::notify::NotificationKind::{Firing, Repeat, Resolved};

const NOW_MS: f64 = 1_700_000_900_000.0;
/// One alert in its own group, as the default route groups it.
fn one(n: &AlertNotification) -> Value {
    let group = BTreeMap::from([("alertname".to_string(), n.alertname.clone())]);
    let batch = Batch {
        receiver: "webhook",
        group: &group,
        alerts: std::slice::from_ref(n),
    };
    webhook(&batch, NOW_MS)
}

#[test]
fn webhook_mirrors_the_alertmanager_webhook_format() {
    let n = sample(Firing);
    let body = one(&n);
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "webhook");
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
    let resolved = one(&sample(Resolved));
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    assert_eq!(resolved["alerts"][0]["endsAt"], "2023-11-14T22:23:20.000Z");
    let repeat = one(&sample(Repeat));
    assert_eq!(repeat["status"], "firing");
}

#[test]
fn alertmanager_ends_at_is_ahead_while_firing() {
    for kind in [Firing, Repeat] {
        let body = alertmanager(&[sample(kind)], NOW_MS);
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
    let body = alertmanager(&[sample(Resolved)], NOW_MS);
    assert_eq!(body[0]["endsAt"], "2023-11-14T22:23:20.000Z");
    let mut unknown_end = sample(Resolved);
    unknown_end.ends_at_ms = None;
    let body = alertmanager(&[unknown_end], NOW_MS);
    assert_eq!(body[0]["endsAt"], iso_timestamp(NOW_MS));
}

#[test]
fn rendering_survives_hostile_numbers_and_empty_fields() {
    let mut n = sample(Firing);
    n.value = f64::NAN;
    n.starts_at_ms = f64::INFINITY;
    n.service.clear();
    n.annotations.clear();
    let group = BTreeMap::new();
    let batch = Batch {
        receiver: "x",
        group: &group,
        alerts: std::slice::from_ref(&n),
    };
    assert!(!slack(&batch).is_null());
    assert!(!webhook(&batch, f64::NAN).is_null());
    assert!(!alertmanager(&[n.clone()], f64::NAN).is_null());
    let mail = email::message(
        &batch,
        "v@x.test",
        &["a@b.test".into()],
        f64::NAN,
        "<1@x.test>",
    );
    assert!(mail.contains("Subject: "));
    assert_eq!(
        pagerduty(&n, NOW_MS, "R0UT1NGKEY")["payload"]["source"],
        "vigil"
    );
}

#[test]
fn a_group_is_one_webhook_body_listing_its_alerts_with_what_they_share() {
    let mut alerts = Vec::new();
    for service in ["api", "www", "db"] {
        let mut n = sample(Firing);
        n.service = service.into();
        alerts.push(n);
    }
    alerts[2].kind = Resolved;
    let group = BTreeMap::from([("alertname".to_string(), "high_error_ratio".to_string())]);
    let batch = Batch {
        receiver: "team-hook",
        group: &group,
        alerts: &alerts,
    };
    let body = webhook(&batch, NOW_MS);
    assert_eq!(body["alerts"].as_array().map(Vec::len), Some(3));
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "team-hook");
    assert_eq!(body["groupKey"], r#"{}:{alertname="high_error_ratio"}"#);
    assert_eq!(body["commonLabels"]["alertname"], "high_error_ratio");
    assert!(body["commonLabels"].get("service").is_none());
    assert_eq!(body["alerts"][2]["status"], "resolved");
    assert_eq!(
        batch.headline(),
        "[FIRING:2, RESOLVED:1] alertname=high_error_ratio"
    );
    let resolved = [alerts[2].clone()];
    let batch = Batch {
        alerts: &resolved,
        ..batch
    };
    assert_eq!(webhook(&batch, NOW_MS)["status"], "resolved");
    assert_eq!(batch.headline(), "[RESOLVED:1] alertname=high_error_ratio");
}

#[test]
fn alertmanager_takes_every_alert_of_a_batch_in_one_array() {
    let body = alertmanager(&[sample(Firing), sample(Resolved)], NOW_MS);
    assert_eq!(body.as_array().map(Vec::len), Some(2));
}
