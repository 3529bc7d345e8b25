//! Validation issues shaped like zod's (`{code, path, message, ...}`), which Infisical returns as
//! the `message` array of a 422 `ValidationFailure`.

use serde_json::{Value, json};

/// A path element: an object key or an array index.
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Builds a JSON path array.
pub(crate) fn path(segs: &[Seg]) -> Value {
    Value::Array(
        segs.iter()
            .map(|s| match s {
                Seg::Key(k) => Value::String(k.clone()),
                Seg::Index(i) => Value::from(*i),
            })
            .collect(),
    )
}

/// The zod name of a JSON value's type.
pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// `invalid_type` ("Required" when the value is missing).
pub(crate) fn invalid_type(p: &[Seg], expected: &str, got: Option<&Value>) -> Value {
    let received = type_name(got);
    let message = if received == "undefined" {
        "Required".to_owned()
    } else {
        format!("Expected {expected}, received {received}")
    };
    json!({"code": "invalid_type", "expected": expected, "received": received,
           "path": path(p), "message": message})
}

/// `invalid_type` for a float where an integer is wanted.
pub(crate) fn not_integer(p: &[Seg]) -> Value {
    json!({"code": "invalid_type", "expected": "integer", "received": "float",
           "path": path(p), "message": "Expected integer, received float"})
}

/// `too_small` for a number, string length or array length.
pub(crate) fn too_small(p: &[Seg], kind: &str, minimum: u64, message: Option<&str>) -> Value {
    let message = message.map(str::to_owned).unwrap_or_else(|| match kind {
        "string" => format!("String must contain at least {minimum} character(s)"),
        "array" => format!("Array must contain at least {minimum} element(s)"),
        _ => format!("Number must be greater than or equal to {minimum}"),
    });
    json!({"code": "too_small", "minimum": minimum, "type": kind, "inclusive": true,
           "exact": false, "message": message, "path": path(p)})
}

/// `too_big` for a number or string length.
pub(crate) fn too_big(p: &[Seg], kind: &str, maximum: u64, message: Option<&str>) -> Value {
    let message = message.map(str::to_owned).unwrap_or_else(|| match kind {
        "string" => format!("String must contain at most {maximum} character(s)"),
        "array" => format!("Array must contain at most {maximum} element(s)"),
        _ => format!("Number must be less than or equal to {maximum}"),
    });
    json!({"code": "too_big", "maximum": maximum, "type": kind, "inclusive": true,
           "exact": false, "message": message, "path": path(p)})
}

/// `custom` (a `.refine` failure).
pub(crate) fn custom(p: &[Seg], message: &str) -> Value {
    json!({"code": "custom", "message": message, "path": path(p)})
}

/// `invalid_enum_value`.
pub(crate) fn invalid_enum(p: &[Seg], options: &[&str], got: &str) -> Value {
    let expected = options
        .iter()
        .map(|o| format!("'{o}'"))
        .collect::<Vec<_>>()
        .join(" | ");
    json!({"received": got, "code": "invalid_enum_value", "options": options, "path": path(p),
           "message": format!("Invalid enum value. Expected {expected}, received '{got}'")})
}

/// `invalid_union_discriminator`.
pub(crate) fn invalid_discriminator(p: &[Seg], options: &[&str]) -> Value {
    let expected = options
        .iter()
        .map(|o| format!("'{o}'"))
        .collect::<Vec<_>>()
        .join(" | ");
    json!({"code": "invalid_union_discriminator", "options": options, "path": path(p),
           "message": format!("Invalid discriminator value. Expected {expected}")})
}

/// `invalid_string` (url, uuid, regex).
pub(crate) fn invalid_string(p: &[Seg], validation: &str) -> Value {
    let message = match validation {
        "url" => "Invalid url",
        "uuid" => "Invalid uuid",
        _ => "Invalid",
    };
    json!({"validation": validation, "code": "invalid_string", "message": message,
           "path": path(p)})
}

/// Shorthand for a one-key path.
pub(crate) fn key(k: &str) -> Vec<Seg> {
    vec![Seg::Key(k.to_owned())]
}
