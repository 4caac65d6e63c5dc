//! A sick outbox file. After a failed write (a full disk) redb refuses every later write until
//! the file is opened again: the next write reopens it, so the outbox resumes once space frees,
//! with everything committed before kept.
//!
//! A damaged outbox file is set aside, never emptied in place: it is renamed beside itself
//! (`outbox.redb.damaged-<ms since the epoch>`), kept for whoever investigates, and a fresh
//! outbox is opened in its place so the box goes on working. The caller raises the alarm.
//!
//! Damage is what the store reports as corruption, a file that is not a redb database (a file of
//! another program, a truncated one), a redb database whose tables are not the outbox's, and a
//! panic inside the store while it reads the file (redb asserts on some damaged B-tree pages).
//! A file held by another agent, a folder without permission or a full disk are not damage:
//! they stay errors, and the file is left alone.

use std::io::ErrorKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use super::{Limits, Outbox, OutboxError};

/// A damaged outbox file that was moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// Where the damaged file is now.
    pub moved_to: PathBuf,
    /// What was wrong with it.
    pub reason: String,
}

impl Outbox {
    /// Opens (or creates) the outbox at `path` like [`Outbox::open`]; a damaged file is first
    /// moved aside (named in the answer) and a fresh outbox opened in its place.
    pub fn open_or_set_aside(
        path: &Path,
        limits: Limits,
    ) -> Result<(Outbox, Option<SetAside>), OutboxError> {
        let reason = match catch_unwind(AssertUnwindSafe(|| Outbox::open(path, limits))) {
            Ok(Ok(outbox)) => return Ok((outbox, None)),
            Ok(Err(e)) => match damage(&e) {
                Some(reason) => reason,
                None => return Err(e),
            },
            Err(panic) => format!(
                "the store failed while reading it ({})",
                crate::types::panic_message(panic.as_ref())
            ),
        };
        let moved_to = aside(
            path,
            crate::types::ms_since_epoch(std::time::SystemTime::now()),
        );
        std::fs::rename(path, &moved_to).map_err(|source| OutboxError::SetAside {
            path: path.to_path_buf(),
            moved_to: moved_to.clone(),
            reason: reason.clone(),
            source,
        })?;
        let outbox = Outbox::open(path, limits)?;
        Ok((outbox, Some(SetAside { moved_to, reason })))
    }
}

impl Outbox {
    /// Runs the write `f`, reopening the file first if an earlier write failed on I/O; an I/O
    /// failure of `f` marks the file for reopening.
    pub(super) fn guarded<T>(
        &mut self,
        f: impl FnOnce(&mut Outbox) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
        if self.stale {
            self.reopen()?;
        }
        let result = f(self);
        if let Err(OutboxError::Store {
            source: redb::Error::Io(_) | redb::Error::PreviousIo,
            ..
        }) = &result
        {
            self.stale = true;
        }
        result
    }

    /// Closes and opens the file again, counting what it holds.
    fn reopen(&mut self) -> Result<(), OutboxError> {
        let fail = |path: &Path, e: redb::Error| OutboxError::Store {
            path: path.to_path_buf(),
            source: e,
        };
        // The file's lock is held by its handle: it must be closed before it is opened again.
        let placeholder = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| fail(&self.path, e.into()))?;
        drop(std::mem::replace(&mut self.db, placeholder));
        // Only a write failed: what redb committed is sound, so the (whole-file) integrity check
        // of a start is not repeated at each retry while the disk stays full.
        let fresh = Outbox::open_verified(&self.path, self.limits, false)?;
        *self = fresh;
        // Once a second while the disk stays full: the writer logs the failures themselves.
        tracing::debug!(
            "outbox '{}' opened again after a failed write: {} message(s) kept",
            self.path.display(),
            self.count
        );
        Ok(())
    }
}

/// What is damaged in the file behind `e`, or `None` when `e` is not damage.
fn damage(e: &OutboxError) -> Option<String> {
    let OutboxError::Store { source, .. } = e else {
        return None;
    };
    match source {
        redb::Error::Corrupted(what) => Some(format!("it is corrupted ({what})")),
        redb::Error::Io(io) if matches!(io.kind(), ErrorKind::InvalidData) => {
            Some(format!("it is not an outbox ({io})"))
        }
        redb::Error::Io(io) if matches!(io.kind(), ErrorKind::UnexpectedEof) => {
            Some(format!("it is cut short ({io})"))
        }
        redb::Error::TableTypeMismatch { .. }
        | redb::Error::TableIsMultimap(_)
        | redb::Error::TableIsNotMultimap(_)
        | redb::Error::TypeDefinitionChanged { .. } => {
            Some(format!("it is a database of another program ({source})"))
        }
        _ => None,
    }
}

/// The name the damaged file at `path` is given: beside it, dated so that none is overwritten.
fn aside(path: &Path, now_ms: u64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".damaged-{now_ms}"));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_damaged_file_keeps_its_name_and_gets_a_date() {
        assert_eq!(
            aside(Path::new("/var/lib/roadeye/outbox.redb"), 42),
            PathBuf::from("/var/lib/roadeye/outbox.redb.damaged-42")
        );
    }

    #[test]
    fn a_held_or_unwritable_file_is_not_damage() {
        let held = OutboxError::Store {
            path: "o".into(),
            source: redb::Error::DatabaseAlreadyOpen,
        };
        assert_eq!(damage(&held), None);
        let denied = OutboxError::Store {
            path: "o".into(),
            source: redb::Error::Io(std::io::Error::from(ErrorKind::PermissionDenied)),
        };
        assert_eq!(damage(&denied), None);
        let full = OutboxError::Store {
            path: "o".into(),
            source: redb::Error::Io(std::io::Error::from(ErrorKind::StorageFull)),
        };
        assert_eq!(damage(&full), None);
    }
}
