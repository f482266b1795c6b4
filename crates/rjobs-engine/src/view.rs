//! The lease holder's view of each execution it owns: the execution row (status, settings,
//! counters, accumulator, last start), the next timer, and when the planner wants to look again.
//!
//! The view is a cache of the database, never the truth: it is built when the lease is taken,
//! and an event marks it *dirty* (reload the row: an ack, a cancel, a signal from another node)
//! or *stale* (also re-read the next timer: a retry scheduled elsewhere, a lost signal, the
//! periodic refresh at every heartbeat). Writes the engine makes itself update it in place
//! from the outcomes of the group commit. Only executions that are dirty, stale or due are
//! stepped, so a tick costs nothing for the executions waiting for acknowledgements. Kill the
//! process at any instant and the next owner rebuilds the same view from the rows.

use std::collections::HashMap;
use std::sync::Mutex;

use rjobs_core::engine::planner::ExecView;
use rjobs_core::engine::ExecutionStatus;
use rjobs_core::execution::Execution;
use rjobs_core::{Id, Timestamp};

/// What the engine knows of one owned execution.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub exec: Execution,
    pub next_timer: Option<Timestamp>,
    pub wake_at: Option<Timestamp>,
}

impl View {
    pub fn planner_view(&self) -> ExecView<'_> {
        let s = &self.exec.settings;
        ExecView {
            abort: self.exec.abort_config.as_ref(),
            rollout: self.exec.rollout_config,
            status: self.exec.status,
            summary: self.exec.summary,
            max_concurrency: u32::try_from(s.max_iteration_concurrency.max(1)).unwrap_or(1),
            iteration_delay_ms: s.iteration_delay,
            last_start: self.exec.last_start_at,
            next_timer: self.next_timer,
        }
    }
}

impl View {
    /// Whether retry timers count: not while paused (due retries wait for resume).
    pub fn retries(&self) -> bool {
        self.exec.status != ExecutionStatus::Paused
    }
}

#[derive(Debug, Default)]
struct Entry {
    view: Option<View>,
    dirty: bool,
    stale: bool,
    /// After a failed step: not before this instant (a database outage must not spin the loop).
    not_before: Option<Timestamp>,
}

/// What a step starts from: the view (if loaded) and what must be re-read first.
#[derive(Debug)]
pub(crate) struct Taken {
    pub view: Option<View>,
    pub reload: bool,
    pub timers: bool,
}

/// The views of every owned execution.
#[derive(Debug, Default)]
pub(crate) struct Views(Mutex<HashMap<Id, Entry>>);

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

impl Views {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Entry>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps exactly the executions in `owned` (new ones are loaded at their first step).
    pub fn sync(&self, owned: &[Id]) {
        let mut m = self.lock();
        m.retain(|id, _| owned.contains(id));
        for id in owned {
            m.entry(id.clone()).or_insert_with(|| Entry {
                view: None,
                dirty: true,
                stale: true,
                not_before: None,
            });
        }
    }

    /// The executions to step at `now`: unloaded, dirty, stale, or due.
    pub fn due(&self, now: Timestamp) -> Vec<Id> {
        let mut ids: Vec<Id> = self
            .lock()
            .iter()
            .filter(|(_, e)| e.not_before.is_none_or(|t| t <= now))
            .filter(|(_, e)| {
                e.dirty
                    || e.stale
                    || e.view
                        .as_ref()
                        .is_none_or(|v| v.wake_at.is_some_and(|t| t <= now))
            })
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Takes the view for a step, clearing its flags (events during the step set them again).
    pub fn take(&self, id: &Id) -> Option<Taken> {
        let mut m = self.lock();
        let e = m.get_mut(id)?;
        let t = Taken {
            view: e.view.clone(),
            reload: e.dirty || e.view.is_none(),
            timers: e.stale || e.view.is_none(),
        };
        e.dirty = false;
        e.stale = false;
        e.not_before = None;
        Some(t)
    }

    /// Stores the view after a step (unless the execution was dropped meanwhile).
    pub fn put(&self, v: View) {
        if let Some(e) = self.lock().get_mut(&v.exec.id) {
            e.view = Some(v);
        }
    }

    /// Forgets an execution (finished, gone, or its lease lost).
    pub fn remove(&self, id: &Id) {
        self.lock().remove(id);
    }

    /// Something changed the execution's row (an ack, a cancel): reload it; `timer` is a new
    /// timer the change armed (a retry).
    pub fn touch(&self, id: &Id, timer: Option<Timestamp>) -> bool {
        let mut m = self.lock();
        let Some(e) = m.get_mut(id) else {
            return false;
        };
        e.dirty = true;
        if let (Some(t), Some(v)) = (timer, e.view.as_mut()) {
            v.next_timer = earliest(v.next_timer, Some(t));
        }
        true
    }

    /// Reload the row and the timers of `id` (a change made elsewhere).
    pub fn stale(&self, id: &Id) -> bool {
        let mut m = self.lock();
        let Some(e) = m.get_mut(id) else {
            return false;
        };
        e.dirty = true;
        e.stale = true;
        true
    }

    /// A step of `id` failed: reload it from scratch, but not before `at`.
    pub fn retry_at(&self, id: &Id, at: Timestamp) {
        if let Some(e) = self.lock().get_mut(id) {
            e.dirty = true;
            e.stale = true;
            e.not_before = Some(at);
        }
    }

    /// Reload everything (a lost signal, the periodic refresh).
    pub fn stale_all(&self) {
        for e in self.lock().values_mut() {
            e.dirty = true;
            e.stale = true;
        }
    }

    /// The earliest instant any view wants to be looked at again; `now` if one is dirty.
    pub fn next_wake(&self, now: Timestamp) -> Option<Timestamp> {
        let m = self.lock();
        let mut next = None;
        for e in m.values() {
            let at = if e.dirty || e.stale || e.view.is_none() {
                Some(e.not_before.map_or(now, |t| t.max(now)))
            } else {
                e.view.as_ref().and_then(|v| v.wake_at)
            };
            next = earliest(next, at);
        }
        next
    }
}
