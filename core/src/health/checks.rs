//! Dependency checks as data, and the two ways readiness is reported: Kubernetes-style probe
//! text (`/livez`, `/readyz`) and IETF health+json (`/health`).
//!
//! Pure: the shell runs the checks (`health::probes`) and hands the results here.

use serde_json::{json, Map, Value};

use crate::time::iso_timestamp;

/// A readiness check, named as in `/readyz/{check}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    D1,
    Kv,
    R2,
    Migrations,
}

impl Check {
    pub const ALL: [Check; 4] = [Check::D1, Check::Kv, Check::R2, Check::Migrations];

    pub fn name(self) -> &'static str {
        match self {
            Check::D1 => "d1",
            Check::Kv => "kv",
            Check::R2 => "r2",
            Check::Migrations => "migrations",
        }
    }

    pub fn parse(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What a check is about: its name (in `/readyz/{check}` and health+json) and its health+json
/// `componentType`. The hub's checks are the fixed [`Check`]s; an embedded application's are
/// [`NamedCheck`]s over its own bindings and the checks it registers.
pub trait Component {
    fn name(&self) -> &str;
    fn component_type(&self) -> &'static str;
}

impl Component for Check {
    fn name(&self) -> &str {
        Check::name(*self)
    }

    fn component_type(&self) -> &'static str {
        match self {
            Check::D1 | Check::Migrations => "datastore",
            Check::Kv | Check::R2 => "component",
        }
    }
}

/// A check known by name: an application's binding or custom check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCheck {
    pub name: String,
    pub component_type: &'static str,
}

impl Component for NamedCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn component_type(&self) -> &'static str {
        self.component_type
    }
}

/// The outcome of running one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult<C = Check> {
    pub check: C,
    pub duration_ms: f64,
    /// Why the check failed; `None` when it passed.
    pub error: Option<String>,
}

impl<C> CheckResult<C> {
    pub fn passed(&self) -> bool {
        self.error.is_none()
    }
}

/// Health+json status, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            Status::Fail => 503,
            Status::Pass | Status::Warn => 200,
        }
    }
}

/// A Kubernetes-style probe answer: status code and body.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    pub status: u16,
    pub body: String,
}

/// Renders `/readyz` (or `/livez`) the way Kubernetes components do: `ok` when everything passes,
/// otherwise (or with `?verbose`) one `[+]`/`[-]` line per check and a closing verdict.
/// Excluded checks are listed as excluded and do not count. Failure reasons are withheld: the
/// caller is unauthenticated; the reason goes to the log and `/health/detailed`.
pub fn render_probe<C: Component>(
    probe: &str,
    results: &[CheckResult<C>],
    excluded: &[String],
    verbose: bool,
) -> ProbeReport {
    let is_excluded = |c: &C| excluded.iter().any(|e| e == c.name());
    let failed = results
        .iter()
        .any(|r| !r.passed() && !is_excluded(&r.check));
    let status = if failed { 503 } else { 200 };
    if !verbose && !failed {
        return ProbeReport {
            status,
            body: "ok".into(),
        };
    }
    let mut body = String::new();
    for result in results {
        let name = result.check.name();
        let line = match (is_excluded(&result.check), result.passed()) {
            (true, _) => format!("[+]{name} excluded: ok\n"),
            (false, true) => format!("[+]{name} ok\n"),
            (false, false) => format!("[-]{name} failed: reason withheld\n"),
        };
        body.push_str(&line);
    }
    body.push_str(&format!(
        "{probe} check {}",
        if failed { "failed" } else { "passed" }
    ));
    ProbeReport { status, body }
}

/// Renders a single check (`/readyz/{check}`): `ok`, or 503 with the reason withheld.
pub fn render_single<C: Component>(result: &CheckResult<C>) -> ProbeReport {
    if result.passed() {
        ProbeReport {
            status: 200,
            body: "ok".into(),
        }
    } else {
        ProbeReport {
            status: 503,
            body: format!(
                "internal server error: {} check failed: reason withheld",
                result.check.name()
            ),
        }
    }
}

/// The status of one check: fail on error, warn when slower than `slow_ms`, else pass.
pub fn check_status<C>(result: &CheckResult<C>, slow_ms: f64) -> Status {
    match (&result.error, result.duration_ms > slow_ms) {
        (Some(_), _) => Status::Fail,
        (None, true) => Status::Warn,
        (None, false) => Status::Pass,
    }
}

/// Who this service is, for health+json.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceIdentity<'a> {
    pub service_id: &'a str,
    pub version: &'a str,
    pub release_id: &'a str,
    pub description: &'a str,
}

/// Renders `/health` as `application/health+json` (draft-inadarei-api-health-check): overall
/// status is the worst check status; `output` carries failure reasons only when `with_reasons`.
pub fn render_health<C: Component>(
    identity: &ServiceIdentity<'_>,
    results: &[CheckResult<C>],
    slow_ms: f64,
    now_ms: f64,
    with_reasons: bool,
) -> (Status, Value) {
    let time = iso_timestamp(now_ms);
    let mut checks = Map::new();
    let mut overall = Status::Pass;
    for result in results {
        let status = check_status(result, slow_ms);
        overall = overall.max(status);
        let mut entry = json!({
            "componentId": result.check.name(),
            "componentType": result.check.component_type(),
            "observedValue": round_ms(result.duration_ms),
            "observedUnit": "ms",
            "status": status.as_str(),
            "time": time,
        });
        if let Some(error) = &result.error {
            entry["output"] = if with_reasons {
                error.clone().into()
            } else {
                "check failed; details at /health/detailed".into()
            };
        } else if status == Status::Warn {
            entry["output"] = format!("slower than {slow_ms} ms").into();
        }
        checks.insert(
            format!("{}:responseTime", result.check.name()),
            Value::Array(vec![entry]),
        );
    }
    let body = json!({
        "status": overall.as_str(),
        "version": identity.version,
        "releaseId": identity.release_id,
        "serviceId": identity.service_id,
        "description": identity.description,
        "checks": checks,
    });
    (overall, body)
}

/// `Ok` when every `expected` migration is applied, else which ones are missing and what to do.
pub fn migration_gap(expected: &[&str], applied: &[String]) -> Result<(), String> {
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|m| !applied.iter().any(|a| a == m))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "database is behind the code: {} of {} migrations applied, missing {}; run `wrangler d1 migrations apply DB`",
        expected.len() - missing.len(),
        expected.len(),
        missing.join(", ")
    ))
}

/// Milliseconds rounded to 0.1 ms for display.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(check: Check, ms: f64) -> CheckResult {
        CheckResult {
            check,
            duration_ms: ms,
            error: None,
        }
    }

    fn fail(check: Check, why: &str) -> CheckResult {
        CheckResult {
            check,
            duration_ms: 1.0,
            error: Some(why.into()),
        }
    }

    #[test]
    fn all_passing_is_a_plain_ok() {
        let results = [pass(Check::D1, 1.0), pass(Check::Kv, 2.0)];
        assert_eq!(
            render_probe("readyz", &results, &[], false),
            ProbeReport {
                status: 200,
                body: "ok".into()
            }
        );
    }

    #[test]
    fn verbose_lists_every_check_and_the_verdict() {
        let results = [pass(Check::D1, 1.0), pass(Check::Kv, 2.0)];
        let report = render_probe("readyz", &results, &[], true);
        assert_eq!(report.status, 200);
        assert_eq!(report.body, "[+]d1 ok\n[+]kv ok\nreadyz check passed");
    }

    #[test]
    fn a_failure_is_always_verbose_and_withholds_the_reason() {
        let results = [pass(Check::D1, 1.0), fail(Check::Kv, "binding KV missing")];
        let report = render_probe("readyz", &results, &[], false);
        assert_eq!(report.status, 503);
        assert_eq!(
            report.body,
            "[+]d1 ok\n[-]kv failed: reason withheld\nreadyz check failed"
        );
        assert!(!report.body.contains("binding"));
    }

    #[test]
    fn excluding_the_failing_check_turns_the_probe_green() {
        let results = [pass(Check::D1, 1.0), fail(Check::Kv, "x")];
        let report = render_probe("readyz", &results, &["kv".into()], true);
        assert_eq!(report.status, 200);
        assert_eq!(
            report.body,
            "[+]d1 ok\n[+]kv excluded: ok\nreadyz check passed"
        );
    }

    #[test]
    fn single_check_failure_is_503_internal_server_error() {
        let report = render_single(&fail(Check::R2, "secret detail"));
        assert_eq!(report.status, 503);
        assert!(report.body.starts_with("internal server error: "));
        assert!(!report.body.contains("secret detail"));
        assert_eq!(render_single(&pass(Check::R2, 1.0)).body, "ok");
    }

    #[test]
    fn migration_gap_names_what_is_missing() {
        let expected = ["0001_a.sql", "0002_b.sql"];
        assert_eq!(
            migration_gap(&expected, &["0001_a.sql".into(), "0002_b.sql".into()]),
            Ok(())
        );
        let err = migration_gap(&expected, &["0001_a.sql".into()]).unwrap_err();
        assert!(
            err.contains("1 of 2 migrations applied, missing 0002_b.sql"),
            "{err}"
        );
        assert!(migration_gap(&expected, &[])
            .unwrap_err()
            .contains("0 of 2"));
    }

    #[test]
    fn slow_checks_warn_and_failures_fail() {
        assert_eq!(check_status(&pass(Check::D1, 10.0), 100.0), Status::Pass);
        assert_eq!(check_status(&pass(Check::D1, 150.0), 100.0), Status::Warn);
        assert_eq!(check_status(&fail(Check::D1, "x"), 100.0), Status::Fail);
    }

    #[test]
    fn health_json_follows_the_draft_and_takes_the_worst_status() {
        let identity = ServiceIdentity {
            service_id: "vigil",
            version: "1.0.0",
            release_id: "abc123",
            description: "ops",
        };
        let results = [pass(Check::D1, 3.12345), pass(Check::Kv, 500.0)];
        let (status, body) = render_health(&identity, &results, 100.0, 0.0, false);
        assert_eq!(status, Status::Warn);
        assert_eq!(status.http_status(), 200);
        assert_eq!(body["status"], "warn");
        assert_eq!(body["releaseId"], "abc123");
        let d1 = &body["checks"]["d1:responseTime"][0];
        assert_eq!(d1["observedValue"], 3.1);
        assert_eq!(d1["observedUnit"], "ms");
        assert_eq!(d1["status"], "pass");
        assert_eq!(d1["componentType"], "datastore");
        assert_eq!(d1["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(body["checks"]["kv:responseTime"][0]["status"], "warn");

        let results = [fail(Check::R2, "bucket gone")];
        let (status, public) = render_health(&identity, &results, 100.0, 0.0, false);
        assert_eq!(status.http_status(), 503);
        assert!(!public.to_string().contains("bucket gone"));
        let (_, private) = render_health(&identity, &results, 100.0, 0.0, true);
        assert_eq!(
            private["checks"]["r2:responseTime"][0]["output"],
            "bucket gone"
        );
    }
}
