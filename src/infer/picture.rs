//! Image files for detection (`roadeye detect`): the bytes decoded to RGB, whatever they hold.
//! The content decides the format, not the file name; a file that is not a picture, a cut-off
//! one, or one whose header claims more pixels than a box should hold in memory is a named
//! error, never a panic or an allocation that takes the box down.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};

/// The longest side decoded, in pixels (a 16K camera frame fits).
pub const MAX_SIDE: u32 = 16_384;
/// The most memory one decode may take.
pub const MAX_ALLOC_MB: u64 = 512;

/// Why image bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// No format roadeye reads.
    #[error("not an image roadeye can read (supported: JPEG, PNG, BMP, WebP)")]
    NotAnImage,
    /// A JPEG without its end-of-image marker: the decoder would fill the rest with grey.
    #[error("corrupt or truncated: no JPEG end-of-image marker")]
    JpegCut,
    /// Larger than roadeye decodes.
    #[error(
        "larger than roadeye decodes (at most {MAX_SIDE} pixels a side and {MAX_ALLOC_MB} MB): {0}; scale it down first"
    )]
    TooLarge(String),
    /// No pixels.
    #[error("corrupt: it has no pixels")]
    Empty,
    /// The decoder refused the bytes.
    #[error("corrupt or truncated: {0}")]
    Corrupt(#[source] image::ImageError),
}

/// Decodes `bytes` (JPEG, PNG, BMP or WebP) to RGB.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, PictureError> {
    let Ok(format) = image::guess_format(bytes) else {
        return Err(PictureError::NotAnImage);
    };
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Bmp | ImageFormat::WebP
    ) {
        return Err(PictureError::NotAnImage);
    }
    if format == ImageFormat::Jpeg && !has_jpeg_end(bytes) {
        return Err(PictureError::JpegCut);
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC_MB << 20);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(l) => PictureError::TooLarge(l.to_string()),
        other => PictureError::Corrupt(other),
    })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(PictureError::Empty);
    }
    Ok(img.to_rgb8())
}

/// Whether a JPEG stream has its end-of-image marker after its first scan. Entropy-coded data never
/// holds `FF D9` (a coded `FF` is stuffed), so a cut-off file has none there, while data some cameras
/// and phones append after the image does not matter.
fn has_jpeg_end(bytes: &[u8]) -> bool {
    let marker = |m: u8| move |w: &[u8]| w == [0xFF, m];
    match bytes.windows(2).position(marker(0xDA)) {
        Some(sos) => bytes[sos..].windows(2).any(marker(0xD9)),
        None => false,
    }
}

#[cfg(test)]
mod tests;
