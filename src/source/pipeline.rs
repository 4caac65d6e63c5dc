//! The GStreamer pipeline of one camera:
//! `uridecodebin → videoconvert → videoscale → caps (I420, NV12 or RGB) → appsink`.
//!
//! `uridecodebin` opens rtsp, file, http(s) and v4l2 URIs and decodes with `decodebin`, so hardware
//! decoders win by rank where the box has them. The appsink hands every decoded frame to a callback
//! that must return quickly (it only timestamps the frame and puts it in the latest-frame slot).

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::{SourceError, SourceSettings, Transport};
use crate::pixels::{Matrix, PixelView, Plane, YuvView};
use crate::types::{FramePixels, RgbView};

/// The formats frames are handed over in, the decoders' usual ones first.
pub const FORMATS: [&str; 3] = ["I420", "NV12", "RGB"];

/// A running pipeline; set to `Null` when dropped.
pub struct Pipeline {
    pipeline: gst::Pipeline,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Pipeline {
    /// Builds the pipeline for `s`; `on_sample` runs in GStreamer's streaming thread for each frame.
    pub fn build(
        s: &SourceSettings,
        on_sample: impl Fn(gst::Sample) + Send + Sync + 'static,
    ) -> Result<Pipeline, SourceError> {
        init()?;
        let make = |factory: &str| {
            gst::ElementFactory::make(factory)
                .build()
                .map_err(|_| SourceError::MissingElement(factory.to_string()))
        };
        let pipeline = gst::Pipeline::with_name(&format!("camera-{}", s.camera));
        let decode = gst::ElementFactory::make("uridecodebin")
            .property("uri", &s.uri)
            .build()
            .map_err(|_| SourceError::MissingElement("uridecodebin".into()))?;
        let convert = make("videoconvert")?;
        let scale = make("videoscale")?;
        // The decoder's own 4:2:0 formats pass through untouched (videoconvert only converts
        // what is none of these); the lane that takes a frame converts it once, at the model's
        // input size, and frames dropped for newer ones are never converted.
        let mut caps = gst::Caps::builder("video/x-raw").field("format", gst::List::new(FORMATS));
        if let Some(w) = s.analysis_width {
            // Square pixels with a fixed width: videoscale picks the height that keeps the
            // picture's aspect ratio.
            caps = caps
                .field("width", i32::try_from(w).unwrap_or(i32::MAX))
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1));
        }
        let filter = gst::ElementFactory::make("capsfilter")
            .property("caps", caps.build())
            .build()
            .map_err(|_| SourceError::MissingElement("capsfilter".into()))?;
        // Live sources deliver as they come; files are paced like a camera unless asked otherwise.
        let sync = s.is_file() && !s.is_replay();
        let sink = gst_app::AppSink::builder()
            .max_buffers(2)
            .drop(true)
            .sync(sync)
            .build();
        pipeline
            .add_many([&decode, &convert, &scale, &filter, sink.upcast_ref()])
            .map_err(|e| SourceError::Pipeline(e.to_string()))?;
        gst::Element::link_many([&convert, &scale, &filter, sink.upcast_ref()])
            .map_err(|e| SourceError::Pipeline(e.to_string()))?;

        let rtsp = RtspOptions::from(s);
        decode.connect("source-setup", false, move |args| {
            if let Some(src) = args.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
                rtsp.apply(&src);
            }
            None
        });
        let convert_sink = convert
            .static_pad("sink")
            .ok_or_else(|| SourceError::Pipeline("videoconvert has no sink pad".into()))?;
        decode.connect_pad_added(move |_, pad| {
            let is_video = pad
                .current_caps()
                .or_else(|| Some(pad.query_caps(None)))
                .and_then(|c| c.structure(0).map(|st| st.name().starts_with("video/")))
                .unwrap_or(false);
            if is_video && !convert_sink.is_linked() {
                let _ = pad.link(&convert_sink);
            }
        });
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                    on_sample(sample);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        Ok(Pipeline { pipeline })
    }

    /// The pipeline's bus.
    pub fn bus(&self) -> Option<gst::Bus> {
        self.pipeline.bus()
    }

    /// Starts playing.
    pub fn play(&self) -> Result<(), SourceError> {
        self.pipeline
            .set_state(gst::State::Playing)
            .map(|_| ())
            .map_err(|_| SourceError::Pipeline("the pipeline refused to start".into()))
    }

    /// The stream's length, when it has one (files).
    pub fn duration(&self) -> Option<std::time::Duration> {
        self.pipeline
            .query_duration::<gst::ClockTime>()
            .map(|d| std::time::Duration::from_nanos(d.nseconds()))
    }

    /// Jumps back to the start (looping files).
    pub fn rewind(&self) -> Result<(), SourceError> {
        self.pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                gst::ClockTime::ZERO,
            )
            .map_err(|e| SourceError::Pipeline(format!("cannot loop the file: {e}")))
    }
}

/// Initialises GStreamer once per process.
pub fn init() -> Result<(), SourceError> {
    gst::init().map_err(|e| SourceError::Init(e.to_string()))
}

/// Source element properties (RTSP transport and latency, credentials), applied when
/// `uridecodebin` creates its source.
#[derive(Clone)]
struct RtspOptions {
    transport: Transport,
    latency_ms: u32,
    username: Option<String>,
    password: Option<String>,
}

impl From<&SourceSettings> for RtspOptions {
    fn from(s: &SourceSettings) -> Self {
        RtspOptions {
            transport: s.transport,
            latency_ms: u32::try_from(s.latency.as_millis()).unwrap_or(u32::MAX),
            username: s.username.clone(),
            password: s.password.clone(),
        }
    }
}

impl RtspOptions {
    fn apply(&self, src: &gst::Element) {
        let factory = src
            .factory()
            .map(|f| f.name().to_string())
            .unwrap_or_default();
        // Both the RTSP and the HTTP source take separate credentials.
        if factory == "rtspsrc" || factory == "souphttpsrc" {
            if let Some(u) = &self.username {
                src.set_property("user-id", u);
            }
            if let Some(p) = &self.password {
                src.set_property("user-pw", p);
            }
        }
        if factory != "rtspsrc" {
            return;
        }
        src.set_property("latency", self.latency_ms);
        src.set_property_from_str(
            "protocols",
            match self.transport {
                Transport::Tcp => "tcp",
                Transport::Udp => "udp",
            },
        );
    }
}

/// A decoded frame still in its GStreamer buffer (no copy), in the format the decoder gave.
pub struct GstPixels(gst_video::VideoFrame<gst_video::video_frame::Readable>);

impl GstPixels {
    /// Maps a sample's buffer as a frame, with its size; `None` when the buffer cannot be mapped
    /// or its planes do not hold the picture its caps declare.
    pub fn from_sample(sample: &gst::Sample) -> Option<(GstPixels, (u32, u32))> {
        let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
        let buffer = sample.buffer_owned()?;
        let frame = gst_video::VideoFrame::from_buffer_readable(buffer, &info)
            .ok()
            .map(GstPixels)?;
        let size = frame.view().map(|v| (v.width(), v.height()))?;
        Some((frame, size))
    }

    fn plane(&self, i: u32) -> Option<Plane<'_>> {
        let stride = usize::try_from(*self.0.plane_stride().get(i as usize)?).ok()?;
        Some(Plane {
            data: self.0.plane_data(i).ok()?,
            stride,
        })
    }
}

impl FramePixels for GstPixels {
    fn view(&self) -> Option<PixelView<'_>> {
        let (w, h) = (self.0.width(), self.0.height());
        let colorimetry = self.0.info().colorimetry();
        let matrix = match colorimetry.matrix() {
            gst_video::VideoColorMatrix::Bt709 => Matrix::Bt709,
            gst_video::VideoColorMatrix::Bt2020 => Matrix::Bt2020,
            _ => Matrix::Bt601,
        };
        let full = colorimetry.range() == gst_video::VideoColorRange::Range0_255;
        match self.0.format() {
            gst_video::VideoFormat::Rgb => {
                let p = self.plane(0)?;
                RgbView::strided(w, h, p.stride, p.data).map(PixelView::Rgb)
            }
            gst_video::VideoFormat::I420 => {
                let planes = [self.plane(0)?, self.plane(1)?, self.plane(2)?];
                YuvView::i420(w, h, planes, matrix, full).map(PixelView::Yuv)
            }
            gst_video::VideoFormat::Nv12 => {
                let planes = [self.plane(0)?, self.plane(1)?];
                YuvView::nv12(w, h, planes, matrix, full).map(PixelView::Yuv)
            }
            _ => None,
        }
    }
}
