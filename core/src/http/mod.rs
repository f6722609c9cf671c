//! The pure side of the HTTP surface: routes, bearer tokens, request ids, problem documents and
//! `Server-Timing`.

pub mod auth;
pub mod reply;
pub mod request_id;
pub mod routes;
pub mod templates;
pub mod timing;
