//! The endpoints' HTTP/1.1 accept loop, bounded: the box sits on a city network, so a flood of
//! connections, clients that send their headers a byte at a time, or requests that never end
//! must not take its memory or its file descriptors (which its cameras and its outbox need).
//!
//! At most [`MAX_CONNECTIONS`] are served at once (a connection beyond them is closed at once);
//! a request's headers must arrive within [`HEADER_TIMEOUT`]; a connection lasts at most
//! [`CONNECTION_LIFETIME`]; headers are bounded by hyper's 400 KiB buffer (431 beyond).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Connections served at once; Prometheus, a health check and a few people need far fewer.
pub const MAX_CONNECTIONS: usize = 64;
/// Time for a request's headers to arrive.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a connection is kept, idle or not.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// How long a stop waits for the requests in progress.
const DRAIN: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` until `stop` completes; `Err` if accepting fails.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    let result = loop {
        let accepted = tokio::select! {
            () = &mut stop => break Ok(()),
            a = listener.accept() => a,
            // Reap finished connections as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // A connection reset before it was accepted, or out of descriptors for a moment.
            Err(e) if is_transient(&e) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => break Err(e),
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Full: closed at once rather than queued.
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(slot);
        });
    };
    let _ = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    result
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || e
        .raw_os_error()
        .is_some_and(|c| c == libc::ENFILE || c == libc::EMFILE)
}
