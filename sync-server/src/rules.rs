//! The command centre's rules for reports: per category, how long the centre has to accept a
//! report, how long until it must be resolved (both counted from the report's creation), and
//! the priority it is handled with. The index computes each report's due times and priority
//! from them; the overdue escalation reads the same limits.
//!
//! Built-in defaults hold for every category; a TOML file given with `--rules FILE`
//! (`FIELDSYNC_RULES`) on `serve` and `reindex` overrides any of them:
//!
//! ```toml
//! # Each table is a report category (illegal_construction, sanitation, safety_hazard, noise,
//! # road_facility_damage, dispute, other); each key is optional and keeps its default when left
//! # out.
//! [safety_hazard]
//! accept_minutes = 60      # accepted (or rejected) within an hour of the report
//! resolve_minutes = 1440   # resolved within 24 hours of the report
//! priority = "urgent"      # low | normal | high | urgent
//!
//! points = 20            # a resident earns 20 points when a report of theirs is confirmed
//!
//! [noise]
//! resolve_minutes = 2880
//!
//! # Not a category: the business visits (走访). Both keys optional.
//! [visits]
//! every_days = 30        # each business is due a visit 30 days after its last one
//! checklist = ["fire_safety", "guest_registration", "food_safety", "hazards"]
//! ```
//!
//! A limit is 1 minute to 365 days, and the resolve limit is at least the accept limit; points
//! are 0 to 10,000; a visit is due every 1 to 365 days, and the checklist holds 1 to 50
//! distinct items of 1 to 64 characters (lower-case letters, digits and `_`). An
//! unknown category, key or priority, a value of the wrong type or out of range is a
//! [`RulesError`] that names the line, or the category and key. Changing the rules changes the
//! due times of reports already indexed only after `fieldsync-server reindex`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use fieldsync_core::model::ReportCategory;
use serde::Deserialize;

/// One minute in milliseconds.
const MINUTE_MS: i64 = 60_000;
/// The longest limit: 365 days, in minutes.
const MAX_LIMIT_MINUTES: i64 = 365 * 24 * 60;
/// The most points a confirmed report earns.
pub const MAX_REPORT_POINTS: i64 = 10_000;

/// How urgently a report is handled; ordered from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Whenever there is time.
    Low,
    /// In turn.
    Normal,
    /// Before the normal ones.
    High,
    /// At once.
    Urgent,
}

impl Priority {
    /// Every priority, least urgent first.
    pub const ALL: [Priority; 4] =
        [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

    /// The name the rules file and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Its rank, 0 (low) to 3 (urgent): what storage sorts by.
    pub fn rank(self) -> i64 {
        self as i64
    }

    /// The priority of a rank (see [`Priority::rank`]).
    pub fn from_rank(rank: i64) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.rank() == rank)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            format!(
                "unknown priority {:?}; expected one of low, normal, high, urgent",
                s.chars().take(40).collect::<String>()
            )
        })
    }
}

impl serde::Serialize for Priority {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The limits and priority of one report category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryRule {
    /// Time from the report's creation within which it must be accepted (or rejected), ms.
    pub accept_ms: i64,
    /// Time from the report's creation within which it must be resolved, ms.
    pub resolve_ms: i64,
    /// How urgently it is handled.
    pub priority: Priority,
    /// What its reporter earns when it is confirmed.
    pub points: i64,
}

impl CategoryRule {
    const fn hours(accept: i64, resolve: i64, priority: Priority, points: i64) -> CategoryRule {
        CategoryRule {
            accept_ms: accept * 60 * MINUTE_MS,
            resolve_ms: resolve * 60 * MINUTE_MS,
            priority,
            points,
        }
    }
}

/// The rules of business visits: how often each business is due one, and the checklist a
/// visit goes through (what phones are given with the registry, and what the server holds a
/// new visit's checklist to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRules {
    /// A business is due a visit this many days after its last one.
    pub every_days: u32,
    /// The checklist items, in order.
    pub checklist: Vec<String>,
}

/// The longest interval between visits, in days.
const MAX_VISIT_DAYS: i64 = 365;
/// The most checklist items.
const MAX_CHECKLIST: usize = 50;
/// The longest checklist item, in characters.
const MAX_ITEM_CHARS: usize = 64;

impl Default for VisitRules {
    /// Every 30 days: fire safety, guest registration, food safety, hazards.
    fn default() -> Self {
        VisitRules {
            every_days: 30,
            checklist: ["fire_safety", "guest_registration", "food_safety", "hazards"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl VisitRules {
    /// The interval between visits, in ms.
    pub fn every_ms(&self) -> i64 {
        i64::from(self.every_days) * 24 * 60 * MINUTE_MS
    }
}

/// The rules of every report category, and of business visits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    categories: BTreeMap<ReportCategory, CategoryRule>,
    // Boxed: `Rules` sits in the binary's argument enums, which stay small.
    visits: Box<VisitRules>,
}

/// Why a rules file was not taken.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("rules file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or has a key or value the rules do not take; the message
    /// names the line and column.
    #[error("rules file {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is of the right type but not allowed.
    #[error("rules file {path}: [{category}] {field}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// The category's table.
        category: String,
        /// The key.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// The table of the file that is not a report category.
const VISITS: &str = "visits";

/// One table as the file gives it: a category's (the first four keys) or `[visits]` (the
/// last two). One type for both keeps the parser's line numbers in every message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    accept_minutes: Option<i64>,
    resolve_minutes: Option<i64>,
    priority: Option<String>,
    points: Option<i64>,
    every_days: Option<i64>,
    checklist: Option<Vec<String>>,
}

impl Default for Rules {
    /// The built-in rules: a safety hazard is accepted within 1 hour and resolved within 24,
    /// urgent, and earns 20 points; illegal construction within 4 and 72 hours, high, 20
    /// points; the rest as set below.
    fn default() -> Self {
        use Priority::*;
        use ReportCategory as C;
        let categories = ReportCategory::ALL
            .iter()
            .map(|c| {
                let rule = match c {
                    C::SafetyHazard => CategoryRule::hours(1, 24, Urgent, 20),
                    C::IllegalConstruction => CategoryRule::hours(4, 72, High, 20),
                    C::Sanitation => CategoryRule::hours(4, 48, Normal, 10),
                    C::RoadFacilityDamage => CategoryRule::hours(8, 120, Normal, 10),
                    C::Noise => CategoryRule::hours(2, 24, Normal, 5),
                    C::Dispute => CategoryRule::hours(8, 72, Normal, 5),
                    C::Other => CategoryRule::hours(24, 168, Low, 5),
                };
                (*c, rule)
            })
            .collect();
        Rules { categories, visits: Box::default() }
    }
}

impl Rules {
    /// The rule of `category`.
    pub fn of(&self, category: ReportCategory) -> CategoryRule {
        self.categories.get(&category).copied().unwrap_or(CategoryRule::hours(
            24,
            168,
            Priority::Low,
            0,
        ))
    }

    /// The rules of business visits.
    pub fn visits(&self) -> &VisitRules {
        &self.visits
    }

    /// Reads a rules file (see the module's documentation): the defaults with what it sets.
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| RulesError::Io { path: name.clone(), source })?;
        Rules::parse(&text, &name)
    }

    /// Parses the text of a rules file named `path` (for messages).
    pub fn parse(text: &str, path: &str) -> Result<Rules, RulesError> {
        let file: BTreeMap<String, FileRule> = toml::from_str(text)
            .map_err(|e| RulesError::Syntax { path: path.to_string(), message: e.to_string() })?;
        let mut rules = Rules::default();
        for (name, given) in file {
            let invalid = |field, reason: String| RulesError::Invalid {
                path: path.to_string(),
                category: name.clone(),
                field,
                reason,
            };
            if name == VISITS {
                rules.visits = Box::new(visit_rules(given, path)?);
                continue;
            }
            for (field, set) in [
                ("every_days", given.every_days.is_some()),
                ("checklist", given.checklist.is_some()),
            ] {
                if set {
                    return Err(invalid(field, "only the [visits] table takes it".into()));
                }
            }
            let category = ReportCategory::from_str(&name).map_err(|_| {
                let known: Vec<&str> = ReportCategory::ALL.iter().map(|c| c.as_str()).collect();
                invalid("category", format!("not a report category; one of {}", known.join(", ")))
            })?;
            let mut rule = rules.of(category);
            for (field, minutes, slot) in [
                ("accept_minutes", given.accept_minutes, &mut rule.accept_ms),
                ("resolve_minutes", given.resolve_minutes, &mut rule.resolve_ms),
            ] {
                if let Some(m) = minutes {
                    if !(1..=MAX_LIMIT_MINUTES).contains(&m) {
                        return Err(invalid(
                            field,
                            format!("{m} minutes; a limit is 1 to {MAX_LIMIT_MINUTES}"),
                        ));
                    }
                    *slot = m * MINUTE_MS;
                }
            }
            if let Some(p) = &given.priority {
                rule.priority = p.parse().map_err(|e| invalid("priority", e))?;
            }
            if let Some(points) = given.points {
                if !(0..=MAX_REPORT_POINTS).contains(&points) {
                    return Err(invalid(
                        "points",
                        format!("{points}; a report earns 0 to {MAX_REPORT_POINTS} points"),
                    ));
                }
                rule.points = points;
            }
            if rule.resolve_ms < rule.accept_ms {
                return Err(invalid(
                    "resolve_minutes",
                    format!(
                        "{} minutes is shorter than the accept limit of {} minutes",
                        rule.resolve_ms / MINUTE_MS,
                        rule.accept_ms / MINUTE_MS
                    ),
                ));
            }
            rules.categories.insert(category, rule);
        }
        Ok(rules)
    }
}

/// The visit rules a `[visits]` table sets over the defaults.
fn visit_rules(given: FileRule, path: &str) -> Result<VisitRules, RulesError> {
    let invalid = |field, reason: String| RulesError::Invalid {
        path: path.to_string(),
        category: VISITS.to_string(),
        field,
        reason,
    };
    for (field, set) in [
        ("accept_minutes", given.accept_minutes.is_some()),
        ("resolve_minutes", given.resolve_minutes.is_some()),
        ("priority", given.priority.is_some()),
        ("points", given.points.is_some()),
    ] {
        if set {
            return Err(invalid(field, "a report category's key, not a visit rule".into()));
        }
    }
    let mut rules = VisitRules::default();
    if let Some(days) = given.every_days {
        if !(1..=MAX_VISIT_DAYS).contains(&days) {
            return Err(invalid(
                "every_days",
                format!("{days}; a visit is due every 1 to {MAX_VISIT_DAYS} days"),
            ));
        }
        rules.every_days = days as u32;
    }
    if let Some(items) = given.checklist {
        if items.is_empty() || items.len() > MAX_CHECKLIST {
            return Err(invalid(
                "checklist",
                format!("{} items; a checklist has 1 to {MAX_CHECKLIST}", items.len()),
            ));
        }
        for (i, item) in items.iter().enumerate() {
            let well_formed = !item.is_empty()
                && item.chars().count() <= MAX_ITEM_CHARS
                && item.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !well_formed {
                return Err(invalid(
                    "checklist",
                    format!(
                        "{item:?}: an item is 1 to {MAX_ITEM_CHARS} lower-case letters, digits or _"
                    ),
                ));
            }
            if items[..i].contains(item) {
                return Err(invalid("checklist", format!("{item:?} appears twice")));
            }
        }
        rules.checklist = items;
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_default_to_every_30_days_and_a_file_sets_them() {
        let r = Rules::default();
        assert_eq!(r.visits().every_days, 30);
        assert_eq!(
            r.visits().checklist,
            ["fire_safety", "guest_registration", "food_safety", "hazards"]
        );
        let r = Rules::parse(
            "[visits]\nevery_days = 14\nchecklist = [\"fire_safety\", \"boat_safety\"]\n[noise]\npoints = 3\n",
            "r.toml",
        )
        .unwrap();
        assert_eq!(r.visits().every_days, 14);
        assert_eq!(r.visits().checklist, ["fire_safety", "boat_safety"]);
        assert_eq!(r.visits().every_ms(), 14 * 86_400_000);
        assert_eq!(r.of(ReportCategory::Noise).points, 3);
        for (bad, field) in [
            ("[visits]\nevery_days = 0\n", "every_days"),
            ("[visits]\nevery_days = 400\n", "every_days"),
            ("[visits]\nchecklist = []\n", "checklist"),
            ("[visits]\nchecklist = [\"Fire Safety\"]\n", "checklist"),
            ("[visits]\nchecklist = [\"hazards\", \"hazards\"]\n", "checklist"),
        ] {
            let e = Rules::parse(bad, "r.toml").unwrap_err();
            assert!(
                matches!(&e, RulesError::Invalid { field: f, .. } if *f == field),
                "{bad}: {e}"
            );
        }
        let e = Rules::parse("[visits]\nevery = 3\n", "r.toml").unwrap_err();
        assert!(matches!(e, RulesError::Syntax { .. }) && e.to_string().contains("line 2"), "{e}");
        let e = Rules::parse("[visits]\npoints = 3\n", "r.toml").unwrap_err();
        assert!(matches!(e, RulesError::Invalid { field: "points", .. }), "{e}");
        let e = Rules::parse("[noise]\nevery_days = 3\n", "r.toml").unwrap_err();
        assert!(matches!(e, RulesError::Invalid { field: "every_days", .. }), "{e}");
    }

    #[test]
    fn defaults_follow_the_issue() {
        let r = Rules::default();
        let hazard = r.of(ReportCategory::SafetyHazard);
        assert_eq!((hazard.accept_ms, hazard.resolve_ms), (3_600_000, 86_400_000));
        assert_eq!(hazard.priority, Priority::Urgent);
        let building = r.of(ReportCategory::IllegalConstruction);
        assert_eq!((building.accept_ms, building.resolve_ms), (4 * 3_600_000, 72 * 3_600_000));
        assert_eq!(building.priority, Priority::High);
        for c in ReportCategory::ALL {
            let rule = r.of(*c);
            assert!(rule.accept_ms > 0 && rule.resolve_ms >= rule.accept_ms, "{c}");
        }
    }

    #[test]
    fn a_file_overrides_what_it_sets() {
        let r = Rules::parse(
            "[noise]\nresolve_minutes = 2880\npoints = 7\n[other]\npriority = \"high\"\naccept_minutes = 30\n",
            "r.toml",
        )
        .unwrap();
        assert_eq!(r.of(ReportCategory::Noise).points, 7);
        assert_eq!(
            r.of(ReportCategory::Other).points,
            Rules::default().of(ReportCategory::Other).points
        );
        let noise = r.of(ReportCategory::Noise);
        assert_eq!(noise.resolve_ms, 2880 * MINUTE_MS);
        assert_eq!(noise.accept_ms, Rules::default().of(ReportCategory::Noise).accept_ms);
        let other = r.of(ReportCategory::Other);
        assert_eq!((other.priority, other.accept_ms), (Priority::High, 30 * MINUTE_MS));
        assert_eq!(
            r.of(ReportCategory::SafetyHazard),
            Rules::default().of(ReportCategory::SafetyHazard)
        );
        assert_eq!(Rules::parse("", "empty.toml").unwrap(), Rules::default());
    }

    #[test]
    fn bad_files_name_the_line_or_the_field() {
        let e = Rules::parse("[noise]\nresolve_minutes = \"soon\"\n", "r.toml").unwrap_err();
        assert!(matches!(&e, RulesError::Syntax { .. }) && e.to_string().contains("line 2"), "{e}");
        let e = Rules::parse("[noise]\nescalate = true\n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("line 2") && e.to_string().contains("escalate"), "{e}");
        let e = Rules::parse("[graffiti]\naccept_minutes = 5\n", "r.toml").unwrap_err();
        assert!(matches!(e, RulesError::Invalid { field: "category", .. }), "{e}");
        let e = Rules::parse("[noise]\naccept_minutes = 0\n", "r.toml").unwrap_err();
        assert!(matches!(e, RulesError::Invalid { field: "accept_minutes", .. }), "{e}");
        let e = Rules::parse("[noise]\npoints = -5\n", "r.toml").unwrap_err();
        assert!(matches!(e, RulesError::Invalid { field: "points", .. }), "{e}");
        let e = Rules::parse("[noise]\npoints = 10001\n", "r.toml").unwrap_err();
        assert!(matches!(e, RulesError::Invalid { field: "points", .. }), "{e}");
        let e = Rules::parse("[noise]\npriority = \"asap\"\n", "r.toml").unwrap_err();
        assert!(matches!(e, RulesError::Invalid { field: "priority", .. }), "{e}");
        let e = Rules::parse("[noise]\naccept_minutes = 600\nresolve_minutes = 60\n", "r.toml")
            .unwrap_err();
        assert!(matches!(e, RulesError::Invalid { field: "resolve_minutes", .. }), "{e}");
        assert!(e.to_string().contains("[noise]"), "{e}");
        let e = Rules::parse("[noise\n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = Rules::load(Path::new("/nonexistent/rules.toml")).unwrap_err();
        assert!(matches!(e, RulesError::Io { .. }));
    }
}
