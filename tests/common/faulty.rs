//! A misbehaving RTSP camera for the fault tests: a real gst-rtsp-server serving a live H.264
//! test pattern (320×240, 10 fps, a key frame every second), with the fault of the moment applied
//! by a pad probe between the encoder and the RTP payloader (or on the caps, or on the clients),
//! switchable while clients are connected.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

const MEDIA: &str = "( videotestsrc is-live=true pattern=ball ! \
    capsfilter name=size caps=video/x-raw,width=320,height=240,framerate=10/1 ! \
    x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 bitrate=400 ! \
    video/x-h264,profile=constrained-baseline ! identity name=fault ! \
    rtph264pay name=pay0 pt=96 config-interval=1 )";

/// What the camera does wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Nothing: a good camera.
    None,
    /// The session stays open (keepalives answered) but no RTP is sent.
    Stall,
    /// Only key frames: 1 frame a second.
    Trickle,
    /// Timestamps shifted by this many seconds (forwards or backwards).
    Shift(f64),
    /// Every frame carries the same timestamp.
    Repeat,
    /// Bytes flipped inside one frame in three.
    Corrupt,
    /// A new connection's first key frame is withheld: the stream starts on P-frames.
    StartOnDelta,
}

#[derive(Default)]
struct State {
    fault: Option<Fault>,
    /// The timestamp a `Repeat` fault stamps on every frame.
    frozen: Option<gst::ClockTime>,
    /// The size filters of the media served, to change the resolution.
    sizes: Vec<gst::Element>,
}

/// The running camera; stops when dropped.
pub struct FaultyCamera {
    pub url: String,
    server: rtsp::RTSPServer,
    source: rtsp::glib::Source,
    main_loop: rtsp::glib::MainLoop,
    thread: Option<std::thread::JoinHandle<()>>,
    state: Arc<Mutex<State>>,
}

impl FaultyCamera {
    pub fn start() -> FaultyCamera {
        gst::init().expect("GStreamer");
        let state = Arc::new(Mutex::new(State::default()));
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service("0");
        let mounts = server.mount_points().expect("mount points");
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(MEDIA);
        // One media per client: a new connection gets a fresh stream (and its own first frames).
        factory.set_shared(false);
        let st = Arc::clone(&state);
        factory.connect_media_configure(move |_, media| {
            let bin = media.element().downcast::<gst::Bin>().expect("bin");
            let size = bin.by_name("size").expect("size filter");
            lock(&st).sizes.push(size);
            let pad = bin
                .by_name("fault")
                .and_then(|e| e.static_pad("src"))
                .expect("fault pad");
            let st = Arc::clone(&st);
            let first_key_withheld = AtomicBool::new(false);
            let n = AtomicU64::new(0);
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                let mut s = lock(&st);
                let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() else {
                    return gst::PadProbeReturn::Ok;
                };
                let n = n.fetch_add(1, Ordering::Relaxed) + 1;
                let key = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
                match s.fault.unwrap_or(Fault::None) {
                    Fault::None => {}
                    Fault::Stall => return gst::PadProbeReturn::Drop,
                    Fault::Trickle if !key => return gst::PadProbeReturn::Drop,
                    Fault::Trickle => {}
                    Fault::StartOnDelta
                        if key && !first_key_withheld.swap(true, Ordering::Relaxed) =>
                    {
                        return gst::PadProbeReturn::Drop;
                    }
                    Fault::StartOnDelta => {}
                    Fault::Shift(secs) => {
                        let b = buffer.make_mut();
                        let shift = |t: Option<gst::ClockTime>| {
                            t.map(|t| {
                                let ns = t.nseconds() as f64 + secs * 1e9;
                                gst::ClockTime::from_nseconds(ns.max(0.0) as u64)
                            })
                        };
                        let (pts, dts) = (shift(b.pts()), shift(b.dts()));
                        b.set_pts(pts);
                        b.set_dts(dts);
                    }
                    Fault::Repeat => {
                        let b = buffer.make_mut();
                        let frozen = *s.frozen.get_or_insert(b.pts().unwrap_or_default());
                        b.set_pts(frozen);
                        b.set_dts(frozen);
                    }
                    Fault::Corrupt if n.is_multiple_of(3) => {
                        let b = buffer.make_mut();
                        if let Ok(mut map) = b.map_writable() {
                            let len = map.len();
                            // Past the start code and NAL header: the slice data itself.
                            for i in (8..len).step_by(7) {
                                map[i] ^= 0x5A;
                            }
                        }
                    }
                    Fault::Corrupt => {}
                }
                gst::PadProbeReturn::Ok
            });
        });
        mounts.add_factory("/cam", factory);
        let ctx = rtsp::glib::MainContext::new();
        let source = server
            .create_source(None::<&rtsp::gio::Cancellable>)
            .expect("listen");
        source.attach(Some(&ctx));
        let port = server.bound_port();
        let main_loop = rtsp::glib::MainLoop::new(Some(&ctx), false);
        let ml = main_loop.clone();
        let thread = std::thread::spawn(move || ml.run());
        FaultyCamera {
            url: format!("rtsp://127.0.0.1:{port}/cam"),
            server,
            source,
            main_loop,
            thread: Some(thread),
            state,
        }
    }

    /// From now on the camera does `fault` (`Fault::None`: behaves again).
    pub fn set(&self, fault: Fault) {
        let mut s = lock(&self.state);
        s.fault = Some(fault);
        s.frozen = None;
    }

    /// Changes the resolution (and frame rate) of every stream served.
    pub fn resize(&self, width: i32, height: i32, fps: i32) {
        let caps = gst::Caps::builder("video/x-raw")
            .field("width", width)
            .field("height", height)
            .field("framerate", gst::Fraction::new(fps, 1))
            .build();
        for size in &lock(&self.state).sizes {
            size.set_property("caps", &caps);
        }
    }

    /// The server closes every client's session, as a camera does that drops its viewers.
    pub fn kick(&self) {
        self.server
            .client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
    }
}

impl Drop for FaultyCamera {
    fn drop(&mut self) {
        self.source.destroy();
        self.kick();
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long the fault tests let a fault last.
pub const FAULT: Duration = Duration::from_secs(12);
