//! The per-invocation limits Cloudflare enforces (and local workerd does not), and what one
//! invocation used of them, so an operator sees the margin before production enforces it.

use serde::{Deserialize, Serialize};

/// Connections one invocation may hold open at once, on every plan; more queue inside the
/// runtime and eat into each request's timeout.
pub const CONNECTIONS: usize = 6;

/// What one invocation used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationUse {
    /// D1 statements, each member of a batch counted.
    pub d1_statements: u32,
    /// Subrequests: fetches, service-binding and Durable Object calls.
    pub subrequests: u32,
    /// The most connections open at once.
    pub connections: u32,
}

/// A plan's per-invocation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvocationLimits {
    pub d1_statements: u32,
    pub subrequests: u32,
    pub connections: u32,
}

/// The Free plan: 50 D1 queries, 50 external subrequests, 6 connections.
pub const FREE: InvocationLimits = InvocationLimits {
    d1_statements: 50,
    subrequests: 50,
    connections: CONNECTIONS as u32,
};

impl InvocationUse {
    /// Each resource with what was used and the limit, in the order `/metrics` shows them.
    pub fn resources(&self, limits: &InvocationLimits) -> [(&'static str, u32, u32); 3] {
        [
            ("d1_statements", self.d1_statements, limits.d1_statements),
            ("subrequests", self.subrequests, limits.subrequests),
            ("connections", self.connections, limits.connections),
        ]
    }

    /// This use and `other`'s in the same invocation: counts add up; connections were open
    /// one step after another, so the most of either.
    pub fn and(self, other: InvocationUse) -> InvocationUse {
        InvocationUse {
            d1_statements: self.d1_statements + other.d1_statements,
            subrequests: self.subrequests + other.subrequests,
            connections: self.connections.max(other.connections),
        }
    }

    /// The most of this use and `other`'s, each resource on its own: what the busiest of two
    /// invocations used.
    pub fn most(self, other: InvocationUse) -> InvocationUse {
        InvocationUse {
            d1_statements: self.d1_statements.max(other.d1_statements),
            subrequests: self.subrequests.max(other.subrequests),
            connections: self.connections.max(other.connections),
        }
    }

    /// The resources this use went past.
    pub fn exceeded(&self, limits: &InvocationLimits) -> Vec<&'static str> {
        self.resources(limits)
            .into_iter()
            .filter(|(_, used, limit)| used > limit)
            .map(|(name, _, _)| name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_past_a_limit_names_it() {
        let use_ = InvocationUse {
            d1_statements: 51,
            subrequests: 50,
            connections: 6,
        };
        assert_eq!(use_.exceeded(&FREE), ["d1_statements"]);
        assert!(InvocationUse::default().exceeded(&FREE).is_empty());
        let other = InvocationUse {
            d1_statements: 2,
            subrequests: 60,
            connections: 1,
        };
        let same = InvocationUse {
            d1_statements: 53,
            subrequests: 110,
            connections: 6,
        };
        assert_eq!(use_.and(other), same);
        assert_eq!(use_.most(other).subrequests, 60);
        assert_eq!(use_.most(other).d1_statements, 51);
        let wire = serde_json::to_string(&use_).unwrap();
        assert_eq!(
            wire,
            r#"{"d1Statements":51,"subrequests":50,"connections":6}"#
        );
    }
}
