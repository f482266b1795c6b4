//! The pure half of the group commit: how one round of a batch turns its operations into
//! iteration writes, and the SQL text both backends share. No I/O here; `commit.rs` (PostgreSQL)
//! and `direct.rs` (SQLite) run it.
//!
//! A *round* holds at most one write per iteration, so that one `UPDATE … FROM UNNEST(…)`
//! decides every compare-and-set unambiguously (with two source rows for one target row the
//! database would apply an arbitrary one). An operation touching an iteration already written in
//! the round waits for the next round of the same transaction, and an ack then re-reads its row,
//! so two acks of one attempt in one batch still yield exactly one winner.

use std::collections::{HashMap, HashSet};

use rjobs_core::engine::{decide_ack, AckDecision, ExecutionStatus, SummaryDelta};
use rjobs_core::execution::{ExecSettings, IterationRow};
use rjobs_core::{Id, Timestamp};

use crate::batch::{AckApplied, AckOp, AckRejected, WriteOp, WriteOutcome};
use crate::{IterationWrite, StoreError};

/// An ack's iteration and the execution fields its decision needs, as read in the transaction.
#[derive(Debug, Clone)]
pub(crate) struct AckTarget {
    pub row: IterationRow,
    pub app: Id,
    pub job: Id,
    pub status: ExecutionStatus,
    pub settings: ExecSettings,
}

/// One iteration write of a round, with the operation it came from.
#[derive(Debug, Clone)]
pub(crate) struct RoundWrite {
    pub exec: Id,
    pub w: IterationWrite,
}

/// What one round writes.
#[derive(Debug, Default)]
pub(crate) struct Round {
    pub writes: Vec<RoundWrite>,
    acks: Vec<(usize, Id, i64, AckDecision)>,
    applies: Vec<usize>,
    /// Acks whose execution or iteration was not read (the caller tells which is missing).
    pub missing: Vec<usize>,
    /// Operations for the next round.
    pub deferred: Vec<usize>,
}

/// Changes of one execution row in a round.
#[derive(Debug, Default, Clone)]
pub(crate) struct ExecChange {
    pub delta: SummaryDelta,
    pub last_start: Option<Timestamp>,
    pub accumulator: Option<String>,
}

impl ExecChange {
    pub fn is_noop(&self) -> bool {
        self.delta.is_zero() && self.last_start.is_none() && self.accumulator.is_none()
    }
}

pub(crate) type Outs = Vec<Option<Result<WriteOutcome, StoreError>>>;

/// Plans one round over the operations `todo` (indices into `ops`, in order), with the ack
/// targets read for them. Refused acks get their outcome at once; the writes come in lock order.
pub(crate) fn plan_round(
    ops: &[WriteOp],
    todo: &[usize],
    found: &HashMap<(Id, Id), AckTarget>,
    outs: &mut Outs,
) -> Round {
    let mut round = Round::default();
    let mut used: HashSet<(Id, i64)> = HashSet::new();
    for &i in todo {
        match &ops[i] {
            WriteOp::Apply(a) => {
                if a.writes
                    .iter()
                    .any(|w| used.contains(&(a.exec.clone(), w.seq)))
                {
                    round.deferred.push(i);
                    continue;
                }
                for w in &a.writes {
                    used.insert((a.exec.clone(), w.seq));
                    round.writes.push(RoundWrite {
                        exec: a.exec.clone(),
                        w: w.clone(),
                    });
                }
                round.applies.push(i);
            }
            WriteOp::Ack(a) => {
                let Some(t) = found.get(&(a.exec.clone(), a.resource.clone())) else {
                    round.missing.push(i);
                    continue;
                };
                if t.app != a.app || a.job.as_ref().is_some_and(|j| *j != t.job) {
                    outs[i] = Some(Ok(WriteOutcome::Ack(Err(AckRejected::ExecutionNotFound))));
                    continue;
                }
                let key = (a.exec.clone(), t.row.seq);
                if used.contains(&key) {
                    round.deferred.push(i);
                    continue;
                }
                match decide_ack(t.status, &t.settings, &t.row.record, a.input.clone()) {
                    Err(r) => {
                        outs[i] = Some(Ok(WriteOutcome::Ack(Err(AckRejected::Refused(r)))));
                    }
                    Ok(d) => {
                        used.insert(key);
                        round.writes.push(RoundWrite {
                            exec: a.exec.clone(),
                            w: IterationWrite {
                                seq: t.row.seq,
                                expected_state: d.transition.expected_state,
                                expected_attempt: d.transition.expected_attempt,
                                record: d.transition.record.clone(),
                            },
                        });
                        round.acks.push((i, a.exec.clone(), t.row.seq, d));
                    }
                }
            }
            WriteOp::FlowRun(_) | WriteOp::Claim(_) => {}
        }
    }
    // Lock order (see `commit.rs`, `drain`): iterations by (execution, seq).
    round
        .writes
        .sort_by(|a, b| (&a.exec, a.w.seq).cmp(&(&b.exec, b.w.seq)));
    round
}

impl Round {
    /// Given which `(execution, seq)` writes won, each operation's outcome and each
    /// execution's counter and column changes.
    pub fn finish(
        self,
        ops: &[WriteOp],
        won: &HashSet<(Id, i64)>,
        outs: &mut Outs,
    ) -> HashMap<Id, ExecChange> {
        let mut per: HashMap<Id, ExecChange> = HashMap::new();
        for rw in &self.writes {
            if won.contains(&(rw.exec.clone(), rw.w.seq)) {
                per.entry(rw.exec.clone())
                    .or_default()
                    .delta
                    .moved(rw.w.expected_state, rw.w.record.state);
            }
        }
        for i in self.applies {
            let WriteOp::Apply(a) = &ops[i] else { continue };
            let wins = a
                .writes
                .iter()
                .map(|w| won.contains(&(a.exec.clone(), w.seq)))
                .collect();
            outs[i] = Some(Ok(WriteOutcome::Applied(wins)));
            let ch = per.entry(a.exec.clone()).or_default();
            if let Some(t) = a.exec_write.last_start_at {
                ch.last_start = Some(ch.last_start.map_or(t, |x| x.max(t)));
            }
        }
        for (i, exec, seq, d) in self.acks {
            if won.contains(&(exec.clone(), seq)) {
                if let Some(c) = &d.carried {
                    per.entry(exec).or_default().accumulator = Some(c.clone());
                }
                outs[i] = Some(Ok(WriteOutcome::Ack(Ok(AckApplied {
                    seq,
                    transition: d.transition,
                }))));
            } else {
                outs[i] = Some(Ok(WriteOutcome::Ack(Err(AckRejected::Lost))));
            }
        }
        per
    }
}

/// Why an ack whose iteration was not read is refused, given its execution's application and
/// job as stored (`None`: no such execution): an execution of another application, or of
/// another job than the caller named, is not found either.
pub(crate) fn missing(a: &AckOp, owner: Option<(String, String)>) -> AckRejected {
    let visible = owner.is_some_and(|(app, job)| {
        app == a.app.as_str() && a.job.as_ref().is_none_or(|j| j.as_str() == job)
    });
    if visible {
        AckRejected::IterationNotFound
    } else {
        AckRejected::ExecutionNotFound
    }
}

/// A stored millisecond timestamp, or NULL.
pub(crate) fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_millis)
}

/// The statement size a batch of `n` rows is padded to: a power of two up to `max`, so each
/// kind of statement comes in a handful of sizes and stays in the prepared-statement cache.
pub(crate) fn padded(n: usize, max: usize) -> usize {
    n.next_power_of_two().min(max).max(n.min(max))
}

/// The finish order an iteration gets in the write that gives it a final outcome: its
/// execution's finished count before the round, plus one (see "Finish order" in `iterations.rs`).
pub(crate) const FINISH_SEQ: &str = "SELECT n_succeeded + n_failed + n_timed_out + 1
     FROM executions WHERE executions.id = iterations.execution_id";

/// Adds a round's changes to one execution row.
pub(crate) const EXEC_CHANGE_SQL: &str = "UPDATE executions SET
         n_succeeded = n_succeeded + $1, n_failed = n_failed + $2, n_timed_out = n_timed_out + $3,
         n_in_progress = n_in_progress + $4, n_remaining = n_remaining + $5,
         last_start_at = CASE WHEN $6 > COALESCE(last_start_at, -1) THEN $6 ELSE last_start_at END,
         accumulator = COALESCE($7, accumulator)
     WHERE id = $8";

/// Drops the runs of flow `$1` older than its `$2` newest. The cut is the newest run beyond
/// those kept, found by walking the `(flow_id, time)` index backwards; nothing is deleted while
/// the flow has no more than `$2` runs.
pub(crate) const PRUNE_RUNS_SQL: &str = "DELETE FROM flow_runs WHERE flow_id = $1
         AND (time, id) <= (SELECT time, id FROM flow_runs WHERE flow_id = $1
                            ORDER BY time DESC, id DESC LIMIT 1 OFFSET $2)";

/// Hands out up to `$3` started, unclaimed attempts of execution `$1` still before their
/// deadline (`$2`). PostgreSQL skips rows another node's claim holds.
pub(crate) fn claim_sql(postgres: bool) -> String {
    format!(
        "UPDATE iterations SET claimed_attempt = attempt
         WHERE execution_id = $1 AND state = 'inProgress' AND seq IN (
             SELECT seq FROM iterations WHERE execution_id = $1 AND state = 'inProgress'
                 AND claimed_attempt < attempt AND deadline > $2
             ORDER BY seq LIMIT $3{})
         RETURNING *",
        if postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_sizes() {
        for (n, p) in [
            (1, 1),
            (2, 2),
            (3, 4),
            (100, 128),
            (500, 512),
            (512, 512),
            (700, 512),
        ] {
            assert_eq!(padded(n, 512), p, "{n}");
        }
    }
}
