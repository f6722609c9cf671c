//! Route labels for an application's requests: the route template a path matches (`/notes/:id`),
//! never the raw path, so ids cannot become metric labels.
//!
//! An application declares its templates. A path none of them matches is labelled
//! [`UNMATCHED`] when the application answered 404 (a scanner's junk), and otherwise by
//! [`normalise`], which replaces id-like segments with `:id`; the per-service route cap at the
//! aggregator bounds whatever remains.

/// The label of requests that matched no route and were answered 404.
pub const UNMATCHED: &str = "unmatched";

/// Segments kept by [`normalise`]; deeper paths end in `/*`.
const MAX_SEGMENTS: usize = 6;
/// Longest label [`normalise`] builds (the aggregator refuses labels over 200 bytes).
const MAX_LABEL: usize = 120;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `:name`: any one non-empty segment.
    Param,
    /// A trailing `*`: any rest of the path, including none.
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Template {
    text: String,
    segments: Vec<Segment>,
}

impl Template {
    fn parse(text: &str) -> Result<Template, String> {
        if !text.starts_with('/') {
            return Err(format!("route template {text:?} must start with '/'"));
        }
        if text.len() > MAX_LABEL {
            return Err(format!("route template {text:?} is over {MAX_LABEL} bytes"));
        }
        let parts: Vec<&str> = split(text).collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match *part {
                "*" if i + 1 == parts.len() => Segment::Rest,
                "*" => return Err(format!("route template {text:?}: '*' must come last")),
                p if p.starts_with(':') && p.len() > 1 => Segment::Param,
                ":" => return Err(format!("route template {text:?}: a parameter needs a name")),
                p => Segment::Literal(p.to_string()),
            };
            segments.push(segment);
        }
        Ok(Template {
            text: text.to_string(),
            segments,
        })
    }

    fn matches(&self, path: &str) -> bool {
        let mut parts = split(path);
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                Segment::Param => {
                    if parts.next().is_none() {
                        return false;
                    }
                }
                Segment::Literal(literal) => {
                    if parts.next() != Some(literal.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }

    /// Sort key: literal segments before parameters before a rest, so `/notes/export` wins
    /// over `/notes/:id` whatever order they were declared in.
    fn generality(&self) -> (bool, usize) {
        let params = self
            .segments
            .iter()
            .filter(|s| **s == Segment::Param)
            .count();
        (self.segments.last() == Some(&Segment::Rest), params)
    }
}

/// Non-empty path segments (`//` and a trailing `/` do not make segments).
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// An application's declared route templates, most specific first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTemplates {
    templates: Vec<Template>,
}

impl RouteTemplates {
    /// Reads templates such as `/notes/:id` or `/assets/*`, or says which one is malformed.
    pub fn parse<S: AsRef<str>>(templates: &[S]) -> Result<RouteTemplates, String> {
        let mut parsed = templates
            .iter()
            .map(|t| Template::parse(t.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by_key(Template::generality);
        Ok(RouteTemplates { templates: parsed })
    }

    /// The template `path` matches, if any.
    pub fn matching(&self, path: &str) -> Option<&str> {
        self.templates
            .iter()
            .find(|t| t.matches(path))
            .map(|t| t.text.as_str())
    }

    /// The route label of a request to `path` answered with `status`.
    pub fn label(&self, path: &str, status: u16) -> String {
        match self.matching(path) {
            Some(template) => template.to_string(),
            None if status == 404 => UNMATCHED.to_string(),
            None => normalise(path),
        }
    }
}

/// A path with id-like segments (numbers, UUIDs, long hex or base64 tokens) replaced by `:id`,
/// cut after six segments or 120 bytes.
pub fn normalise(path: &str) -> String {
    let mut out = String::new();
    for (i, segment) in split(path).enumerate() {
        let segment = if looks_like_id(segment) {
            ":id"
        } else {
            segment
        };
        if i == MAX_SEGMENTS || out.len() + 1 + segment.len() > MAX_LABEL - 2 {
            out.push_str("/*");
            break;
        }
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn looks_like_id(segment: &str) -> bool {
    let all = |f: fn(char) -> bool| segment.chars().all(f);
    let has_digit = segment.chars().any(|c| c.is_ascii_digit());
    let token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=';
    all(|c| c.is_ascii_digit())
        || is_uuid(segment)
        || (segment.len() >= 16 && all(|c| c.is_ascii_hexdigit()))
        || (segment.len() >= 20 && has_digit && all(token_char))
        || segment.len() > 64
}

fn is_uuid(segment: &str) -> bool {
    let groups: Vec<&str> = segment.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes() -> RouteTemplates {
        RouteTemplates::parse(&["/notes/:id", "/notes", "/notes/export", "/assets/*"]).unwrap()
    }

    #[test]
    fn paths_take_the_most_specific_template_they_match() {
        let routes = notes();
        assert_eq!(routes.matching("/notes"), Some("/notes"));
        assert_eq!(routes.matching("/notes/"), Some("/notes"));
        assert_eq!(routes.matching("/notes/42"), Some("/notes/:id"));
        assert_eq!(routes.matching("/notes/export"), Some("/notes/export"));
        assert_eq!(routes.matching("/notes/42/x"), None);
        assert_eq!(routes.matching("/assets"), Some("/assets/*"));
        assert_eq!(routes.matching("/assets/a/b.css"), Some("/assets/*"));
        assert_eq!(routes.matching("/"), None);
    }

    #[test]
    fn unmatched_paths_are_unmatched_when_404_and_normalised_otherwise() {
        let routes = notes();
        assert_eq!(routes.label("/wp-login.php", 404), UNMATCHED);
        assert_eq!(
            routes.label("/users/123/orders/9", 200),
            "/users/:id/orders/:id"
        );
        assert_eq!(routes.label("/notes/7", 404), "/notes/:id");
    }

    #[test]
    fn ids_never_survive_normalisation() {
        for (path, label) in [
            ("/", "/"),
            ("", "/"),
            ("/u/550e8400-e29b-41d4-a716-446655440000", "/u/:id"),
            ("/blob/deadbeefdeadbeef00", "/blob/:id"),
            ("/t/eyJhbGciOiJIUzI1NiJ9abc123", "/t/:id"),
            ("/about/team", "/about/team"),
            ("/a/b/c/d/e/f/g/h", "/a/b/c/d/e/f/*"),
        ] {
            assert_eq!(normalise(path), label, "{path}");
        }
        let long = format!("/{}", "x".repeat(100));
        assert_eq!(normalise(&long), "/:id");
        let wide = format!("/{0}/{0}/{0}", "y".repeat(50));
        let label = normalise(&wide);
        assert!(label.len() <= MAX_LABEL && label.ends_with("/*"), "{label}");
    }

    #[test]
    fn malformed_templates_are_refused_with_the_culprit() {
        for bad in ["notes", "/a/*/b", "/a/:"] {
            let err = RouteTemplates::parse(&[bad]).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}
