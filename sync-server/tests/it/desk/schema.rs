//! A JSON Schema (draft 2020-12) checker for the keywords the desk's OpenAPI document uses:
//! `type`, `properties`, `required`, `additionalProperties`, `items`, `minItems`, `maxItems`,
//! `enum`, `const`, `minimum`, `maximum`, `pattern`, `allOf`, `anyOf`, `oneOf` and local
//! `$ref`s; `format`, `description` and `title` are annotations, as the draft has them by
//! default.
//!
//! It fails closed: a keyword it does not know makes [`compile`] (and [`errors`]) panic, so the
//! document cannot gain a rule that the tests would silently skip. The jsonschema crate did
//! this job with 33 crates of its own (two regex engines, big numbers, e-mail and URI parsers):
//! about a fifth of the CPU time of a clean CI build for the 15 keywords above. Patterns use the
//! regex-automata DFA the server's log filter already builds.

use regex_automata::Input;
use regex_automata::dfa::Automaton as _;
use regex_automata::dfa::dense::DFA;
use serde_json::Value;

/// Keywords that only describe.
const ANNOTATIONS: [&str; 3] = ["format", "description", "title"];

/// Checks that `schema` (within the document `root`, which its `$ref`s point into) uses only
/// known keywords, that its references resolve and its patterns compile; panics naming the
/// first fault.
pub fn compile(schema: &Value, root: &Value) {
    walk_schema(schema, root, "#", &mut Vec::new());
}

fn walk_schema<'a>(schema: &'a Value, root: &'a Value, at: &str, refs: &mut Vec<&'a str>) {
    let Some(map) = schema.as_object() else {
        assert!(schema.is_boolean(), "{at}: a schema is an object or a boolean");
        return;
    };
    for (key, value) in map {
        let here = format!("{at}/{key}");
        match key.as_str() {
            "$ref" => {
                let target = reference(value, root, &here);
                let name = value.as_str().unwrap_or_default();
                if !refs.contains(&name) {
                    refs.push(name);
                    walk_schema(target, root, name, refs);
                }
            }
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(v) => v.iter().collect(),
                    one => vec![one],
                };
                for n in names {
                    let known =
                        ["null", "boolean", "object", "array", "number", "string", "integer"];
                    assert!(n.as_str().is_some_and(|n| known.contains(&n)), "{here}: type {n}");
                }
            }
            "properties" => {
                let props = value.as_object().unwrap_or_else(|| panic!("{here}: not an object"));
                for (name, sub) in props {
                    walk_schema(sub, root, &format!("{here}/{name}"), refs);
                }
            }
            "required" | "enum" => assert!(value.is_array(), "{here}: not an array"),
            "additionalProperties" | "items" => walk_schema(value, root, &here, refs),
            "allOf" | "anyOf" | "oneOf" => {
                let subs = value.as_array().unwrap_or_else(|| panic!("{here}: not an array"));
                for (i, sub) in subs.iter().enumerate() {
                    walk_schema(sub, root, &format!("{here}/{i}"), refs);
                }
            }
            "minItems" | "maxItems" => assert!(value.is_u64(), "{here}: not a count"),
            "minimum" | "maximum" => assert!(value.is_number(), "{here}: not a number"),
            "pattern" => drop(pattern(value, &here)),
            "const" => {}
            // The wrapper the tests put around a schema carries the document's components.
            "components" if at == "#" => {}
            k if ANNOTATIONS.contains(&k) => {}
            unknown => panic!("{here}: the checker does not know the keyword {unknown:?}"),
        }
    }
}

fn reference<'a>(value: &Value, root: &'a Value, at: &str) -> &'a Value {
    let target = value.as_str().and_then(|r| r.strip_prefix('#'));
    let target = target.unwrap_or_else(|| panic!("{at}: only local references ({value})"));
    root.pointer(target).unwrap_or_else(|| panic!("{at}: {value} points at nothing"))
}

fn pattern(value: &Value, at: &str) -> DFA<Vec<u32>> {
    let source = value.as_str().unwrap_or_else(|| panic!("{at}: not a string"));
    DFA::new(source).unwrap_or_else(|e| panic!("{at}: pattern {source:?}: {e}"))
}

/// Where `instance` departs from `schema` (within `root`): one message per fault, each with
/// the JSON pointer of the value at fault. Empty when it conforms.
pub fn errors(schema: &Value, root: &Value, instance: &Value) -> Vec<String> {
    compile(schema, root);
    let mut out = Vec::new();
    check(schema, root, instance, "", &mut out);
    out
}

fn check(schema: &Value, root: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
    let map = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => return fail(out, path, "nothing is allowed".into()),
        Value::Object(map) => map,
        _ => unreachable!("compile checked the schema"),
    };
    for (key, rule) in map {
        match key.as_str() {
            "$ref" => {
                check(reference(rule, root, path), root, v, path, out);
            }
            "type" => {
                let names: Vec<&str> = match rule {
                    Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
                    one => one.as_str().into_iter().collect(),
                };
                if !names.iter().any(|n| is_type(v, n)) {
                    fail(out, path, format!("{v} is not of type {rule}"));
                }
            }
            "properties" => {
                let (Some(props), Some(obj)) = (rule.as_object(), v.as_object()) else { continue };
                for (name, sub) in props {
                    if let Some(value) = obj.get(name) {
                        check(sub, root, value, &format!("{path}/{name}"), out);
                    }
                }
            }
            "required" => {
                let Some(obj) = v.as_object() else { continue };
                for name in rule.as_array().into_iter().flatten().filter_map(Value::as_str) {
                    if !obj.contains_key(name) {
                        fail(out, path, format!("{name:?} is a required property"));
                    }
                }
            }
            "additionalProperties" => {
                let Some(obj) = v.as_object() else { continue };
                let declared = map.get("properties").and_then(Value::as_object);
                for (name, value) in obj {
                    if declared.is_some_and(|d| d.contains_key(name)) {
                        continue;
                    }
                    if rule == &Value::Bool(false) {
                        fail(out, path, format!("additional property {name:?} is not allowed"));
                    } else {
                        check(rule, root, value, &format!("{path}/{name}"), out);
                    }
                }
            }
            "items" => {
                let Some(items) = v.as_array() else { continue };
                for (i, item) in items.iter().enumerate() {
                    check(rule, root, item, &format!("{path}/{i}"), out);
                }
            }
            "minItems" | "maxItems" => {
                let (Some(items), Some(bound)) = (v.as_array(), rule.as_u64()) else { continue };
                let n = items.len() as u64;
                if (key == "minItems" && n < bound) || (key == "maxItems" && n > bound) {
                    fail(out, path, format!("{n} items, {key} {bound}"));
                }
            }
            "enum" if !rule.as_array().is_some_and(|vs| vs.iter().any(|e| same(e, v))) => {
                fail(out, path, format!("{v} is not one of {rule}"));
            }
            "const" if !same(rule, v) => fail(out, path, format!("{v} is not {rule}")),
            "minimum" | "maximum" => {
                let (Some(x), Some(bound)) = (v.as_f64(), rule.as_f64()) else { continue };
                if (key == "minimum" && x < bound) || (key == "maximum" && x > bound) {
                    fail(out, path, format!("{v} is outside {key} {rule}"));
                }
            }
            "pattern" => {
                let Some(s) = v.as_str() else { continue };
                let dfa = pattern(rule, path);
                let found = dfa.try_search_fwd(&Input::new(s)).expect("a DFA search of a string");
                if found.is_none() {
                    fail(out, path, format!("{v} does not match {rule}"));
                }
            }
            "allOf" | "anyOf" | "oneOf" => {
                let subs = rule.as_array().map(Vec::as_slice).unwrap_or_default();
                let results: Vec<Vec<String>> = subs
                    .iter()
                    .map(|sub| {
                        let mut inner = Vec::new();
                        check(sub, root, v, path, &mut inner);
                        inner
                    })
                    .collect();
                let passed = results.iter().filter(|r| r.is_empty()).count();
                match key.as_str() {
                    "allOf" => out.extend(results.into_iter().flatten()),
                    "anyOf" if passed == 0 => fail(
                        out,
                        path,
                        format!("{v} matches none of anyOf: {:?}", results.concat()),
                    ),
                    "oneOf" if passed != 1 => fail(
                        out,
                        path,
                        format!(
                            "{v} matches {passed} of oneOf, not exactly one: {:?}",
                            results.concat()
                        ),
                    ),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// Records a fault of the value at `path`.
fn fail(out: &mut Vec<String>, path: &str, what: String) {
    out.push(format!("{what} at {path:?}"));
}

fn is_type(v: &Value, name: &str) -> bool {
    match name {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        // As the draft counts it: a number with no fractional part (1.0 too).
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

/// Equality as the draft defines it: numbers by value (1 and 1.0 are the same).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::errors;

    fn root() -> serde_json::Value {
        json!({ "components": { "schemas": {
            "Row": {
                "type": "object",
                "required": ["id", "state"],
                "additionalProperties": false,
                "properties": {
                    "id": { "type": "string", "pattern": "^[0-9a-f]{4}$" },
                    "state": { "enum": ["open", "closed"] },
                    "n": { "type": "integer", "minimum": 0, "maximum": 10 },
                    "at": { "type": ["integer", "null"], "format": "int64" },
                    "tags": { "type": "array", "items": { "type": "string" }, "maxItems": 2 },
                    "kind": { "oneOf": [{ "const": "a" }, { "const": "b" }] }
                }
            }
        }}})
    }

    fn faults(instance: serde_json::Value) -> Vec<String> {
        let root = root();
        errors(&json!({ "$ref": "#/components/schemas/Row" }), &root, &instance)
    }

    #[test]
    fn a_conforming_value_has_no_faults() {
        let ok = json!({ "id": "00af", "state": "open", "n": 3, "at": null, "tags": ["x"], "kind": "b" });
        assert_eq!(faults(ok), Vec::<String>::new());
    }

    #[test]
    fn each_rule_is_enforced() {
        let cases = [
            (json!({ "state": "open" }), "\"id\" is a required property"),
            (json!({ "id": "00AF", "state": "open" }), "does not match"),
            (json!({ "id": "00af", "state": "lost" }), "is not one of"),
            (json!({ "id": "00af", "state": "open", "n": 11 }), "outside maximum"),
            (json!({ "id": "00af", "state": "open", "n": 1.5 }), "not of type"),
            (json!({ "id": "00af", "state": "open", "at": "now" }), "not of type"),
            (json!({ "id": "00af", "state": "open", "tags": [1] }), "not of type"),
            (json!({ "id": "00af", "state": "open", "tags": ["a", "b", "c"] }), "maxItems"),
            (json!({ "id": "00af", "state": "open", "kind": "c" }), "matches 0 of oneOf"),
            (json!({ "id": "00af", "state": "open", "extra": 1 }), "additional property"),
        ];
        for (instance, want) in cases {
            let got = faults(instance.clone());
            assert!(got.iter().any(|f| f.contains(want)), "{instance}: {got:?}, wanted {want}");
        }
    }

    #[test]
    #[should_panic(expected = "does not know the keyword \"minLength\"")]
    fn an_unknown_keyword_is_refused_not_skipped() {
        errors(&json!({ "type": "string", "minLength": 3 }), &json!({}), &json!("ab"));
    }
}
