//! The route table: which endpoint a method and path reach, with the route template used as the
//! metric and log label (never the raw path, so label cardinality stays bounded).

use crate::health::checks::Check;

/// The endpoints Vigil serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Livez,
    Readyz,
    ReadyzCheck(Check),
    Health,
    HealthDetailed,
    Metrics,
    Alerts,
    Slos,
    Probes,
    /// Where each configuration section came from.
    Config,
    /// A job's ping (`failed` for `/fail`) to the monitor named in the path.
    Heartbeat {
        monitor: String,
        failed: bool,
    },
    /// The public status page, as HTML or (`json`) as `/status.json`.
    Status {
        json: bool,
    },
    /// A component's badge, as SVG or (`json`) shields.io endpoint JSON.
    Badge {
        component: String,
        json: bool,
    },
    Silences,
    Silence {
        id: String,
    },
    Maintenances,
    Maintenance {
        id: String,
    },
}

/// What a request resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Found(Endpoint),
    MethodNotAllowed { allow: &'static str },
    NotFound,
}

/// A resolved request: its route template and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub template: &'static str,
    pub outcome: Outcome,
}

/// The label used for every path that matches no route.
pub const UNMATCHED: &str = "unmatched";

const GET_HEAD: &str = "GET, HEAD";
const GET: &str = "GET";
const GET_POST: &str = "GET, POST";
const GET_DELETE: &str = "GET, DELETE";

/// The one path segment after `prefix`, if the path is `prefix` and a non-empty segment.
fn segment<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
}

fn not_found(template: &'static str) -> RouteMatch {
    RouteMatch {
        template,
        outcome: Outcome::NotFound,
    }
}

/// Resolves `method` and `path` to an endpoint.
pub fn resolve(method: &str, path: &str) -> RouteMatch {
    let (template, allow, endpoint) = match path {
        "/livez" => ("/livez", GET_HEAD, Endpoint::Livez),
        "/health/liveness" => ("/health/liveness", GET_HEAD, Endpoint::Livez),
        "/readyz" => ("/readyz", GET_HEAD, Endpoint::Readyz),
        "/health/readiness" => ("/health/readiness", GET_HEAD, Endpoint::Readyz),
        "/health" => ("/health", GET_HEAD, Endpoint::Health),
        "/health/detailed" => ("/health/detailed", GET, Endpoint::HealthDetailed),
        "/metrics" => ("/metrics", GET_HEAD, Endpoint::Metrics),
        "/api/alerts" => ("/api/alerts", GET, Endpoint::Alerts),
        "/api/slos" => ("/api/slos", GET, Endpoint::Slos),
        "/api/probes" => ("/api/probes", GET, Endpoint::Probes),
        "/api/config" => ("/api/config", GET, Endpoint::Config),
        "/status" => ("/status", GET_HEAD, Endpoint::Status { json: false }),
        "/status.json" => ("/status.json", GET_HEAD, Endpoint::Status { json: true }),
        "/api/silences" => ("/api/silences", GET_POST, Endpoint::Silences),
        "/api/maintenances" => ("/api/maintenances", GET_POST, Endpoint::Maintenances),
        _ if path.starts_with("/api/silences/") => match segment(path, "/api/silences/") {
            Some(id) => (
                "/api/silences/{id}",
                GET_DELETE,
                Endpoint::Silence { id: id.into() },
            ),
            None => return not_found(UNMATCHED),
        },
        _ if path.starts_with("/api/maintenances/") => match segment(path, "/api/maintenances/") {
            Some(id) => {
                let endpoint = Endpoint::Maintenance { id: id.into() };
                ("/api/maintenances/{id}", GET_DELETE, endpoint)
            }
            None => return not_found(UNMATCHED),
        },
        _ if path.starts_with("/badge/") => {
            let name = segment(path, "/badge/");
            let badge = |(component, json): (&str, bool)| Endpoint::Badge {
                component: component.into(),
                json,
            };
            let found = name
                .and_then(|n| n.strip_suffix(".svg").map(|c| (c, false)))
                .or_else(|| name.and_then(|n| n.strip_suffix(".json").map(|c| (c, true))))
                .filter(|(component, _)| !component.is_empty());
            match found {
                Some(found) => ("/badge/{component}", GET_HEAD, badge(found)),
                None => return not_found("/badge/{component}"),
            }
        }
        _ if path.starts_with("/api/heartbeats/") => {
            let rest = &path["/api/heartbeats/".len()..];
            let (monitor, failed, template) = match rest.strip_suffix("/fail") {
                Some(monitor) => (monitor, true, "/api/heartbeats/{name}/fail"),
                None => (rest, false, "/api/heartbeats/{name}"),
            };
            if monitor.is_empty() || monitor.contains('/') {
                return RouteMatch {
                    template: UNMATCHED,
                    outcome: Outcome::NotFound,
                };
            }
            let monitor = monitor.to_string();
            (template, GET_POST, Endpoint::Heartbeat { monitor, failed })
        }
        _ if path.starts_with("/readyz/") => {
            let template = "/readyz/{check}";
            match Check::parse(&path["/readyz/".len()..]) {
                Some(check) => (template, GET_HEAD, Endpoint::ReadyzCheck(check)),
                None => {
                    return RouteMatch {
                        template,
                        outcome: Outcome::NotFound,
                    }
                }
            }
        }
        _ => {
            return RouteMatch {
                template: UNMATCHED,
                outcome: Outcome::NotFound,
            }
        }
    };
    let allowed = allow.split(", ").any(|m| m == method);
    RouteMatch {
        template,
        outcome: if allowed {
            Outcome::Found(endpoint)
        } else {
            Outcome::MethodNotAllowed { allow }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_has_two_paths_and_accepts_get_and_head() {
        for path in ["/livez", "/health/liveness"] {
            for method in ["GET", "HEAD"] {
                assert_eq!(
                    resolve(method, path).outcome,
                    Outcome::Found(Endpoint::Livez)
                );
            }
        }
    }

    #[test]
    fn readyz_checks_share_one_template_and_unknown_checks_are_404() {
        let m = resolve("GET", "/readyz/kv");
        assert_eq!(m.template, "/readyz/{check}");
        assert_eq!(m.outcome, Outcome::Found(Endpoint::ReadyzCheck(Check::Kv)));
        let m = resolve("GET", "/readyz/nope");
        assert_eq!(m.template, "/readyz/{check}");
        assert_eq!(m.outcome, Outcome::NotFound);
    }

    #[test]
    fn detailed_health_is_get_only() {
        assert_eq!(
            resolve("HEAD", "/health/detailed").outcome,
            Outcome::MethodNotAllowed { allow: "GET" }
        );
    }

    #[test]
    fn other_methods_get_405_with_allow() {
        assert_eq!(
            resolve("POST", "/livez").outcome,
            Outcome::MethodNotAllowed { allow: "GET, HEAD" }
        );
    }

    #[test]
    fn heartbeat_pings_carry_the_monitor_and_share_two_templates() {
        let m = resolve("POST", "/api/heartbeats/nightly-backup/fail");
        assert_eq!(m.template, "/api/heartbeats/{name}/fail");
        let monitor = "nightly-backup".to_string();
        let failed = Endpoint::Heartbeat {
            monitor,
            failed: true,
        };
        assert_eq!(m.outcome, Outcome::Found(failed));
        assert_eq!(
            resolve("GET", "/api/heartbeats/x").template,
            "/api/heartbeats/{name}"
        );
        assert_eq!(
            resolve("DELETE", "/api/heartbeats/x").outcome,
            Outcome::MethodNotAllowed { allow: "GET, POST" }
        );
        assert_eq!(
            resolve("GET", "/api/heartbeats/a/b").outcome,
            Outcome::NotFound
        );
        assert_eq!(
            resolve("GET", "/api/heartbeats/").outcome,
            Outcome::NotFound
        );
    }

    #[test]
    fn status_badges_silences_and_maintenances_resolve_with_their_ids() {
        assert_eq!(
            resolve("HEAD", "/status.json").outcome,
            Outcome::Found(Endpoint::Status { json: true })
        );
        let m = resolve("GET", "/badge/api.svg");
        assert_eq!(m.template, "/badge/{component}");
        let badge = Endpoint::Badge {
            component: "api".into(),
            json: false,
        };
        assert_eq!(m.outcome, Outcome::Found(badge));
        assert_eq!(resolve("GET", "/badge/api.png").outcome, Outcome::NotFound);
        assert_eq!(resolve("GET", "/badge/.json").outcome, Outcome::NotFound);
        let m = resolve("DELETE", "/api/silences/abc");
        assert_eq!(m.template, "/api/silences/{id}");
        let silence = Endpoint::Silence { id: "abc".into() };
        assert_eq!(m.outcome, Outcome::Found(silence));
        assert_eq!(
            resolve("PUT", "/api/maintenances").outcome,
            Outcome::MethodNotAllowed { allow: "GET, POST" }
        );
        assert_eq!(
            resolve("GET", "/api/silences/a/b").outcome,
            Outcome::NotFound
        );
    }

    #[test]
    fn unknown_paths_share_one_label() {
        let m = resolve("GET", "/wp-admin/../../etc/passwd");
        assert_eq!(m.template, UNMATCHED);
        assert_eq!(m.outcome, Outcome::NotFound);
    }
}
