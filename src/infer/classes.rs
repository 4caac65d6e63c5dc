//! The class policy: remapping, allow-list and per-class thresholds, compiled into a lookup table
//! indexed by the model's raw class id so the decoders pay one array access per candidate.

use std::sync::Arc;

use super::spec::Postprocess;

/// What happens to one raw model class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassRule {
    /// Output label id.
    pub out: u16,
    /// Minimum score for this class.
    pub min_score: f32,
}

/// The compiled class policy of one detector.
#[derive(Debug, Clone)]
pub struct ClassTable {
    rules: Vec<Option<ClassRule>>,
    labels: Vec<Arc<str>>,
    min_score: f32,
}

impl ClassTable {
    /// Compiles `policy` for a model with `names` (raw class names in index order).
    ///
    /// Call [`policy_problems`] first: unknown names in the policy are ignored here.
    pub fn new(names: &[String], policy: &Postprocess) -> ClassTable {
        let mut labels: Vec<Arc<str>> = Vec::new();
        let mut rules = Vec::with_capacity(names.len());
        for name in names {
            let label = policy.remap.get(name).unwrap_or(name);
            let allowed = policy.classes.is_empty() || policy.classes.iter().any(|c| c == label);
            if !allowed {
                rules.push(None);
                continue;
            }
            let out = match labels.iter().position(|l| &**l == label.as_str()) {
                Some(i) => i,
                None => {
                    labels.push(Arc::from(label.as_str()));
                    labels.len() - 1
                }
            };
            let min_score = policy
                .class_thresholds
                .get(label)
                .copied()
                .unwrap_or(policy.score_threshold);
            // `out` < names.len() ≤ u16::MAX, checked by `LoadedSpec::problems`.
            rules.push(Some(ClassRule {
                out: u16::try_from(out).unwrap_or(u16::MAX),
                min_score,
            }));
        }
        let min_score = rules
            .iter()
            .flatten()
            .map(|r| r.min_score)
            .fold(f32::INFINITY, f32::min);
        ClassTable {
            rules,
            labels,
            min_score,
        }
    }

    /// The rule of raw class `raw`, `None` when the class is filtered out or out of range.
    #[inline]
    pub fn rule(&self, raw: usize) -> Option<ClassRule> {
        self.rules.get(raw).copied().flatten()
    }

    /// Output label id of a raw class whose `score` passes its threshold.
    #[inline]
    pub fn accept(&self, raw: usize, score: f32) -> Option<u16> {
        self.rule(raw)
            .filter(|r| score >= r.min_score)
            .map(|r| r.out)
    }

    /// The lowest threshold of any kept class: candidates below it can be skipped early.
    #[inline]
    pub fn min_score(&self) -> f32 {
        self.min_score
    }

    /// Number of raw model classes.
    pub fn raw_len(&self) -> usize {
        self.rules.len()
    }

    /// Output labels, indexed by output id.
    pub fn labels(&self) -> &[Arc<str>] {
        &self.labels
    }
}

/// One problem of a class policy: the field (relative to the policy) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// The field, relative to the policy, e.g. `score_threshold` or `classes[0]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Problems of a class policy against a model's class names.
pub fn policy_problems(p: &Postprocess, names: &[String]) -> Vec<PolicyProblem> {
    let mut out = Vec::new();
    let mut push = |field: String, message: String| out.push(PolicyProblem { field, message });
    let known = |n: &str| names.iter().any(|c| c == n);
    // An output label: a model class that is not renamed away, or a rename target.
    let label_known =
        |n: &str| (known(n) && !p.remap.contains_key(n)) || p.remap.values().any(|v| v == n);
    if !(0.0..=1.0).contains(&p.score_threshold) {
        push(
            "score_threshold".into(),
            format!("{} is outside 0..1", p.score_threshold),
        );
    }
    if !(0.0..=1.0).contains(&p.iou_threshold) {
        push(
            "iou_threshold".into(),
            format!("{} is outside 0..1", p.iou_threshold),
        );
    }
    if p.max_detections == 0 {
        push("max_detections".into(), "must be at least 1".into());
    }
    for from in p.remap.keys() {
        if !known(from) {
            push(
                format!("remap.{from}"),
                format!("'{from}' is not a class of the model"),
            );
        }
    }
    for (label, v) in &p.class_thresholds {
        if !label_known(label) {
            push(
                format!("class_thresholds.{label}"),
                format!("'{label}' is neither a model class nor a remap target"),
            );
        }
        if !(0.0..=1.0).contains(v) {
            push(
                format!("class_thresholds.{label}"),
                format!("{v} is outside 0..1"),
            );
        }
    }
    for (i, label) in p.classes.iter().enumerate() {
        if !label_known(label) {
            push(
                format!("classes[{i}]"),
                format!("'{label}' is neither a model class nor a remap target"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["person", "bicycle", "car", "motorcycle", "truck", "dog"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn remap_folds_classes_and_allow_list_filters() {
        let mut p = Postprocess::default();
        p.remap.insert("truck".into(), "car".into());
        p.classes = vec!["person".into(), "car".into()];
        p.class_thresholds.insert("car".into(), 0.5);
        assert!(policy_problems(&p, &names()).is_empty());
        let t = ClassTable::new(&names(), &p);
        assert_eq!(t.labels().len(), 2);
        let car = t.accept(2, 0.6).expect("car kept");
        assert_eq!(t.accept(4, 0.6), Some(car), "truck folds into car");
        assert_eq!(&*t.labels()[usize::from(car)], "car");
        assert_eq!(
            t.accept(4, 0.4),
            None,
            "car threshold applies to folded trucks"
        );
        assert_eq!(
            t.accept(0, 0.31).map(|i| &*t.labels()[usize::from(i)]),
            Some("person")
        );
        assert_eq!(t.accept(5, 0.99), None, "dog is not in the allow-list");
        assert_eq!(t.accept(99, 0.99), None, "out of range");
        assert_eq!(t.min_score(), 0.3);
    }

    #[test]
    fn a_class_renamed_away_is_no_longer_a_label() {
        let mut p = Postprocess::default();
        p.remap.insert("truck".into(), "car".into());
        p.classes = vec!["truck".into()];
        p.class_thresholds.insert("truck".into(), 0.6);
        let problems: Vec<String> = policy_problems(&p, &names())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().all(|m| m.contains("'truck' is neither")),
            "{problems:?}"
        );
    }

    #[test]
    fn nan_scores_never_pass() {
        let t = ClassTable::new(&names(), &Postprocess::default());
        assert_eq!(t.accept(0, f32::NAN), None);
    }

    #[test]
    fn unknown_names_are_reported_with_their_field() {
        let mut p = Postprocess::default();
        p.remap.insert("lorry".into(), "car".into());
        p.classes = vec!["vehicle".into()];
        p.class_thresholds.insert("bus".into(), 1.5);
        p.score_threshold = -0.1;
        let problems: Vec<String> = policy_problems(&p, &names())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            problems.iter().any(|m| m.starts_with("remap.lorry:")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|m| m.starts_with("classes[0]:")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|m| m.starts_with("class_thresholds.bus:") && m.contains("neither"))
        );
        assert!(problems.iter().any(|m| m.contains("1.5 is outside")));
        assert!(problems.iter().any(|m| m.starts_with("score_threshold:")));
    }
}
