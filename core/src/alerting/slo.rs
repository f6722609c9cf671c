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
//! and the SLI stays defined at zero traffic. Latency counts only requests (bad = requests
//! slower than the threshold), since a probe's duration says nothing about users' latency.

use serde::{Deserialize, Serialize};

use super::rules::Evaluation;
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
                stats.errors.saturating_add(stats.probes_failed),
                stats.requests.saturating_add(stats.probes),
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

/// Both SLOs' reports. A window missing from `windows` counts as having no events (a report is
/// for display; load [`report_windows_ms`] to get real numbers).
pub fn report(windows: &Windows, config: &SloConfig) -> Vec<SloReport> {
    let empty = WindowStats::default();
    let events =
        |slo: SloName, window_ms| slo.events(windows.get(&window_ms).unwrap_or(&empty), config);
    SloName::ALL
        .into_iter()
        .map(|slo| {
            let objective = slo.objective(config);
            let (bad, total) = events(slo, BUDGET_WINDOW_MS);
            let burn_rates = report_windows_ms()
                .into_iter()
                .filter(|&ms| ms != BUDGET_WINDOW_MS)
                .map(|ms| {
                    let (bad, total) = events(slo, ms);
                    (format_duration(ms), burn_rate(bad, total, objective))
                })
                .collect();
            SloReport {
                name: slo,
                objective,
                sli_30d: if total == 0 {
                    1.0
                } else {
                    1.0 - bad as f64 / total as f64
                },
                error_budget_remaining: 1.0 - burn_rate(bad, total, objective),
                burn_rates,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::BUCKETS;
    use std::collections::BTreeMap;

    fn requests(total: u64, errors: u64) -> WindowStats {
        let mut buckets = [0; BUCKETS];
        buckets[0] = total;
        WindowStats {
            requests: total,
            errors,
            buckets,
            ..WindowStats::default()
        }
    }

    /// Every alert window with the same stats, then `overrides` on top.
    fn windows(all: &WindowStats, overrides: &[(u64, WindowStats)]) -> BTreeMap<u64, WindowStats> {
        let mut map: BTreeMap<_, _> = report_windows_ms()
            .into_iter()
            .map(|ms| (ms, all.clone()))
            .collect();
        map.extend(overrides.iter().cloned());
        map
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn burn_rate_is_bad_fraction_over_allowed_fraction() {
        assert!(close(burn_rate(1, 1_000, 0.999), 1.0));
        assert!(close(burn_rate(144, 10_000, 0.999), 14.4));
        assert_eq!(burn_rate(0, 0, 0.999), 0.0);
        assert_eq!(burn_rate(0, 100, 1.0), 0.0);
    }

    #[test]
    fn availability_counts_failed_probes_as_bad_events() {
        let stats = WindowStats {
            probes: 10,
            probes_failed: 2,
            ..requests(90, 3)
        };
        assert_eq!(
            SloName::Availability.events(&stats, &SloConfig::default()),
            (5, 100)
        );
    }

    #[test]
    fn latency_counts_requests_in_buckets_above_the_threshold() {
        let mut stats = requests(0, 0);
        stats.buckets[6] = 10; // (0.25, 0.5]: at the 0.5 s threshold, good
        stats.buckets[7] = 3; // (0.5, 1]
        stats.buckets[BUCKETS - 1] = 2; // +Inf
        stats.requests = 15;
        assert_eq!(
            SloName::Latency.events(&stats, &SloConfig::default()),
            (5, 15)
        );
    }

    #[test]
    fn page_fires_when_long_and_short_windows_both_burn() {
        let config = SloConfig::default();
        // 2% errors = 20× burn everywhere.
        let burning = windows(&requests(1_000, 20), &[]);
        let page = slo_condition(SloName::Availability, SloTier::Page, &burning, &config);
        let page = page.expect("evaluates");
        assert!(page.condition);
        assert!(close(page.value, 20.0));
        // Recovered: the 1h window still burns, the 5m and 30m ones no longer do.
        let recovered = windows(
            &requests(1_000, 20),
            &[
                (5 * MINUTE_MS, requests(100, 0)),
                (30 * MINUTE_MS, requests(100, 0)),
            ],
        );
        let page = slo_condition(SloName::Availability, SloTier::Page, &recovered, &config);
        assert_eq!(page.map(|e| e.condition), Ok(false));
    }

    #[test]
    fn ticket_fires_on_slow_steady_burn_that_does_not_page() {
        let config = SloConfig::default();
        let slow_burn = windows(&requests(1_000, 4), &[]); // 4×
        let page = slo_condition(SloName::Availability, SloTier::Page, &slow_burn, &config);
        let ticket = slo_condition(SloName::Availability, SloTier::Ticket, &slow_burn, &config);
        assert_eq!(page.map(|e| e.condition), Ok(false));
        assert_eq!(ticket.map(|e| e.condition), Ok(true));
    }

    #[test]
    fn no_traffic_never_burns() {
        let idle = windows(&WindowStats::default(), &[]);
        for tier in SloTier::ALL {
            let result = slo_condition(SloName::Latency, tier, &idle, &SloConfig::default());
            assert_eq!(
                result,
                Ok(Evaluation {
                    condition: false,
                    value: 0.0
                })
            );
        }
    }

    #[test]
    fn missing_window_is_reported() {
        let err = slo_condition(
            SloName::Latency,
            SloTier::Ticket,
            &BTreeMap::new(),
            &SloConfig::default(),
        );
        assert!(err.unwrap_err().contains("1d window"));
    }

    #[test]
    fn report_shows_budget_left_and_goes_negative_when_overspent() {
        let config = SloConfig::default();
        let healthy = report(&windows(&requests(10_000, 5), &[]), &config);
        assert_eq!(healthy.len(), 2);
        let availability = &healthy[0];
        assert_eq!(availability.name, SloName::Availability);
        assert!(close(availability.sli_30d, 0.9995));
        assert!(close(availability.error_budget_remaining, 0.5));
        let labels: Vec<&str> = availability
            .burn_rates
            .iter()
            .map(|(l, _)| l.as_str())
            .collect();
        assert_eq!(labels, ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
        let overspent = report(&windows(&requests(1_000, 3), &[]), &config);
        assert!(close(overspent[0].error_budget_remaining, -2.0));
        let empty = report(&BTreeMap::new(), &config);
        assert_eq!(
            (empty[1].sli_30d, empty[1].error_budget_remaining),
            (1.0, 1.0)
        );
    }

    #[test]
    fn names_and_tiers_round_trip() {
        for slo in SloName::ALL {
            assert_eq!(SloName::parse(slo.as_str()), Some(slo));
        }
        for tier in SloTier::ALL {
            assert_eq!(SloTier::parse(tier.as_str()), Some(tier));
        }
        assert_eq!(SloTier::parse("Page"), None);
    }
}
