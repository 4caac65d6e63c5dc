//! Image bytes of every kind, sound and hostile.

use super::*;
use proptest::prelude::*;
use std::sync::OnceLock;

/// A 64×48 picture with some structure (gradients and a block), so the codecs have work.
fn picture() -> RgbImage {
    RgbImage::from_fn(64, 48, |x, y| {
        let block = (16..40).contains(&x) && (8..30).contains(&y);
        image::Rgb([(x * 4) as u8, (y * 5) as u8, if block { 250 } else { 20 }])
    })
}

fn encoded(format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(picture())
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

/// The picture in each format roadeye reads.
fn files() -> &'static [(ImageFormat, Vec<u8>)] {
    static FILES: OnceLock<Vec<(ImageFormat, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::Bmp,
            ImageFormat::WebP,
        ]
        .into_iter()
        .map(|f| (f, encoded(f)))
        .collect()
    })
}

/// CRC-32 of PNG chunks (ISO 3309), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG whose header (IHDR, checksum mended) claims `w`×`h` pixels.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut b = encoded(ImageFormat::Png);
    // Signature (8), then IHDR: length (4), type (4), width, height, ..., CRC over type + data.
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    b
}

/// A JPEG whose frame header claims `w`×`h` pixels.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut b = encoded(ImageFormat::Jpeg);
    let sof = b
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .expect("a baseline frame header");
    // FF C0, length (2), precision (1), height (2), width (2).
    b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    b
}

#[test]
fn every_format_roadeye_reads_decodes_to_its_picture() {
    for (format, bytes) in files() {
        let img = decode(bytes).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(img.dimensions(), (64, 48), "{format:?}");
        // Lossless formats give the pixels back; JPEG and WebP (lossy here) come close.
        let worst = img
            .as_raw()
            .iter()
            .zip(picture().as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        let allowed = if matches!(format, ImageFormat::Png | ImageFormat::Bmp) {
            0
        } else {
            48
        };
        assert!(worst <= allowed, "{format:?}: a pixel off by {worst}");
    }
}

#[test]
fn a_header_claiming_too_many_pixels_is_refused_before_any_allocation() {
    for (what, bytes) in [
        ("png 100000²", png_claiming(100_000, 100_000)),
        ("png 16384²", png_claiming(16_384, 16_384)),
        ("jpeg 65535²", jpeg_claiming(65_535, 65_535)),
    ] {
        let err = decode(&bytes).expect_err(what);
        assert!(matches!(err, PictureError::TooLarge(_)), "{what}: {err}");
        assert!(err.to_string().contains("scale it down first"), "{err}");
    }
}

#[test]
fn a_cut_jpeg_a_text_and_an_unread_format_are_named() {
    let jpeg = &files()[0].1;
    assert!(matches!(
        decode(&jpeg[..jpeg.len() / 2]),
        Err(PictureError::JpegCut)
    ));
    assert!(matches!(
        decode(b"[site]\nid = \"x\"\n"),
        Err(PictureError::NotAnImage)
    ));
    assert!(matches!(decode(&[]), Err(PictureError::NotAnImage)));
    // A GIF: a picture, not one roadeye reads.
    assert!(matches!(
        decode(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        Err(PictureError::NotAnImage)
    ));
}

/// What a decode must give: a picture whose buffer matches its size, or a named error.
fn sane(result: Result<RgbImage, PictureError>) -> Result<(), TestCaseError> {
    match result {
        Ok(img) => {
            prop_assert!(img.width() > 0 && img.height() > 0);
            prop_assert!(img.width() <= MAX_SIDE && img.height() <= MAX_SIDE);
            prop_assert_eq!(
                img.as_raw().len(),
                img.width() as usize * img.height() as usize * 3
            );
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Each format with bytes flipped, cut, or inserted anywhere, headers included.
    #[test]
    fn damaged_files_give_a_picture_or_a_named_error(
        which in 0usize..4,
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..12),
        cut in prop::option::of(any::<usize>()),
        insert in prop::option::of((any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))),
    ) {
        let mut bytes = files()[which].1.clone();
        for (at, x) in flips {
            let n = bytes.len();
            bytes[at % n] ^= x;
        }
        if let Some((at, more)) = insert {
            let at = at % bytes.len();
            bytes.splice(at..at, more);
        }
        if let Some(cut) = cut {
            let n = bytes.len();
            bytes.truncate(cut % n);
        }
        sane(decode(&bytes))?;
    }

    /// Any bytes at all, some behind a real format's signature.
    #[test]
    fn any_bytes_give_a_picture_or_a_named_error(
        signature in 0usize..5,
        rest in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let head: &[u8] = match signature {
            0 => b"\xFF\xD8\xFF",
            1 => b"\x89PNG\r\n\x1a\n",
            2 => b"BM",
            3 => b"RIFF\x00\x00\x00\x00WEBPVP8 ",
            _ => b"",
        };
        let bytes: Vec<u8> = head.iter().copied().chain(rest).collect();
        sane(decode(&bytes))?;
    }

    /// Headers claiming any size: decoded within the bounds, or refused by name.
    #[test]
    fn any_claimed_size_is_bounded(w in any::<u32>(), h in any::<u32>()) {
        sane(decode(&png_claiming(w, h)))?;
        sane(decode(&jpeg_claiming(w as u16, h as u16)))?;
    }
}
