//! Prometheus exposition: renders metric families as text format 0.0.4 or OpenMetrics 1.0.
//!
//! `/metrics` renders cluster-wide totals read from D1, not a live registry, so this is a small
//! pure renderer over plain data rather than a client library.
//!
//! Conventions:
//! - A counter family is named **without** `_total` (the OpenMetrics family name, e.g.
//!   `vigil_http_requests`); samples are always exposed as `<name>_total`. In text 0.0.4 the
//!   `# HELP`/`# TYPE` lines use `<name>_total` too (what client_golang and promtool expect); in
//!   OpenMetrics they use the bare family name.
//! - Histogram buckets are cumulative `(upper bound, count)` pairs without `+Inf`; the `+Inf`
//!   bucket is rendered from `count`. [`Histogram::from_counts`] builds one from per-bucket counts.
//! - Families with no samples still get their `# HELP`/`# TYPE` lines (both parsers and
//!   `promtool check metrics` accept that), so a metric is visible before its first sample.
//! - Numbers: `+Inf`, `-Inf`, `NaN`; integral values below 1e15 without a fraction (`1`, not
//!   `1.0`, as client_golang writes `le="1"`); other values as the shortest decimal that
//!   round-trips (`0.005`, `2.5`), switching to exponent form (`1.5e-7`, `1e20`) outside
//!   [1e-4, 1e15). Both Prometheus parsers read every form.
//! - Output order is the given order of families and samples; nothing is sorted.
//! - Names are `&'static str`, so their validity is checked with `debug_assert!` and unit tests.

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// A histogram's state: cumulative buckets (ascending upper bounds, `+Inf` excluded), sum and
/// count (the `+Inf` bucket).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    /// Builds a histogram from non-cumulative per-bucket counts, as the rollups store them:
    /// `counts[i]` observations fell in `(bounds[i-1], bounds[i]]`; an optional extra last
    /// element counts observations above the largest bound. `count` is the total.
    pub fn from_counts(bounds: &[f64], counts: &[u64], sum: f64) -> Self {
        debug_assert!(
            counts.len() == bounds.len() || counts.len() == bounds.len() + 1,
            "{} counts for {} bounds",
            counts.len(),
            bounds.len()
        );
        let mut cumulative = 0u64;
        let buckets = bounds
            .iter()
            .zip(counts)
            .map(|(&bound, &n)| {
                cumulative += n;
                (bound, cumulative)
            })
            .collect();
        let count = counts.iter().sum();
        Histogram {
            buckets,
            sum,
            count,
        }
    }
}

/// What a sample carries: a counter or gauge value, or a histogram.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram(Histogram),
}

/// One labelled series of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Label names and values, rendered in this order (histograms append `le` last).
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

impl Sample {
    /// A counter or gauge sample.
    pub fn number(labels: impl Into<Vec<(&'static str, String)>>, value: f64) -> Self {
        Sample {
            labels: labels.into(),
            value: Value::Number(value),
        }
    }

    /// A histogram sample.
    pub fn histogram(labels: impl Into<Vec<(&'static str, String)>>, histogram: Histogram) -> Self {
        Sample {
            labels: labels.into(),
            value: Value::Histogram(histogram),
        }
    }
}

/// A metric family: name, help, type, optional unit and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Family name; for counters without the `_total` suffix (see the module docs).
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricType,
    /// Unit (e.g. `"seconds"`); the name must end with `_<unit>`. Only OpenMetrics shows it.
    pub unit: Option<&'static str>,
    pub samples: Vec<Sample>,
}

impl Family {
    fn new(name: &'static str, help: &'static str, kind: MetricType) -> Self {
        Family {
            name,
            help,
            kind,
            unit: None,
            samples: Vec::new(),
        }
    }

    /// A counter family; `name` is without `_total`.
    pub fn counter(name: &'static str, help: &'static str) -> Self {
        Self::new(name, help, MetricType::Counter)
    }

    pub fn gauge(name: &'static str, help: &'static str) -> Self {
        Self::new(name, help, MetricType::Gauge)
    }

    pub fn histogram(name: &'static str, help: &'static str) -> Self {
        Self::new(name, help, MetricType::Histogram)
    }

    /// Sets the unit; the name must end with `_<unit>`.
    pub fn with_unit(mut self, unit: &'static str) -> Self {
        self.unit = Some(unit);
        self
    }

    /// Adds a counter or gauge sample.
    pub fn push(
        &mut self,
        labels: impl Into<Vec<(&'static str, String)>>,
        value: f64,
    ) -> &mut Self {
        self.samples.push(Sample::number(labels, value));
        self
    }

    /// Adds a histogram sample.
    pub fn push_histogram(
        &mut self,
        labels: impl Into<Vec<(&'static str, String)>>,
        histogram: Histogram,
    ) -> &mut Self {
        self.samples.push(Sample::histogram(labels, histogram));
        self
    }

    /// By-value [`Family::push`], for one-sample families.
    pub fn with(mut self, labels: impl Into<Vec<(&'static str, String)>>, value: f64) -> Self {
        self.push(labels, value);
        self
    }
}

mod negotiate;
mod render;
#[cfg(test)]
mod tests;
mod validate;

pub use negotiate::{content_type, negotiate, Format};
pub use render::{fmt_f64, render};
