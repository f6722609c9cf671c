//! What evaluating a condition yields: whether it holds, and the value measured. Shared by rules
//! and SLO burn-rate conditions, so neither depends on the other for it.

/// A rule's outcome at one time: whether its condition holds and the measured value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub condition: bool,
    pub value: f64,
}

impl Evaluation {
    pub const NO_DATA: Evaluation = Evaluation {
        condition: false,
        value: 0.0,
    };

    pub fn above(value: f64, threshold: f64) -> Evaluation {
        Evaluation {
            condition: value > threshold,
            value,
        }
    }
}
