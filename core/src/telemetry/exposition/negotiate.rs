//! Which exposition format a scraper asked for, by its `Accept` header.

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
