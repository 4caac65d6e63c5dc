//! The published message schema (`schema/`): every file loaded offline, and a payload validated
//! against the schema its topic calls for; and the fixtures the schema tests share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonschema::{Registry, Validator};
use roadeye::publish::Topics;
use roadeye::publish::message::DEFAULT_PREFIX;
use roadeye::rules::EventKind;
use serde_json::Value;

/// The base URI of every schema's `$id`: a file's `$id` is this plus its path under `schema/`.
pub const BASE_URI: &str = "https://roadeye.dev/schema/v1/";

/// One schema file.
pub struct SchemaFile {
    /// Its path under `schema/`, with `/` separators (`events/line_crossing.schema.json`).
    pub path: String,
    /// Its contents.
    pub value: Value,
}

/// Every schema of `schema/`, compiled.
pub struct Schemas {
    /// Every `*.json` file of `schema/`, by path.
    pub files: Vec<SchemaFile>,
    /// Validators of the message schemas (every file but `common.schema.json`), by path.
    validators: BTreeMap<String, Validator>,
}

/// What a topic says: the schema it calls for and the ids in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicParts {
    /// The schema's path under `schema/`.
    pub schema: String,
    /// The site segment.
    pub site: String,
    /// `camera` for events and statistics, `device` for status and alarms.
    pub source_field: &'static str,
    /// That segment.
    pub source: String,
    /// The event kind (events only).
    pub kind: Option<String>,
}

/// The schema folder of the repository.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// `{prefix}/{site}/{camera}/events/{kind}`, `{prefix}/{site}/{camera}/stats`,
/// `{prefix}/{site}/{device}/status` or `{prefix}/{site}/{device}/alarms`, with any prefix.
pub fn parse_topic(topic: &str) -> Result<TopicParts, String> {
    let seg: Vec<&str> = topic.split('/').collect();
    let n = seg.len();
    let at = |i: usize| -> Result<String, String> {
        n.checked_sub(i)
            .and_then(|j| seg.get(j))
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
            .ok_or_else(|| format!("topic '{topic}' is too short"))
    };
    if n >= 4 && seg[n - 2] == "events" {
        let kind = at(1)?;
        return Ok(TopicParts {
            schema: format!("events/{kind}.schema.json"),
            site: at(4)?,
            source_field: "camera",
            source: at(3)?,
            kind: Some(kind),
        });
    }
    let (schema, source_field) = match seg[n - 1] {
        "stats" => ("stats.schema.json", "camera"),
        "status" => ("status.schema.json", "device"),
        "alarms" => ("alarm.schema.json", "device"),
        other => {
            return Err(format!(
                "topic '{topic}': no message is published on '{other}'"
            ));
        }
    };
    Ok(TopicParts {
        schema: schema.to_string(),
        site: at(3)?,
        source_field,
        source: at(2)?,
        kind: None,
    })
}

impl Schemas {
    /// Reads every file under `schema/`, registers each under its `$id` so that references
    /// between files resolve without any network access, and compiles the message schemas.
    pub fn load() -> Schemas {
        let root = dir();
        let mut paths = Vec::new();
        json_files(&root, &mut paths);
        let files: Vec<SchemaFile> = paths
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
                let value: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
                let rel = p.strip_prefix(&root).expect("under schema/");
                let path = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                SchemaFile { path, value }
            })
            .collect();
        let resources = files.iter().map(|f| {
            let id = f.value["$id"]
                .as_str()
                .unwrap_or_else(|| panic!("schema/{} has no $id", f.path));
            (id.to_string(), f.value.clone())
        });
        let registry = Registry::new()
            .extend(resources)
            .and_then(|b| b.prepare())
            .unwrap_or_else(|e| panic!("schema registry: {e}"));
        let validators = files
            .iter()
            .filter(|f| f.path != "common.schema.json")
            .map(|f| {
                let v = jsonschema::options()
                    .with_registry(&registry)
                    .offline()
                    .build(&f.value)
                    .unwrap_or_else(|e| panic!("schema/{}: {e}", f.path));
                (f.path.clone(), v)
            })
            .collect();
        Schemas { files, validators }
    }

    /// The file at `path` under `schema/`.
    pub fn file(&self, path: &str) -> Option<&SchemaFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The event kinds with a schema (`schema/events/{kind}.schema.json`), sorted.
    pub fn event_kinds(&self) -> Vec<String> {
        self.files
            .iter()
            .filter_map(|f| f.path.strip_prefix("events/")?.strip_suffix(".schema.json"))
            .map(str::to_string)
            .collect()
    }

    /// Every error of `instance` against the schema at `path`, one per line (`/pointer: message`).
    pub fn errors(&self, path: &str, instance: &Value) -> Result<(), String> {
        let v = self
            .validators
            .get(path)
            .ok_or_else(|| format!("no message schema schema/{path}"))?;
        let errors: Vec<String> = v
            .iter_errors(instance)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("{}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }

    /// Validates `payload` published on `topic`: against the schema the topic calls for, and the
    /// topic's segments against the payload (`kind`, `camera` or `device`, `site`). Every problem
    /// is reported, one per line.
    pub fn validate(&self, topic: &str, payload: &[u8]) -> Result<(), String> {
        let parts = parse_topic(topic)?;
        let value: Value =
            serde_json::from_slice(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
        let mut problems = Vec::new();
        if let Err(e) = self.errors(&parts.schema, &value) {
            problems.push(e);
        }
        let mut same = |field: &str, want: &str| match value.get(field) {
            Some(got) if got == want => {}
            got => problems.push(format!(
                "/{field}: {} differs from the topic's \"{want}\" ({topic})",
                got.map_or("absent".to_string(), Value::to_string)
            )),
        };
        same("site", &parts.site);
        same(parts.source_field, &parts.source);
        if let Some(kind) = &parts.kind {
            same("kind", kind);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

// What the schema tests share: the ids and clock of their messages, the schemas loaded once, and the
// checks of a payload on its topic.

/// The site of every message the schema tests publish.
pub const SITE: &str = "hn-caugiay";
/// The device of every message the schema tests publish.
pub const DEVICE: &str = "box-01";
/// 2026-11-24T15:30:00.123Z.
pub const T0_MS: u64 = 1_795_534_200_123;

/// Every schema of `schema/`, loaded once per test binary.
pub fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(Schemas::load)
}

/// The topics of [`SITE`] and [`DEVICE`] under the default prefix.
pub fn topics() -> Topics {
    Topics::new(DEFAULT_PREFIX, SITE, DEVICE)
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Requires `payload` to be valid on `topic`.
pub fn valid(topic: &str, payload: &[u8]) {
    if let Err(e) = schemas().validate(topic, payload) {
        panic!(
            "{topic}\n{}\nis invalid:\n{e}",
            String::from_utf8_lossy(payload)
        );
    }
}

/// Requires `payload` to be invalid on `topic`, with a problem mentioning each of `needles`.
pub fn invalid(topic: &str, payload: &Value, needles: &[&str]) {
    let bytes = serde_json::to_vec(payload).expect("json");
    match schemas().validate(topic, &bytes) {
        Ok(()) => panic!("{topic}\n{payload}\nmust be invalid"),
        Err(e) => {
            for n in needles {
                assert!(
                    e.contains(n),
                    "no '{n}' among the problems of {payload}:\n{e}"
                );
            }
        }
    }
}

/// One value of every event kind, with every optional field set.
pub fn every_kind() -> Vec<EventKind> {
    vec![
        EventKind::LineCrossing {
            direction: "northbound".into(),
            lane: Some("n1".into()),
            speed_kmh: Some(38.4),
        },
        EventKind::ZoneEnter,
        EventKind::ZoneExit { dwell_s: 42.7 },
        EventKind::Loitering { dwell_s: 120.1 },
        EventKind::Intrusion,
        EventKind::CrowdStart { count: 12 },
        EventKind::CrowdEnd { count: 0 },
        EventKind::WrongWay {
            distance: 0.143,
            speed_kmh: Some(21.6),
        },
        EventKind::StoppedVehicle { duration_s: 60.3 },
    ]
}
