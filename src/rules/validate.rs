//! Every problem of a camera's rules at once, each with its path (`lines[0].points[2]`).

use std::collections::HashMap;

use super::engine::RulesConfig;
use super::geometry::{Point, polygon_self_intersects};
use super::homography::Homography;

/// Tells whether the camera can produce a class label; `Err` says why not.
pub type LabelCheck<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// The problems of `cfg` as (path, message); `label` judges class names.
pub fn problems(cfg: &RulesConfig, label: LabelCheck<'_>) -> Vec<(String, String)> {
    let mut v = Checker {
        out: Vec::new(),
        label,
    };
    for (i, l) in cfg.lines.iter().enumerate() {
        let at = format!("lines[{i}]");
        v.points(&l.points, 2, &format!("{at}.points"));
        if l.points.windows(2).any(|w| w[0] == w[1]) {
            v.push(
                format!("{at}.points"),
                "two consecutive points are equal: every segment needs a length".into(),
            );
        }
        if l.forward == l.backward {
            v.push(
                format!("{at}.backward"),
                format!("'{}' is also the forward direction's name", l.backward),
            );
        }
        v.fraction(l.hysteresis, &format!("{at}.hysteresis"));
        v.classes(&l.classes, &format!("{at}.classes"));
    }
    for (i, z) in cfg.zones.iter().enumerate() {
        let at = format!("zones[{i}]");
        v.polygon(&z.points, &format!("{at}.points"));
        v.fraction(z.hysteresis, &format!("{at}.hysteresis"));
        v.classes(&z.classes, &format!("{at}.classes"));
        if let Some(s) = z.loiter_after_s {
            v.seconds(s, &format!("{at}.loiter_after_s"));
        }
        if !(0.0..=60.0).contains(&z.exit_grace_s) {
            v.push(
                format!("{at}.exit_grace_s"),
                format!("{} must be 0 to 60 seconds", z.exit_grace_s),
            );
        }
        if let Some(c) = &z.crowd {
            if c.count == 0 {
                v.push(format!("{at}.crowd.count"), "must be at least 1".into());
            }
            if !(0.0..=86_400.0).contains(&c.for_s) {
                v.push(
                    format!("{at}.crowd.for_s"),
                    format!("{} must be 0 to 86400 seconds", c.for_s),
                );
            }
        }
        if let Some(int) = &z.intrusion {
            v.classes(&int.classes, &format!("{at}.intrusion.classes"));
            for (j, c) in int.classes.iter().enumerate() {
                if !z.classes.is_empty() && !z.classes.contains(c) {
                    v.push(
                        format!("{at}.intrusion.classes[{j}]"),
                        format!("'{c}' is not among the zone's classes, so it is never inside"),
                    );
                }
            }
            for (j, w) in int.windows.iter().enumerate() {
                if let Some(m) = w.problem() {
                    v.push(format!("{at}.intrusion.windows[{j}]"), m);
                }
            }
        }
    }
    for (i, w) in cfg.wrong_way.iter().enumerate() {
        let at = format!("wrong_way[{i}]");
        v.polygon(&w.zone, &format!("{at}.zone"));
        v.points(&w.direction, 2, &format!("{at}.direction"));
        if w.direction[0] == w.direction[1] {
            v.push(
                format!("{at}.direction"),
                "the two points are equal: they give no direction".into(),
            );
        }
        if !(w.min_distance > 0.0 && w.min_distance <= 1.0) {
            v.push(
                format!("{at}.min_distance"),
                format!(
                    "{} must be in (0, 1] (a fraction of the frame)",
                    w.min_distance
                ),
            );
        }
        v.classes(&w.classes, &format!("{at}.classes"));
    }
    for (i, s) in cfg.stopped.iter().enumerate() {
        let at = format!("stopped[{i}]");
        v.polygon(&s.zone, &format!("{at}.zone"));
        v.fraction(s.radius, &format!("{at}.radius"));
        v.seconds(s.after_s, &format!("{at}.after_s"));
        v.classes(&s.classes, &format!("{at}.classes"));
    }
    for (i, q) in cfg.queues.iter().enumerate() {
        let at = format!("queues[{i}]");
        v.polygon(&q.zone, &format!("{at}.zone"));
        v.points(&q.stop_line, 2, &format!("{at}.stop_line"));
        if q.stop_line[0] == q.stop_line[1] {
            v.push(format!("{at}.stop_line"), "the two points are equal".into());
        }
        v.fraction(q.radius, &format!("{at}.radius"));
        v.seconds(q.after_s, &format!("{at}.after_s"));
        v.classes(&q.classes, &format!("{at}.classes"));
    }
    // Rule ids share one namespace per camera: events name the rule by id alone.
    let all = cfg
        .lines
        .iter()
        .enumerate()
        .map(|(i, r)| (&r.id, format!("lines[{i}]")))
        .chain(
            cfg.zones
                .iter()
                .enumerate()
                .map(|(i, r)| (&r.id, format!("zones[{i}]"))),
        )
        .chain(
            cfg.wrong_way
                .iter()
                .enumerate()
                .map(|(i, r)| (&r.id, format!("wrong_way[{i}]"))),
        )
        .chain(
            cfg.stopped
                .iter()
                .enumerate()
                .map(|(i, r)| (&r.id, format!("stopped[{i}]"))),
        )
        .chain(
            cfg.queues
                .iter()
                .enumerate()
                .map(|(i, r)| (&r.id, format!("queues[{i}]"))),
        );
    let mut seen: HashMap<&str, String> = HashMap::new();
    for (rule_id, at) in all {
        v.id(rule_id, &format!("{at}.id"));
        if let Some(first) = seen.get(rule_id.as_str()) {
            v.push(
                format!("{at}.id"),
                format!(
                    "'{rule_id}' is already the id of {first}: rule ids must be unique per camera"
                ),
            );
        } else {
            seen.insert(rule_id, at);
        }
    }
    if let Some(c) = &cfg.calibration {
        v.points(&c.image, 4, "calibration.image");
        if Homography::from_points(&c.image, &c.ground).is_none() {
            v.push(
                "calibration".into(),
                "the four image or ground points are degenerate: no three may lie on one line, none may repeat".into(),
            );
        }
    }
    let n = cfg.stats.interval_s;
    if n != 0 && !((10..=86_400).contains(&n) && 86_400 % n == 0) {
        v.push(
            "stats.interval_s".into(),
            format!("{n} must divide a day into whole intervals of 10 s or more (e.g. 60, 300, 900), or be 0 for none"),
        );
    }
    v.out
}

struct Checker<'a> {
    out: Vec<(String, String)>,
    label: LabelCheck<'a>,
}

impl Checker<'_> {
    fn push(&mut self, path: String, message: String) {
        self.out.push((path, message));
    }

    fn id(&mut self, id: &str, path: &str) {
        if id.is_empty() {
            self.push(path.into(), "must not be empty".into());
        } else if let Some(bad) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            self.push(
                path.into(),
                format!("'{id}' contains '{bad}': use letters, digits, '-' and '_' only"),
            );
        }
    }

    fn points(&mut self, points: &[Point], min: usize, path: &str) {
        if points.len() < min {
            self.push(
                path.into(),
                format!("has {} point(s): at least {min} needed", points.len()),
            );
        }
        for (i, p) in points.iter().enumerate() {
            if !p.in_frame() {
                self.push(
                    format!("{path}[{i}]"),
                    format!("[{}, {}] is outside the frame: coordinates are fractions of the width and height, 0 to 1", p.x, p.y),
                );
            }
        }
    }

    fn polygon(&mut self, points: &[Point], path: &str) {
        self.points(points, 3, path);
        if points.len() >= 3 && polygon_self_intersects(points) {
            self.push(
                path.into(),
                "the polygon crosses itself: list its corners in order around it".into(),
            );
        }
    }

    fn fraction(&mut self, v: f32, path: &str) {
        if !(0.0..=0.5).contains(&v) {
            self.push(
                path.into(),
                format!("{v} must be 0 to 0.5 (a fraction of the frame)"),
            );
        }
    }

    fn seconds(&mut self, v: f32, path: &str) {
        if !(v > 0.0 && v <= 86_400.0) {
            self.push(
                path.into(),
                format!("{v} must be a number of seconds in (0, 86400]"),
            );
        }
    }

    fn classes(&mut self, classes: &[String], path: &str) {
        for (i, c) in classes.iter().enumerate() {
            if let Err(m) = (self.label)(c) {
                self.push(format!("{path}[{i}]"), m);
            }
        }
    }
}

#[cfg(test)]
mod tests;
