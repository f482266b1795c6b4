//! `GET …/executions/{executionId}/events`: the execution's live event stream
//! (`text/event-stream`). What to send is decided in [`rjobs_engine::events`]; this file reads
//! and sends.
//!
//! Each stream is one task (the pump) that polls the execution row every [`POLL`] and, with
//! `?iterations=true`, pages newly finished iterations, into a bounded channel that the response
//! body drains. The pump only reads the database, so a slow client can never slow the engine;
//! when the channel is full at a moment the pump must send, the client is too slow and is
//! dropped (the stream ends; it may reconnect with `Last-Event-ID`). Memory per stream is the
//! channel ([`CHANNEL`] events) plus a few counters. A client that goes away ends the pump at its
//! next poll.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use rjobs_core::{Clock, Id};
use rjobs_engine::events::{self, Cursor, Emit, Watch};
use rjobs_store::Store;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::executions::load_execution;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Params, PathParams};
use crate::routes::crud;
use crate::state::AppState;
use rjobs_core::jobs::ResourceJob;

/// How often the execution row is read.
const POLL: Duration = Duration::from_millis(250);
/// Events buffered per stream.
const CHANNEL: usize = 256;
/// Room kept in the channel for the `progress`, `status` and `done` events of one poll.
const RESERVE: usize = 4;
/// Most finished iterations read per page.
const PAGE: usize = 200;
/// Consecutive failed reads after which the stream gives up.
const MAX_READ_ERRORS: u32 = 20;

pub(crate) async fn events(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let e = load_execution(&state, &job, &path).await?;
    let iterations = match q.get("iterations").map(|s| s.trim()) {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "iterations: must be true or false, got {other:?}"
            )))
        }
    };
    // `Last-Event-ID` (what EventSource sends on reconnect), or `lastEventId` in the query for
    // clients that cannot set headers.
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| q.get("lastEventId").cloned());
    let cursor = match last.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Cursor::default(),
        Some(s) => Cursor::parse(s).ok_or_else(|| {
            ApiError::validation(format!(
                "Last-Event-ID: expected an event id of this stream (\"<n>-<n>\"), got {s:?}"
            ))
        })?,
    };
    let (tx, rx) = mpsc::channel::<Event>(CHANNEL);
    let pump = Pump {
        store: state.store.clone(),
        clock: state.clock.clone(),
        exec: e.id,
        iterations,
        cursor,
        tx,
    };
    tokio::spawn(pump.run());
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok::<Event, Infallible>(ev), rx))
    });
    Ok(Sse::new(body)
        .keep_alive(KeepAlive::default())
        .into_response())
}

struct Pump {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    exec: Id,
    iterations: bool,
    cursor: Cursor,
    tx: mpsc::Sender<Event>,
}

/// Why a pump stops early.
enum Stop {
    /// The client went away or was too slow.
    Client,
}

impl Pump {
    async fn run(mut self) {
        let mut watch = Watch::default();
        // The finished count up to which every finished iteration has been sent.
        let mut sent_upto: Option<u64> = None;
        let mut errors = 0u32;
        loop {
            if self.tx.is_closed() {
                return;
            }
            let e = match self.store.load_execution(&self.exec).await {
                Ok(Some(e)) => e,
                // Deleted with its job or application: nothing more will happen.
                Ok(None) => return,
                Err(err) => {
                    errors += 1;
                    tracing::warn!(error = %err, execution_id = %self.exec, "event stream read failed");
                    if errors >= MAX_READ_ERRORS {
                        return;
                    }
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            errors = 0;
            let now = self.clock.now();
            let finished = events::finished(&e.summary);
            if !self.iterations {
                self.cursor = Cursor {
                    finish_seq: finished as i64,
                    seq: 0,
                };
            }
            // State first, so a (re)connection starts with the current `progress` and
            // `status`; their id is the place of the iterations sent before them.
            for ev in watch.step(&e, now) {
                if self.offer(ev).is_err() {
                    return;
                }
            }
            let mut caught_up = true;
            if self.iterations && (sent_upto != Some(finished) || e.status.is_final()) {
                match self.send_iterations().await {
                    Ok(done) => caught_up = done,
                    Err(Stop::Client) => return,
                }
                if caught_up {
                    sent_upto = Some(finished);
                }
            }
            if e.status.is_final() && caught_up {
                let _ = self.offer(events::done(&e, now));
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sends the finished iterations after the cursor, as far as the channel has room; true
    /// when every one committed so far was sent.
    async fn send_iterations(&mut self) -> Result<bool, Stop> {
        loop {
            let room = self.tx.capacity().saturating_sub(RESERVE);
            if room == 0 {
                return Ok(false);
            }
            let limit = room.min(PAGE);
            let page = match self
                .store
                .finished_after(&self.exec, self.cursor.key(), limit as u32)
                .await
            {
                Ok(p) => p,
                Err(err) => {
                    tracing::warn!(error = %err, execution_id = %self.exec, "event stream read failed");
                    return Ok(false);
                }
            };
            let full = page.len() == limit;
            for fi in &page {
                self.cursor = Cursor {
                    finish_seq: fi.finish_seq,
                    seq: fi.row.seq,
                };
                self.offer(events::iteration(&fi.row))?;
            }
            if !full {
                return Ok(true);
            }
        }
    }

    /// Queues one event with the current cursor as its id; a full channel drops the client.
    fn offer(&self, e: Emit) -> Result<(), Stop> {
        let ev = Event::default()
            .event(e.event)
            .id(self.cursor.id())
            .data(e.data.to_string());
        match self.tx.try_send(ev) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                tracing::info!(execution_id = %self.exec, "event stream client too slow; dropped");
                Err(Stop::Client)
            }
            Err(TrySendError::Closed(_)) => Err(Stop::Client),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rjobs_core::{ManualClock, Timestamp};

    /// A client that stops reading is dropped: the pump never waits for it (so it holds no
    /// more than its channel) and the response stream ends.
    #[tokio::test]
    async fn a_client_that_does_not_read_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let s = rjobs_store::connect(&url).await.unwrap();
        let f = rjobs_store::testing::exec_fixture(&s).await;
        for i in 0..3 {
            f.device(&s, &format!("d{i}")).await;
        }
        let exec = f.execution(&s, 2_000).await;
        // Room for one event: the first `progress` fits, its `status` does not.
        let (tx, mut rx) = mpsc::channel(1);
        let pump = Pump {
            store: Arc::new(s),
            clock: Arc::new(ManualClock::at(Timestamp::from_millis(3_000))),
            exec,
            iterations: false,
            cursor: Cursor::default(),
            tx,
        };
        tokio::time::timeout(Duration::from_secs(5), pump.run())
            .await
            .expect("the pump gives up on the client instead of waiting");
        assert!(rx.recv().await.is_some(), "the buffered progress");
        assert!(rx.recv().await.is_none(), "then the stream ends");
    }
}
