//! The messages that travel between stages: images in, detections out.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// An axis-aligned box in pixels: `(x1, y1)` top-left, `(x2, y2)` bottom-right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge (`x2 <= x1` makes the box empty).
    pub x2: f32,
    /// Bottom edge (`y2 <= y1` makes the box empty).
    pub y2: f32,
}

impl BBox {
    /// From corners, as given (not reordered or clipped).
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    /// From centre and size.
    pub fn from_cxcywh(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Self::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    }

    /// `x2 - x1`; negative for an inverted box.
    pub fn width(&self) -> f32 {
        self.x2 - self.x1
    }

    /// `y2 - y1`; negative for an inverted box.
    pub fn height(&self) -> f32 {
        self.y2 - self.y1
    }

    /// Area; zero for degenerate or inverted boxes (and for NaN coordinates).
    pub fn area(&self) -> f32 {
        let (w, h) = (self.width(), self.height());
        if w > 0.0 && h > 0.0 { w * h } else { 0.0 }
    }

    /// Intersection over union; 0 when the union is empty.
    pub fn iou(&self, other: &BBox) -> f32 {
        let inter = BBox::new(
            self.x1.max(other.x1),
            self.y1.max(other.y1),
            self.x2.min(other.x2),
            self.y2.min(other.y2),
        )
        .area();
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// The box clipped to `[0, width] × [0, height]`.
    pub fn clip(&self, width: f32, height: f32) -> BBox {
        BBox::new(
            self.x1.clamp(0.0, width),
            self.y1.clamp(0.0, height),
            self.x2.clamp(0.0, width),
            self.y2.clamp(0.0, height),
        )
    }

    /// `[x1, y1, x2, y2]`.
    pub fn to_array(&self) -> [f32; 4] {
        [self.x1, self.y1, self.x2, self.y2]
    }
}

/// One detected object, in the pixels of the image it was found in.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Where the object is, in image pixels (the detector clips it to the image).
    pub bbox: BBox,
    /// Confidence in `[0, 1]`.
    pub score: f32,
    /// Index into the detector's output labels (after any class remapping).
    pub class_id: u16,
    /// The label of `class_id`, e.g. `car`.
    pub label: Arc<str>,
}

/// A borrowed, packed-or-strided RGB8 image: what every detector consumes.
///
/// Built only through [`RgbView::packed`] or [`RgbView::strided`], which check that the buffer holds
/// the whole image, so reading it never goes out of bounds.
#[derive(Debug, Clone, Copy)]
pub struct RgbView<'a> {
    width: u32,
    height: u32,
    /// Bytes from one row to the next (≥ `width * 3`).
    stride: usize,
    data: &'a [u8],
}

impl<'a> RgbView<'a> {
    /// A view of a packed RGB8 buffer; `None` when the buffer is too small or a dimension is zero.
    pub fn packed(width: u32, height: u32, data: &'a [u8]) -> Option<Self> {
        Self::strided(width, height, width as usize * 3, data)
    }

    /// A view with an explicit row stride; `None` when the buffer cannot hold the image.
    pub fn strided(width: u32, height: u32, stride: usize, data: &'a [u8]) -> Option<Self> {
        let row = width as usize * 3;
        let needed = stride
            .checked_mul(height.checked_sub(1)? as usize)?
            .checked_add(row)?;
        (width > 0 && stride >= row && data.len() >= needed).then_some(Self {
            width,
            height,
            stride,
            data,
        })
    }

    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels of a packed image (`None` when rows are padded).
    pub fn packed_data(&self) -> Option<&'a [u8]> {
        self.is_packed()
            .then(|| &self.data[..self.width as usize * self.height as usize * 3])
    }

    /// Whether rows follow each other with no padding.
    pub fn is_packed(&self) -> bool {
        self.stride == self.width as usize * 3
    }

    /// The pixels of row `y` (without padding).
    pub fn row(&self, y: u32) -> &'a [u8] {
        let start = y as usize * self.stride;
        &self.data[start..start + self.width as usize * 3]
    }

    /// A packed copy of the pixels, to draw on.
    pub fn to_image(&self) -> image::RgbImage {
        let mut data = Vec::with_capacity(self.width as usize * self.height as usize * 3);
        for y in 0..self.height {
            data.extend_from_slice(self.row(y));
        }
        image::RgbImage::from_raw(self.width, self.height, data)
            .unwrap_or_else(|| image::RgbImage::new(self.width, self.height))
    }
}

impl<'a> From<&'a image::RgbImage> for RgbView<'a> {
    fn from(img: &'a image::RgbImage) -> Self {
        Self {
            width: img.width(),
            height: img.height(),
            stride: img.width() as usize * 3,
            data: img.as_raw(),
        }
    }
}

/// A camera's id, as in the config (`cameras[].id`).
pub type CameraId = Arc<str>;

/// Where a frame came from and when.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameMeta {
    /// The camera.
    pub camera: CameraId,
    /// Frames delivered by this camera since the process started, counting from 0.
    pub seq: u64,
    /// Presentation time in the stream (running time of the current connection); it starts again
    /// when the camera reconnects or a file loops.
    pub pts: std::time::Duration,
    /// Which connection of the camera (or which pass of a looping file) the frame belongs to;
    /// `pts` is only comparable between frames of the same generation.
    pub generation: u64,
    /// UTC wall-clock time at which the frame was received.
    pub captured_at: std::time::SystemTime,
    /// When the frame was handed over by its source, on this process's monotonic clock: the start
    /// of its per-stage timings (wait for a lane, inference, analysis, stored in the outbox).
    pub arrived: std::time::Instant,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
}

/// Pixels of a frame, wherever they live (a GStreamer buffer, a plain vector), in the format
/// they were decoded to.
pub trait FramePixels: Send {
    /// A view of the pixels, `None` if they cannot be read.
    fn view(&self) -> Option<crate::pixels::PixelView<'_>>;
}

impl FramePixels for image::RgbImage {
    fn view(&self) -> Option<crate::pixels::PixelView<'_>> {
        RgbView::packed(self.width(), self.height(), self.as_raw()).map(Into::into)
    }
}

/// A decoded video frame: the message from a source to inference.
pub struct Frame {
    /// Origin and timing.
    pub meta: FrameMeta,
    /// The pixels.
    pub pixels: Box<dyn FramePixels>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// A frame's detections: the message from inference to tracking.
#[derive(Debug, Clone)]
pub struct Detections {
    /// The frame they were found in.
    pub meta: FrameMeta,
    /// Objects found, in the frame's pixels.
    pub detections: Vec<Detection>,
}

/// A tracked object on one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Id, unique per camera for the life of the process.
    pub id: u64,
    /// Output label id, as in [`Detection::class_id`].
    pub class_id: u16,
    /// The label, e.g. `person`.
    pub label: Arc<str>,
    /// The filtered box, in frame pixels.
    pub bbox: BBox,
    /// Score of the detection last matched.
    pub score: f32,
    /// Velocity of the box centre, pixels per second (x, y).
    pub velocity: (f32, f32),
    /// Stream time the object was first seen.
    pub first_seen: std::time::Duration,
    /// Frames on which it was matched.
    pub hits: u32,
}

/// A frame's confirmed tracks: the message from tracking to the rules.
#[derive(Debug, Clone)]
pub struct Tracks {
    /// The frame.
    pub meta: FrameMeta,
    /// Confirmed tracks seen on it, by id.
    pub tracks: Vec<Track>,
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn ms_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The text of a panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    format!("panicked: {text}")
}
