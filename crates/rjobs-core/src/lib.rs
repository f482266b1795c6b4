//! The rjobs domain, free of I/O: ids laid out like MongoDB ObjectIds (so they sort by creation
//! time and look like the original API's), millisecond timestamps, the injected [`Clock`], the
//! records every other crate speaks (applications, tokens), list parameters, and secrets.
//!
//! Nothing here touches a database, a socket or the system clock: that is what lets the engine be
//! tested on a manual clock and the store be tested for conformance on two backends.
#![warn(missing_docs)]

pub mod clock;
pub mod engine;
pub mod execution;
pub mod id;
pub mod jobs;
pub mod list;
pub mod model;
pub mod resources;
pub mod secret;
pub mod text;
pub mod time;
pub mod webhooks;

pub use clock::{Clock, ManualClock, SystemClock};
pub use id::{Id, IdGen};
pub use time::Timestamp;
