//! spiffe-auth, the one method whose API Infisical has changed shape: two versions of the
//! router and service over the same database row. This module owns both shapes: how a stored
//! row is shown on GET and how each version's PATCH schema and service turn a body into row
//! columns. Everything common to all methods (TTLs, trusted IPs, the update itself) stays in
//! `patch.rs`.
//!
//! The row (Infisical's source: the `identity_spiffe_auths` table, `db/schemas/
//! identity-spiffe-auths.ts`) holds the trust-bundle source in flat columns:
//! `configurationType`, `caBundleJwks`, `bundleEndpointUrl`, `bundleEndpointProfile`,
//! `bundleEndpointCaCert`, `bundleRefreshHintSeconds`, `cachedBundleLastRefreshedAt` (the
//! encrypted ones stored here decrypted, as GET returns them).
//!
//! - [`SpiffeApi::Flat`] (`server/routes/v1/identity-spiffe-auth-router.ts` and
//!   `services/identity-spiffe-auth/` of the version with `SpiffeConfigurationType`
//!   `static`/`remote` and `SpiffeBundleEndpointProfile` `https_web`/`https_spiffe`): GET returns
//!   the row's columns; the PATCH body is a discriminated union on `configurationType`
//!   (required), and the fields it omits take their schema defaults, so a PATCH resets the
//!   trust-bundle source. `static`: `caBundleJwks` required (min 1), `bundleEndpointUrl` → `""`,
//!   `bundleEndpointCaCert` → `""`, `bundleRefreshHintSeconds` → 3600, `bundleEndpointProfile`
//!   kept unless sent. `remote`: `bundleEndpointUrl` required (URL, https), `caBundleJwks` →
//!   `""`, `bundleEndpointCaCert` → `""`, `bundleRefreshHintSeconds` → 3600,
//!   `bundleEndpointProfile` → `https_web`.
//! - [`SpiffeApi::TrustBundleDistribution`] (the newer router: `trustBundleDistribution` =
//!   `{profile: "static", bundle}` | `{profile: "https_web_bundle", endpointUrl, caCert?,
//!   refreshHintSeconds (default 3600)}`): GET nests the trust bundle and hides the columns; the
//!   PATCH body is the attach schema made `.partial()`, so an omitted field is kept, and a sent
//!   `trustBundleDistribution` is flattened into the columns.

use serde_json::{Map, Value, json};

use super::SpiffeApi;
use super::patch::{PatchError, Validator, is_url, normalise};
use super::zod::{self, Seg};

/// The row columns that hold the trust-bundle source (hidden by the newer GET).
const BUNDLE_COLUMNS: [&str; 7] = [
    "configurationType",
    "caBundleJwks",
    "bundleEndpointUrl",
    "bundleEndpointProfile",
    "bundleEndpointCaCert",
    "bundleRefreshHintSeconds",
    "cachedBundleLastRefreshedAt",
];

/// `SpiffeBundleEndpointProfile` of the flat version.
const ENDPOINT_PROFILES: [&str; 2] = ["https_web", "https_spiffe"];

/// What GET shows of a stored row. A row without `configurationType` (hand-built in a GET
/// form) is shown as stored.
pub(crate) fn view(row: &Map<String, Value>, api: SpiffeApi) -> Map<String, Value> {
    let Some(kind) = row.get("configurationType").and_then(Value::as_str) else {
        return row.clone();
    };
    match api {
        SpiffeApi::Flat => row.clone(),
        SpiffeApi::TrustBundleDistribution => {
            let text = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            // `$buildTrustBundleDistributionResponse`: anything but "static" is a web bundle.
            let distribution = if kind == "static" {
                json!({"profile": "static", "bundle": text("caBundleJwks")})
            } else {
                json!({"profile": "https_web_bundle", "endpointUrl": text("bundleEndpointUrl"),
                       "caCert": text("bundleEndpointCaCert"),
                       "refreshHintSeconds": row.get("bundleRefreshHintSeconds")
                           .cloned().unwrap_or(Value::from(300)),
                       "cachedBundleLastRefreshedAt": row.get("cachedBundleLastRefreshedAt")
                           .cloned().unwrap_or(Value::Null)})
            };
            let mut out: Map<String, Value> = row
                .iter()
                .filter(|(k, _)| !BUNDLE_COLUMNS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            out.insert("trustBundleDistribution".into(), distribution);
            out
        }
    }
}

/// The flat version's discriminator check, which zod runs before anything else in the body:
/// a missing or unknown `configurationType` is the only issue reported.
pub(crate) fn discriminator_issue(body: &Map<String, Value>, api: SpiffeApi) -> Option<Value> {
    if api != SpiffeApi::Flat {
        return None;
    }
    match body.get("configurationType").and_then(Value::as_str) {
        Some("static" | "remote") => None,
        _ => Some(zod::invalid_discriminator(
            &zod::key("configurationType"),
            &["static", "remote"],
        )),
    }
}

/// Validates the spiffe-specific fields of a PATCH body into row columns (in `v.out`).
pub(crate) fn validate(v: &mut Validator<'_>, api: SpiffeApi) {
    common(v);
    match api {
        SpiffeApi::Flat => flat(v),
        SpiffeApi::TrustBundleDistribution => distribution(v),
    }
}

/// The service's checks on the trust bundle, after the schema and the common checks: the
/// newer service parses a static bundle as a JWKS (`$validateSpiffeConfig`). GUESS: a remote
/// bundle endpoint, which it fetches, is taken as reachable; `blockLocalAndPrivateIpAddresses`
/// on the endpoint URL is not simulated in either version.
pub(crate) fn service_check(out: &Map<String, Value>, api: SpiffeApi) -> Result<(), PatchError> {
    if api != SpiffeApi::TrustBundleDistribution
        || out.get("configurationType").and_then(Value::as_str) != Some("static")
    {
        return Ok(());
    }
    let bundle = out
        .get("caBundleJwks")
        .and_then(Value::as_str)
        .unwrap_or("");
    let jwks_like = serde_json::from_str::<Value>(bundle).is_ok_and(|v| {
        v.get("keys")
            .and_then(Value::as_array)
            .is_some_and(|keys| keys.iter().all(Value::is_object))
    });
    if jwks_like {
        Ok(())
    } else {
        Err(PatchError::BadRequest(
            "The provided CA Bundle JWKS is not valid JWKS".into(),
        ))
    }
}

/// `trustDomain`, `allowedSpiffeIds`, `allowedAudiences` (Infisical's source:
/// `identity-spiffe-auth-validators.ts`; the same in both versions).
fn common(v: &mut Validator<'_>) {
    let p = zod::key("trustDomain");
    if let Some(d) = trimmed(v, "trustDomain") {
        // /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/
        let ok = d
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && d.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && d.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
        if d.is_empty() {
            v.issues.push(zod::too_small(
                &p,
                "string",
                1,
                Some("Trust domain is required"),
            ));
        } else if !ok {
            v.issues.push(json!({"validation": "regex", "code": "invalid_string",
                                 "message": "Invalid trust domain format", "path": ["trustDomain"]}));
        } else {
            v.out.insert("trustDomain".into(), Value::String(d));
        }
    }
    for (key, message) in [
        (
            "allowedSpiffeIds",
            "At least one SPIFFE ID pattern is required",
        ),
        ("allowedAudiences", "At least one audience is required"),
    ] {
        if let Some(s) = trimmed(v, key) {
            if s.is_empty() {
                let issue = zod::too_small(&zod::key(key), "string", 1, Some(message));
                v.issues.push(issue);
            } else {
                v.out.insert(key.into(), Value::String(normalise(&s, ", ")));
            }
        }
    }
}

/// A top-level string, trimmed; `None` when omitted or not a string (a type issue recorded).
fn trimmed(v: &mut Validator<'_>, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()),
        other => {
            let issue = zod::invalid_type(&zod::key(key), "string", Some(other));
            v.issues.push(issue);
            None
        }
    }
}

/// A top-level string taken as sent (no trim), or `default` when omitted.
fn raw_string(v: &mut Validator<'_>, key: &str, default: Option<&str>, min: usize) {
    match v.get(key) {
        None => {
            if let Some(d) = default {
                v.out.insert(key.into(), Value::String(d.into()));
            } else {
                v.issues
                    .push(zod::invalid_type(&zod::key(key), "string", None));
            }
        }
        Some(Value::String(s)) if s.chars().count() < min => {
            let issue = zod::too_small(&zod::key(key), "string", min as u64, None);
            v.issues.push(issue);
        }
        Some(Value::String(s)) => {
            let s = s.clone();
            v.out.insert(key.into(), Value::String(s));
        }
        Some(other) => {
            let issue = zod::invalid_type(&zod::key(key), "string", Some(other));
            v.issues.push(issue);
        }
    }
}

/// The flat version: `StaticConfigurationSchema` / `RemoteConfigurationSchema` merged with the
/// common update fields (the discriminator was checked first).
fn flat(v: &mut Validator<'_>) {
    let remote = v.get("configurationType").and_then(Value::as_str) == Some("remote");
    let kind = if remote { "remote" } else { "static" };
    v.out
        .insert("configurationType".into(), Value::String(kind.into()));
    if remote {
        raw_string(v, "caBundleJwks", Some(""), 0);
        endpoint_url(v);
        if v.enumeration("bundleEndpointProfile", &ENDPOINT_PROFILES)
            .is_none()
            && v.get("bundleEndpointProfile").is_none()
        {
            v.out
                .insert("bundleEndpointProfile".into(), Value::from("https_web"));
        }
    } else {
        raw_string(v, "caBundleJwks", None, 1);
        raw_string(v, "bundleEndpointUrl", Some(""), 0);
        // `.optional()` without a default: an omitted profile is left as stored.
        v.enumeration("bundleEndpointProfile", &ENDPOINT_PROFILES);
    }
    raw_string(v, "bundleEndpointCaCert", Some(""), 0);
    if v.get("bundleRefreshHintSeconds").is_none() {
        v.out
            .insert("bundleRefreshHintSeconds".into(), Value::from(3600));
    } else {
        v.int("bundleRefreshHintSeconds", 0, None);
    }
}

/// The remote `bundleEndpointUrl`: required, trimmed, a URL, and (a refinement zod runs even
/// after a failed URL check) starting with `https://`.
fn endpoint_url(v: &mut Validator<'_>) {
    let key = "bundleEndpointUrl";
    let Some(url) = trimmed(v, key) else {
        if v.get(key).is_none() {
            v.issues
                .push(zod::invalid_type(&zod::key(key), "string", None));
        }
        return;
    };
    let mut ok = true;
    if !is_url(&url) {
        ok = false;
        v.issues.push(zod::invalid_string(&zod::key(key), "url"));
    }
    if !url.starts_with("https://") {
        ok = false;
        v.issues.push(zod::custom(
            &zod::key(key),
            "Bundle endpoint URL must use HTTPS",
        ));
    }
    if ok {
        v.out.insert(key.into(), Value::String(url));
    }
}

/// The newer version: an optional `trustBundleDistribution`, flattened into the columns as
/// `$flattenTrustBundleDistribution` does (static: the bundle, no endpoint, no CA, refresh hint
/// kept; web bundle: no JWKS, the endpoint, its CA or nothing, the refresh hint).
fn distribution(v: &mut Validator<'_>) {
    let key = "trustBundleDistribution";
    let sub = |k: &str| vec![Seg::Key(key.into()), Seg::Key(k.into())];
    let o = match v.get(key) {
        None => return,
        Some(Value::Object(o)) => o,
        Some(other) => {
            let issue = zod::invalid_type(&zod::key(key), "object", Some(other));
            v.issues.push(issue);
            return;
        }
    };
    match o.get("profile").and_then(Value::as_str) {
        Some("static") => match o.get("bundle") {
            Some(Value::String(b)) if !b.is_empty() => {
                let columns = json!({"configurationType": "static", "caBundleJwks": b,
                                     "bundleEndpointUrl": null, "bundleEndpointCaCert": ""});
                extend(&mut v.out, columns);
            }
            Some(Value::String(_)) => {
                v.issues
                    .push(zod::too_small(&sub("bundle"), "string", 1, None));
            }
            other => {
                v.issues
                    .push(zod::invalid_type(&sub("bundle"), "string", other));
            }
        },
        Some("https_web_bundle") => {
            let before = v.issues.len();
            let url = match o.get("endpointUrl") {
                Some(Value::String(u)) => {
                    let u = u.trim().to_owned();
                    if !is_url(&u) {
                        v.issues
                            .push(zod::invalid_string(&sub("endpointUrl"), "url"));
                    }
                    if !u.starts_with("https://") {
                        v.issues.push(zod::custom(
                            &sub("endpointUrl"),
                            "Bundle endpoint URL must use HTTPS",
                        ));
                    }
                    u
                }
                other => {
                    v.issues
                        .push(zod::invalid_type(&sub("endpointUrl"), "string", other));
                    String::new()
                }
            };
            let ca = match o.get("caCert") {
                None => String::new(),
                Some(Value::String(c)) => c.clone(),
                Some(other) => {
                    v.issues
                        .push(zod::invalid_type(&sub("caCert"), "string", Some(other)));
                    String::new()
                }
            };
            let hint = match o.get("refreshHintSeconds") {
                None => Some(3600),
                Some(n) => non_negative_int(n, &sub("refreshHintSeconds"), &mut v.issues),
            };
            if let (Some(hint), true) = (hint, v.issues.len() == before) {
                let columns = json!({"configurationType": "https_web_bundle",
                    "caBundleJwks": "", "bundleEndpointUrl": url, "bundleEndpointCaCert": ca,
                    "bundleRefreshHintSeconds": hint});
                extend(&mut v.out, columns);
            }
        }
        _ => {
            v.issues.push(zod::invalid_discriminator(
                &sub("profile"),
                &["static", "https_web_bundle"],
            ));
        }
    }
}

/// `z.number().int().min(0)` at `p`.
fn non_negative_int(n: &Value, p: &[Seg], issues: &mut Vec<Value>) -> Option<u64> {
    let Some(f) = n.as_f64().filter(|_| n.is_number()) else {
        issues.push(zod::invalid_type(p, "number", Some(n)));
        return None;
    };
    if f.fract() != 0.0 {
        issues.push(zod::not_integer(p));
        return None;
    }
    if f < 0.0 {
        issues.push(zod::too_small(p, "number", 0, None));
        return None;
    }
    Some(f as u64)
}

fn extend(out: &mut Map<String, Value>, columns: Value) {
    if let Value::Object(columns) = columns {
        out.extend(columns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote_row() -> Map<String, Value> {
        json!({"id": "x", "trustDomain": "corp.example", "configurationType": "remote",
               "caBundleJwks": "", "bundleEndpointUrl": "https://spire.corp.example:8443",
               "bundleEndpointProfile": "https_spiffe", "bundleEndpointCaCert": "PEM",
               "bundleRefreshHintSeconds": 300, "cachedBundleLastRefreshedAt": null,
               "accessTokenTTL": 600})
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn flat_view_is_the_row_and_newer_view_nests_the_bundle() {
        let row = remote_row();
        assert_eq!(view(&row, SpiffeApi::Flat), row);
        let nested = view(&row, SpiffeApi::TrustBundleDistribution);
        assert_eq!(
            nested["trustBundleDistribution"],
            json!({"profile": "https_web_bundle", "endpointUrl": "https://spire.corp.example:8443",
                   "caCert": "PEM", "refreshHintSeconds": 300, "cachedBundleLastRefreshedAt": null})
        );
        for column in BUNDLE_COLUMNS {
            assert!(nested.get(column).is_none(), "{column}");
        }
        assert_eq!(nested["accessTokenTTL"], 600);
        let mut stat = row.clone();
        stat.insert("configurationType".into(), json!("static"));
        stat.insert("caBundleJwks".into(), json!("{\"keys\":[]}"));
        assert_eq!(
            view(&stat, SpiffeApi::TrustBundleDistribution)["trustBundleDistribution"],
            json!({"profile": "static", "bundle": "{\"keys\":[]}"})
        );
    }

    #[test]
    fn discriminator_comes_first_in_the_flat_version_only() {
        let body = json!({"accessTokenTTL": "nope"});
        let body = body.as_object().unwrap();
        let issue = discriminator_issue(body, SpiffeApi::Flat).unwrap();
        assert_eq!(issue["code"], "invalid_union_discriminator");
        assert_eq!(issue["path"], json!(["configurationType"]));
        assert!(discriminator_issue(body, SpiffeApi::TrustBundleDistribution).is_none());
    }
}
