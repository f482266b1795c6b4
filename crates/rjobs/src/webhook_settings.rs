//! The `webhooks.*` settings (`RJOBS_WEBHOOKS__*`): how the delivery worker sends. Kept apart
//! from `settings.rs` so the section reads as one unit; validated into
//! [`rjobs_hooks::HookSettings`] at load time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Webhook delivery settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Webhooks {
    /// Most deliveries in flight on this node.
    pub max_concurrency: usize,
    /// Connect timeout of one attempt (ms).
    pub connect_timeout_ms: u64,
    /// Total timeout of one attempt (ms).
    pub timeout_ms: u64,
    /// Most response bytes read per attempt.
    pub max_response_bytes: usize,
    /// A claim's lease (ms); must exceed `timeout_ms`. After a crash, the claims of the dead
    /// node are delivered again this long after they were made.
    pub lease_ms: u64,
    /// Outbox poll interval (ms).
    pub poll_ms: u64,
    /// Delays before the retries, comma-separated ms (default 5 s, 5 min, 30 min, 2 h, 5 h,
    /// 10 h, 10 h: eight attempts over about a day).
    pub retry_schedule_ms: String,
    /// Attempts kept per webhook for `GET …/deliveries`.
    pub keep_attempts: u32,
}

impl Default for Webhooks {
    fn default() -> Self {
        let d = rjobs_hooks::HookSettings::default();
        Webhooks {
            max_concurrency: d.max_concurrency,
            connect_timeout_ms: d.connect_timeout.as_millis() as u64,
            timeout_ms: d.timeout.as_millis() as u64,
            max_response_bytes: d.max_response_bytes,
            lease_ms: d.lease_ms as u64,
            poll_ms: d.poll.as_millis() as u64,
            retry_schedule_ms: d
                .retry_schedule_ms
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            keep_attempts: d.keep_attempts,
        }
    }
}

impl Webhooks {
    /// The worker's settings, or what is wrong (naming the setting).
    pub fn hook_settings(
        &self,
        outbound: rjobs_flow::outbound::OutboundPolicy,
    ) -> anyhow::Result<rjobs_hooks::HookSettings> {
        let schedule = rjobs_core::webhooks::parse_schedule(&self.retry_schedule_ms)
            .map_err(|e| anyhow::anyhow!("webhooks.retry_schedule_ms: {e}"))?;
        if self.max_concurrency == 0 || self.timeout_ms == 0 || self.poll_ms == 0 {
            anyhow::bail!("webhooks.max_concurrency, timeout_ms and poll_ms must be at least 1");
        }
        if self.lease_ms <= self.timeout_ms {
            anyhow::bail!("webhooks.lease_ms must be greater than webhooks.timeout_ms");
        }
        Ok(rjobs_hooks::HookSettings {
            max_concurrency: self.max_concurrency,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms.max(1)),
            timeout: Duration::from_millis(self.timeout_ms),
            max_response_bytes: self.max_response_bytes,
            lease_ms: i64::try_from(self.lease_ms)
                .map_err(|_| anyhow::anyhow!("webhooks.lease_ms: too large"))?,
            poll: Duration::from_millis(self.poll_ms),
            retry_schedule_ms: schedule,
            keep_attempts: self.keep_attempts.max(1),
            outbound,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_checked() {
        let d = Webhooks::default();
        let h = d.hook_settings(Default::default()).unwrap();
        assert_eq!(h.retry_schedule_ms.len(), 7);
        let bad = Webhooks {
            lease_ms: 1000,
            timeout_ms: 2000,
            ..Webhooks::default()
        };
        assert!(bad.hook_settings(Default::default()).is_err());
        let bad = Webhooks {
            retry_schedule_ms: "5s".into(),
            ..Webhooks::default()
        };
        let e = bad.hook_settings(Default::default()).unwrap_err();
        assert!(e.to_string().contains("retry_schedule_ms"), "{e}");
    }
}
