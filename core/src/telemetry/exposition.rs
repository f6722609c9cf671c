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

use std::fmt::Write as _;

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

/// Exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text004,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

/// Picks the format for an `Accept` header: OpenMetrics when the most preferred acceptable
/// media range is `application/openmetrics-text` with version 1.0.0 or none, text 0.0.4
/// otherwise (including an empty or unparsable header). Ranges with `q=0` are ignored; ties
/// keep header order.
pub fn negotiate(accept: &str) -> Format {
    let mut ranges: Vec<(f64, Option<Format>)> = Vec::new();
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if media.is_empty() {
            continue;
        }
        let mut q = 1.0;
        let mut version: Option<String> = None;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "q" => q = value.parse::<f64>().unwrap_or(0.0),
                "version" => version = Some(value.to_string()),
                _ => {}
            }
        }
        if q.is_nan() || q <= 0.0 {
            continue;
        }
        let format = match (media.as_str(), version.as_deref()) {
            ("application/openmetrics-text", None | Some("1.0.0")) => Some(Format::OpenMetrics),
            ("text/plain", None | Some("0.0.4")) | ("text/*" | "*/*", _) => Some(Format::Text004),
            _ => None,
        };
        ranges.push((q, format));
    }
    // Stable sort: equal q keeps header order.
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges
        .into_iter()
        .find_map(|(_, format)| format)
        .unwrap_or(Format::Text004)
}

/// The `Content-Type` of a rendered exposition.
pub fn content_type(format: Format) -> &'static str {
    match format {
        Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
        Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
    }
}

/// Renders families in `format`. Samples whose value does not match the family type are
/// skipped (a `debug_assert!` catches them in tests).
pub fn render(families: &[Family], format: Format) -> String {
    let mut out = String::new();
    for family in families {
        debug_check(family);
        render_family(&mut out, family, format);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn render_family(out: &mut String, family: &Family, format: Format) {
    let name = family.name;
    let kind = family.kind.as_str();
    match format {
        Format::Text004 => {
            let meta_name = match family.kind {
                MetricType::Counter => format!("{name}_total"),
                _ => name.to_string(),
            };
            let _ = writeln!(out, "# HELP {meta_name} {}", escape(family.help, false));
            let _ = writeln!(out, "# TYPE {meta_name} {kind}");
        }
        Format::OpenMetrics => {
            let _ = writeln!(out, "# TYPE {name} {kind}");
            if let Some(unit) = family.unit {
                if name.ends_with(&format!("_{unit}")) {
                    let _ = writeln!(out, "# UNIT {name} {unit}");
                }
            }
            let _ = writeln!(out, "# HELP {name} {}", escape(family.help, true));
        }
    }
    for sample in &family.samples {
        match (&sample.value, family.kind) {
            (Value::Number(v), MetricType::Counter) => {
                line(out, name, "_total", &sample.labels, None, &fmt_f64(*v));
            }
            (Value::Number(v), MetricType::Gauge) => {
                line(out, name, "", &sample.labels, None, &fmt_f64(*v));
            }
            (Value::Histogram(h), MetricType::Histogram) => {
                for &(bound, cumulative) in &h.buckets {
                    if bound.is_infinite() && bound > 0.0 {
                        continue; // rendered from `count` below
                    }
                    let le = fmt_f64(bound);
                    let v = cumulative.to_string();
                    line(out, name, "_bucket", &sample.labels, Some(&le), &v);
                }
                let count = h.count.to_string();
                line(out, name, "_bucket", &sample.labels, Some("+Inf"), &count);
                line(out, name, "_sum", &sample.labels, None, &fmt_f64(h.sum));
                line(out, name, "_count", &sample.labels, None, &count);
            }
            _ => {}
        }
    }
}

/// Writes `name+suffix{labels[,le="…"]} value\n`.
fn line(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&'static str, String)],
    le: Option<&str>,
    value: &str,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let all = labels
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(le.map(|le| ("le", le)));
        for (i, (key, val)) in all.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push_str("=\"");
            // Label values escape `"` in both formats.
            out.push_str(&escape(val, true));
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

/// Escapes `\` and newline, and `"` when `quote` (label values; OpenMetrics HELP). Text 0.0.4
/// HELP must not escape `"`: its parser rejects `\"` there.
fn escape(s: &str, quote: bool) -> std::borrow::Cow<'_, str> {
    let needs_escape = s.contains(['\\', '\n']) || (quote && s.contains('"'));
    if !needs_escape {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.into()
}

/// Formats a sample value or bound (see the module docs).
pub fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = v.abs();
    if v.fract() == 0.0 && abs < 1e15 {
        return format!("{}", v as i64);
    }
    if (1e-4..1e15).contains(&abs) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

/// Problems with a family's static shape; empty when it is valid. Checked by `debug_assert!`
/// in [`render`].
fn problems(family: &Family) -> Vec<String> {
    let mut found = Vec::new();
    let name = family.name;
    if !is_metric_name(name) {
        found.push(format!("invalid metric name {name:?}"));
    }
    if family.kind == MetricType::Counter && name.ends_with("_total") {
        found.push(format!(
            "counter {name:?}: give the family name without _total"
        ));
    }
    if let Some(unit) = family.unit {
        if !name.ends_with(&format!("_{unit}")) {
            found.push(format!("{name:?} does not end with its unit _{unit}"));
        }
    }
    for sample in &family.samples {
        for (i, (key, _)) in sample.labels.iter().enumerate() {
            if !is_label_name(key) {
                found.push(format!("{name}: invalid label name {key:?}"));
            }
            if family.kind == MetricType::Histogram && *key == "le" {
                found.push(format!("{name}: histogram samples must not carry `le`"));
            }
            if sample.labels[..i].iter().any(|(k, _)| k == key) {
                found.push(format!("{name}: duplicate label {key:?}"));
            }
        }
        match (&sample.value, family.kind) {
            (Value::Number(_), MetricType::Counter | MetricType::Gauge) => {}
            (Value::Histogram(h), MetricType::Histogram) => {
                let ordered = h
                    .buckets
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
                let within = h.buckets.iter().all(|&(_, c)| c <= h.count);
                if !ordered || !within {
                    found.push(format!("{name}: buckets not ascending/cumulative"));
                }
            }
            _ => found.push(format!(
                "{name}: sample value does not match the family type"
            )),
        }
    }
    found
}

fn debug_check(family: &Family) {
    if cfg!(debug_assertions) {
        let found = problems(family);
        debug_assert!(found.is_empty(), "{}", found.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::BUCKET_BOUNDS_SECONDS;

    fn requests() -> Family {
        let mut f = Family::counter("vigil_http_requests", "HTTP requests handled.");
        f.push(
            [
                ("route", "/healthz".to_string()),
                ("method", "GET".to_string()),
                ("code", "200".to_string()),
            ],
            1027.0,
        );
        f.push(
            [
                ("route", "/metrics".to_string()),
                ("method", "GET".to_string()),
                ("code", "401".to_string()),
            ],
            3.0,
        );
        f
    }

    fn build_info() -> Family {
        Family::gauge("vigil_build_info", "Build information; always 1.").with(
            [
                ("version", "0.1.0".to_string()),
                ("environment", "production".to_string()),
            ],
            1.0,
        )
    }

    fn duration() -> Family {
        // 3 requests: 0.004 s, 0.2 s, 12 s.
        let mut counts = [0u64; 12];
        counts[0] = 1;
        counts[5] = 1;
        counts[11] = 1;
        let mut f = Family::histogram(
            "vigil_http_request_duration_seconds",
            "HTTP request latency.",
        )
        .with_unit("seconds");
        f.push_histogram(
            [("route", "/healthz".to_string())],
            Histogram::from_counts(&BUCKET_BOUNDS_SECONDS, &counts, 12.204),
        );
        f
    }

    const COUNTER_TEXT: &str = "\
# HELP vigil_http_requests_total HTTP requests handled.
# TYPE vigil_http_requests_total counter
vigil_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 1027
vigil_http_requests_total{route=\"/metrics\",method=\"GET\",code=\"401\"} 3
";

    const COUNTER_OM: &str = "\
# TYPE vigil_http_requests counter
# HELP vigil_http_requests HTTP requests handled.
vigil_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 1027
vigil_http_requests_total{route=\"/metrics\",method=\"GET\",code=\"401\"} 3
";

    const GAUGE_TEXT: &str = "\
# HELP vigil_build_info Build information; always 1.
# TYPE vigil_build_info gauge
vigil_build_info{version=\"0.1.0\",environment=\"production\"} 1
";

    const GAUGE_OM: &str = "\
# TYPE vigil_build_info gauge
# HELP vigil_build_info Build information; always 1.
vigil_build_info{version=\"0.1.0\",environment=\"production\"} 1
";

    const HISTOGRAM_SAMPLES: &str = "\
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.01\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.025\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.05\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.1\"} 1
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.25\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.5\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"1\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"2.5\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"5\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"10\"} 2
vigil_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 3
vigil_http_request_duration_seconds_sum{route=\"/healthz\"} 12.204
vigil_http_request_duration_seconds_count{route=\"/healthz\"} 3
";

    #[test]
    fn counter_text() {
        assert_eq!(render(&[requests()], Format::Text004), COUNTER_TEXT);
    }

    #[test]
    fn counter_openmetrics() {
        let want = format!("{COUNTER_OM}# EOF\n");
        assert_eq!(render(&[requests()], Format::OpenMetrics), want);
    }

    #[test]
    fn gauge_both_formats() {
        assert_eq!(render(&[build_info()], Format::Text004), GAUGE_TEXT);
        let want = format!("{GAUGE_OM}# EOF\n");
        assert_eq!(render(&[build_info()], Format::OpenMetrics), want);
    }

    #[test]
    fn histogram_text() {
        let want = format!(
            "# HELP vigil_http_request_duration_seconds HTTP request latency.\n\
             # TYPE vigil_http_request_duration_seconds histogram\n{HISTOGRAM_SAMPLES}"
        );
        assert_eq!(render(&[duration()], Format::Text004), want);
    }

    #[test]
    fn histogram_openmetrics() {
        let want = format!(
            "# TYPE vigil_http_request_duration_seconds histogram\n\
             # UNIT vigil_http_request_duration_seconds seconds\n\
             # HELP vigil_http_request_duration_seconds HTTP request latency.\n\
             {HISTOGRAM_SAMPLES}# EOF\n"
        );
        assert_eq!(render(&[duration()], Format::OpenMetrics), want);
    }

    #[test]
    fn histogram_explicit_inf_bucket_is_not_duplicated() {
        let mut f = Family::histogram("x_seconds", "x");
        f.push_histogram(
            Vec::new(),
            Histogram {
                buckets: vec![(1.0, 1), (f64::INFINITY, 2)],
                sum: 3.0,
                count: 2,
            },
        );
        let want = "# HELP x_seconds x\n# TYPE x_seconds histogram\n\
                    x_seconds_bucket{le=\"1\"} 1\nx_seconds_bucket{le=\"+Inf\"} 2\n\
                    x_seconds_sum 3\nx_seconds_count 2\n";
        assert_eq!(render(&[f], Format::Text004), want);
    }

    #[test]
    fn families_and_samples_keep_order_and_empty_families_keep_metadata() {
        let empty = Family::counter("vigil_notifications_sent", "Notifications sent.");
        let text = render(&[build_info(), empty.clone(), requests()], Format::Text004);
        let want = format!(
            "{GAUGE_TEXT}# HELP vigil_notifications_sent_total Notifications sent.\n\
             # TYPE vigil_notifications_sent_total counter\n{COUNTER_TEXT}"
        );
        assert_eq!(text, want);
        let om = render(&[empty], Format::OpenMetrics);
        assert_eq!(
            om,
            "# TYPE vigil_notifications_sent counter\n\
             # HELP vigil_notifications_sent Notifications sent.\n# EOF\n"
        );
        assert_eq!(render(&[], Format::OpenMetrics), "# EOF\n");
        assert_eq!(render(&[], Format::Text004), "");
    }

    #[test]
    fn label_values_are_escaped() {
        let f = Family::gauge("g", "h").with([("v", "a\"b\\c\nd".to_string())], 2.0);
        let want = "g{v=\"a\\\"b\\\\c\\nd\"} 2\n";
        assert!(render(std::slice::from_ref(&f), Format::Text004).ends_with(want));
        assert!(render(&[f], Format::OpenMetrics).ends_with(&format!("{want}# EOF\n")));
    }

    #[test]
    fn help_is_escaped_per_format() {
        let f = Family::gauge("g", "say \"hi\" \\ then\nmore");
        assert_eq!(
            render(std::slice::from_ref(&f), Format::Text004),
            "# HELP g say \"hi\" \\\\ then\\nmore\n# TYPE g gauge\n"
        );
        assert_eq!(
            render(&[f], Format::OpenMetrics),
            "# TYPE g gauge\n# HELP g say \\\"hi\\\" \\\\ then\\nmore\n# EOF\n"
        );
    }

    #[test]
    fn unit_line_only_when_name_ends_with_unit() {
        let f = Family::gauge("vigil_slo_error_budget_remaining_ratio", "Budget left.")
            .with_unit("ratio");
        assert!(render(&[f], Format::OpenMetrics)
            .contains("# UNIT vigil_slo_error_budget_remaining_ratio ratio\n"));
        let no_unit = Family::gauge("vigil_alert_state", "State.");
        assert!(!render(&[no_unit], Format::OpenMetrics).contains("# UNIT"));
        let counter = Family::counter("vigil_cpu_seconds", "CPU.").with_unit("seconds");
        let om = render(&[counter.with(Vec::new(), 1.5)], Format::OpenMetrics);
        assert!(om.contains("# UNIT vigil_cpu_seconds seconds\n"));
        assert!(om.contains("\nvigil_cpu_seconds_total 1.5\n"));
    }

    #[test]
    fn floats() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (10.0, "10"),
            (2.5, "2.5"),
            (0.005, "0.005"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5e-7"),
            (-3.0, "-3"),
            (123456789.0, "123456789"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e20, "1e20"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(fmt_f64(v), want, "{v}");
        }
        // Every bound parses back exactly.
        for b in BUCKET_BOUNDS_SECONDS {
            assert_eq!(fmt_f64(b).parse::<f64>().unwrap(), b);
        }
    }

    #[test]
    fn negotiation() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(prometheus), Format::OpenMetrics);
        assert_eq!(
            negotiate("application/openmetrics-text"),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate("application/openmetrics-text; version=\"1.0.0\"; charset=utf-8"),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate("Application/OpenMetrics-Text;Version=1.0.0"),
            Format::OpenMetrics
        );
        assert_eq!(negotiate("text/plain"), Format::Text004);
        assert_eq!(negotiate(""), Format::Text004);
        assert_eq!(negotiate("*/*"), Format::Text004);
        assert_eq!(negotiate("garbage;;,=,"), Format::Text004);
        assert_eq!(
            negotiate("application/openmetrics-text;version=0.0.1"),
            Format::Text004
        );
        assert_eq!(
            negotiate("application/openmetrics-text;version=2.0.0"),
            Format::Text004
        );
        assert_eq!(
            negotiate("application/openmetrics-text;q=0"),
            Format::Text004
        );
        // Preference by q, not by position.
        assert_eq!(
            negotiate("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;q=0.9"),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate("application/openmetrics-text;q=0.3,text/plain;version=0.0.4"),
            Format::Text004
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(Format::Text004),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(
            content_type(Format::OpenMetrics),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
    }

    #[test]
    fn from_counts_is_cumulative() {
        let h = Histogram::from_counts(&[1.0, 2.0], &[2, 0, 5], 9.5);
        assert_eq!(h.buckets, vec![(1.0, 2), (2.0, 2)]);
        assert_eq!(h.count, 7);
        let h = Histogram::from_counts(&[1.0, 2.0], &[2, 3], 1.0);
        assert_eq!(h.count, 5);
    }

    #[test]
    fn validity_checks() {
        assert!(is_metric_name("vigil_http_requests"));
        assert!(is_metric_name("a:b_c9"));
        assert!(!is_metric_name("9a"));
        assert!(!is_metric_name("a-b"));
        assert!(!is_metric_name(""));
        assert!(is_label_name("route"));
        assert!(is_label_name("_x1"));
        assert!(!is_label_name("__name__"));
        assert!(!is_label_name("a:b"));
        assert!(!is_label_name("1a"));
        for f in [requests(), build_info(), duration()] {
            assert!(problems(&f).is_empty(), "{:?}", problems(&f));
        }
        let bad = Family::counter("vigil_x_total", "x").with([("le", "1".to_string())], 1.0);
        assert_eq!(problems(&bad).len(), 1);
        let mut bad = Family::histogram("h_seconds", "h").with_unit("bytes");
        bad.push([("le", "1".to_string())], 1.0);
        assert_eq!(problems(&bad).len(), 3, "{:?}", problems(&bad));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "without _total")]
    fn render_asserts_on_invalid_families() {
        render(&[Family::counter("vigil_x_total", "x")], Format::Text004);
    }

    /// Runs `promtool check metrics` over a text exposition with all three types.
    #[test]
    fn promtool_accepts_text_exposition() {
        use std::io::Write;
        use std::process::{Command, Stdio};

        let mut escaped = Family::gauge(
            "vigil_dependency_up",
            "Whether a dependency check passed \"last\" time (1) or not (0).\nPer check.",
        );
        escaped.push([("check", "d1 \"main\"\\x\ny".to_string())], 0.0);
        let mut ratio = Family::gauge(
            "vigil_slo_error_budget_remaining_ratio",
            "Share of the error budget left.",
        );
        ratio.push([("slo", "availability".to_string())], f64::NAN);
        let families = [
            requests(),
            duration(),
            build_info(),
            escaped,
            ratio,
            Family::counter("vigil_notifications_sent", "Notifications sent."),
            Family::histogram("vigil_dependency_check_duration_seconds", "Check latency."),
        ];
        let text = render(&families, Format::Text004);

        let child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        // No skipping: a missing promtool fails the test (`make test` installs it).
        let mut child = child.expect(
            "promtool runs (Debian's `prometheus` package; `make test-tools` installs it)",
        );
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write to promtool");
        let output = child.wait_with_output().expect("promtool output");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
            "promtool check metrics: {}\nstdout: {stdout}\nstderr: {stderr}\ninput:\n{text}",
            output.status
        );
    }
}
