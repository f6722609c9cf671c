//! SLO tests: SLIs, burn rates, the multi-window conditions and the 30-day report.

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
fn availability_counts_failed_invocations_that_are_not_5xx_requests() {
    let stats = WindowStats {
        invocations: 30,
        invocations_crashed: 4,
        other_events: 10,
        other_failures: 5,
        ..requests(20, 2)
    };
    assert_eq!(
        SloName::Availability.events(&stats, &SloConfig::default()),
        (7, 30)
    );
    assert_eq!(
        SloName::Latency.events(&stats, &SloConfig::default()),
        (0, 20),
        "latency counts requests only"
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
    let healthy = report("api", &windows(&requests(10_000, 5), &[]), &config);
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
    let overspent = report("api", &windows(&requests(1_000, 3), &[]), &config);
    assert!(close(overspent[0].error_budget_remaining, -2.0));
    let empty = report("api", &BTreeMap::new(), &config);
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
