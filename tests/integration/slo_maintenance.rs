//! `SLO_MAINTENANCE`: with `exclude`, the checks a probe failed under maintenance leave its
//! SLO windows; the failures around it still burn budget. (The status page test holds the
//! default: there, maintenance counts.)

use crate::harness::{now_ms, Worker};
use crate::receiver::{Behavior, Receiver};
use crate::status::{hub, iso, MINUTE};

crate::tests!(with_exclude_a_probe_under_maintenance_burns_no_budget);

/// The burn rate over `window` (`5m`, `1h`, …) of probe `probe`'s availability SLO.
pub fn probe_burn(hub: &Worker, probe: &str, window: &str) -> f64 {
    let slos = hub.admin_send("GET", "/api/slos", "").json();
    let report = slos["slos"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["probe"] == probe).cloned())
        .unwrap_or_else(|| panic!("no SLO of probe {probe}: {slos}"));
    let rates = report["burnRates"].as_array().cloned().unwrap_or_default();
    let rate = rates.iter().find(|r| r[0] == window).map(|r| r[1].clone());
    rate.and_then(|r| r.as_f64())
        .unwrap_or_else(|| panic!("no {window} burn rate: {report}"))
}

fn with_exclude_a_probe_under_maintenance_burns_no_budget() {
    let target = Receiver::start(Behavior::Status(503));
    let receiver = Receiver::start(Behavior::Status(200));
    let down = format!("{}/health", target.url);
    let hub = hub(
        &[("www", down.clone()), ("api", down)],
        &receiver,
        vec![("SLO_MAINTENANCE", "exclude".into())],
    );
    // Both probes fail 20 minutes ago, before the maintenance, and now, during www's.
    hub.run_cron(now_ms() - 20 * MINUTE);
    let body = format!(
        r#"{{"title": "www move", "components": ["www"], "startsAt": "{}", "endsAt": "{}"}}"#,
        iso(now_ms()),
        iso(now_ms() + 60 * MINUTE)
    );
    let planned = hub.admin_send("POST", "/api/maintenances", &body);
    assert_eq!(planned.status, 201, "{}", planned.body);
    hub.run_cron(now_ms());
    // One bad check in a window of one, against a 0.999 objective: a burn rate of 1000.
    let full = 1.0 / (1.0 - 0.999);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(close(probe_burn(&hub, "api", "5m"), full), "api burns now");
    assert_eq!(
        probe_burn(&hub, "www", "5m"),
        0.0,
        "www's check now is left out"
    );
    assert!(
        close(probe_burn(&hub, "www", "1h"), full),
        "www's check before the maintenance still counts"
    );
}
