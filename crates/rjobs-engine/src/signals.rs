//! Wake-up signals between the nodes of a cluster (PostgreSQL `NOTIFY`): a node that changes
//! something another node must act on sends a debounced [`Signal`]; every node listens and
//! marks what a signal names for a reload. Signals only shorten latency: nodes also poll at
//! every heartbeat, so a lost signal (or a dropped listener) never loses work.

use std::time::Duration;

use rjobs_store::Signal;
use tokio_util::sync::CancellationToken;

use crate::cluster::{lock, SIGNAL_DEBOUNCE};
use crate::engine::Engine;

impl Engine {
    /// Sends queued signals (debounced) until `shutdown`.
    pub(crate) async fn send_signals(&self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = self.cluster.outbox_ready.notified() => {}
                _ = shutdown.cancelled() => return,
            }
            tokio::time::sleep(SIGNAL_DEBOUNCE).await;
            let (claim, work) = {
                let mut o = lock(&self.cluster.outbox);
                (std::mem::take(&mut o.0), std::mem::take(&mut o.1))
            };
            let mut out = Vec::new();
            if claim {
                out.push(Signal::Claim);
            }
            if !work.is_empty() {
                out.push(Signal::Work(work.into_iter().collect()));
            }
            for s in out {
                if let Err(e) = self.store.signal(&s).await {
                    tracing::warn!(error = %e, "could not signal the other nodes (they will poll)");
                }
            }
        }
    }

    /// Acts on a signal from another node: reload the executions it names that this node owns
    /// (or everything, when signals may have been missed), claim when asked to.
    pub fn handle_signal(&self, signal: Signal) {
        match signal {
            Signal::Work(ids) => {
                let mut mine = false;
                for id in &ids {
                    mine |= self.views.stale(id) || self.cluster.owns(id);
                }
                if mine {
                    self.wake();
                }
            }
            Signal::Claim => {
                self.cluster.want_claim();
                self.wake();
            }
            Signal::Everything => {
                self.cluster.want_claim();
                self.views.stale_all();
                self.wake();
            }
        }
    }

    /// Receives signals until `shutdown`, waking the run loop when one concerns this node.
    pub(crate) async fn receive_signals(&self, shutdown: CancellationToken) {
        let mut stream = loop {
            match self.store.listen().await {
                Ok(Some(s)) => break s,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for signals yet; polling");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
        };
        loop {
            let got = tokio::select! {
                s = stream.next() => s,
                _ = shutdown.cancelled() => return,
            };
            match got {
                Ok(signal) => self.handle_signal(signal),
                Err(e) => {
                    tracing::warn!(error = %e, "signal stream failed; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}
