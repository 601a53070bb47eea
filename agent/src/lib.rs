//! `routec agent`: one node's datapath follows the build in a watched
//! folder, proves that the kernel still holds it, and says how it is doing.
//!
//! - [`watched`]: the build behind the watched path (a folder, or a symlink
//!   swapped by rename as git-sync does), opened and checked by the loader's
//!   own readers, so a half-written or foreign build is refused whole;
//! - [`watch`]: inotify (the `notify` crate) on the path and its folder;
//! - [`verify`]: the kernel against the applied build (map drift, as
//!   `trace --live` reports it, and routec's programs on every hook);
//! - [`health`]: what `/healthz` answers;
//! - [`metrics`]: the Prometheus registry, kernel counters read at scrape time;
//! - [`http`]: `/metrics` and `/healthz`;
//! - [`log`]: one line per event, text or JSON;
//! - [`agent`]: the loop that ties them together.

pub mod agent;
pub mod health;
pub mod http;
pub mod log;
pub mod metrics;
pub mod verify;
pub mod watch;
pub mod watched;

pub use agent::{run, AgentOptions};
pub use log::LogFormat;
