//! The agent's parts built from the config, in the order they start: the outputs (the MQTT link
//! and its embedded broker, or stdout), the snapshot writer, the ops endpoints.

use std::sync::Arc;

use super::AgentError;
use super::mqtt::Mqtt;
use super::sink::{Sink, Stdout};
use crate::config::LoadedConfig;
use crate::ops::snapshot::OnWritten;
use crate::ops::{Board, HttpServer, Metrics, SnapshotWriter};
use crate::pipeline::Snapshots;
use crate::publish::message::DEFAULT_PREFIX;
use crate::publish::{Encoder, LinkSettings, Topics, Volatile, VolatileSender};

/// The topic prefix of the config.
fn prefix(cfg: &LoadedConfig) -> &str {
    cfg.config
        .mqtt
        .as_ref()
        .map_or(DEFAULT_PREFIX, |m| m.prefix.as_str())
}

fn encoder(cfg: &LoadedConfig) -> Encoder {
    let site = &cfg.config.site;
    Encoder::new(prefix(cfg), &site.id, &site.device)
}

/// The outputs: the MQTT link (which prints each message once it is stored, if `print`) or
/// stdout alone;
/// with the link's publisher of snapshots.
pub(super) fn outputs(
    cfg: &LoadedConfig,
    metrics: &Arc<Metrics>,
    board: &Board,
    print: bool,
) -> Result<(Box<dyn Sink>, Option<VolatileSender>), AgentError> {
    let site = &cfg.config.site;
    match &cfg.config.mqtt {
        Some(m) => {
            let settings = LinkSettings::new(m, &site.id, &site.device, &cfg.base_dir)?;
            let mqtt = Mqtt::start(settings, encoder(cfg), metrics, print)?;
            board.set_link(mqtt.link().figures());
            let volatile = mqtt.volatile();
            Ok((Box::new(mqtt), Some(volatile)))
        }
        None => Ok((Box::new(Stdout::new(encoder(cfg))), None)),
    }
}

/// The snapshot writer, publishing each snapshot when the config asks and there is a link.
pub(super) fn snapshots(
    cfg: &LoadedConfig,
    metrics: &Arc<Metrics>,
    board: &Arc<Board>,
    link: Option<VolatileSender>,
) -> Result<Option<Arc<Snapshots>>, AgentError> {
    let s = &cfg.config.snapshots;
    if s.kinds.is_empty() {
        return Ok(None);
    }
    let publish = match (s.publish, link) {
        (true, Some(tx)) => {
            let site = &cfg.config.site;
            let topics = Topics::new(prefix(cfg), &site.id, &site.device);
            let f: OnWritten = Box::new(move |name: &str, jpeg: &[u8]| {
                tx.send(Volatile {
                    topic: topics.snapshot(name),
                    payload: jpeg.to_vec(),
                });
            });
            Some(f)
        }
        (true, None) => {
            tracing::warn!(
                "snapshots.publish is set but there is no [mqtt] link: snapshots are only kept on disk"
            );
            None
        }
        _ => None,
    };
    let dir = s.dir_in(&cfg.base_dir);
    let writer = SnapshotWriter::start(
        dir.clone(),
        s.max_mb.saturating_mul(1024 * 1024),
        s.quality,
        Some(Arc::clone(metrics)),
        Some(Arc::clone(board)),
        publish,
    )?;
    tracing::info!(
        "snapshots of [{}] events kept in '{}' (at most {} MB)",
        s.kinds.join(", "),
        dir.display(),
        s.max_mb
    );
    Ok(Some(Arc::new(Snapshots {
        writer,
        kinds: s.kinds.clone(),
    })))
}

/// The ops endpoints, if the config wants them. Events matter more than metrics: a taken port
/// leaves the endpoints off, loudly.
pub(super) fn endpoints(
    cfg: &LoadedConfig,
    metrics: &Arc<Metrics>,
    board: &Arc<Board>,
    snapshots: bool,
) -> Result<Option<HttpServer>, AgentError> {
    let Some(addr) = cfg.config.ops.listen_addr().map_err(AgentError::Listen)? else {
        return Ok(None);
    };
    let dir = snapshots.then(|| cfg.config.snapshots.dir_in(&cfg.base_dir));
    match HttpServer::start(addr, Arc::clone(metrics), Arc::clone(board), dir) {
        Ok(server) => {
            tracing::info!(
                "metrics on http://{0}/metrics, health on http://{0}/healthz",
                server.addr()
            );
            if let Some(w) = crate::config::exposure_warning(&server.addr()) {
                tracing::warn!("{w}");
            }
            Ok(Some(server))
        }
        Err(e) => {
            tracing::error!("{e}; running without metrics and health endpoints");
            Ok(None)
        }
    }
}
