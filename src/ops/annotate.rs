//! Draws detections onto an image: a box per object and a `label score` tag above it.
//!
//! The text uses the public-domain 8×8 bitmap font of `font8x8`, so nothing is loaded at run time.

use font8x8::{BASIC_FONTS, UnicodeFonts};
use image::{Rgb, RgbImage};

use crate::types::{BBox, Detection};

/// Distinct, saturated colours; a class keeps its colour across images.
const PALETTE: [[u8; 3]; 12] = [
    [230, 25, 75],
    [60, 180, 75],
    [255, 225, 25],
    [0, 130, 200],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [250, 190, 212],
    [0, 128, 128],
    [170, 110, 40],
];

/// The colour of output class `class_id`.
pub fn class_colour(class_id: u16) -> Rgb<u8> {
    Rgb(PALETTE[usize::from(class_id) % PALETTE.len()])
}

/// Draws every detection onto `img`.
pub fn draw_detections(img: &mut RgbImage, dets: &[Detection]) {
    let short = img.width().min(img.height());
    let thickness = (short / 250).clamp(2, 6);
    let scale = (short / 400).clamp(1, 4);
    for d in dets {
        let colour = class_colour(d.class_id);
        draw_box(img, &d.bbox, colour, thickness);
        let text = format!("{} {:.2}", d.label, d.score);
        draw_tag(img, d.bbox.x1, d.bbox.y1, &text, colour, scale);
    }
}

/// A hollow rectangle `thickness` pixels wide, inside the box, clipped to the image.
pub fn draw_box(img: &mut RgbImage, b: &BBox, colour: Rgb<u8>, thickness: u32) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x1, y1) = (b.x1.round() as i64, b.y1.round() as i64);
    let (x2, y2) = (b.x2.round() as i64 - 1, b.y2.round() as i64 - 1);
    let t = i64::from(thickness);
    for y in y1.max(0)..=y2.min(h - 1) {
        for x in x1.max(0)..=x2.min(w - 1) {
            let edge = x < x1 + t || x > x2 - t || y < y1 + t || y > y2 - t;
            if edge {
                img.put_pixel(x as u32, y as u32, colour);
            }
        }
    }
}

/// A filled tag with `text` whose bottom-left is at `(x, y)` (moved inside the image if needed).
pub fn draw_tag(img: &mut RgbImage, x: f32, y: f32, text: &str, bg: Rgb<u8>, scale: u32) {
    let glyph = 8 * scale;
    let pad = scale;
    // On a small image the text is cut to what fits.
    let fits = (img.width().saturating_sub(2 * pad) / glyph) as usize;
    let chars = text.chars().count().min(fits);
    let tag_w = chars as u32 * glyph + 2 * pad;
    let tag_h = glyph + 2 * pad;
    if chars == 0 || tag_h > img.height() {
        return;
    }
    let left = (x.max(0.0) as u32).min(img.width() - tag_w);
    let top = (y as i64 - i64::from(tag_h)).clamp(0, i64::from(img.height() - tag_h)) as u32;
    let luma = 0.299 * f32::from(bg[0]) + 0.587 * f32::from(bg[1]) + 0.114 * f32::from(bg[2]);
    let fg = if luma > 140.0 {
        Rgb([0, 0, 0])
    } else {
        Rgb([255, 255, 255])
    };
    for yy in top..top + tag_h {
        for xx in left..left + tag_w {
            img.put_pixel(xx, yy, bg);
        }
    }
    for (i, ch) in text.chars().take(chars).enumerate() {
        let rows = BASIC_FONTS
            .get(ch)
            .or_else(|| BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        let gx = left + pad + i as u32 * glyph;
        for (ry, bits) in rows.iter().enumerate() {
            for rx in 0..8u32 {
                if bits & (1 << rx) == 0 {
                    continue;
                }
                for sy in 0..scale {
                    for sx in 0..scale {
                        img.put_pixel(gx + rx * scale + sx, top + pad + ry as u32 * scale + sy, fg);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn boxes_are_drawn_on_their_edges_only() {
        let mut img = RgbImage::new(100, 100);
        draw_box(
            &mut img,
            &BBox::new(10., 10., 50., 40.),
            Rgb([255, 0, 0]),
            2,
        );
        assert_eq!(img.get_pixel(10, 10), &Rgb([255, 0, 0]));
        assert_eq!(img.get_pixel(49, 39), &Rgb([255, 0, 0]));
        assert_eq!(img.get_pixel(30, 25), &Rgb([0, 0, 0]), "inside stays clear");
        assert_eq!(
            img.get_pixel(60, 25),
            &Rgb([0, 0, 0]),
            "outside stays clear"
        );
    }

    #[test]
    fn boxes_past_the_edges_and_tags_at_the_top_do_not_panic() {
        let mut img = RgbImage::new(64, 48);
        let d = Detection {
            bbox: BBox::new(-20., -5., 30., 300.),
            score: 0.5,
            class_id: 3,
            label: Arc::from("car"),
        };
        draw_detections(&mut img, &[d]);
        // The right edge is inside the image; the others are clipped away.
        assert_eq!(img.get_pixel(29, 47), &class_colour(3));
        assert_eq!(img.get_pixel(0, 47), &Rgb([0, 0, 0]));
        // The tag is pulled inside the image at the top-left.
        assert_eq!(img.get_pixel(0, 0), &class_colour(3));
    }
}
