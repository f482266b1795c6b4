//! Workflows for rjobs: the part of the original's workflow engine that resource jobs use.
//!
//! The original drives resource jobs through workflows: a job's iterations fire the
//! `resourceJobIteration` trigger, a flow does the per-resource work, and its Job: Acknowledge
//! node reports the outcome. To stay compatible with flows exported from the original, this
//! crate reads and writes the original's flow JSON unchanged and follows its node config field
//! names and semantics. It is pure logic plus a runner: no storage and no HTTP server. The
//! server stores flows, builds trigger payloads with [`envelope`], calls [`run`] and implements
//! [`FlowHost`] to acknowledge iterations and start executions.
//!
//! Modules:
//! - [`def`]: flow parsing/validation ([`parse_flow`], [`patch_flow`], [`flow_json`]); `graph`:
//!   the node graph's checks (unique ids, edges to existing nodes, no cycles).
//! - [`config`]: typed node configs, checked at save time.
//! - [`run`]: the bounded runner; [`http`]: the HTTP node; [`mqtt`]: the MQTT output nodes;
//!   [`logic`]: Switch, Throw Error, JSON Encode/Decode, Delay; [`script`]: the Function node's
//!   QuickJS sandbox; [`devices`]: Device: Get/Update; [`tables`]: the data-table nodes.
//! - [`error`]: [`NodeError`], why a run, a node or a template, path or expression failed.
//! - [`host`]: the [`FlowHost`] trait the server implements, and its [`HostError`].
//! - [`timer`]: timer trigger schedules and the pure "which instant fires now" decision.
//! - [`template`]: Handlebars with the original's helpers; [`expr`]: JavaScript-subset
//!   expressions; [`js`]: JavaScript coercion rules; [`path`]: payload paths.
//! - [`bounds`]: the limits every template is checked and rendered under; [`outbound`]: the
//!   address policy the HTTP node's requests are held to.

pub mod bounds;
pub mod config;
pub mod def;
pub mod devices;
mod each;
pub mod error;
pub mod expr;
mod graph;
pub mod host;
pub mod http;
mod job;
pub mod js;
pub mod logic;
pub mod mqtt;
pub mod outbound;
mod outcome;
pub mod path;
pub mod run;
pub mod script;
pub mod tables;
pub mod template;
pub mod timer;

pub use config::NODE_TYPES;
pub use def::{
    flow_json, parse_flow, patch_flow, FlowDef, FlowError, GlobalDef, NodeDef, TriggerDef,
    TRIGGER_TYPES,
};
pub use error::NodeError;
pub use host::{
    Acknowledgement, DevicePage, FlowHost, Found, HostError, Publish, RowPage, NO_BROKER,
};
pub use run::{envelope, run, RunLimits, RunLog};
