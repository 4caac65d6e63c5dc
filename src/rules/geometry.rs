//! Plane geometry for lines and zones, in normalised frame coordinates (0..1 on both axes, origin
//! top-left, y down), so rules do not depend on the analysis resolution.

use serde::{Deserialize, Serialize};

/// A point in normalised frame coordinates; written `[x, y]` in configs.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(from = "[f32; 2]", into = "[f32; 2]")]
pub struct Point {
    /// 0 = left edge, 1 = right edge.
    pub x: f32,
    /// 0 = top edge, 1 = bottom edge.
    pub y: f32,
}

impl From<[f32; 2]> for Point {
    fn from([x, y]: [f32; 2]) -> Self {
        Point { x, y }
    }
}

impl From<Point> for [f32; 2] {
    fn from(p: Point) -> Self {
        [p.x, p.y]
    }
}

impl Point {
    /// A point.
    pub const fn new(x: f32, y: f32) -> Point {
        Point { x, y }
    }

    /// Whether the point lies in the frame (0..=1 on both axes).
    pub fn in_frame(&self) -> bool {
        (0.0..=1.0).contains(&self.x) && (0.0..=1.0).contains(&self.y)
    }

    fn sub(self, o: Point) -> (f32, f32) {
        (self.x - o.x, self.y - o.y)
    }

    /// Euclidean distance.
    pub fn distance(&self, o: &Point) -> f32 {
        let (dx, dy) = self.sub(*o);
        (dx * dx + dy * dy).sqrt()
    }
}

/// `(a - o) × (b - o)`: positive when `b` is clockwise from `a` seen from `o` on screen (y down).
pub fn cross(o: Point, a: Point, b: Point) -> f32 {
    let (ax, ay) = a.sub(o);
    let (bx, by) = b.sub(o);
    ax * by - ay * bx
}

/// Whether segments `p1p2` and `q1q2` cross or touch.
pub fn segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool {
    let d1 = cross(q1, q2, p1);
    let d2 = cross(q1, q2, p2);
    let d3 = cross(p1, p2, q1);
    let d4 = cross(p1, p2, q2);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    let on = |a: Point, b: Point, p: Point, d: f32| {
        d == 0.0
            && p.x >= a.x.min(b.x)
            && p.x <= a.x.max(b.x)
            && p.y >= a.y.min(b.y)
            && p.y <= a.y.max(b.y)
    };
    on(q1, q2, p1, d1) || on(q1, q2, p2, d2) || on(p1, p2, q1, d3) || on(p1, p2, q2, d4)
}

/// Where the segment `ab` crosses the edges of `polygon`, as fractions of the way from `a` to `b`,
/// in order (parallel edges are not counted).
pub fn boundary_crossings(a: Point, b: Point, polygon: &[Point]) -> Vec<f32> {
    let (dx, dy) = b.sub(a);
    let n = polygon.len();
    let mut out: Vec<f32> = (0..n)
        .filter_map(|i| {
            let (q1, q2) = (polygon[i], polygon[(i + 1) % n]);
            let (ex, ey) = q2.sub(q1);
            let denom = dx * ey - dy * ex;
            if denom.abs() < 1e-12 {
                return None;
            }
            let (wx, wy) = q1.sub(a);
            let t = (wx * ey - wy * ex) / denom;
            let u = (wx * dy - wy * dx) / denom;
            ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u)).then_some(t)
        })
        .collect();
    out.sort_by(f32::total_cmp);
    out
}

/// Distance from `p` to the segment `ab`.
pub fn distance_to_segment(p: Point, a: Point, b: Point) -> f32 {
    let (abx, aby) = b.sub(a);
    let (apx, apy) = p.sub(a);
    let len2 = abx * abx + aby * aby;
    let t = if len2 > 0.0 {
        ((apx * abx + apy * aby) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    p.distance(&Point::new(a.x + t * abx, a.y + t * aby))
}

/// Whether `p` is inside the polygon (even-odd rule; points on an edge may go either way).
pub fn point_in_polygon(p: Point, poly: &[Point]) -> bool {
    let mut inside = false;
    let n = poly.len();
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + n - 1) % n]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
    }
    inside
}

/// Whether two non-adjacent edges of the closed polygon cross (a bow-tie).
pub fn polygon_self_intersects(poly: &[Point]) -> bool {
    let n = poly.len();
    for i in 0..n {
        let (a1, a2) = (poly[i], poly[(i + 1) % n]);
        for j in i + 1..n {
            let adjacent = j == i + 1 || (i == 0 && j == n - 1);
            if adjacent {
                continue;
            }
            if segments_intersect(a1, a2, poly[j], poly[(j + 1) % n]) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f32, y: f32) -> Point {
        Point::new(x, y)
    }

    #[test]
    fn segments() {
        assert!(segments_intersect(
            p(0., 0.),
            p(1., 1.),
            p(0., 1.),
            p(1., 0.)
        ));
        assert!(!segments_intersect(
            p(0., 0.),
            p(1., 0.),
            p(0., 1.),
            p(1., 1.)
        ));
        // Touching at an end point counts.
        assert!(segments_intersect(
            p(0., 0.),
            p(1., 0.),
            p(1., 0.),
            p(1., 1.)
        ));
        assert!(!segments_intersect(
            p(0., 0.),
            p(0.4, 0.),
            p(0.5, -1.),
            p(0.5, 1.)
        ));
    }

    #[test]
    fn polygons() {
        let square = [p(0.2, 0.2), p(0.8, 0.2), p(0.8, 0.8), p(0.2, 0.8)];
        assert!(point_in_polygon(p(0.5, 0.5), &square));
        assert!(!point_in_polygon(p(0.9, 0.5), &square));
        assert!(!polygon_self_intersects(&square));
        let bow_tie = [p(0.2, 0.2), p(0.8, 0.8), p(0.8, 0.2), p(0.2, 0.8)];
        assert!(polygon_self_intersects(&bow_tie));
        let concave = [p(0., 0.), p(1., 0.), p(1., 1.), p(0.5, 0.4), p(0., 1.)];
        assert!(!polygon_self_intersects(&concave));
        assert!(!point_in_polygon(p(0.5, 0.8), &concave));
        assert!(point_in_polygon(p(0.5, 0.2), &concave));
    }

    #[test]
    fn distances() {
        assert!((distance_to_segment(p(0.5, 0.3), p(0., 0.), p(1., 0.)) - 0.3).abs() < 1e-6);
        assert!((distance_to_segment(p(2., 0.), p(0., 0.), p(1., 0.)) - 1.0).abs() < 1e-6);
        let pt: Point = serde_json::from_str("[0.25, 0.75]").expect("point");
        assert_eq!(pt, p(0.25, 0.75));
        assert!(pt.in_frame() && !p(1.1, 0.).in_frame());
    }
}
