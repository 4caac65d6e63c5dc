//! The camera simulator: serves a video file as a live H.264 RTSP stream, looping, for technicians
//! testing a box without a camera, for the demo and for the tests.
//!
//! A feeder pipeline decodes the file in real time (`filesrc ! decodebin ! appsink sync=true`),
//! loops it at its end, and pushes the frames with continuous timestamps into the RTSP media's
//! `appsrc ! x264enc ! rtph264pay`, so clients see one endless camera stream.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

use super::SourceError;

// `do-timestamp`: frames are stamped with the media's running time as they are pushed (in real
// time), so timestamps follow the stream clock across loops.
const MEDIA: &str = "( appsrc name=src is-live=true format=time do-timestamp=true ! videoconvert ! \
    x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=2000 ! \
    video/x-h264,profile=constrained-baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )";

/// A running RTSP camera simulator; stops (closing its clients) when dropped.
pub struct CameraSim {
    url: String,
    port: u16,
    server: rtsp::RTSPServer,
    source: rtsp::glib::Source,
    main_loop: rtsp::glib::MainLoop,
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    feeders: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl CameraSim {
    /// Serves `file` at `rtsp://address:port/path` (`port` 0 picks a free one); with
    /// `credentials` (user, password) clients must authenticate (RTSP basic auth).
    pub fn start(
        file: &Path,
        address: &str,
        port: u16,
        path: &str,
        credentials: Option<(&str, &str)>,
    ) -> Result<CameraSim, SourceError> {
        super::init()?;
        if !file.is_file() {
            return Err(SourceError::Sim(format!(
                "'{}' is not a file",
                file.display()
            )));
        }
        probe(file)?;
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let file = std::path::absolute(file).map_err(|e| SourceError::Sim(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let feeders: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();

        let server = rtsp::RTSPServer::new();
        server.set_address(address);
        server.set_service(&port.to_string());
        let mounts = server
            .mount_points()
            .ok_or_else(|| SourceError::Sim("the RTSP server has no mount points".into()))?;
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(MEDIA);
        factory.set_shared(true);
        if let Some((user, password)) = credentials {
            let auth = rtsp::RTSPAuth::new();
            let token = rtsp::RTSPToken::builder()
                .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
                .build();
            auth.add_basic(rtsp::RTSPAuth::make_basic(user, password).as_str(), &token);
            server.set_auth(Some(&auth));
            factory.add_role_from_structure(
                &gst::Structure::builder("viewer")
                    .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                    .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                    .build(),
            );
        }
        let (f_stop, f_list) = (Arc::clone(&stop), Arc::clone(&feeders));
        factory.connect_media_configure(move |_, media| {
            let Some(appsrc) = media
                .element()
                .downcast_ref::<gst::Bin>()
                .and_then(|b| b.by_name_recurse_up("src"))
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            else {
                tracing::error!("camera-sim: the media has no appsrc");
                return;
            };
            let (file, stop) = (file.clone(), Arc::clone(&f_stop));
            let spawned = std::thread::Builder::new()
                .name("camera-sim-feed".into())
                .spawn(move || {
                    if let Err(e) = feed(&file, &appsrc, &stop) {
                        tracing::error!("camera-sim: {e}");
                    }
                });
            if let Ok(handle) = spawned {
                let mut list = f_list.lock().unwrap_or_else(PoisonError::into_inner);
                // Feeders of media whose clients left have finished: forget them.
                list.retain(|h| !h.is_finished());
                list.push(handle);
            }
        });
        mounts.add_factory(&path, factory);

        let ctx = rtsp::glib::MainContext::new();
        let source = server
            .create_source(None::<&rtsp::gio::Cancellable>)
            .map_err(|e| SourceError::Sim(format!("cannot listen on {address}:{port}: {e}")))?;
        source.attach(Some(&ctx));
        let bound = u16::try_from(server.bound_port())
            .map_err(|_| SourceError::Sim(format!("cannot listen on {address}:{port}")))?;
        let main_loop = rtsp::glib::MainLoop::new(Some(&ctx), false);
        let ml = main_loop.clone();
        let thread = std::thread::Builder::new()
            .name("camera-sim".into())
            .spawn(move || ml.run())
            .map_err(|e| SourceError::Sim(e.to_string()))?;
        let host = if address == "0.0.0.0" {
            "127.0.0.1"
        } else {
            address
        };
        Ok(CameraSim {
            url: format!("rtsp://{host}:{bound}{path}"),
            port: bound,
            server,
            source,
            main_loop,
            thread: Some(thread),
            stop,
            feeders,
        })
    }

    /// The stream's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops serving and disconnects every client.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.thread.is_none() {
            return;
        }
        self.stop.store(true, Ordering::SeqCst);
        self.source.destroy();
        self.server
            .client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let feeders =
            std::mem::take(&mut *self.feeders.lock().unwrap_or_else(PoisonError::into_inner));
        for f in feeders {
            let _ = f.join();
        }
    }
}

impl Drop for CameraSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Decodes `file` in real time, forever, into `appsrc` with continuous timestamps.
fn feed(file: &Path, appsrc: &gst_app::AppSrc, stop: &AtomicBool) -> Result<(), SourceError> {
    let err = |e: &dyn std::fmt::Display| SourceError::Sim(e.to_string());
    let src = gst::ElementFactory::make("filesrc")
        .property("location", file.to_string_lossy().as_ref())
        .build()
        .map_err(|e| err(&e))?;
    let decode = gst::ElementFactory::make("decodebin")
        .build()
        .map_err(|e| err(&e))?;
    let convert = gst::ElementFactory::make("videoconvert")
        .build()
        .map_err(|e| err(&e))?;
    let sink = gst_app::AppSink::builder()
        .caps(
            &gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build(),
        )
        .sync(true)
        .max_buffers(2)
        .build();
    let pipeline = gst::Pipeline::new();
    pipeline
        .add_many([&src, &decode, &convert, sink.upcast_ref()])
        .map_err(|e| err(&e))?;
    src.link(&decode).map_err(|e| err(&e))?;
    convert.link(&sink).map_err(|e| err(&e))?;
    let convert_sink = convert
        .static_pad("sink")
        .ok_or_else(|| SourceError::Sim("videoconvert has no sink pad".into()))?;
    decode.connect_pad_added(move |_, pad| {
        if !convert_sink.is_linked() {
            let _ = pad.link(&convert_sink);
        }
    });
    let _guard = NullOnDrop(pipeline.clone());
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| err(&e))?;
    let mut n: u64 = 0;
    let mut frame = Duration::from_millis(40);
    while !stop.load(Ordering::SeqCst) {
        match sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
            Some(sample) => {
                if n == 0
                    && let Some(caps) = sample.caps()
                {
                    frame = frame_duration(caps).unwrap_or(frame);
                    appsrc.set_caps(Some(&caps.to_owned()));
                }
                let Some(buffer) = sample.buffer() else {
                    continue;
                };
                let mut out = buffer.copy();
                {
                    let out = out.make_mut();
                    out.set_pts(gst::ClockTime::NONE);
                    out.set_dts(gst::ClockTime::NONE);
                    out.set_duration(gst::ClockTime::from_nseconds(
                        u64::try_from(frame.as_nanos()).unwrap_or(0),
                    ));
                }
                if appsrc.push_buffer(out).is_err() {
                    // The media was torn down (last client left, or the server stopped).
                    break;
                }
                n += 1;
            }
            None if sink.is_eos() => {
                pipeline
                    .seek_simple(
                        gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                        gst::ClockTime::ZERO,
                    )
                    .map_err(|e| err(&e))?;
            }
            None => {}
        }
    }
    Ok(())
}

/// Checks that GStreamer can decode `file`, so a bad file fails at start instead of serving nothing.
fn probe(file: &Path) -> Result<(), SourceError> {
    let bad = |why: String| SourceError::Sim(format!("cannot decode '{}': {why}", file.display()));
    let src = gst::ElementFactory::make("filesrc")
        .property("location", file.to_string_lossy().as_ref())
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let decode = gst::ElementFactory::make("decodebin")
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let pipeline = gst::Pipeline::new();
    pipeline
        .add_many([&src, &decode])
        .map_err(|e| bad(e.to_string()))?;
    src.link(&decode).map_err(|e| bad(e.to_string()))?;
    // Decoded pads go to fakesinks so the pipeline can preroll.
    let bin = pipeline.clone();
    decode.connect_pad_added(move |_, pad| {
        if let Ok(sink) = gst::ElementFactory::make("fakesink").build()
            && bin.add(&sink).is_ok()
            && let Some(sink_pad) = sink.static_pad("sink")
        {
            let _ = sink.sync_state_with_parent();
            let _ = pad.link(&sink_pad);
        }
    });
    let _guard = NullOnDrop(pipeline.clone());
    pipeline
        .set_state(gst::State::Paused)
        .map_err(|e| bad(e.to_string()))?;
    let bus = pipeline.bus().ok_or_else(|| bad("no bus".into()))?;
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        )
        .ok_or_else(|| bad("nothing decoded within 10 s".into()))?;
    match msg.view() {
        gst::MessageView::Error(e) => Err(bad(e.error().to_string())),
        _ => Ok(()),
    }
}

fn frame_duration(caps: &gst::CapsRef) -> Option<Duration> {
    let fps = caps.structure(0)?.get::<gst::Fraction>("framerate").ok()?;
    let (num, den) = (fps.numer(), fps.denom());
    (num > 0 && den > 0).then(|| Duration::from_secs_f64(f64::from(den) / f64::from(num)))
}

struct NullOnDrop(gst::Pipeline);

impl Drop for NullOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}
