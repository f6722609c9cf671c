//! The objectives per service: defaults (`SLO_*` variables) and per-service overrides (`SLOS`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::SloConfig;
use crate::telemetry::metrics::BUCKET_BOUNDS_SECONDS;

/// The SLO objectives of every service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SloObjectives {
    pub defaults: SloConfig,
    /// Services whose objectives differ from the defaults.
    pub services: BTreeMap<String, SloConfig>,
}

/// One service's entry in `SLOS`; what it leaves out keeps the default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    availability: Option<f64>,
    latency: Option<f64>,
    latency_threshold_seconds: Option<f64>,
}

impl SloObjectives {
    /// Reads `SLOS` (`{"api": {"availability": 0.995, "latency": 0.99,
    /// "latency_threshold_seconds": 0.25}}`) over `defaults`, or says what is wrong with it.
    pub fn parse(defaults: SloConfig, slos: Option<&str>) -> Result<SloObjectives, String> {
        let Some(text) = slos else {
            return Ok(SloObjectives {
                defaults,
                services: BTreeMap::new(),
            });
        };
        let overrides: BTreeMap<String, Override> = serde_json::from_str(text)
            .map_err(|e| format!("is not a JSON object of services to objectives ({e})"))?;
        let mut services = BTreeMap::new();
        for (service, o) in overrides {
            let config = SloConfig {
                availability_objective: ratio(&service, "availability", o.availability)?
                    .unwrap_or(defaults.availability_objective),
                latency_objective: ratio(&service, "latency", o.latency)?
                    .unwrap_or(defaults.latency_objective),
                latency_threshold_seconds: threshold(&service, o.latency_threshold_seconds)?
                    .unwrap_or(defaults.latency_threshold_seconds),
            };
            services.insert(service, config);
        }
        Ok(SloObjectives { defaults, services })
    }

    /// The objectives `service` is held to.
    pub fn for_service(&self, service: &str) -> SloConfig {
        self.services.get(service).copied().unwrap_or(self.defaults)
    }
}

fn ratio(service: &str, field: &str, value: Option<f64>) -> Result<Option<f64>, String> {
    match value {
        Some(v) if !(v > 0.0 && v < 1.0) => Err(format!(
            "{service}.{field}: {v} is not a ratio between 0 and 1 (e.g. 0.999)"
        )),
        other => Ok(other),
    }
}

fn threshold(service: &str, value: Option<f64>) -> Result<Option<f64>, String> {
    match value {
        Some(v) if !BUCKET_BOUNDS_SECONDS.contains(&v) => Err(format!(
            "{service}.latency_threshold_seconds: {v} is not one of the latency histogram \
             bounds {BUCKET_BOUNDS_SECONDS:?}"
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_per_service_over_the_defaults() {
        let slos = SloObjectives::parse(
            SloConfig::default(),
            Some(r#"{"api": {"availability": 0.995}, "web": {"latency_threshold_seconds": 1}}"#),
        )
        .unwrap();
        assert_eq!(slos.for_service("api").availability_objective, 0.995);
        assert_eq!(slos.for_service("api").latency_objective, 0.99);
        assert_eq!(slos.for_service("web").latency_threshold_seconds, 1.0);
        assert_eq!(slos.for_service("other"), SloConfig::default());
    }

    #[test]
    fn bad_overrides_name_the_service_and_field() {
        let parse = |text| SloObjectives::parse(SloConfig::default(), Some(text)).unwrap_err();
        assert!(parse(r#"{"api": {"availability": 1.5}}"#).contains("api.availability"));
        assert!(parse(r#"{"api": {"latency_threshold_seconds": 0.3}}"#)
            .contains("api.latency_threshold"));
        assert!(parse(r#"{"api": {"availabilty": 0.9}}"#).contains("unknown field"));
        assert!(parse("[1]").contains("JSON object"));
    }
}
