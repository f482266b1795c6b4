//! The CSV completion report and its signed link.
//!
//! The report is derived from the iteration records, which are final once the execution is, so
//! it is produced on demand and streamed page by page (never built whole in memory) rather than
//! copied into a second store that could disagree with the records. The link carries an expiry
//! and an HMAC-SHA256 over (application, job, execution, expiry) with a server secret kept in the
//! database (shared by every node, stable across restarts): a tampered or expired link is refused.

use hmac::{Hmac, Mac};
use rjobs_core::execution::IterationRow;
use rjobs_core::{Id, Timestamp};
use sha2::Sha256;

/// The CSV header.
pub const HEADER: [&str; 9] = [
    "iterationId",
    "resourceId",
    "resourceName",
    "status",
    "attempts",
    "startedAt",
    "completedAt",
    "message",
    "accumulator",
];

/// Report links valid this long by default (7 days).
pub const DEFAULT_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

/// The header line.
pub fn header_csv() -> Vec<u8> {
    let mut w = csv_writer();
    let _ = w.write_record(HEADER);
    w.into_inner().unwrap_or_default()
}

/// CSV lines (RFC 4180 quoting) for a page of iterations.
pub fn rows_csv(rows: &[IterationRow]) -> Vec<u8> {
    let mut w = csv_writer();
    let opt = |t: Option<Timestamp>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for r in rows {
        let rec = &r.record;
        let _ = w.write_record([
            r.iteration_id().to_string(),
            r.resource_id.to_string(),
            r.resource_name.clone(),
            rec.state.as_str().to_string(),
            rec.attempt.to_string(),
            opt(rec.started_at),
            opt(rec.completed_at),
            rec.message.clone().unwrap_or_default(),
            rec.accumulator.clone().unwrap_or_default(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// Signs and checks report links.
#[derive(Clone)]
pub struct ReportSigner {
    key: Vec<u8>,
    base: String,
    ttl_ms: i64,
}

impl std::fmt::Debug for ReportSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportSigner")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ReportSigner {
    /// A signer with `key`, making absolute links under `base` valid for `ttl_ms`.
    pub fn new(key: &[u8], base: &str, ttl_ms: i64) -> Self {
        ReportSigner {
            key: key.to_vec(),
            base: base.trim_end_matches('/').to_string(),
            ttl_ms,
        }
    }

    fn mac(&self, app: &Id, job: &Id, exec: &Id, expires: i64) -> String {
        let mut m = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        m.update(format!("{app}/{job}/{exec}/{expires}").as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// The path of an execution's report (without query).
    pub fn path(app: &Id, job: &Id, exec: &Id) -> String {
        format!("/applications/{app}/resource-jobs/{job}/executions/{exec}/report.csv")
    }

    /// A signed absolute URL valid until `now + ttl`.
    pub fn url(&self, app: &Id, job: &Id, exec: &Id, now: Timestamp) -> String {
        let expires = now.as_millis().saturating_add(self.ttl_ms);
        format!(
            "{}{}?expires={expires}&signature={}",
            self.base,
            Self::path(app, job, exec),
            self.mac(app, job, exec, expires)
        )
    }

    /// Whether a link's expiry and signature are valid at `now`.
    pub fn verify(
        &self,
        app: &Id,
        job: &Id,
        exec: &Id,
        expires: i64,
        sig: &str,
        now: Timestamp,
    ) -> bool {
        if now.as_millis() >= expires {
            return false;
        }
        let Ok(given) = hex::decode(sig) else {
            return false;
        };
        let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return false;
        };
        m.update(format!("{app}/{job}/{exec}/{expires}").as_bytes());
        m.verify_slice(&given).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rjobs_core::engine::{IterationRecord, IterationState};

    fn id(s: &str) -> Id {
        Id::parse(s).unwrap()
    }

    #[test]
    fn links_expire_and_resist_tampering() {
        let s = ReportSigner::new(b"k", "http://h:1/", 1000);
        let (a, j, e) = (
            id("575ec8687ae143cd83dc4a97"),
            id("575ec8687ae143cd83dc4a98"),
            id("575ec8687ae143cd83dc4a99"),
        );
        let now = Timestamp::from_millis(5000);
        let url = s.url(&a, &j, &e, now);
        assert!(url.starts_with("http://h:1/applications/"));
        let q = url.split_once('?').unwrap().1;
        let expires: i64 = q.split('&').next().unwrap()[8..].parse().unwrap();
        let sig = q.split("signature=").nth(1).unwrap();
        assert!(s.verify(&a, &j, &e, expires, sig, now));
        assert!(
            !s.verify(&a, &j, &e, expires, sig, Timestamp::from_millis(6000)),
            "expired"
        );
        assert!(
            !s.verify(&a, &j, &e, expires + 1, sig, now),
            "expiry tampered"
        );
        assert!(!s.verify(&a, &j, &a, expires, sig, now), "other execution");
        assert!(!s.verify(&a, &j, &e, expires, "zz", now));
        let other = ReportSigner::new(b"k2", "http://h:1", 1000);
        assert!(!other.verify(&a, &j, &e, expires, sig, now), "other key");
    }

    #[test]
    fn csv_quotes_per_rfc4180() {
        let mut rec = IterationRecord::pending();
        rec.state = IterationState::Failed;
        rec.attempt = 2;
        rec.message = Some("bad, \"very\"\nbad".into());
        let row = IterationRow {
            execution_id: id("575ec8687ae143cd83dc4a97"),
            seq: 1,
            resource_id: id("575ec8687ae143cd83dc4a98"),
            resource_name: "pump-1".into(),
            record: rec,
        };
        let text = String::from_utf8(rows_csv(&[row])).unwrap();
        assert_eq!(
            text,
            "575ec8687ae143cd83dc4a97-575ec8687ae143cd83dc4a98,575ec8687ae143cd83dc4a98,pump-1,failed,2,,,\"bad, \"\"very\"\"\nbad\",\r\n"
        );
        assert_eq!(
            String::from_utf8(header_csv()).unwrap(),
            "iterationId,resourceId,resourceName,status,attempts,startedAt,completedAt,message,accumulator\r\n"
        );
    }
}
