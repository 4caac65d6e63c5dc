//! Progress bars on a terminal (indicatif): images of `roadeye detect`, files played by
//! `roadeye run`. Not on a terminal (a log file, a pipe, systemd) they draw nothing, and log lines
//! are written around the bars so they never tear them.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use roadeye::source::CameraStatus;

/// The bars of this process, drawn on stderr (hidden when it is not a terminal).
fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// A log writer for stderr that steps around the bars.
#[derive(Default)]
pub struct LogWriter(Vec<u8>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.0);
        bars().suspend(|| std::io::stderr().lock().write_all(&line))
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// A bar over `n` images (none for a single image).
pub fn images(n: usize) -> ProgressBar {
    if n < 2 {
        return ProgressBar::hidden();
    }
    let bar = bars().add(ProgressBar::new(n as u64));
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images · {per_sec} · {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// One bar per camera that plays a file to its end, over the file's length in seconds.
#[derive(Clone)]
pub struct FileBars {
    bars: Vec<(String, ProgressBar)>,
}

impl FileBars {
    /// Bars for the cameras `ids` (those that play a file once).
    pub fn new(ids: &[String]) -> FileBars {
        let style = ProgressStyle::with_template(
            "{prefix:>12} {bar:40} {msg} · {elapsed_precise} elapsed · {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bars = ids
            .iter()
            .map(|id| {
                let bar = bars().add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(id.clone());
                (id.clone(), bar)
            })
            .collect();
        FileBars { bars }
    }

    /// Whether there is any bar.
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// Moves each bar to its camera's position in its file.
    pub fn update(&self, statuses: &[(roadeye::types::CameraId, CameraStatus)]) {
        for (id, bar) in &self.bars {
            let Some((_, st)) = statuses.iter().find(|(c, _)| &**c == id.as_str()) else {
                continue;
            };
            let len = st.duration.unwrap_or_default();
            bar.set_length(len.as_millis() as u64);
            bar.set_position((st.position.as_millis() as u64).min(len.as_millis() as u64));
            bar.set_message(format!(
                "{} / {} · {} frames analysed",
                clock(st.position),
                clock(len),
                st.frames_analysed
            ));
        }
    }

    /// Finishes the bars.
    pub fn finish(&self) {
        for (_, bar) in &self.bars {
            bar.finish_and_clear();
        }
    }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}
