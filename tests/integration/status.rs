//! Silences, maintenance, and the public status page: in the hub, with real loopback probe
//! targets and receivers, the page read by a real headless Chromium, and a burst of visitors
//! against the cache.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use serde_json::Value;

use crate::browser::Browser;
use crate::harness::{now_ms, project_dir, Options, Worker};
use crate::notifications::only;
use crate::receiver::{Behavior, Receiver};
use crate::slo_maintenance::probe_burn;
use crate::ADMIN_TOKEN;

crate::tests!(
    a_silenced_alert_sends_nothing_and_its_state_once_the_silence_ends,
    silence_and_maintenance_input_is_checked_field_by_field,
    the_status_page_in_chromium_shows_states_bars_incident_and_maintenance,
    a_burst_of_visitors_reads_d1_once,
);

pub const MINUTE: u64 = 60_000;
/// The burst: this many requests from this many concurrent visitors.
const REQUESTS: usize = 1000;
const THREADS: usize = 32;
const SCRIPT: &str = "<script>alert(1)</script>";

/// A hub probing `targets` (name → URL, all public), notifying the webhook `receiver`.
pub fn hub(
    targets: &[(&str, String)],
    receiver: &Receiver,
    vars: Vec<(&'static str, String)>,
) -> Worker {
    let probes: Vec<String> = targets
        .iter()
        .map(|(name, url)| {
            format!(r#"{{"name": "{name}", "url": "{url}", "timeout": "2s", "public": true}}"#)
        })
        .collect();
    let mut all = vec![
        ("PROBES", format!("[{}]", probes.join(", "))),
        ("ALERT_RULES", only("")),
    ];
    all.extend(vars);
    Worker::start(Options {
        vars: all,
        secrets: vec![
            ("ADMIN_TOKEN", ADMIN_TOKEN.into()),
            ("WEBHOOK_URL", format!("{}/hook", receiver.url)),
            ("WEBHOOK_SECRET", "it-secret".into()),
        ],
        ..Options::default()
    })
}

pub fn iso(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .expect("a valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Creates a silence of probe `probe` for the next hour; returns its id.
fn silence(hub: &Worker, probe: &str) -> String {
    let body = format!(
        r#"{{"matchers": [{{"name": "probe", "value": "{probe}", "isRegex": false}}],
            "startsAt": "{}", "endsAt": "{}", "createdBy": "it", "comment": "planned"}}"#,
        iso(now_ms()),
        iso(now_ms() + 60 * MINUTE)
    );
    let reply = hub.admin_send("POST", "/api/silences", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["silenceID"]
        .as_str()
        .expect("an id")
        .to_string()
}

fn statuses(receiver: &Receiver) -> Vec<String> {
    let received = receiver.received();
    received
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The probe-down instance of `probe` in `/api/alerts`.
fn probe_down(hub: &Worker, probe: &str) -> Value {
    let alerts = hub.admin_send("GET", "/api/alerts", "").json();
    let rules = alerts["rules"].as_array().cloned().unwrap_or_default();
    let rule = rules.iter().find(|r| r["rule"]["id"] == "probe-down");
    let instances = rule.and_then(|r| r["instances"].as_array().cloned());
    let found = instances.and_then(|i| i.into_iter().find(|i| i["labels"]["probe"] == probe));
    found.unwrap_or_else(|| panic!("no probe-down{{probe={probe}}}: {alerts}"))
}

fn a_silenced_alert_sends_nothing_and_its_state_once_the_silence_ends() {
    let target = Receiver::start(Behavior::Status(500));
    let receiver = Receiver::start(Behavior::Status(200));
    let hub = hub(
        &[("www", format!("{}/health", target.url))],
        &receiver,
        vec![],
    );
    let start = now_ms() + MINUTE;
    let id = silence(&hub, "www");
    hub.run_cron(start);
    let alert = probe_down(&hub, "www");
    assert_eq!(alert["state"], "firing", "{alert}");
    assert_eq!(alert["silencedBy"], serde_json::json!([id]), "{alert}");
    hub.run_cron(start + MINUTE);
    assert!(
        statuses(&receiver).is_empty(),
        "silenced: {:?}",
        statuses(&receiver)
    );

    let expired = hub.admin_send("DELETE", &format!("/api/silences/{id}"), "");
    assert_eq!(expired.status, 200, "{}", expired.body);
    let listed = hub.admin_send("GET", "/api/silences", "").json();
    assert_eq!(listed[0]["status"]["state"], "expired", "{listed}");
    hub.run_cron(start + 2 * MINUTE);
    hub.run_cron(start + 3 * MINUTE);
    assert_eq!(statuses(&receiver), ["firing"], "once, after the silence");

    // Resolved before a silence starts: creating and expiring it sends nothing more.
    target.set(Behavior::Status(200));
    hub.run_cron(start + 4 * MINUTE);
    assert_eq!(statuses(&receiver), ["firing", "resolved"]);
    let id = silence(&hub, "www");
    hub.run_cron(start + 5 * MINUTE);
    hub.admin_send("DELETE", &format!("/api/silences/{id}"), "");
    hub.run_cron(start + 6 * MINUTE);
    // Fired and resolved within a silence: receivers, who last heard "resolved", hear nothing.
    let id = silence(&hub, "www");
    target.set(Behavior::Status(500));
    hub.run_cron(start + 7 * MINUTE);
    target.set(Behavior::Status(200));
    hub.run_cron(start + 8 * MINUTE);
    hub.admin_send("DELETE", &format!("/api/silences/{id}"), "");
    hub.run_cron(start + 9 * MINUTE);
    hub.run_cron(start + 10 * MINUTE);
    assert_eq!(statuses(&receiver), ["firing", "resolved"]);
    assert_eq!(probe_down(&hub, "www")["lastSent"], "resolved");
}

fn silence_and_maintenance_input_is_checked_field_by_field() {
    let receiver = Receiver::start(Behavior::Status(200));
    let hub = hub(&[("www", format!("{}/x", receiver.url))], &receiver, vec![]);
    let (now, later) = (iso(now_ms()), iso(now_ms() + MINUTE * 10));
    let matcher = r#"[{"name": "probe", "value": "www", "isRegex": false}]"#;
    let cases = [
        (
            "/api/silences",
            format!(
                r#"{{"matchers": [{{"name": "probe", "value": "(", "isRegex": true}}], "startsAt": "{now}", "endsAt": "{later}", "createdBy": "a", "comment": "b"}}"#
            ),
            "matchers[0].value",
        ),
        (
            "/api/silences",
            format!(
                r#"{{"matchers": {matcher}, "startsAt": "{later}", "endsAt": "{now}", "createdBy": "a", "comment": "b"}}"#
            ),
            "endsAt",
        ),
        (
            "/api/silences",
            format!(
                r#"{{"matchers": {matcher}, "startsAt": "{now}", "endsAt": "{later}", "createdBy": "a", "comment": "b", "owner": "x"}}"#
            ),
            "unknown field `owner`",
        ),
        (
            "/api/silences",
            format!("{{\"comment\": \"{}\"}}", "x".repeat(20_000)),
            "body: larger than",
        ),
        (
            "/api/maintenances",
            format!(
                r#"{{"title": "t", "components": [], "startsAt": "{now}", "endsAt": "{later}"}}"#
            ),
            "components",
        ),
    ];
    for (path, body, field) in cases {
        let reply = hub.admin_send("POST", path, &body);
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        let detail = reply.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(detail.contains(field), "{field}: {detail}");
    }
    let unauthorised = hub.request("GET", "/api/silences", &[]);
    assert_eq!(unauthorised.status, 401);
    assert_eq!(
        hub.admin_send("DELETE", "/api/silences/nope", "").status,
        404
    );
    assert_eq!(
        hub.admin_send("GET", "/api/silences", "").json(),
        serde_json::json!([])
    );
}

/// The status page's facts as the browser rendered them.
const READ_PAGE: &str = r#"
const text = (el, sel) => (el.querySelector(sel) || {}).textContent || null;
return {
  banner: text(document, '.banner'),
  width: window.innerWidth,
  overflow: document.documentElement.scrollWidth > window.innerWidth,
  scripts: document.scripts.length,
  components: [...document.querySelectorAll('.component')].map(c => ({
    name: c.querySelector('.name').firstChild.textContent.trim(),
    state: text(c, '.state'),
    bars: c.querySelectorAll('li.bar').length,
    labelled: [...c.querySelectorAll('li.bar')].every(b => b.title && b.textContent),
  })),
  incidents: [...document.querySelectorAll('.incident')].map(i => i.textContent),
  maintenance: [...document.querySelectorAll('.maintenance')].map(m => m.textContent),
};"#;

fn the_status_page_in_chromium_shows_states_bars_incident_and_maintenance() {
    let target = Receiver::start(Behavior::Status(200));
    target.set_path("/down", Behavior::Status(503));
    let receiver = Receiver::start(Behavior::Status(200));
    let targets = [
        ("www", format!("{}/down", target.url)),
        ("billing", format!("{}/down", target.url)),
    ];
    let vars = vec![
        ("SERVICE_NAME", SCRIPT.to_string()),
        ("STATUS_TITLE", "Acme <status>".to_string()),
    ];
    let hub = hub(&targets, &receiver, vars);
    let body = format!(
        r#"{{"title": "Billing DB upgrade", "components": ["billing"], "startsAt": "{}", "endsAt": "{}"}}"#,
        iso(now_ms()),
        iso(now_ms() + 60 * MINUTE)
    );
    let planned = hub.admin_send("POST", "/api/maintenances", &body);
    assert_eq!(planned.status, 201, "{}", planned.body);
    let id = planned.json()["id"].as_str().expect("an id").to_string();
    // At the real time: the page counts checks up to now.
    hub.run_cron(now_ms());
    // The maintenance silences billing's alert; www pages.
    let billing = probe_down(&hub, "billing");
    assert_eq!(billing["state"], "firing");
    assert!(
        probe_burn(&hub, "billing", "5m") > 0.0,
        "by default, maintenance counts against the SLO"
    );
    assert_eq!(
        billing["silencedBy"],
        serde_json::json!([format!("maintenance:{id}")])
    );
    let sent: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["alerts"][0]["labels"]["probe"], "www", "{sent:?}");

    let artefacts = project_dir().join("target/test-artefacts");
    std::fs::create_dir_all(&artefacts).expect("target/ is writable");
    let browser = Browser::start();
    for width in [375, 1440] {
        browser.open(&hub.url("/status"), width);
        let page = browser.eval(READ_PAGE);
        browser.screenshot(&artefacts.join(format!("status-{width}.png")));
        assert_eq!(page["banner"], "Partial outage", "{width}: {page}");
        assert_eq!(
            page["overflow"], false,
            "no sideways scrolling at {width}: {page}"
        );
        assert_eq!(page["scripts"], 0, "{page}");
        let components = page["components"].as_array().cloned().unwrap_or_default();
        let state_of = |name: &str| {
            let c = components.iter().find(|c| c["name"] == name);
            c.unwrap_or_else(|| panic!("no {name}: {page}"))["state"].clone()
        };
        assert_eq!(
            state_of(SCRIPT),
            "Operational",
            "escaped, shown as text: {page}"
        );
        assert_eq!(state_of("www"), "Major outage", "{page}");
        assert_eq!(state_of("billing"), "Under maintenance", "{page}");
        for c in &components {
            assert_eq!(c["bars"], 90, "{c}");
            assert_eq!(c["labelled"], true, "every bar has its date and state: {c}");
        }
        let incidents = page["incidents"].to_string();
        assert!(incidents.contains("A synthetic probe is down") && incidents.contains("www"));
        assert!(
            !incidents.contains("billing"),
            "planned work is no incident: {incidents}"
        );
        let maintenance = page["maintenance"].to_string();
        assert!(maintenance.contains("Billing DB upgrade"), "{maintenance}");
    }
    let json = hub.get("/status.json").json();
    assert_eq!(json["overall"]["state"], "partial_outage", "{json}");
    let badge = hub.get("/badge/www.json").json();
    assert_eq!(badge["message"], "major outage", "{badge}");
    let svg = hub.get("/badge/www.svg?type=uptime");
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.body.contains("www uptime 30d: 0.00%"), "{}", svg.body);
    assert_eq!(hub.get("/badge/nope.svg").status, 404);
}

fn a_burst_of_visitors_reads_d1_once() {
    let receiver = Receiver::start(Behavior::Status(200));
    let hub = hub(
        &[("www", format!("{}/ok", receiver.url))],
        &receiver,
        vec![],
    );
    hub.run_cron(now_ms());
    let hits = Arc::new(AtomicUsize::new(0));
    let url = hub.url("/status");
    // All visitors' first requests leave together, so they miss the cache together.
    let start = Arc::new(Barrier::new(THREADS));
    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (hits, url, start) = (hits.clone(), url.clone(), start.clone());
            std::thread::spawn(move || {
                let agent = ureq::agent();
                start.wait();
                for _ in (t..REQUESTS).step_by(THREADS) {
                    // Every visitor gets the page: none waits on another's read and is
                    // cancelled as hung (the failure a shared in-flight future caused).
                    let reply = agent.get(&url).call().unwrap_or_else(|e| panic!("{e}"));
                    if reply.header("x-vigil-cache") == Some("hit") {
                        hits.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    threads
        .into_iter()
        .for_each(|t| t.join().expect("every request answered 200"));
    // A loaded machine may stretch the burst past the page's 30 s lifetime: each lifetime
    // allows one read, and one wave of concurrent misses while it is read.
    let lifetimes = started.elapsed().as_secs() as usize / 30 + 1;
    let builds = hub
        .log_lines()
        .iter()
        .filter(|l| l["message"] == "status page built")
        .count();
    let hits = hits.load(Ordering::SeqCst);
    println!(
        "status burst: {REQUESTS} requests in {:?}, {hits} cache hits, {builds} D1 reads",
        started.elapsed()
    );
    assert!((1..=lifetimes).contains(&builds), "{builds} builds");
    assert!(REQUESTS - hits <= THREADS * lifetimes, "{hits} cache hits");
}
