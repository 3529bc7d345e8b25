//! The query string of `GET /api/v1/organization/audit-logs`, validated like Infisical's zod
//! schema and defaulted like its handler (`server/routes/v1/organization-router.ts`, route
//! `/audit-logs`), into the `Filter` that `audit_log.rs` matches.
//!
//! Newer servers: `eventType` is checked against the `EventType` enum, `limit` is at most 1000,
//! `endDate` defaults to now, and when both dates are given they must be in order and at most
//! three months apart (the schema's `superRefine`); `actor` is looked up under the key of
//! `actorType` (`ACTOR_TYPE_TO_METADATA_ID_KEY`, user ids without `actorType`), and an
//! `actorType` without such a key refuses `actor` with 400 (`listAuditLogs` in
//! `audit-log-service.ts`). The October-2024 server checked none of these: any `eventType`,
//! any `limit`, no upper date unless given (then inclusive), and `actor` always a user id.
//! Both: `startDate` defaults to yesterday 00:00 UTC (`getLastMidnightDateISO`, `lib/fn`),
//! dates must be ISO with `Z` (`z.string().datetime()`), `offset` and `limit` are coerced with
//! JavaScript's `Number()`.

use std::collections::{BTreeSet, HashMap};

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::AuthMethod;
use crate::audit_log::{End, Filter};
use crate::zod::{self, Seg};

/// `ActorType` of newer servers (`services/auth/auth-type.ts` plus the ACME/EST/SCEP actors of
/// `audit-log-types.ts`; GUESS: the spelling of `acmeProfile`, `estAccount`, `scepAccount`).
const ACTOR_TYPES: [&str; 12] = [
    "platform",
    "kmipClient",
    "user",
    "service",
    "identity",
    "machine",
    "scimClient",
    "acmeProfile",
    "acmeAccount",
    "estAccount",
    "scepAccount",
    "unknownUser",
];

/// `ActorType` of the October-2024 server.
const LEGACY_ACTOR_TYPES: [&str; 6] = [
    "platform",
    "user",
    "service",
    "identity",
    "machine",
    "scimClient",
];

/// `UserAgentType` (both versions).
const USER_AGENT_TYPES: [&str; 7] = [
    "web",
    "cli",
    "k8-operator",
    "terraform",
    "other",
    "InfisicalPythonSDK",
    "InfisicalNodeSDK",
];

/// Event types that are not about one auth method. GUESS: the part of Infisical's
/// `EventType` enum about secrets, identities and audit logs (with the method-shaped ones of
/// [`method_event_type`]); other real types are refused here although a newer server takes
/// them. `view-audit-logs` is the value written when the first page is read (GUESS: the
/// string; the source names it `EventType.VIEW_AUDIT_LOGS`).
const OTHER_EVENT_TYPES: [&str; 33] = [
    "get-secrets",
    "get-secret",
    "reveal-secret",
    "create-secret",
    "create-secrets",
    "update-secret",
    "update-secrets",
    "move-secrets",
    "delete-secret",
    "delete-secrets",
    "create-identity",
    "update-identity",
    "delete-identity",
    "create-identity-org-membership",
    "update-identity-org-membership",
    "delete-identity-org-membership",
    "create-identity-project-membership",
    "update-identity-project-membership",
    "delete-identity-project-membership",
    "create-token-identity-token-auth",
    "update-token-identity-token-auth",
    "get-tokens-identity-token-auth",
    "get-token-identity-token-auth",
    "create-identity-universal-auth-client-secret",
    "revoke-identity-universal-auth-client-secret",
    "clear-identity-universal-auth-lockouts",
    "clear-identity-ldap-auth-lockouts",
    "get-identity-universal-auth-client-secret",
    "get-identity-universal-auth-client-secret-by-id",
    "refresh-identity-spiffe-auth-bundle",
    "permission-denied",
    "user-login",
    "view-audit-logs",
];

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QueryError {
    /// zod issues: 422 (401 on the October-2024 server).
    Validation(Vec<Value>),
}

/// The parsed query: the filter, and what is checked only after the permission.
#[derive(Debug, Clone)]
pub(crate) struct AuditQuery {
    pub(crate) filter: Filter,
    /// `actorType` named with `actor` but has no id key: 400 after the permission check.
    pub(crate) actor_unsupported: Option<String>,
    /// A negative or fractional `offset` / `limit`, which zod lets through and Postgres
    /// refuses: 500 (GUESS: Infisical's `DatabaseError`).
    pub(crate) bad_paging: bool,
    /// `offset` was 0: newer servers then write a `view-audit-logs` event.
    pub(crate) first_page: bool,
}

/// Reads the query. `extra_methods`: auth methods outside Infisical's 13 that this server
/// serves (their event types are accepted too).
pub(crate) fn parse(
    q: &HashMap<String, String>,
    legacy: bool,
    now: Timestamp,
    extra_methods: &BTreeSet<String>,
) -> Result<AuditQuery, QueryError> {
    let mut issues = Vec::new();
    let get = |k: &str| q.get(k).map(String::as_str);

    let actor_types: &[&str] = if legacy {
        &LEGACY_ACTOR_TYPES
    } else {
        &ACTOR_TYPES
    };
    let actor_type = one_of(get("actorType"), "actorType", actor_types, &mut issues);
    let user_agent_type = one_of(
        get("userAgentType"),
        "userAgentType",
        &USER_AGENT_TYPES,
        &mut issues,
    );
    let event_types = event_types(get("eventType"), legacy, extra_methods, &mut issues);
    let mut metadata = event_metadata(get("eventMetadata"), legacy);
    let start = datetime(get("startDate"), "startDate", &mut issues);
    let end = datetime(get("endDate"), "endDate", &mut issues);
    let offset = number(get("offset"), "offset", 0.0, &mut issues);
    let limit = number(get("limit"), "limit", 20.0, &mut issues);
    if !legacy && limit > 1000.0 {
        issues.push(zod::too_big(&zod::key("limit"), "number", 1000, None));
    }
    if !legacy && let (Some(Some(start)), Some(Some(end))) = (start, end) {
        if end < start {
            issues.push(zod::custom(
                &zod::key("endDate"),
                "End date cannot be before start date",
            ));
        }
        if end > plus_three_months(start) {
            issues.push(zod::custom(
                &zod::key("endDate"),
                "Dates must be within 3 months",
            ));
        }
    }
    if !issues.is_empty() {
        return Err(QueryError::Validation(issues));
    }

    let project_id = get("projectId").map(str::to_owned);
    if Filter::secret_filters_apply(project_id.is_some(), &event_types) {
        if let Some(env) = get("environment").filter(|e| !e.is_empty()) {
            metadata.push(("environment".into(), env.to_owned()));
        }
        if let Some(path) = get("secretPath").filter(|p| !p.is_empty()) {
            metadata.push(("secretPath".into(), remove_trailing_slash(path)));
        }
    }
    let secret_key = get("secretKey")
        .filter(|k| !k.is_empty())
        .filter(|_| Filter::secret_filters_apply(project_id.is_some(), &event_types))
        .map(str::to_owned);

    let actor_value = get("actor").filter(|a| !a.is_empty());
    let mut actor_unsupported = None;
    let actor = match (actor_value, legacy) {
        (None, _) => None,
        (Some(a), true) => Some(("userId", a.to_owned())),
        (Some(a), false) => match actor_type.as_deref() {
            None => Some(("userId", a.to_owned())),
            Some(t) => match actor_id_key(t) {
                Some(key) => Some((key, a.to_owned())),
                None => {
                    actor_unsupported = Some(t.to_owned());
                    None
                }
            },
        },
    };

    let start = start.flatten().unwrap_or_else(|| yesterday_midnight(now));
    let end = match (end.flatten(), legacy) {
        (Some(t), false) => End::Before(t),
        (None, false) => End::Before(now),
        (Some(t), true) => End::UpTo(t),
        (None, true) => End::Open,
    };
    let whole = |n: f64| n >= 0.0 && n.fract() == 0.0;
    let bad_paging = !whole(offset) || !whole(limit);
    let to_usize = |n: f64| {
        if whole(n) {
            n.min(usize::MAX as f64) as usize
        } else {
            0
        }
    };
    Ok(AuditQuery {
        filter: Filter {
            start,
            end,
            actor_type,
            actor,
            event_types,
            metadata,
            project_id,
            user_agent_type,
            secret_key,
            offset: to_usize(offset),
            limit: to_usize(limit),
        },
        actor_unsupported,
        bad_paging,
        first_page: offset == 0.0,
    })
}

/// `ACTOR_TYPE_TO_METADATA_ID_KEY` (`audit-log-types.ts`).
fn actor_id_key(actor_type: &str) -> Option<&'static str> {
    Some(match actor_type {
        "user" => "userId",
        "identity" => "identityId",
        "kmipClient" => "clientId",
        "service" => "serviceId",
        "acmeProfile" | "estAccount" | "scepAccount" => "profileId",
        "acmeAccount" => "accountId",
        _ => return None,
    })
}

/// A `z.nativeEnum(...).optional()` string.
fn one_of(v: Option<&str>, key: &str, options: &[&str], issues: &mut Vec<Value>) -> Option<String> {
    let v = v?;
    if options.contains(&v) {
        Some(v.to_owned())
    } else {
        issues.push(zod::invalid_enum(&zod::key(key), options, v));
        None
    }
}

/// `eventType`: split on `,`; newer servers check each against the enum.
fn event_types(
    v: Option<&str>,
    legacy: bool,
    extra_methods: &BTreeSet<String>,
    issues: &mut Vec<Value>,
) -> Vec<String> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Vec::new();
    };
    let types: Vec<String> = v.split(',').map(str::to_owned).collect();
    if !legacy {
        let known = known_event_types(extra_methods);
        let options: Vec<&str> = known.iter().map(String::as_str).collect();
        for (i, t) in types.iter().enumerate() {
            if !known.contains(t) {
                let path = [Seg::Key("eventType".into()), Seg::Index(i)];
                issues.push(zod::invalid_enum(&path, &options, t));
            }
        }
    }
    types
}

/// Every event type a newer server of this simulator accepts.
fn known_event_types(extra_methods: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = OTHER_EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect();
    let methods = AuthMethod::KNOWN
        .iter()
        .map(|m| m.as_str().to_owned())
        .chain(extra_methods.iter().cloned());
    for m in methods {
        if m != AuthMethod::Token.as_str() {
            out.push(format!("login-identity-{m}"));
            out.push(format!("login-identity-{m}-failed"));
        }
        for verb in ["add", "update", "get", "revoke"] {
            out.push(format!("{verb}-identity-{m}"));
        }
    }
    out
}

/// `eventMetadata=k=v,k2=v2`. Newer servers split each pair at its first `=` and keep values
/// holding `=`; the October-2024 one split at every `=` and kept the second piece. Pairs
/// without a key or a value are dropped in both.
fn event_metadata(v: Option<&str>, legacy: bool) -> Vec<(String, String)> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in v.split(',') {
        let (key, value) = if legacy {
            let mut parts = pair.split('=');
            (parts.next().unwrap_or(""), parts.next().unwrap_or(""))
        } else {
            match pair.find('=') {
                Some(i) if i > 0 => (&pair[..i], &pair[i + 1..]),
                _ => continue,
            }
        };
        if key.is_empty() || value.is_empty() {
            continue;
        }
        // A later pair with the same key replaces the earlier (they build one object).
        out.retain(|(k, _)| k != key);
        out.push((key.to_owned(), value.to_owned()));
    }
    out
}

/// `z.string().datetime().optional()`: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`. `None`: absent;
/// `Some(None)`: invalid (an issue was recorded). GUESS: a well-formed string naming no real
/// instant (month 13) is refused here too.
fn datetime(v: Option<&str>, key: &str, issues: &mut Vec<Value>) -> Option<Option<Timestamp>> {
    let v = v?;
    let shaped = {
        let b = v.as_bytes();
        let digits =
            |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
        let frac_ok = match b.get(19) {
            Some(b'Z') => b.len() == 20,
            Some(b'.') => {
                b.len() > 21
                    && b.last() == Some(&b'Z')
                    && b[20..b.len() - 1].iter().all(u8::is_ascii_digit)
            }
            _ => false,
        };
        digits(0..4)
            && b.get(4) == Some(&b'-')
            && digits(5..7)
            && b.get(7) == Some(&b'-')
            && digits(8..10)
            && b.get(10) == Some(&b'T')
            && digits(11..13)
            && b.get(13) == Some(&b':')
            && digits(14..16)
            && b.get(16) == Some(&b':')
            && digits(17..19)
            && frac_ok
    };
    match v.parse::<Timestamp>().ok().filter(|_| shaped) {
        Some(t) => Some(Some(t)),
        None => {
            issues.push(json!({"code": "invalid_string", "validation": "datetime",
                               "message": "Invalid datetime", "path": [key]}));
            Some(None)
        }
    }
}

/// `z.coerce.number().default(d)`: JavaScript's `Number()` of the text; NaN is an
/// `invalid_type` issue.
fn number(v: Option<&str>, key: &str, default: f64, issues: &mut Vec<Value>) -> f64 {
    let Some(v) = v else { return default };
    let n = js_number(v);
    if n.is_nan() {
        issues.push(
            json!({"code": "invalid_type", "expected": "number", "received": "nan",
                           "path": [key], "message": "Expected number, received nan"}),
        );
        return default;
    }
    n
}

/// JavaScript's `Number(text)`: blanks trimmed, empty is 0, `0x`/`0o`/`0b` prefixes,
/// `Infinity`, decimal and exponent forms; anything else NaN.
fn js_number(text: &str) -> f64 {
    let t = text.trim();
    if t.is_empty() {
        return 0.0;
    }
    let radix = |prefix: &str, base: u32| {
        t.strip_prefix(prefix)
            .or_else(|| t.strip_prefix(&prefix.to_uppercase()))
            .map(|digits| {
                u64::from_str_radix(digits, base)
                    .map(|n| n as f64)
                    .unwrap_or(f64::NAN)
            })
    };
    if let Some(n) = radix("0x", 16)
        .or_else(|| radix("0o", 8))
        .or_else(|| radix("0b", 2))
    {
        return n;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    // Rust also reads "inf" and "NaN", which JavaScript does not.
    if t.chars()
        .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

/// `removeTrailingSlash` of `secretPath` (GUESS: `/` stays `/`).
fn remove_trailing_slash(path: &str) -> String {
    match path.strip_suffix('/') {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => path.to_owned(),
    }
}

/// `getLastMidnightDateISO()`: the date of now minus one day, at 00:00 UTC.
fn yesterday_midnight(now: Timestamp) -> Timestamp {
    let day = TimeZone::UTC
        .to_datetime(
            now.checked_sub(SignedDuration::from_hours(24))
                .unwrap_or(now),
        )
        .date();
    TimeZone::UTC
        .to_timestamp(day.to_datetime(Time::midnight()))
        .unwrap_or(now)
}

/// JavaScript's `d.setMonth(d.getMonth() + 3)` in UTC: the same day three months on,
/// overflowing into the next month when that month is shorter (Nov 30 → Mar 2).
fn plus_three_months(t: Timestamp) -> Timestamp {
    let dt = TimeZone::UTC.to_datetime(t);
    let months = i32::from(dt.year()) * 12 + i32::from(dt.month()) - 1 + 3;
    let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let shifted = i16::try_from(year)
        .ok()
        .and_then(|y| Date::new(y, i8::try_from(month).ok()?, 1).ok())
        .and_then(|first| {
            first
                .checked_add(SignedDuration::from_hours(24 * (i64::from(dt.day()) - 1)))
                .ok()
        })
        .and_then(|date| TimeZone::UTC.to_timestamp(date.to_datetime(dt.time())).ok());
    shifted.unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn now() -> Timestamp {
        "2026-06-15T12:00:00Z".parse().unwrap()
    }

    fn ok(pairs: &[(&str, &str)], legacy: bool) -> AuditQuery {
        parse(&query(pairs), legacy, now(), &BTreeSet::new()).unwrap()
    }

    fn issues(pairs: &[(&str, &str)], legacy: bool) -> Vec<Value> {
        match parse(&query(pairs), legacy, now(), &BTreeSet::new()) {
            Err(QueryError::Validation(i)) => i,
            Ok(_) => panic!("accepted {pairs:?}"),
        }
    }

    /// Defaults: yesterday 00:00 UTC to now (exclusive), 20 items from offset 0.
    #[test]
    fn defaults() {
        let q = ok(&[], false);
        assert_eq!(q.filter.start, "2026-06-14T00:00:00Z".parse().unwrap());
        assert_eq!(q.filter.end, End::Before(now()));
        assert_eq!((q.filter.offset, q.filter.limit), (0, 20));
        assert!(q.first_page);
        assert_eq!(ok(&[], true).filter.end, End::Open);
    }

    /// `limit` above 1000 and an unknown event type are refused by newer servers only.
    #[test]
    fn newer_servers_validate_more() {
        let i = issues(&[("limit", "1001")], false);
        assert_eq!(i[0]["code"], "too_big");
        assert_eq!(i[0]["maximum"], 1000);
        assert_eq!(ok(&[("limit", "1001")], true).filter.limit, 1001);
        let i = issues(&[("eventType", "get-secrets,nope")], false);
        assert_eq!(i[0]["path"], json!(["eventType", 1]));
        assert_eq!(
            ok(&[("eventType", "get-secrets,nope")], true)
                .filter
                .event_types,
            ["get-secrets", "nope"]
        );
        assert!(
            ok(&[("eventType", "login-identity-oci-auth-failed")], false)
                .filter
                .event_types
                .len()
                == 1
        );
        assert!(!issues(&[("eventType", "login-identity-token-auth")], false).is_empty());
    }

    /// The change feed's query: every method's add, update and revoke events and the three
    /// identity events in one comma list are accepted by newer servers, with an
    /// `identityId` metadata filter beside them.
    #[test]
    fn the_change_feed_types_are_accepted_together() {
        let mut types: Vec<String> = AuthMethod::KNOWN
            .iter()
            .flat_map(|m| {
                ["add", "update", "revoke"].map(|verb| format!("{verb}-identity-{}", m.as_str()))
            })
            .collect();
        types.extend(["create-identity", "update-identity", "delete-identity"].map(String::from));
        assert_eq!(types.len(), 42);
        let list = types.join(",");
        let q = ok(
            &[
                ("eventType", list.as_str()),
                ("eventMetadata", "identityId=i-1"),
            ],
            false,
        );
        assert_eq!(q.filter.event_types, types);
        assert_eq!(
            q.filter.metadata,
            [("identityId".to_owned(), "i-1".to_owned())]
        );
    }

    /// Both dates: in order and at most three months apart (JavaScript's month arithmetic).
    #[test]
    fn date_range_checks() {
        let i = issues(
            &[
                ("startDate", "2026-01-01T00:00:00Z"),
                ("endDate", "2026-04-01T00:00:01Z"),
            ],
            false,
        );
        assert_eq!(i[0]["message"], "Dates must be within 3 months");
        assert_eq!(i[0]["path"], json!(["endDate"]));
        ok(
            &[
                ("startDate", "2026-01-01T00:00:00Z"),
                ("endDate", "2026-04-01T00:00:00Z"),
            ],
            false,
        );
        let i = issues(
            &[
                ("startDate", "2026-02-01T00:00:00Z"),
                ("endDate", "2026-01-01T00:00:00Z"),
            ],
            false,
        );
        assert_eq!(i[0]["message"], "End date cannot be before start date");
        // Only one date: no range check (endDate defaults to now after validation).
        ok(&[("startDate", "2025-01-01T00:00:00Z")], false);
        // The older server checks no range.
        ok(
            &[
                ("startDate", "2025-01-01T00:00:00Z"),
                ("endDate", "2026-01-01T00:00:00Z"),
            ],
            true,
        );
        let nov30: Timestamp = "2025-11-30T10:00:00Z".parse().unwrap();
        assert_eq!(
            plus_three_months(nov30),
            "2026-03-02T10:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    /// Dates must be ISO with `Z`; an offset or a bare date is refused.
    #[test]
    fn datetimes() {
        ok(&[("startDate", "2026-06-01T00:00:00.123Z")], false);
        for bad in ["2026-06-01", "2026-06-01T00:00:00+02:00", "yesterday"] {
            let i = issues(&[("startDate", bad)], false);
            assert_eq!(i[0]["validation"], "datetime", "{bad}");
        }
    }

    /// `actor` is a user id unless `actorType` names the key (newer); an actor type without
    /// a key is refused after the permission check.
    #[test]
    fn actor_keys() {
        let q = ok(&[("actorType", "identity"), ("actor", "i-1")], false);
        assert_eq!(q.filter.actor, Some(("identityId", "i-1".to_owned())));
        let q = ok(&[("actor", "i-1")], false);
        assert_eq!(q.filter.actor, Some(("userId", "i-1".to_owned())));
        let q = ok(&[("actorType", "identity"), ("actor", "i-1")], true);
        assert_eq!(q.filter.actor, Some(("userId", "i-1".to_owned())));
        let q = ok(&[("actorType", "unknownUser"), ("actor", "x")], false);
        assert_eq!(q.actor_unsupported.as_deref(), Some("unknownUser"));
        assert!(!issues(&[("actorType", "unknownUser")], true).is_empty());
    }

    /// `eventMetadata` pairs: newer servers keep `=` inside values, the older one cut there.
    #[test]
    fn metadata_pairs() {
        let q = ok(&[("eventMetadata", "identityId=a,x=b=c,=d,e=")], false);
        assert_eq!(
            q.filter.metadata,
            [
                ("identityId".to_owned(), "a".to_owned()),
                ("x".to_owned(), "b=c".to_owned())
            ]
        );
        let q = ok(&[("eventMetadata", "identityId=a,x=b=c")], true);
        assert_eq!(q.filter.metadata[1], ("x".to_owned(), "b".to_owned()));
    }

    /// `offset` and `limit` are coerced like JavaScript's `Number()`; NaN is refused, a
    /// negative or fractional value reaches the database.
    #[test]
    fn numbers() {
        assert_eq!(ok(&[("limit", " 0x10 ")], false).filter.limit, 16);
        assert_eq!(ok(&[("limit", "")], false).filter.limit, 0);
        assert_eq!(issues(&[("limit", "ten")], false)[0]["received"], "nan");
        assert_eq!(issues(&[("offset", "inf")], false)[0]["received"], "nan");
        assert!(ok(&[("offset", "-1")], false).bad_paging);
        assert!(ok(&[("limit", "2.5")], false).bad_paging);
        assert!(!ok(&[("offset", "40")], false).first_page);
    }
}
