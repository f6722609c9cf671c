//! Service level objectives: the availability and latency SLIs, burn rates, the multi-window,
//! multi-burn-rate alert conditions of the Google SRE workbook ("Alerting on SLOs"), and the
//! error budget left over the 30-day window.
//!
//! A burn rate of 1 spends exactly the budget over 30 days. Pairing a long window (is the burn
//! significant?) with a short one (is it still happening?) pages fast for real outages, stays
//! quiet for blips, and lets alerts resolve soon after recovery.
//!
//! Availability counts the cron's self-probes next to requests (bad = 5xx + failed probes,
//! total = requests + probes): a dead dependency then burns budget even when nobody is calling,
//! and the SLI stays defined at zero traffic. A tailed worker's invocations count too, each
//! once: those that are not HTTP requests (a cron, a queue batch, a fetch that never answered)
//! add to the total, and those that ended in anything but `ok` without a 5xx add to the bad.
//! Latency counts only requests (bad = requests slower than the threshold), since a probe's
//! duration says nothing about users' latency.

pub mod maintenance;
mod objectives;

use serde::{Deserialize, Serialize};

pub use objectives::SloObjectives;

use super::evaluation::Evaluation;
use super::window::{window, WindowStats, Windows};
use crate::telemetry::metrics::BUCKET_BOUNDS_SECONDS;
use crate::time::{format_duration, DAY_MS, HOUR_MS, MINUTE_MS};

/// The window the objectives and the error budget are defined over.
pub const BUDGET_WINDOW_MS: u64 = 30 * DAY_MS;

/// The objectives, from configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloConfig {
    /// Share of good events, e.g. 0.999.
    pub availability_objective: f64,
    /// Share of requests at most `latency_threshold_seconds` slow, e.g. 0.99.
    pub latency_objective: f64,
    /// One of `BUCKET_BOUNDS_SECONDS`, so "slower than" is an exact bucket count.
    pub latency_threshold_seconds: f64,
}

impl Default for SloConfig {
    fn default() -> Self {
        SloConfig {
            availability_objective: 0.999,
            latency_objective: 0.99,
            latency_threshold_seconds: 0.5,
        }
    }
}

/// Which SLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SloName {
    Availability,
    Latency,
}

impl SloName {
    pub const ALL: [SloName; 2] = [SloName::Availability, SloName::Latency];

    pub fn as_str(self) -> &'static str {
        match self {
            SloName::Availability => "availability",
            SloName::Latency => "latency",
        }
    }

    pub fn parse(name: &str) -> Option<SloName> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn objective(self, config: &SloConfig) -> f64 {
        match self {
            SloName::Availability => config.availability_objective,
            SloName::Latency => config.latency_objective,
        }
    }

    /// (bad, total) events of this SLI in one window; bad never exceeds total.
    pub fn events(self, stats: &WindowStats, config: &SloConfig) -> (u64, u64) {
        let (bad, total) = match self {
            SloName::Availability => (
                stats
                    .errors
                    .saturating_add(stats.probes_failed)
                    .saturating_add(stats.other_failures),
                stats
                    .requests
                    .saturating_add(stats.probes)
                    .saturating_add(stats.other_events),
            ),
            SloName::Latency => {
                // A bucket is slow when its lower bound is at or above the threshold.
                let slow = (0..stats.buckets.len())
                    .filter(|&i| {
                        i > 0 && BUCKET_BOUNDS_SECONDS[i - 1] >= config.latency_threshold_seconds
                    })
                    .map(|i| stats.buckets[i])
                    .fold(0, u64::saturating_add);
                (slow, stats.requests)
            }
        };
        (bad.min(total), total)
    }
}

/// Alert tier: page (fast burn, wake someone) or ticket (slow burn, fix this week).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SloTier {
    Page,
    Ticket,
}

/// A long/short window pair; both must burn faster than `factor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnWindow {
    pub long_ms: u64,
    pub short_ms: u64,
    pub factor: f64,
}

/// 14.4× over 1h spends 2% of the 30-day budget; 6× over 6h spends 5%.
const PAGE_WINDOWS: [BurnWindow; 2] = [
    BurnWindow {
        long_ms: HOUR_MS,
        short_ms: 5 * MINUTE_MS,
        factor: 14.4,
    },
    BurnWindow {
        long_ms: 6 * HOUR_MS,
        short_ms: 30 * MINUTE_MS,
        factor: 6.0,
    },
];

/// 3× over 1d spends 10% of the budget; 1× over 3d spends 10% too, just slowly.
const TICKET_WINDOWS: [BurnWindow; 2] = [
    BurnWindow {
        long_ms: DAY_MS,
        short_ms: 2 * HOUR_MS,
        factor: 3.0,
    },
    BurnWindow {
        long_ms: 3 * DAY_MS,
        short_ms: 6 * HOUR_MS,
        factor: 1.0,
    },
];

impl SloTier {
    pub const ALL: [SloTier; 2] = [SloTier::Page, SloTier::Ticket];

    pub fn as_str(self) -> &'static str {
        match self {
            SloTier::Page => "page",
            SloTier::Ticket => "ticket",
        }
    }

    pub fn parse(name: &str) -> Option<SloTier> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn burn_windows(self) -> &'static [BurnWindow] {
        match self {
            SloTier::Page => &PAGE_WINDOWS,
            SloTier::Ticket => &TICKET_WINDOWS,
        }
    }
}

/// How fast the budget burns: the bad fraction over the allowed bad fraction. 0 without events.
pub fn burn_rate(bad: u64, total: u64, objective: f64) -> f64 {
    if total == 0 || bad == 0 {
        return 0.0;
    }
    (bad as f64 / total as f64) / (1.0 - objective)
}

/// The burn-rate alert of one SLO and tier: true when any of the tier's window pairs burns above
/// its factor in both windows. The value is the highest long-window burn rate of the tier.
pub fn slo_condition(
    slo: SloName,
    tier: SloTier,
    windows: &Windows,
    config: &SloConfig,
) -> Result<Evaluation, String> {
    let burn = |window_ms| {
        let (bad, total) = slo.events(window(windows, window_ms)?, config);
        Ok::<_, String>(burn_rate(bad, total, slo.objective(config)))
    };
    let mut result = Evaluation {
        condition: false,
        value: 0.0,
    };
    for pair in tier.burn_windows() {
        let (long, short) = (burn(pair.long_ms)?, burn(pair.short_ms)?);
        result.condition |= long > pair.factor && short > pair.factor;
        result.value = result.value.max(long);
    }
    Ok(result)
}

/// One SLO's standing, for `/api/slos` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SloReport {
    pub name: SloName,
    /// The service it measures (empty for a probe's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// The probe it measures, for a probe's availability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    pub objective: f64,
    /// Good share over 30 days; 1 when there were no events.
    pub sli_30d: f64,
    /// 1 − bad fraction / allowed bad fraction over 30 days; negative once overspent.
    pub error_budget_remaining: f64,
    /// Burn rate per alert window, shortest first, labelled like `5m`, `1h`, `3d`.
    pub burn_rates: Vec<(String, f64)>,
}

/// Every window [`report`] reads: the alert windows of both tiers and the 30-day budget window.
pub fn report_windows_ms() -> Vec<u64> {
    let mut windows: Vec<u64> = PAGE_WINDOWS
        .iter()
        .chain(&TICKET_WINDOWS)
        .flat_map(|pair| [pair.long_ms, pair.short_ms])
        .chain([BUDGET_WINDOW_MS])
        .collect();
    windows.sort_unstable();
    windows.dedup();
    windows
}

/// Both SLOs' reports of a service. A window missing from `windows` counts as having no
/// events (a report is for display; load [`report_windows_ms`] to get real numbers).
pub fn report(service: &str, windows: &Windows, config: &SloConfig) -> Vec<SloReport> {
    SloName::ALL
        .into_iter()
        .map(|slo| SloReport {
            service: service.to_string(),
            ..report_one(slo, windows, config)
        })
        .collect()
}

/// A probe's availability report: its checks are its events (a probe has no latency SLO;
/// its slowness shows as `degraded`).
pub fn probe_report(probe: &str, windows: &Windows, config: &SloConfig) -> SloReport {
    SloReport {
        probe: Some(probe.to_string()),
        ..report_one(SloName::Availability, windows, config)
    }
}

fn report_one(slo: SloName, windows: &Windows, config: &SloConfig) -> SloReport {
    let empty = WindowStats::default();
    let events = |window_ms| slo.events(windows.get(&window_ms).unwrap_or(&empty), config);
    let objective = slo.objective(config);
    let (bad, total) = events(BUDGET_WINDOW_MS);
    let burn_rates = report_windows_ms()
        .into_iter()
        .filter(|&ms| ms != BUDGET_WINDOW_MS)
        .map(|ms| {
            let (bad, total) = events(ms);
            (format_duration(ms), burn_rate(bad, total, objective))
        })
        .collect();
    SloReport {
        name: slo,
        service: String::new(),
        probe: None,
        objective,
        sli_30d: if total == 0 {
            1.0
        } else {
            1.0 - bad as f64 / total as f64
        },
        error_budget_remaining: 1.0 - burn_rate(bad, total, objective),
        burn_rates,
    }
}

#[cfg(test)]
mod tests;
