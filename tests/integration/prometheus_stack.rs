//! The shipped `deploy/` configuration end to end: a hub in workerd, a real Prometheus loading
//! the shipped scrape config and rules (1 s intervals), a real Alertmanager loading the shipped
//! routes with a loopback receiver, and the blackbox exporter with the shipped module.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemons::Daemon;
use crate::harness::{now_ms, project_dir, Options, Worker};
use crate::notifications::{alertmanager, only};
use crate::receiver::{Behavior, Receiver};
use crate::ADMIN_TOKEN;

crate::tests!(a_failing_probe_reaches_alertmanager_prometheus_and_the_blackbox_exporter);

const METRICS_TOKEN: &str = "it-metrics-token";

fn shipped(path: &str) -> String {
    std::fs::read_to_string(project_dir().join("deploy").join(path)).expect("shipped file")
}

/// The shipped Prometheus configuration, pointed at this hub, exporter and Alertmanager, with
/// 1 s intervals so the test need not wait minutes.
fn prometheus(hub: &str, blackbox: &str, alertmanager: &str) -> Daemon {
    let config = shipped("prometheus/prometheus.yml")
        .replace("30s", "1s")
        .replace("scheme: https", "scheme: http")
        .replace("https://vigil.example.com", &format!("http://{hub}"))
        .replace("vigil.example.com", hub)
        .replace("localhost:9115", blackbox)
        .replace("localhost:9093", alertmanager);
    let rules = shipped("prometheus/vigil.rules.yml");
    Daemon::start(
        "prometheus",
        |dir: &Path| {
            std::fs::write(dir.join("prometheus.yml"), config).expect("config");
            std::fs::write(dir.join("vigil.rules.yml"), rules).expect("rules");
            std::fs::write(dir.join("vigil-metrics-token"), METRICS_TOKEN).expect("token");
        },
        |dir, port| {
            vec![
                "--config.file=prometheus.yml".into(),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ]
        },
        "/-/ready",
    )
}

fn blackbox_exporter() -> Daemon {
    let config = shipped("blackbox/blackbox.yml");
    Daemon::start(
        "prometheus-blackbox-exporter",
        |dir: &Path| std::fs::write(dir.join("blackbox.yml"), config).expect("config"),
        |_, port| {
            vec![
                "--config.file=blackbox.yml".into(),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ]
        },
        "/metrics",
    )
}

/// Waits (up to `seconds`) until `check` returns something.
fn eventually<T>(seconds: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "within {seconds} s: {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The samples of a PromQL query, as `(labels, value)`.
fn query(prometheus: &Daemon, promql: &str) -> Vec<(Value, f64)> {
    let reply: Value = ureq::get(&format!("{}/api/v1/query", prometheus.url))
        .query("query", promql)
        .call()
        .expect("Prometheus answers")
        .into_json()
        .expect("JSON");
    let results = reply["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    results
        .into_iter()
        .map(|r| {
            let value = r["value"][1].as_str().and_then(|v| v.parse().ok());
            (r["metric"].clone(), value.unwrap_or(f64::NAN))
        })
        .collect()
}

/// What the blackbox exporter says of `target` with the shipped module: `probe_success`.
fn blackbox_success(exporter: &Daemon, target: &str) -> f64 {
    let url = format!("{}/probe", exporter.url);
    let body = ureq::get(&url)
        .query("module", "vigil_http_ready")
        .query("target", target)
        .call()
        .expect("the exporter answers")
        .into_string()
        .expect("text");
    let line = body.lines().find(|l| l.starts_with("probe_success "));
    let value = line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
    value.unwrap_or_else(|| panic!("no probe_success:\n{body}"))
}

/// Alertmanager's webhook deliveries of `alertname` (firing) to the receiver.
fn deliveries(receiver: &Receiver, alertname: &str) -> Vec<Value> {
    let received = receiver.received();
    let bodies = received.iter().map(|r| r.json());
    bodies
        .filter(|b| b["status"] == "firing" && b["commonLabels"]["alertname"] == alertname)
        .collect()
}

fn a_failing_probe_reaches_alertmanager_prometheus_and_the_blackbox_exporter() {
    let target = Receiver::start(Behavior::Status(503));
    let receiver = Receiver::start(Behavior::Status(200));
    let am_config =
        shipped("alertmanager/alertmanager.yml").replace("http://127.0.0.1:9099", &receiver.url);
    let alertmanager = alertmanager(&am_config);
    let probes = format!(
        r#"[{{"name": "www", "url": "{}/down", "timeout": "2s"}}]"#,
        target.url
    );
    let options = |without: Vec<&'static str>| Options {
        without_bindings: without,
        vars: vec![
            ("PROBES", probes.clone()),
            ("ALERT_RULES", only(r#"{"id": "probe-down"}"#)),
        ],
        secrets: vec![
            ("ADMIN_TOKEN", ADMIN_TOKEN.into()),
            ("METRICS_TOKEN", METRICS_TOKEN.into()),
            ("ALERTMANAGER_URL", alertmanager.url.clone()),
        ],
        ..Options::default()
    };
    let hub = Worker::start(options(vec![]));
    let hub_address = hub.base.trim_start_matches("http://").to_string();
    let exporter = blackbox_exporter();
    let strip = |d: &Daemon| d.url.trim_start_matches("http://").to_string();
    let prometheus = prometheus(&hub_address, &strip(&exporter), &strip(&alertmanager));

    // The fault: the probe's target answers 503. Vigil fires probe-down and pushes it to
    // Alertmanager, which routes the page to the on-call receiver, once.
    hub.run_cron(now_ms());
    let firing = eventually(60, "Alertmanager delivers probe-down", || {
        let sent = deliveries(&receiver, "probe-down");
        (!sent.is_empty()).then_some(sent)
    });
    assert_eq!(firing[0]["receiver"], "on-call", "{firing:?}");
    assert_eq!(firing[0]["commonLabels"]["probe"], "www");
    // Alertmanager's group_wait is 10 s; another run re-sends the same alert to it, and the
    // receiver still hears once.
    hub.run_cron(now_ms());
    std::thread::sleep(Duration::from_secs(12));
    let sent = deliveries(&receiver, "probe-down");
    assert_eq!(sent.len(), 1, "{sent:?}");

    // Prometheus scrapes the hub with the token and records the shipped series. The hub's
    // counts (its scrapes are requests too) reach /metrics with each cron run's flush.
    let recorded = eventually(60, "recorded request rates above 0", || {
        hub.run_cron(now_ms());
        let samples = query(&prometheus, "service:vigil_http_requests:rate5m");
        samples.iter().any(|(_, v)| *v > 0.0).then_some(samples)
    });
    assert_eq!(recorded[0].0["service"], "vigil", "{recorded:?}");
    let probe = query(&prometheus, r#"vigil_probe_success{probe="www"}"#);
    assert_eq!(probe.len(), 1, "{probe:?}\n{}", prometheus.log());
    assert_eq!(probe[0].1, 0.0);
    let up = query(&prometheus, r#"up{job="vigil"}"#);
    assert_eq!(up.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [1.0]);

    // The blackbox exporter, scraped by Prometheus, finds /readyz and /health healthy.
    let healthy = eventually(60, "blackbox probes of /readyz and /health", || {
        let samples = query(&prometheus, r#"probe_success{job="vigil-blackbox"}"#);
        (samples.len() == 2).then_some(samples)
    });
    assert!(healthy.iter().all(|(_, v)| *v == 1.0), "{healthy:?}");
    // The cron runs since the first delivery re-sent the alert; Alertmanager still sent once.
    assert_eq!(deliveries(&receiver, "probe-down").len(), 1);

    // A hub fault the exporter sees: the same hub without its KV binding fails readiness.
    let hub = hub.restart(options(vec!["KV"]));
    assert_eq!(blackbox_success(&exporter, &hub.url("/readyz")), 0.0);
    assert_eq!(blackbox_success(&exporter, &hub.url("/livez")), 1.0);
}
