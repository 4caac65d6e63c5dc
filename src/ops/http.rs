//! The HTTP endpoints: `/metrics`, `/healthz` and `/snapshots/{camera}/{file}.jpg`.
//!
//! Connections are bounded in number and time (see [`super::serve`]). The server is supervised
//! (stage `endpoints`): should it end or panic while the agent runs, it
//! is logged, counted and shown in the heartbeat, and listens again after the restart delay.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::board::Board;
use super::health::Health;
use super::metrics::{CONTENT_TYPE, Metrics};
use super::snapshot::is_snapshot_name;
use super::supervise::{Supervisor, panic_message};

/// Why the endpoints could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address is taken or not ours.
    #[error(
        "ops.listen: cannot listen on {addr}: {source} (another roadeye or another program uses it: choose another port, or \"off\")"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone)]
struct Shared {
    metrics: Arc<Metrics>,
    board: Arc<Board>,
    snapshots: Option<PathBuf>,
}

/// The running endpoints.
pub struct HttpServer {
    addr: SocketAddr,
    signal: watch::Sender<Signal>,
    task: JoinHandle<()>,
}

/// What the server is told.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signal {
    Run,
    Stop,
    /// Panic, as a bug would (the test hook).
    Fail(String),
}

fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, HttpError> {
    let bind = |source| HttpError::Bind { addr, source };
    let std_listener = std::net::TcpListener::bind(addr).map_err(bind)?;
    std_listener.set_nonblocking(true).map_err(bind)?;
    tokio::net::TcpListener::from_std(std_listener).map_err(bind)
}

impl HttpServer {
    /// Listens on `addr` (on the current tokio runtime), serving `metrics`, the health of
    /// `board`, and the JPEGs in `snapshots` if set.
    pub fn start(
        addr: SocketAddr,
        metrics: Arc<Metrics>,
        board: Arc<Board>,
        snapshots: Option<PathBuf>,
    ) -> Result<HttpServer, HttpError> {
        let listener = bind(addr)?;
        let addr = listener
            .local_addr()
            .map_err(|source| HttpError::Bind { addr, source })?;
        let supervisor =
            Supervisor::new("endpoints", Arc::from(addr.to_string()), Arc::clone(&board));
        let app = Router::new()
            .route("/metrics", get(metrics_text))
            .route("/healthz", get(healthz))
            .route("/snapshots/*name", get(snapshot))
            .with_state(Shared {
                metrics,
                board,
                snapshots,
            });
        let (signal, signals) = watch::channel(Signal::Run);
        let task = tokio::spawn(supervise(listener, app, signals, supervisor));
        Ok(HttpServer { addr, signal, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes the server panic, as a bug would: how the supervision is tested.
    #[doc(hidden)]
    pub fn fail(&self, why: &str) {
        self.signal.send_replace(Signal::Fail(why.to_string()));
    }

    /// Stops listening and waits for the requests in progress.
    pub async fn shutdown(self) {
        self.signal.send_replace(Signal::Stop);
        let _ = self.task.await;
    }
}

/// The next failure told from now on (a failure told before is over).
async fn fault(told: &mut watch::Receiver<Signal>) -> String {
    told.borrow_and_update();
    loop {
        if told.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        if let Signal::Fail(why) = &*told.borrow_and_update() {
            return why.clone();
        }
    }
}

/// Serves until told to stop; a server that ends or panics meanwhile listens again after its
/// restart delay (the address is bound again).
async fn supervise(
    listener: tokio::net::TcpListener,
    app: Router,
    mut signals: watch::Receiver<Signal>,
    mut supervisor: Supervisor,
) {
    let addr = listener.local_addr().ok();
    let mut listener = Some(listener);
    loop {
        let Some(l) = listener.take() else { return };
        let mut stop = signals.clone();
        let mut told = signals.clone();
        let app = app.clone();
        let serve = tokio::spawn(async move {
            let server = super::serve::serve(l, app, async move {
                let _ = stop.wait_for(|s| *s == Signal::Stop).await;
            });
            tokio::select! {
                r = server => r,
                why = fault(&mut told) => panic!("{why}"),
            }
        });
        let why = match serve.await {
            Ok(Ok(())) if *signals.borrow() == Signal::Stop || signals.has_changed().is_err() => {
                return;
            }
            Ok(Ok(())) => "ended".to_string(),
            Ok(Err(e)) => format!("failed: {e}"),
            Err(e) if e.is_panic() => panic_message(&*e.into_panic()),
            Err(e) => format!("was cancelled: {e}"),
        };
        // Listen again after the delay, unless told to stop meanwhile.
        while listener.is_none() {
            let delay = supervisor.failed(&why);
            let stop = signals.wait_for(|s| *s == Signal::Stop);
            if tokio::time::timeout(delay, stop).await.is_ok() {
                return;
            }
            supervisor.restarted();
            match addr.map(bind) {
                Some(Ok(l)) => {
                    supervisor.handled();
                    listener = Some(l);
                }
                Some(Err(e)) => tracing::error!("{e}"),
                None => return,
            }
        }
    }
}

async fn metrics_text(State(s): State<Shared>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], s.metrics.encode()).into_response()
}

async fn healthz(State(s): State<Shared>) -> Response {
    let health = Health::of(&s.board.reading());
    let code = if health.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string(&health).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn snapshot(State(s): State<Shared>, Path(name): Path<String>) -> Response {
    let Some(dir) = s.snapshots else {
        return (StatusCode::NOT_FOUND, "snapshots are off\n").into_response();
    };
    if !is_snapshot_name(&name) {
        return (StatusCode::NOT_FOUND, "no such snapshot\n").into_response();
    }
    let path = dir.join(&name);
    match tokio::task::spawn_blocking(move || std::fs::read(path)).await {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            "no such snapshot (it may have been removed by the retention bound)\n",
        )
            .into_response(),
    }
}
