//! What technicians and integrators watch: metrics, health, annotated images; and the
//! supervision contract every stage reports to them by.

pub mod annotate;
pub mod board;
pub mod health;
pub mod http;
pub mod metrics;
pub mod overlay;
pub mod serve;
pub mod snapshot;
pub mod supervise;

pub use board::Board;
pub use health::Health;
pub use http::{HttpError, HttpServer};
pub use metrics::Metrics;
pub use overlay::Overlay;
pub use snapshot::{SnapshotError, SnapshotJob, SnapshotWriter, snapshot_name};
