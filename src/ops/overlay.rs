//! The configured geometry of a camera drawn onto its frame: counting lines, zones and lanes, and
//! the tracked objects with their ids. What integrators look at to place lines and zones.

use image::{Rgb, RgbImage};

use super::annotate::{class_colour, draw_box, draw_tag};
use crate::config::CameraConfig;
use crate::rules::geometry::Point;
use crate::types::Track;

/// Colour of counting lines and queue stop lines.
pub const LINE_COLOUR: Rgb<u8> = Rgb([255, 230, 0]);
/// Colour of zones (and the lanes and areas of the traffic rules).
pub const ZONE_COLOUR: Rgb<u8> = Rgb([0, 220, 255]);

/// A camera's lines and polygons, normalised to the frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overlay {
    /// Polylines with their label: counting lines and stop lines.
    pub lines: Vec<(String, Vec<Point>)>,
    /// Closed polygons with their label: zones, wrong-way lanes, no-stopping and queue areas.
    pub zones: Vec<(String, Vec<Point>)>,
}

impl Overlay {
    /// Every line and area configured on `cam`.
    pub fn of(cam: &CameraConfig) -> Overlay {
        let mut o = Overlay::default();
        for l in &cam.lines {
            o.lines
                .push((format!("{} ({})", l.id, l.forward), l.points.clone()));
        }
        for z in &cam.zones {
            o.zones.push((z.id.clone(), z.points.clone()));
        }
        for w in &cam.wrong_way {
            o.zones.push((w.id.clone(), w.zone.clone()));
            o.lines
                .push((format!("{} direction", w.id), w.direction.to_vec()));
        }
        for s in &cam.stopped {
            o.zones.push((s.id.clone(), s.zone.clone()));
        }
        for q in &cam.queues {
            o.zones.push((q.id.clone(), q.zone.clone()));
            o.lines
                .push((format!("{} stop line", q.id), q.stop_line.to_vec()));
        }
        o
    }

    /// Draws the zones, then the lines, each with its label.
    pub fn draw(&self, img: &mut RgbImage) {
        let (w, h) = (img.width() as f32, img.height() as f32);
        let thickness = stroke(img);
        let scale = text_scale(img);
        let px = |p: &Point| (p.x * w, p.y * h);
        for (label, points) in &self.zones {
            let n = points.len();
            for i in 0..n {
                draw_segment(
                    img,
                    px(&points[i]),
                    px(&points[(i + 1) % n]),
                    ZONE_COLOUR,
                    thickness,
                );
            }
            if let Some(first) = points.first() {
                let (x, y) = px(first);
                draw_tag(img, x, y + (10 * scale) as f32, label, ZONE_COLOUR, scale);
            }
        }
        for (label, points) in &self.lines {
            for pair in points.windows(2) {
                draw_segment(img, px(&pair[0]), px(&pair[1]), LINE_COLOUR, thickness);
            }
            if let Some(first) = points.first() {
                let (x, y) = px(first);
                draw_tag(img, x, y, label, LINE_COLOUR, scale);
            }
        }
    }
}

/// Draws each track's box in its class colour with `#id label`; `highlight` gets a thicker box.
pub fn draw_tracks(img: &mut RgbImage, tracks: &[Track], highlight: &[u64]) {
    let thickness = stroke(img);
    let scale = text_scale(img);
    for t in tracks {
        let colour = class_colour(t.class_id);
        let k = if highlight.contains(&t.id) { 2 } else { 1 };
        draw_box(img, &t.bbox, colour, thickness * k);
        draw_tag(
            img,
            t.bbox.x1,
            t.bbox.y1,
            &format!("#{} {}", t.id, t.label),
            colour,
            scale,
        );
    }
}

/// Draws a caption on a dark band at the bottom-left.
pub fn draw_caption(img: &mut RgbImage, text: &str) {
    let scale = text_scale(img);
    draw_tag(
        img,
        0.0,
        img.height() as f32,
        text,
        Rgb([20, 20, 20]),
        scale,
    );
}

fn stroke(img: &RgbImage) -> u32 {
    (img.width().min(img.height()) / 200).clamp(2, 6)
}

fn text_scale(img: &RgbImage) -> u32 {
    (img.width().min(img.height()) / 400).clamp(1, 4)
}

/// A segment `thickness` pixels wide from `a` to `b`, clipped to the image.
pub fn draw_segment(
    img: &mut RgbImage,
    a: (f32, f32),
    b: (f32, f32),
    colour: Rgb<u8>,
    thickness: u32,
) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let steps = dx.abs().max(dy.abs()).ceil().max(1.0) as u32;
    let r = thickness as f32 / 2.0;
    let (w, h) = (img.width() as i64, img.height() as i64);
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        let (cx, cy) = (a.0 + dx * t, a.1 + dy * t);
        let (x0, x1) = ((cx - r).floor() as i64, (cx + r).ceil() as i64);
        let (y0, y1) = ((cy - r).floor() as i64, (cy + r).ceil() as i64);
        for y in y0.max(0)..y1.min(h) {
            for x in x0.max(0)..x1.min(w) {
                let (ox, oy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if ox * ox + oy * oy <= r * r + 0.5 {
                    img.put_pixel(x as u32, y as u32, colour);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f32, y: f32) -> Point {
        Point { x, y }
    }

    #[test]
    fn lines_and_zones_land_where_their_normalised_points_say() {
        let mut img = RgbImage::new(200, 100);
        let o = Overlay {
            lines: vec![("l".into(), vec![p(0.5, 0.2), p(0.5, 0.9)])],
            zones: vec![(
                "z".into(),
                vec![p(0.1, 0.1), p(0.3, 0.1), p(0.3, 0.5), p(0.1, 0.5)],
            )],
        };
        o.draw(&mut img);
        // The vertical line at x = 100, below its label.
        assert_eq!(img.get_pixel(100, 60), &LINE_COLOUR);
        // The zone's right edge at x = 60, between y = 10 and 50.
        assert_eq!(img.get_pixel(60, 30), &ZONE_COLOUR);
        // Inside the zone, away from its edges and label, nothing.
        assert_eq!(img.get_pixel(40, 40), &Rgb([0, 0, 0]));
        assert_eq!(img.get_pixel(150, 60), &Rgb([0, 0, 0]));
    }

    #[test]
    fn segments_past_the_image_are_clipped() {
        let mut img = RgbImage::new(10, 10);
        draw_segment(&mut img, (-50.0, 5.0), (60.0, 5.0), LINE_COLOUR, 3);
        assert_eq!(img.get_pixel(0, 5), &LINE_COLOUR);
        assert_eq!(img.get_pixel(9, 5), &LINE_COLOUR);
        assert_eq!(img.get_pixel(5, 0), &Rgb([0, 0, 0]));
    }
}
