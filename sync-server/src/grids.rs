//! The grid outlines the board's map draws under its points: a GeoJSON file the operator gives
//! the server (`--grid-outlines FILE`), read and checked once at start, so the map needs no
//! online tiles. Each feature is a `Polygon` or `MultiPolygon` in WGS 84 longitude/latitude
//! (RFC 7946), with optional `name` and `scope` properties:
//!
//! ```json
//! {"type": "FeatureCollection", "features": [
//!   {"type": "Feature",
//!    "properties": {"name": "七网格", "scope": "jl/changchun/chaoyang/yongchang/xinhua/grid-07"},
//!    "geometry": {"type": "Polygon", "coordinates": [[[125.31, 43.87], [125.33, 43.87],
//!                                                      [125.33, 43.89], [125.31, 43.87]]]}}
//! ]}
//! ```
//!
//! A desk is given the outlines whose `scope` is inside one of its scopes or holds one of them
//! (an outline without a scope is everyone's): a grid leader's map shows their grid and the
//! street around it, not the others'. A mistake in the file (not JSON, another geometry, a
//! coordinate out of range, a ring of fewer than four points, too many features) is a
//! [`GridsError`] that says which feature.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use fieldsync_core::policy::{Profile, scope_covers};
use serde::Serialize;
use serde_json::Value;

/// The largest outlines file read (8 MiB).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// The most features a file may hold.
pub const MAX_FEATURES: usize = 10_000;
/// The longest name or scope kept, in characters.
const MAX_TEXT_CHARS: usize = 200;

/// A ring: closed, longitude and latitude pairs.
pub type Ring = Vec<[f64; 2]>;

/// One outline: a name, the scope it is of, and its polygons (each an outer ring and holes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outline {
    /// What the map labels it with (the `name` property, else the scope's last segment).
    pub name: String,
    /// The jurisdiction scope it outlines, if the file says.
    pub scope: Option<String>,
    /// Its polygons.
    pub polygons: Vec<Vec<Ring>>,
}

/// The operator's grid outlines, checked (one pointer, cheap to clone into every handler).
#[derive(Debug, Clone, Default)]
pub struct GridOutlines(Arc<Parsed>);

#[derive(Debug, Default)]
struct Parsed {
    /// The file's text, which two configurations compare by.
    source: String,
    outlines: Vec<Outline>,
}

impl PartialEq for GridOutlines {
    fn eq(&self, other: &Self) -> bool {
        self.0.source == other.0.source
    }
}

impl Eq for GridOutlines {}

/// Why an outlines file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridsError(String);

impl fmt::Display for GridsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "grid outlines: {}", self.0)
    }
}

impl std::error::Error for GridsError {}

fn refuse<T>(message: impl Into<String>) -> Result<T, GridsError> {
    Err(GridsError(message.into()))
}

impl GridOutlines {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<GridOutlines, GridsError> {
        let size = std::fs::metadata(path)
            .map_err(|e| GridsError(format!("{}: {e}", path.display())))?
            .len();
        if size > MAX_FILE_BYTES {
            return refuse(format!("{}: {size} bytes; at most {MAX_FILE_BYTES}", path.display()));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| GridsError(format!("{}: {e}", path.display())))?;
        GridOutlines::parse(&text)
    }

    /// Checks GeoJSON text: a `FeatureCollection` of polygon features, or one such `Feature`.
    pub fn parse(text: &str) -> Result<GridOutlines, GridsError> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| GridsError(format!("not JSON: {e}")))?;
        let features: Vec<&Value> = match doc.get("type").and_then(Value::as_str) {
            Some("FeatureCollection") => match doc.get("features").and_then(Value::as_array) {
                Some(f) => f.iter().collect(),
                None => return refuse("a FeatureCollection without a features array"),
            },
            Some("Feature") => vec![&doc],
            _ => return refuse("the file is not a GeoJSON FeatureCollection or Feature"),
        };
        if features.len() > MAX_FEATURES {
            return refuse(format!("{} features; at most {MAX_FEATURES}", features.len()));
        }
        let outlines = features
            .into_iter()
            .enumerate()
            .map(|(i, f)| outline(f).map_err(|e| GridsError(format!("feature {i}: {}", e.0))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GridOutlines(Arc::new(Parsed { source: text.into(), outlines })))
    }

    /// Every outline.
    pub fn all(&self) -> &[Outline] {
        &self.0.outlines
    }

    /// The outlines `reader` is shown: those of a scope inside or above one of theirs, and
    /// those of no scope.
    pub fn for_reader(&self, reader: &Profile) -> Vec<&Outline> {
        self.0
            .outlines
            .iter()
            .filter(|o| match &o.scope {
                None => true,
                Some(s) => reader.scopes.iter().any(|r| scope_covers(r, s) || scope_covers(s, r)),
            })
            .collect()
    }
}

fn text_property(properties: Option<&Value>, key: &str) -> Result<Option<String>, GridsError> {
    match properties.and_then(|p| p.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= MAX_TEXT_CHARS => Ok(Some(s.clone())),
        Some(Value::String(_)) => refuse(format!("{key}: longer than {MAX_TEXT_CHARS} characters")),
        Some(_) => refuse(format!("{key}: not a string")),
    }
}

fn outline(feature: &Value) -> Result<Outline, GridsError> {
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        return refuse("not a Feature");
    }
    let properties = feature.get("properties");
    let scope = text_property(properties, "scope")?;
    let name = text_property(properties, "name")?.unwrap_or_else(|| {
        scope.as_deref().and_then(|s| s.rsplit('/').next()).unwrap_or_default().to_string()
    });
    let Some(geometry) = feature.get("geometry") else {
        return refuse("no geometry");
    };
    let coordinates = geometry.get("coordinates");
    let polygons = match (geometry.get("type").and_then(Value::as_str), coordinates) {
        (Some("Polygon"), Some(c)) => vec![polygon(c)?],
        (Some("MultiPolygon"), Some(Value::Array(ps))) => {
            ps.iter().map(polygon).collect::<Result<Vec<_>, _>>()?
        }
        _ => return refuse("the geometry is not a Polygon or MultiPolygon with coordinates"),
    };
    Ok(Outline { name, scope, polygons })
}

fn polygon(rings: &Value) -> Result<Vec<Ring>, GridsError> {
    let Some(rings) = rings.as_array().filter(|r| !r.is_empty()) else {
        return refuse("a polygon is not a list of rings");
    };
    rings.iter().map(ring).collect()
}

fn ring(points: &Value) -> Result<Ring, GridsError> {
    let Some(points) = points.as_array() else {
        return refuse("a ring is not a list of positions");
    };
    if points.len() < 4 {
        return refuse(format!(
            "a ring of {} positions; a closed ring has at least 4",
            points.len()
        ));
    }
    points
        .iter()
        .map(|p| {
            let lon = p.get(0).and_then(Value::as_f64);
            let lat = p.get(1).and_then(Value::as_f64);
            match (lon, lat) {
                (Some(lon), Some(lat))
                    if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) =>
                {
                    Ok([lon, lat])
                }
                _ => refuse(format!("{p} is not a longitude and latitude")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldsync_core::policy::Role;

    const SQUARE: &str = "[[[125.31, 43.87], [125.33, 43.87], [125.33, 43.89], [125.31, 43.87]]]";

    fn feature(scope: &str) -> String {
        format!(
            r#"{{"type": "Feature", "properties": {{"scope": "{scope}"}},
                "geometry": {{"type": "Polygon", "coordinates": {SQUARE}}}}}"#
        )
    }

    #[test]
    fn outlines_are_read_and_cut_to_the_readers_scopes() {
        let text = format!(
            r#"{{"type": "FeatureCollection", "features": [{}, {}, {}]}}"#,
            feature("jl/cc/grid-07"),
            feature("jl/cc/grid-08"),
            feature("jl/cc")
        );
        let g = GridOutlines::parse(&text).unwrap();
        assert_eq!(g.all().len(), 3);
        assert_eq!(g.all()[0].name, "grid-07", "the scope's last segment names it");
        assert_eq!(g.all()[0].polygons[0][0][1], [125.33, 43.87]);
        let leader = Profile {
            user: "lead".into(),
            role: Role::GridLeader,
            patrol: None,
            scopes: vec!["jl/cc/grid-07".into()],
        };
        let names: Vec<&str> = g.for_reader(&leader).iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["grid-07", "cc"], "their grid and the street around it");
        assert_eq!(GridOutlines::parse(&feature("x")).unwrap().all().len(), 1, "one Feature");
    }

    #[test]
    fn a_mistake_names_its_feature() {
        let bad = |text: &str| GridOutlines::parse(text).unwrap_err().to_string();
        assert!(bad("{").contains("not JSON"));
        assert!(bad(r#"{"type": "Point"}"#).contains("not a GeoJSON"));
        let point = r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
            "geometry": {"type": "Point", "coordinates": [1, 2]}}]}"#;
        assert!(bad(point).contains("feature 0: the geometry"), "{}", bad(point));
        let far = feature("a").replace("43.89", "93.89");
        assert!(bad(&far).contains("not a longitude and latitude"), "{}", bad(&far));
        let short = r#"{"type": "Feature", "geometry": {"type": "Polygon",
            "coordinates": [[[1, 2], [2, 3], [1, 2]]]}}"#;
        assert!(bad(short).contains("at least 4"));
        let long = feature(&"x".repeat(201));
        assert!(bad(&long).contains("scope: longer"));
    }
}
