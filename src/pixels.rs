//! A frame's pixels as the decoder left them: packed RGB, or YUV 4:2:0 (I420 planar, NV12
//! semi-planar) with the colour matrix and range the stream declares.
//!
//! Frames stay in their decoded format from the decoder to inference: a frame the lanes never take
//! (dropped for a newer one) is never converted, and the one they take is converted once, at the
//! model's input size ([`crate::infer::Preprocessor`]). Full-size RGB is made only when a picture
//! is wanted (a snapshot), with [`PixelView::to_rgb_image`].
//!
//! Views are built only through constructors that check every plane holds its rows, so reading
//! them never goes out of bounds.

use std::borrow::Cow;

use yuv::{YuvBiPlanarImage, YuvConversionMode, YuvPlanarImage, YuvRange, YuvStandardMatrix};

use crate::types::RgbView;

/// How luma and chroma map to RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Matrix {
    /// ITU-R BT.601 (standard definition; what GStreamer assumes for SD streams).
    #[default]
    Bt601,
    /// ITU-R BT.709 (HD).
    Bt709,
    /// ITU-R BT.2020.
    Bt2020,
}

/// The YUV layout of 4:2:0 frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YuvLayout {
    /// Three planes: Y, then U and V at half width and height (`I420`).
    I420,
    /// Two planes: Y, then U and V interleaved at half width and height (`NV12`).
    Nv12,
}

/// One plane of an image: rows of `stride` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    /// The plane's bytes.
    pub data: &'a [u8],
    /// Bytes from one row to the next.
    pub stride: usize,
}

impl Plane<'_> {
    /// Whether it holds `rows` rows of `row_bytes` bytes each.
    fn holds(&self, row_bytes: usize, rows: u32) -> bool {
        let Some(last) = (rows as usize).checked_sub(1) else {
            return false;
        };
        self.stride >= row_bytes
            && self
                .stride
                .checked_mul(last)
                .and_then(|n| n.checked_add(row_bytes))
                .is_some_and(|needed| self.data.len() >= needed)
    }
}

/// A borrowed YUV 4:2:0 image, checked to hold its planes.
#[derive(Debug, Clone, Copy)]
pub struct YuvView<'a> {
    width: u32,
    height: u32,
    layout: YuvLayout,
    /// Y, then U and V (I420) or UV (NV12; the third unused).
    planes: [Plane<'a>; 3],
    matrix: Matrix,
    full_range: bool,
}

impl<'a> YuvView<'a> {
    /// An I420 view; `None` when a plane is too small or a dimension is zero.
    pub fn i420(
        width: u32,
        height: u32,
        [y, u, v]: [Plane<'a>; 3],
        matrix: Matrix,
        full_range: bool,
    ) -> Option<Self> {
        let (cw, ch) = chroma_size(width, height);
        (width > 0
            && y.holds(width as usize, height)
            && u.holds(cw as usize, ch)
            && v.holds(cw as usize, ch))
        .then_some(Self {
            width,
            height,
            layout: YuvLayout::I420,
            planes: [y, u, v],
            matrix,
            full_range,
        })
    }

    /// An NV12 view; `None` when a plane is too small or a dimension is zero.
    pub fn nv12(
        width: u32,
        height: u32,
        [y, uv]: [Plane<'a>; 2],
        matrix: Matrix,
        full_range: bool,
    ) -> Option<Self> {
        let (cw, ch) = chroma_size(width, height);
        (width > 0 && y.holds(width as usize, height) && uv.holds(cw as usize * 2, ch)).then_some(
            Self {
                width,
                height,
                layout: YuvLayout::Nv12,
                planes: [y, uv, uv],
                matrix,
                full_range,
            },
        )
    }

    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// I420 or NV12.
    pub fn layout(&self) -> YuvLayout {
        self.layout
    }

    /// The luma plane.
    pub fn y(&self) -> Plane<'a> {
        self.planes[0]
    }

    /// The chroma planes: U and V (I420), or UV interleaved twice (NV12).
    pub fn chroma(&self) -> (Plane<'a>, Plane<'a>) {
        (self.planes[1], self.planes[2])
    }

    /// The same colour information on other planes of another size (a resized copy).
    pub fn with_planes<'b>(
        &self,
        width: u32,
        height: u32,
        planes: [Plane<'b>; 3],
    ) -> Option<YuvView<'b>> {
        match self.layout {
            YuvLayout::I420 => YuvView::i420(width, height, planes, self.matrix, self.full_range),
            YuvLayout::Nv12 => YuvView::nv12(
                width,
                height,
                [planes[0], planes[1]],
                self.matrix,
                self.full_range,
            ),
        }
    }

    /// Converts into `rgb`, packed rows of `width * 3` bytes (resized to fit).
    pub fn to_rgb(&self, rgb: &mut Vec<u8>) -> Result<(), String> {
        let row = self.width as usize * 3;
        rgb.resize(row * self.height as usize, 0);
        let stride = u32::try_from(row).map_err(|_| "the image is too wide".to_string())?;
        let range = if self.full_range {
            YuvRange::Full
        } else {
            YuvRange::Limited
        };
        let matrix = match self.matrix {
            Matrix::Bt601 => YuvStandardMatrix::Bt601,
            Matrix::Bt709 => YuvStandardMatrix::Bt709,
            Matrix::Bt2020 => YuvStandardMatrix::Bt2020,
        };
        let stride_of = |p: &Plane<'_>| u32::try_from(p.stride).map_err(|_| "a plane is too wide");
        let [y, u, v] = self.planes;
        let ch = chroma_size(self.width, self.height).1;
        let y_data = exact(y, self.height);
        let (u_data, v_data) = (exact(u, ch), exact(v, ch));
        match self.layout {
            YuvLayout::I420 => {
                let img = YuvPlanarImage {
                    y_plane: &y_data,
                    y_stride: stride_of(&y)?,
                    u_plane: &u_data,
                    u_stride: stride_of(&u)?,
                    v_plane: &v_data,
                    v_stride: stride_of(&v)?,
                    width: self.width,
                    height: self.height,
                };
                yuv::yuv420_to_rgb(&img, rgb, stride, range, matrix)
            }
            YuvLayout::Nv12 => {
                let img = YuvBiPlanarImage {
                    y_plane: &y_data,
                    y_stride: stride_of(&y)?,
                    uv_plane: &u_data,
                    uv_stride: stride_of(&u)?,
                    width: self.width,
                    height: self.height,
                };
                yuv::yuv_nv12_to_rgb(
                    &img,
                    rgb,
                    stride,
                    range,
                    matrix,
                    YuvConversionMode::Balanced,
                )
            }
        }
        .map_err(|e| e.to_string())
    }
}

/// The plane's bytes for exactly `rows` rows of `stride` bytes. The converter walks a plane in
/// whole strides up to its end and takes an odd last row from what is left, so it is given neither
/// bytes beyond the picture (they would be read as its last row) nor a last row without its
/// padding (copied out and padded, which GStreamer's buffers do not need).
fn exact(p: Plane<'_>, rows: u32) -> Cow<'_, [u8]> {
    let len = p.stride.saturating_mul(rows as usize);
    match p.data.get(..len) {
        Some(data) => Cow::Borrowed(data),
        None => {
            let mut padded = p.data.to_vec();
            padded.resize(len, 0);
            Cow::Owned(padded)
        }
    }
}

/// The size of a 4:2:0 chroma plane for a `width × height` image (rounded up).
pub fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// A frame's pixels in whichever format they were decoded to.
#[derive(Debug, Clone, Copy)]
pub enum PixelView<'a> {
    /// Packed or strided RGB8.
    Rgb(RgbView<'a>),
    /// YUV 4:2:0.
    Yuv(YuvView<'a>),
}

impl<'a> From<RgbView<'a>> for PixelView<'a> {
    fn from(v: RgbView<'a>) -> Self {
        PixelView::Rgb(v)
    }
}

impl<'a> From<&'a image::RgbImage> for PixelView<'a> {
    fn from(img: &'a image::RgbImage) -> Self {
        PixelView::Rgb(RgbView::from(img))
    }
}

impl PixelView<'_> {
    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        match self {
            PixelView::Rgb(v) => v.width(),
            PixelView::Yuv(v) => v.width(),
        }
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        match self {
            PixelView::Rgb(v) => v.height(),
            PixelView::Yuv(v) => v.height(),
        }
    }

    /// A packed full-size RGB copy, to draw on; `None` if the conversion fails.
    pub fn to_rgb_image(&self) -> Option<image::RgbImage> {
        match self {
            PixelView::Rgb(v) => Some(v.to_image()),
            PixelView::Yuv(v) => {
                let mut data = Vec::new();
                v.to_rgb(&mut data).ok()?;
                image::RgbImage::from_raw(v.width(), v.height(), data)
            }
        }
    }
}

#[cfg(test)]
mod tests;
