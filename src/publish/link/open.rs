//! Opening the outbox at start: its folder made, a damaged file set aside with the alarm stored
//! as the first new message (so it reaches the IOC, durably, before anything decided since).

use std::time::SystemTime;

use super::{LinkError, LinkSettings};
use crate::publish::message::IdGen;
use crate::publish::outbox::{Class, Message, Outbox};
use crate::publish::status::Alarm;
use crate::types::ms_since_epoch;

/// The outbox of `settings`, ready to send what it holds.
pub(super) fn open_outbox(settings: &LinkSettings) -> Result<Outbox, LinkError> {
    let path = &settings.outbox_path;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| LinkError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let (mut outbox, aside) = Outbox::open_or_set_aside(path, settings.limits)?;
    if let Some(aside) = aside {
        tracing::error!(
            "outbox '{}' is damaged: {}; moved it aside to '{}' and started a fresh outbox. The messages it held were not sent; keep the damaged file for investigation. An outbox_damaged alarm is sent to the IOC.",
            path.display(),
            aside.reason,
            aside.moved_to.display()
        );
        let now = ms_since_epoch(SystemTime::now());
        let id = IdGen::for_device(&settings.device).next(now);
        let alarm = Alarm::damaged(&id, &settings.site, &settings.device, now, path, &aside);
        let payload = serde_json::to_vec(&alarm).map_err(LinkError::Alarm)?;
        outbox.append(&[Message {
            class: Class::Event,
            topic: settings.topics.alarms(),
            payload,
            created_ms: now,
            origin: None,
        }])?;
    } else if !outbox.is_empty() {
        tracing::info!(
            "outbox '{}': {} message(s) from before are sent first",
            path.display(),
            outbox.len()
        );
    }
    Ok(outbox)
}
