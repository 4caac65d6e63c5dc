//! The HTTP endpoints: `/metrics`, `/healthz` and `/snapshots/{camera}/{file}.jpg`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::board::Board;
use super::health::Health;
use super::metrics::{CONTENT_TYPE, Metrics};
use super::snapshot::is_snapshot_name;

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
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
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
        let bind = |source| HttpError::Bind { addr, source };
        let std_listener = std::net::TcpListener::bind(addr).map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let listener = tokio::net::TcpListener::from_std(std_listener).map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let app = Router::new()
            .route("/metrics", get(metrics_text))
            .route("/healthz", get(healthz))
            .route("/snapshots/*name", get(snapshot))
            .with_state(Shared {
                metrics,
                board,
                snapshots,
            });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("the metrics endpoint failed: {e}");
            }
        });
        Ok(HttpServer {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and waits for the requests in progress.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
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
