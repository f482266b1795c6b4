//! Prometheus metrics of the engine and the HTTP API, in one registry per engine (so tests with
//! several engines never collide): iterations started and finished by outcome, dispatch lag,
//! store latency, HTTP requests by route and status. Executions by status are counted from the
//! store when scraped (a gauge computed from the records cannot drift).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// The metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Attempts started.
    pub iterations_started: IntCounter,
    /// Attempts ended, by outcome (`succeeded`, `failed`, `timedOut`, `retrying`, `notStarted`).
    pub iterations_finished: IntCounterVec,
    /// Seconds between when work became due (a deadline, a retry time) and when it was handled.
    pub dispatch_lag: HistogramVec,
    /// Store operation latency by operation.
    pub store_latency: HistogramVec,
    /// HTTP requests by method, route and status.
    pub http_requests: IntCounterVec,
    /// HTTP request duration by route.
    pub http_duration: HistogramVec,
    /// Executions by status (set at scrape time).
    pub executions: IntGaugeVec,
    /// Leases this node holds.
    pub leases_held: IntGauge,
    /// Nodes alive at the last look.
    pub nodes_live: IntGauge,
    /// Lease events: `claimed`, `released`, `lost` (found taken at renewal), `fenced` (a write
    /// refused because the lease had moved).
    pub lease_events: IntCounterVec,
    /// This node's id, as a label on a constant 1.
    pub node_info: IntGaugeVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let iterations_started = IntCounter::with_opts(Opts::new(
            "rjobs_iterations_started_total",
            "Iteration attempts started",
        ))?;
        let iterations_finished = IntCounterVec::new(
            Opts::new(
                "rjobs_iterations_finished_total",
                "Iteration attempts ended, by outcome",
            ),
            &["outcome"],
        )?;
        let dispatch_lag = HistogramVec::new(
            HistogramOpts::new(
                "rjobs_dispatch_lag_seconds",
                "Delay between a deadline or retry time and its handling",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["kind"],
        )?;
        let store_latency = HistogramVec::new(
            HistogramOpts::new("rjobs_store_operation_seconds", "Store operation latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "rjobs_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "rjobs_http_request_duration_seconds",
                "HTTP request duration",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        let executions = IntGaugeVec::new(
            Opts::new("rjobs_executions", "Executions by status"),
            &["status"],
        )?;
        let leases_held = IntGauge::with_opts(Opts::new(
            "rjobs_cluster_leases_held",
            "Execution leases held by this node",
        ))?;
        let nodes_live = IntGauge::with_opts(Opts::new(
            "rjobs_cluster_nodes_live",
            "Nodes alive at this node's last look",
        ))?;
        let lease_events = IntCounterVec::new(
            Opts::new("rjobs_cluster_lease_events_total", "Lease events by kind"),
            &["event"],
        )?;
        let node_info = IntGaugeVec::new(
            Opts::new("rjobs_node_info", "This node's identity and mode"),
            &["node_id", "mode"],
        )?;
        for m in [&leases_held, &nodes_live] {
            registry.register(Box::new(m.clone()))?;
        }
        registry.register(Box::new(lease_events.clone()))?;
        registry.register(Box::new(node_info.clone()))?;
        // Series that exist from the start (a scrape before the first tick still lists them).
        for op in ["tick", "start_iterations"] {
            store_latency.with_label_values(&[op]);
        }
        registry.register(Box::new(iterations_started.clone()))?;
        registry.register(Box::new(iterations_finished.clone()))?;
        registry.register(Box::new(dispatch_lag.clone()))?;
        registry.register(Box::new(store_latency.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(executions.clone()))?;
        Ok(Metrics {
            registry,
            iterations_started,
            iterations_finished,
            dispatch_lag,
            store_latency,
            http_requests,
            http_duration,
            executions,
            leases_held,
            nodes_live,
            lease_events,
            node_info,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// The registry, for components that add their own metrics (the MQTT connection).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records how long a store operation took.
    pub fn store_op(&self, op: &str, seconds: f64) {
        self.store_latency.with_label_values(&[op]).observe(seconds);
    }
}
