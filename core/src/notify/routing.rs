//! Who is told what: `NOTIFY_ROUTES`, an ordered list of routes in the shape of Alertmanager's
//! route tree with one level. The first route whose matchers all match an alert's labels takes
//! it, unless it says `continue`; an alert no route takes goes to the default route. A route
//! that cannot be used is skipped and reported, so its alerts fall through to the routes after
//! it and, at worst, to the default route: a typo never silences an alert.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::inhibition::{parse_inhibit_rules, InhibitRule};
use super::receivers::{EntryProblem, Receiver};
use crate::silencing::silence::Matcher;
use crate::time::{parse_duration, MINUTE_MS};

/// The labels alerts are grouped by unless a route says otherwise: one group per alert
/// instance, as before routing existed (the same as the shipped Alertmanager config).
pub const DEFAULT_GROUP_BY: [&str; 4] = ["alertname", "service", "probe", "monitor"];

/// When a group's notifications go out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// How long a new group's first notification waits for more alerts to join it.
    pub group_wait_ms: f64,
    /// How long after a group's notification the next one about new changes may follow.
    pub group_interval_ms: f64,
    /// Reminders while an alert keeps firing; `None` uses `REPEAT_INTERVAL_MINUTES`.
    pub repeat_interval_ms: Option<f64>,
}

/// Alerts start once a minute, so a group's changes go out with the next run by default.
const DEFAULT_TIMING: Timing = Timing {
    group_wait_ms: 0.0,
    group_interval_ms: MINUTE_MS as f64,
    repeat_interval_ms: None,
};

/// A route: which alerts (all matchers match), to whom, grouped how.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    matchers: Vec<Matcher>,
    receivers: Vec<String>,
    continue_matching: bool,
    group_by: Vec<String>,
    timing: Timing,
}

/// Where one alert goes: a receiver, the group it joins there, and that group's timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination<'a> {
    pub receiver: &'a Receiver,
    /// The values of the route's `group_by` labels the alert has.
    pub group: BTreeMap<String, String>,
    pub timing: Timing,
}

/// The routes, the default route and the inhibition rules in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    routes: Vec<Route>,
    default: Route,
    pub inhibit_rules: Vec<InhibitRule>,
}

/// One `NOTIFY_ROUTES` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    #[serde(default)]
    default: bool,
    #[serde(default, rename = "match")]
    equal: BTreeMap<String, String>,
    #[serde(default)]
    match_re: BTreeMap<String, String>,
    receivers: Vec<String>,
    #[serde(default, rename = "continue")]
    continue_matching: bool,
    group_by: Option<Vec<String>>,
    group_wait: Option<String>,
    group_interval: Option<String>,
    repeat_interval: Option<String>,
}

impl Routing {
    /// Parses `NOTIFY_ROUTES` and `INHIBIT_RULES` against the `receivers` there are. Without a
    /// `"default": true` entry the default route sends to `default_receivers` (the receivers
    /// of the single-channel secrets). Bad entries are skipped and reported.
    pub fn parse(
        routes: Option<&str>,
        inhibit_rules: Option<&str>,
        receivers: &[Receiver],
        default_receivers: Vec<String>,
    ) -> (Routing, Vec<EntryProblem>) {
        let mut problems = Vec::new();
        let mut routing = Routing {
            routes: Vec::new(),
            default: Route {
                matchers: Vec::new(),
                receivers: default_receivers,
                continue_matching: false,
                group_by: DEFAULT_GROUP_BY.map(String::from).to_vec(),
                timing: DEFAULT_TIMING,
            },
            inhibit_rules: parse_inhibit_rules(inhibit_rules, &mut problems),
        };
        let entries: Vec<Value> = match routes.map(serde_json::from_str).transpose() {
            Ok(entries) => entries.unwrap_or_default(),
            Err(e) => {
                problems.push(EntryProblem {
                    entry: "NOTIFY_ROUTES".into(),
                    problem: format!("is not a JSON array of routes: {e}"),
                });
                Vec::new()
            }
        };
        for (i, entry) in entries.into_iter().enumerate() {
            let entry_name = format!("NOTIFY_ROUTES[{i}]");
            match route(entry, receivers) {
                Ok((true, route)) => routing.default = route,
                Ok((false, route)) => routing.routes.push(route),
                Err(problem) => problems.push(EntryProblem {
                    entry: entry_name,
                    problem,
                }),
            }
        }
        (routing, problems)
    }

    /// Where an alert with `labels` goes, each receiver once (the first route naming it sets
    /// its grouping). Receivers no longer configured are left out.
    pub fn destinations<'a>(
        &self,
        labels: &BTreeMap<String, String>,
        receivers: &'a [Receiver],
    ) -> Vec<Destination<'a>> {
        let mut taken: Vec<&Route> = Vec::new();
        for route in &self.routes {
            if route.matchers.iter().all(|m| m.matches(labels)) {
                taken.push(route);
                if !route.continue_matching {
                    break;
                }
            }
        }
        if taken.is_empty() {
            taken.push(&self.default);
        }
        let mut destinations: Vec<Destination<'a>> = Vec::new();
        for route in taken {
            for name in &route.receivers {
                let known = receivers.iter().find(|r| &r.name == name);
                let Some(receiver) = known else { continue };
                if destinations.iter().any(|d| d.receiver.name == *name) {
                    continue;
                }
                let group = route
                    .group_by
                    .iter()
                    .filter_map(|l| labels.get(l).map(|v| (l.clone(), v.clone())))
                    .collect();
                destinations.push(Destination {
                    receiver,
                    group,
                    timing: route.timing,
                });
            }
        }
        destinations
    }
}

/// A route entry, and whether it is the default route.
fn route(entry: Value, receivers: &[Receiver]) -> Result<(bool, Route), String> {
    let w: Written = serde_json::from_value(entry).map_err(|e| e.to_string())?;
    if w.default && !(w.equal.is_empty() && w.match_re.is_empty()) {
        return Err("the default route matches every alert; remove match/match_re".into());
    }
    for receiver in &w.receivers {
        if !receivers.iter().any(|r| &r.name == receiver) {
            let known: Vec<&str> = receivers.iter().map(|r| r.name.as_str()).collect();
            return Err(format!(
                "receiver {receiver:?} is not defined (defined: {})",
                known.join(", ")
            ));
        }
    }
    let duration = |field: &str, text: Option<String>, default: f64| match text {
        None => Ok(default),
        Some(text) => parse_duration(&text)
            .map(|ms| ms as f64)
            .map_err(|e| format!("{field}: {e}")),
    };
    let repeat = w
        .repeat_interval
        .map(|t| duration("repeat_interval", Some(t), 0.0))
        .transpose()?;
    if repeat.is_some_and(|ms| ms < MINUTE_MS as f64) {
        return Err("repeat_interval: must be at least 1m".into());
    }
    let timing = Timing {
        group_wait_ms: duration("group_wait", w.group_wait, DEFAULT_TIMING.group_wait_ms)?,
        group_interval_ms: duration(
            "group_interval",
            w.group_interval,
            DEFAULT_TIMING.group_interval_ms,
        )?,
        repeat_interval_ms: repeat,
    };
    let route = Route {
        matchers: matchers(&w.equal, &w.match_re)?,
        receivers: w.receivers,
        continue_matching: w.continue_matching,
        group_by: w
            .group_by
            .unwrap_or_else(|| DEFAULT_GROUP_BY.map(String::from).to_vec()),
        timing,
    };
    Ok((w.default, route))
}

/// Matchers from Alertmanager's `match` (equality) and `match_re` (anchored regex) maps; an
/// error names the field and label (`match_re "service": invalid regex …`).
pub(super) fn matchers(
    equal: &BTreeMap<String, String>,
    regex: &BTreeMap<String, String>,
) -> Result<Vec<Matcher>, String> {
    let equal = equal.iter().map(|(k, v)| (k, v, false, "match"));
    let regex = regex.iter().map(|(k, v)| (k, v, true, "match_re"));
    equal
        .chain(regex)
        .map(|(name, value, is_regex, field)| {
            Matcher::positive(name, value, is_regex, field)
                .map_err(|e| format!("{field} {name:?}: {}", e.problem))
        })
        .collect()
}

#[cfg(test)]
mod tests;
