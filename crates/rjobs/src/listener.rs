//! The HTTP/1.1 accept loop: hyper directly instead of `axum::serve`, because `axum::serve` has
//! no header timeout and no connection cap, so a thousand clients that never finish their headers
//! stayed connected indefinitely.
//!
//! - **Header read timeout** (`http.header_read_timeout_ms`): a connection must deliver a complete
//!   request head within it. hyper restarts this timer whenever it waits for the next request on
//!   a keep-alive connection, so it is also the idle keep-alive timeout: an idle connection is
//!   closed after it.
//! - **Connection cap** (`http.max_connections`): a semaphore permit per connection; at the cap
//!   the loop stops accepting and further clients wait in the kernel's listen backlog.
//! - hyper's own limits sit above the API's (`MAX_HEADERS`, `MAX_HEADER_BYTES`), so an oversized
//!   head normally reaches the router, which answers 431 in the `{type, message}` shape.
//! - **Graceful shutdown**: on cancel, stop accepting, let in-flight requests finish (at most 30 s),
//!   then close.
//!
//! HTTP/2 is not served (the original's clients speak HTTP/1.1).

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Connection limits of the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnLimits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(2 * rjobs_api::MAX_HEADERS)
        .max_buf_size(4 * rjobs_api::MAX_HEADER_BYTES + rjobs_api::MAX_URI_BYTES);
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, _) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("shutdown: connections still open after 30 s, closing them");
        }
    }
    Ok(())
}
