//! YUV 4:2:0 → RGB at the model's input size: each plane resized on its own (luma at full
//! resolution, chroma at half), then converted once at the small size. A 768×576 frame going into
//! a 512×384 input converts 0.2 M pixels instead of 0.44 M, and the resize reads 1.5 bytes a pixel
//! instead of RGB's 3.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{PixelType, ResizeOptions, Resizer};

use crate::infer::InferError;
use crate::pixels::{Plane, YuvLayout, YuvView, chroma_size};

/// Reused buffers for [`YuvScaler::scale_to_rgb`].
#[derive(Default)]
pub(super) struct YuvScaler {
    packed: Vec<u8>,
    planes: [Vec<u8>; 3],
}

fn err(e: impl std::fmt::Display) -> InferError {
    InferError::Preprocess(e.to_string())
}

impl YuvScaler {
    /// Fills `rgb` with `src` resized to `width × height`, packed RGB8.
    pub(super) fn scale_to_rgb(
        &mut self,
        resizer: &mut Resizer,
        options: &ResizeOptions,
        src: &YuvView<'_>,
        (width, height): (u32, u32),
        rgb: &mut Vec<u8>,
    ) -> Result<(), InferError> {
        if (width, height) == (src.width(), src.height()) {
            return src.to_rgb(rgb).map_err(err);
        }
        let (cw, ch) = chroma_size(src.width(), src.height());
        let (dw, dh) = chroma_size(width, height);
        let [y_out, u_out, v_out] = &mut self.planes;
        resize_plane(
            resizer,
            options,
            &mut self.packed,
            src.y(),
            (src.width(), src.height()),
            (width, height),
            PixelType::U8,
            y_out,
        )?;
        let (u, v) = src.chroma();
        let planes = match src.layout() {
            YuvLayout::I420 => {
                for (plane, out) in [(u, &mut *u_out), (v, &mut *v_out)] {
                    resize_plane(
                        resizer,
                        options,
                        &mut self.packed,
                        plane,
                        (cw, ch),
                        (dw, dh),
                        PixelType::U8,
                        out,
                    )?;
                }
                [
                    Plane {
                        data: y_out,
                        stride: width as usize,
                    },
                    Plane {
                        data: u_out,
                        stride: dw as usize,
                    },
                    Plane {
                        data: v_out,
                        stride: dw as usize,
                    },
                ]
            }
            YuvLayout::Nv12 => {
                resize_plane(
                    resizer,
                    options,
                    &mut self.packed,
                    u,
                    (cw, ch),
                    (dw, dh),
                    PixelType::U8x2,
                    u_out,
                )?;
                let uv = Plane {
                    data: u_out,
                    stride: dw as usize * 2,
                };
                [
                    Plane {
                        data: y_out,
                        stride: width as usize,
                    },
                    uv,
                    uv,
                ]
            }
        };
        src.with_planes(width, height, planes)
            .ok_or_else(|| err("a resized plane is too small"))?
            .to_rgb(rgb)
            .map_err(err)
    }
}

/// Resizes one plane of `from` pixels into `out` (packed rows of `to.0` pixels).
#[allow(clippy::too_many_arguments)]
fn resize_plane(
    resizer: &mut Resizer,
    options: &ResizeOptions,
    packed: &mut Vec<u8>,
    plane: Plane<'_>,
    from: (u32, u32),
    to: (u32, u32),
    pixel: PixelType,
    out: &mut Vec<u8>,
) -> Result<(), InferError> {
    let row = from.0 as usize * pixel.size();
    let data: &[u8] = if plane.stride == row {
        plane.data
    } else {
        packed.clear();
        for r in plane.data.chunks(plane.stride).take(from.1 as usize) {
            packed.extend_from_slice(r.get(..row).ok_or_else(|| err("a plane row is short"))?);
        }
        packed
    };
    let src = ImageRef::new(from.0, from.1, data, pixel).map_err(err)?;
    out.resize(to.0 as usize * to.1 as usize * pixel.size(), 0);
    let mut dst = Image::from_slice_u8(to.0, to.1, out, pixel).map_err(err)?;
    resizer.resize(&src, &mut dst, options).map_err(err)
}
