//! One Analytics Engine datapoint per request. The datapoint is built by a pure function (local
//! workerd discards AE writes, so this is where its shape is tested); the shell only writes it.
//!
//! Schema (README.md documents it with a ready SQL query):
//! - index1: route template
//! - blob1 method, blob2 route, blob3 status class (`2xx`…), blob4 colo, blob5 country,
//!   blob6 version, blob7 request id
//! - double1 status, double2 duration ms, double3 D1 operations

/// What one request tells Analytics Engine.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFacts<'a> {
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub colo: &'a str,
    pub country: &'a str,
    pub request_id: &'a str,
    pub duration_ms: f64,
    pub d1_operations: u32,
}

/// A datapoint as plain data: indexes, blobs and doubles in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    pub indexes: [String; 1],
    pub blobs: [String; 7],
    pub doubles: [f64; 3],
}

/// `2xx`, `4xx`, … for a status code.
pub fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
}

pub fn datapoint(facts: &RequestFacts<'_>) -> Datapoint {
    Datapoint {
        indexes: [facts.route.to_string()],
        blobs: [
            facts.method.to_string(),
            facts.route.to_string(),
            status_class(facts.status),
            facts.colo.to_string(),
            facts.country.to_string(),
            crate::VERSION.to_string(),
            facts.request_id.to_string(),
        ],
        doubles: [
            f64::from(facts.status),
            facts.duration_ms,
            f64::from(facts.d1_operations),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datapoint_follows_the_documented_schema_field_by_field() {
        let point = datapoint(&RequestFacts {
            method: "GET",
            route: "/readyz/{check}",
            status: 503,
            colo: "DFW",
            country: "US",
            request_id: "req-1",
            duration_ms: 12.5,
            d1_operations: 2,
        });
        assert_eq!(point.indexes, ["/readyz/{check}".to_string()]);
        assert_eq!(point.blobs[0], "GET");
        assert_eq!(point.blobs[1], "/readyz/{check}");
        assert_eq!(point.blobs[2], "5xx");
        assert_eq!(point.blobs[3], "DFW");
        assert_eq!(point.blobs[4], "US");
        assert_eq!(point.blobs[5], crate::VERSION);
        assert_eq!(point.blobs[6], "req-1");
        assert_eq!(point.doubles, [503.0, 12.5, 2.0]);
    }
}
