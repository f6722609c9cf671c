//! Alerting in the shell: the cron's alerting pass (`engine`) and outbox delivery (`dispatch`)
//! around the pure rules, state machine and notifications of `vigil-core`.

pub use vigil_core::alerting::*;
pub use vigil_core::notify;

pub mod dispatch;
pub mod engine;
mod maintenance;
mod notifications;
mod senders;
