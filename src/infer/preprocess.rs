//! Image → input tensor: resize (stretch or letterbox), channel order, normalisation, layout.
//!
//! The resize is a convolution with a triangle filter whose support grows with the shrink factor (the
//! same as PIL's bilinear): a plain non-antialiased bilinear moves small objects' boxes a lot.
//! The geometry of what was done is returned as a [`Transform`] so boxes are mapped back exactly.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::InferError;
use super::spec::{ChannelOrder, InputSpec, Layout, ResizeMode};
use crate::pixels::PixelView;
use crate::types::{BBox, RgbView};

mod yuv;

/// Maps model-input pixels back to source-image pixels: `src = (input - pad) / scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    /// Horizontal scale, model-input pixels per source pixel.
    pub scale_x: f32,
    /// Vertical scale, model-input pixels per source pixel.
    pub scale_y: f32,
    /// Left padding in model-input pixels (letterbox; 0 when stretching).
    pub pad_x: f32,
    /// Top padding in model-input pixels (letterbox; 0 when stretching).
    pub pad_y: f32,
    /// Source image width in pixels, for clipping.
    pub src_width: u32,
    /// Source image height in pixels, for clipping.
    pub src_height: u32,
}

/// Where the resized image sits inside the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Width of the resized image in model-input pixels.
    pub width: u32,
    /// Height of the resized image in model-input pixels.
    pub height: u32,
    /// Columns of padding to its left.
    pub left: u32,
    /// Rows of padding above it.
    pub top: u32,
}

impl Transform {
    /// The placement and transform for fitting `src_w × src_h` into `in_w × in_h`.
    pub fn fit(
        src_w: u32,
        src_h: u32,
        in_w: u32,
        in_h: u32,
        mode: ResizeMode,
    ) -> (Placement, Transform) {
        let place = match mode {
            ResizeMode::Stretch => Placement {
                width: in_w,
                height: in_h,
                left: 0,
                top: 0,
            },
            ResizeMode::Letterbox => {
                let scale = (in_w as f64 / src_w as f64).min(in_h as f64 / src_h as f64);
                let w = ((src_w as f64 * scale).round() as u32).clamp(1, in_w);
                let h = ((src_h as f64 * scale).round() as u32).clamp(1, in_h);
                Placement {
                    width: w,
                    height: h,
                    left: (in_w - w) / 2,
                    top: (in_h - h) / 2,
                }
            }
        };
        // The scales of what was really done (after rounding), so the inverse is exact.
        let t = Transform {
            scale_x: place.width as f32 / src_w as f32,
            scale_y: place.height as f32 / src_h as f32,
            pad_x: place.left as f32,
            pad_y: place.top as f32,
            src_width: src_w,
            src_height: src_h,
        };
        (place, t)
    }

    /// A box in model-input pixels → source pixels, clipped to the source image.
    pub fn to_source(&self, b: &BBox) -> BBox {
        BBox::new(
            (b.x1 - self.pad_x) / self.scale_x,
            (b.y1 - self.pad_y) / self.scale_y,
            (b.x2 - self.pad_x) / self.scale_x,
            (b.y2 - self.pad_y) / self.scale_y,
        )
        .clip(self.src_width as f32, self.src_height as f32)
    }

    /// A box in source pixels → model-input pixels (the forward mapping, for tests and drawing).
    pub fn to_input(&self, b: &BBox) -> BBox {
        BBox::new(
            b.x1 * self.scale_x + self.pad_x,
            b.y1 * self.scale_y + self.pad_y,
            b.x2 * self.scale_x + self.pad_x,
            b.y2 * self.scale_y + self.pad_y,
        )
    }
}

/// Fills a model's input tensor from RGB or YUV images, reusing its buffers from call to call.
pub struct Preprocessor {
    input: InputSpec,
    /// `lut[k][v]`: normalised value of 0..255 level `v` in model channel `k`.
    lut: Box<[[f32; 256]; 3]>,
    /// Source channel feeding model channel `k`.
    source_channel: [usize; 3],
    resizer: Resizer,
    options: ResizeOptions,
    packed: Vec<u8>,
    resized: Vec<u8>,
    yuv: yuv::YuvScaler,
    tensor: Vec<f32>,
}

impl Preprocessor {
    /// A preprocessor for a model input as `input` declares it (size, layout, channel order,
    /// normalisation, resize mode).
    pub fn new(input: &InputSpec) -> Preprocessor {
        let mut lut = Box::new([[0f32; 256]; 3]);
        for (k, table) in lut.iter_mut().enumerate() {
            for (v, slot) in table.iter_mut().enumerate() {
                *slot = (v as f32 - input.mean[k]) / input.std[k];
            }
        }
        let source_channel = match input.channel_order {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        let len = input.width as usize * input.height as usize * 3;
        Preprocessor {
            input: input.clone(),
            lut,
            source_channel,
            resizer: Resizer::new(),
            options: ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)),
            packed: Vec::new(),
            resized: Vec::new(),
            yuv: yuv::YuvScaler::default(),
            tensor: vec![0.0; len],
        }
    }

    /// The tensor shape, `[1, H, W, 3]` or `[1, 3, H, W]`.
    pub fn shape(&self) -> [usize; 4] {
        let (w, h) = (self.input.width as usize, self.input.height as usize);
        match self.input.layout {
            Layout::Nhwc => [1, h, w, 3],
            Layout::Nchw => [1, 3, h, w],
        }
    }

    /// The tensor filled by the last [`Preprocessor::run`].
    pub fn tensor(&self) -> &[f32] {
        &self.tensor
    }

    /// Fills the tensor from `img` and returns how to map boxes back to it. YUV images are
    /// resized plane by plane and converted to RGB once, at the input size.
    pub fn run<'a>(&mut self, img: impl Into<PixelView<'a>>) -> Result<Transform, InferError> {
        let img = match img.into() {
            PixelView::Rgb(rgb) => return self.run_rgb(rgb),
            PixelView::Yuv(yuv) => yuv,
        };
        let (in_w, in_h) = (self.input.width, self.input.height);
        let (src_w, src_h) = (img.width(), img.height());
        let (place, transform) = Transform::fit(src_w, src_h, in_w, in_h, self.input.resize);
        if place.width != in_w || place.height != in_h {
            self.fill_padding();
        }
        self.yuv.scale_to_rgb(
            &mut self.resizer,
            &self.options,
            &img,
            (place.width, place.height),
            &mut self.resized,
        )?;
        write_tensor(
            &mut self.tensor,
            &self.resized,
            place,
            (in_w as usize, in_h as usize),
            self.input.layout,
            &self.lut,
            self.source_channel,
        );
        Ok(transform)
    }

    fn run_rgb(&mut self, img: RgbView<'_>) -> Result<Transform, InferError> {
        let (in_w, in_h) = (self.input.width, self.input.height);
        let (src_w, src_h) = (img.width(), img.height());
        if src_w == 0 || src_h == 0 {
            return Err(InferError::Preprocess(format!(
                "the image is empty ({src_w}x{src_h})"
            )));
        }
        let (place, transform) = Transform::fit(src_w, src_h, in_w, in_h, self.input.resize);
        if place.width != in_w || place.height != in_h {
            self.fill_padding();
        }
        let src: &[u8] = match img.packed_data() {
            Some(data) => data,
            None => {
                self.packed.clear();
                for y in 0..src_h {
                    self.packed.extend_from_slice(img.row(y));
                }
                &self.packed
            }
        };
        let pixels: &[u8] = if (place.width, place.height) == (src_w, src_h) {
            src
        } else {
            let src_img = ImageRef::new(src_w, src_h, src, PixelType::U8x3)
                .map_err(|e| InferError::Preprocess(e.to_string()))?;
            self.resized
                .resize(place.width as usize * place.height as usize * 3, 0);
            let mut dst = Image::from_slice_u8(
                place.width,
                place.height,
                &mut self.resized,
                PixelType::U8x3,
            )
            .map_err(|e| InferError::Preprocess(e.to_string()))?;
            self.resizer
                .resize(&src_img, &mut dst, &self.options)
                .map_err(|e| InferError::Preprocess(e.to_string()))?;
            &self.resized
        };
        write_tensor(
            &mut self.tensor,
            pixels,
            place,
            (in_w as usize, in_h as usize),
            self.input.layout,
            &self.lut,
            self.source_channel,
        );
        Ok(transform)
    }

    fn fill_padding(&mut self) {
        let pad = usize::from(self.input.pad_value);
        let plane = self.input.width as usize * self.input.height as usize;
        match self.input.layout {
            Layout::Nhwc => {
                let px = [self.lut[0][pad], self.lut[1][pad], self.lut[2][pad]];
                for chunk in self.tensor.chunks_exact_mut(3) {
                    chunk.copy_from_slice(&px);
                }
            }
            Layout::Nchw => {
                for (k, plane_data) in self.tensor.chunks_exact_mut(plane).enumerate() {
                    plane_data.fill(self.lut[k][pad]);
                }
            }
        }
    }
}

fn write_tensor(
    tensor: &mut [f32],
    pixels: &[u8],
    place: Placement,
    (in_w, in_h): (usize, usize),
    layout: Layout,
    lut: &[[f32; 256]; 3],
    src_ch: [usize; 3],
) {
    let (w, left, top) = (
        place.width as usize,
        place.left as usize,
        place.top as usize,
    );
    let plane = in_w * in_h;
    for (y, row) in pixels.chunks_exact(w * 3).enumerate() {
        let base = (top + y) * in_w + left;
        match layout {
            Layout::Nhwc => {
                let out = &mut tensor[base * 3..(base + w) * 3];
                for (o, p) in out.chunks_exact_mut(3).zip(row.chunks_exact(3)) {
                    o[0] = lut[0][usize::from(p[src_ch[0]])];
                    o[1] = lut[1][usize::from(p[src_ch[1]])];
                    o[2] = lut[2][usize::from(p[src_ch[2]])];
                }
            }
            Layout::Nchw => {
                for (k, table) in lut.iter().enumerate() {
                    let out = &mut tensor[k * plane + base..k * plane + base + w];
                    let c = src_ch[k];
                    for (o, p) in out.iter_mut().zip(row.chunks_exact(3)) {
                        *o = table[usize::from(p[c])];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
