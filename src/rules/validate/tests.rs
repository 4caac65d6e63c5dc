//! Rule validation: every problem, with its path.

use super::*;

fn label(c: &str) -> Result<(), String> {
    match c {
        "person" | "car" | "truck" => Ok(()),
        other => Err(format!("'{other}' is not a label of this camera's model")),
    }
}

fn check(text: &str) -> Vec<(String, String)> {
    let cfg: RulesConfig = toml::from_str(text).expect("parses");
    problems(&cfg, &label)
}

#[test]
fn a_good_config_has_no_problems() {
    let got = check(
        r#"
        [[lines]]
        id = "a"
        points = [[0.1, 0.5], [0.9, 0.5]]
        classes = ["car"]
        [[zones]]
        id = "b"
        points = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.4]]
        intrusion = { classes = ["person"], windows = [{ from = "22:00", to = "06:00" }] }
        [[queues]]
        id = "c"
        zone = [[0.1, 0.6], [0.4, 0.6], [0.4, 0.9], [0.1, 0.9]]
        stop_line = [[0.1, 0.9], [0.4, 0.9]]
        [calibration]
        image = [[0.1, 0.9], [0.9, 0.9], [0.6, 0.3], [0.4, 0.3]]
        ground = [[0.0, 0.0], [10.0, 0.0], [10.0, 40.0], [0.0, 40.0]]
        [stats]
        interval_s = 900
        "#,
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn every_problem_is_named_with_its_path() {
    let got = check(
        r#"
        [[lines]]
        id = "north in"
        points = [[0.1, 0.5], [1.2, 0.5]]
        classes = ["bus"]
        forward = "in"
        backward = "in"
        [[zones]]
        id = "hall"
        points = [[0.2, 0.2], [0.8, 0.8], [0.8, 0.2], [0.2, 0.8]]
        classes = ["person"]
        intrusion = { classes = ["car"], windows = [{ from = "08:00", to = "08:00" }] }
        [[zones]]
        id = "tiny"
        points = [[0.2, 0.2], [0.8, 0.8]]
        crowd = { count = 0, for_s = 5 }
        [[stopped]]
        id = "hall"
        zone = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.4]]
        after_s = 0
        [calibration]
        image = [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.0, 1.0]]
        ground = [[0.0, 0.0], [10.0, 0.0], [10.0, 40.0], [0.0, 40.0]]
        [stats]
        interval_s = 7
        "#,
    );
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "lines[0].points[1]",
            "lines[0].backward",
            "lines[0].classes[0]",
            "zones[0].points",
            "zones[0].intrusion.classes[0]",
            "zones[0].intrusion.windows[0]",
            "zones[1].points",
            "zones[1].crowd.count",
            "stopped[0].after_s",
            "lines[0].id",
            "stopped[0].id",
            "calibration",
            "stats.interval_s",
        ],
        "{got:#?}"
    );
    let msg = |path: &str| &got.iter().find(|(p, _)| p == path).expect(path).1;
    assert!(msg("lines[0].points[1]").contains("[1.2, 0.5] is outside the frame"));
    assert!(msg("lines[0].classes[0]").contains("'bus' is not a label"));
    assert!(msg("zones[0].points").contains("crosses itself"));
    assert!(msg("zones[0].intrusion.classes[0]").contains("not among the zone's classes"));
    assert!(msg("zones[1].points").contains("at least 3"));
    assert!(msg("stopped[0].id").contains("'hall' is already the id of zones[0]"));
    assert!(msg("lines[0].id").contains("contains ' '"));
    assert!(msg("stats.interval_s").contains("must divide a day"));
}
