//! The simulator's HTTP surface. One fallback handler routes by hand, so that rate limiting,
//! fault injection, latency, the request log and Fastify-style "Route ... not found" answers
//! apply uniformly to every request.
//!
//! Routes: universal-auth login, token renew, `/api/v1/identities/details`, GET, PATCH and
//! DELETE `/api/v1/identities/{id}`, `POST /api/v1/identities`, `POST
//! /api/v2/identities/search`, `GET /api/v2/organizations/{orgId}/identity-memberships`,
//! `GET /api/v1/organization/audit-logs`, and GET/PATCH/POST/DELETE
//! `/api/v1/auth/<method>/identities/{id}` for all 13 methods (spiffe-auth not on the
//! October-2024 server) and for any other method that a hand-built identity was given. The
//! routes that change identities (attach, revoke, create, rename, delete) live in
//! `routes/changes.rs`; every write counts in the write class of the rate limit.
//!
//! What the routes write to the audit log (nothing when the org has no audit-log plan):
//!
//! | route | event | `event.metadata` |
//! |---|---|---|
//! | universal-auth login (newer servers only: the October-2024 one stored none) | `login-identity-universal-auth` | `identityId`, `identityUniversalAuthId`, `identityAccessTokenId`, `clientSecretId` |
//! | `POST /api/v1/auth/<method>/identities/{id}` | `add-identity-<method>` | `identityId` and the config's values |
//! | `PATCH` on that path | `update-identity-<method>` | `identityId` and the config's values |
//! | `DELETE` on that path | `revoke-identity-<method>` | `identityId` |
//! | `POST /api/v1/identities` | `create-identity` | `identityId`, `name` |
//! | `PATCH /api/v1/identities/{id}` | `update-identity` | `identityId`, `name` |
//! | `DELETE /api/v1/identities/{id}` | `delete-identity` | `identityId` |
//! | the audit log's first page (newer servers only) | `view-audit-logs` | none |
//!
//! Each names the calling identity as actor, with the caller's address and user agent, on both
//! versions. The test hooks of [`Sim`] (`set_config_field`, `add_identity`,
//! `delete_identity`, ...) change the org out of band and write no event, as a change made
//! straight in Infisical's database would not. Simplification: Infisical also writes
//! `get-identity-<method>` for every config GET; the simulator does not, so that an audit of
//! thousands of configs does not flood the log the tests read.

mod changes;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value, json};

use super::audit_log::{Actor, AuditEvent, EventBody, Login};
use super::audit_query::{self, QueryError};
use super::http::ConnInfo;
use super::limits::Verdict;
use super::patch::{self, PatchError};
use super::records::IdentityRec;
use super::state::{ScopeFilter, Shared, State as OrgState};
use super::token::TokenProblem;
use super::trusted_ips::{self, FORBIDDEN_IP_MESSAGE};
use super::zod::{self, Seg};
use super::{FaultKind, LoggedRequest, RequestClass, RequestKind, Sim};
use crate::clock::iso_millis;
use crate::{AuditLogs, AuthMethod, LastLogin};

/// The router: everything goes through [`dispatch`].
pub(crate) fn router(sim: Sim) -> Router {
    Router::new()
        .merge(super::admin::router())
        .fallback(dispatch)
        .with_state(sim)
}

#[derive(Debug)]
enum Route {
    Login,
    Renew,
    Details,
    Identity(String),
    CreateIdentity,
    UpdateIdentity(String),
    DeleteIdentity(String),
    Search,
    Memberships(String),
    AuditLogs,
    Config { method: AuthMethod, id: String },
    NotFound,
}

/// The route of a request; `serves_extra` says whether a path segment that is no known method
/// is a method this server has anyway (see `State::extra_methods`).
fn parse_route(
    method: &Method,
    path: &str,
    legacy: bool,
    serves_extra: impl Fn(&str) -> bool,
) -> Route {
    let segs: Vec<&str> = path.split('/').collect();
    match (method, segs.as_slice()) {
        (&Method::POST, ["", "api", "v1", "auth", "universal-auth", "login"]) => Route::Login,
        (&Method::POST, ["", "api", "v1", "auth", "token", "renew"]) => Route::Renew,
        (&Method::GET, ["", "api", "v1", "identities", "details"]) => Route::Details,
        (&Method::GET, ["", "api", "v1", "identities", id]) if !id.is_empty() => {
            Route::Identity((*id).to_owned())
        }
        (&Method::POST, ["", "api", "v1", "identities"]) => Route::CreateIdentity,
        (&Method::PATCH, ["", "api", "v1", "identities", id]) if !id.is_empty() => {
            Route::UpdateIdentity((*id).to_owned())
        }
        (&Method::DELETE, ["", "api", "v1", "identities", id]) if !id.is_empty() => {
            Route::DeleteIdentity((*id).to_owned())
        }
        (&Method::POST, ["", "api", "v2", "identities", "search"]) if !legacy => Route::Search,
        (&Method::GET, ["", "api", "v1", "organization", "audit-logs"]) => Route::AuditLogs,
        (
            &Method::GET,
            [
                "",
                "api",
                "v2",
                "organizations",
                org,
                "identity-memberships",
            ],
        ) if !org.is_empty() => Route::Memberships((*org).to_owned()),
        (
            &Method::GET | &Method::PATCH | &Method::POST | &Method::DELETE,
            ["", "api", "v1", "auth", seg, "identities", id],
        ) if !id.is_empty() => match AuthMethod::parse_known(seg) {
            Some(AuthMethod::Spiffe) if legacy => Route::NotFound,
            Some(m) => Route::Config {
                method: m,
                id: (*id).to_owned(),
            },
            None if serves_extra(seg) => Route::Config {
                method: AuthMethod::Unknown((*seg).to_owned()),
                id: (*id).to_owned(),
            },
            None => Route::NotFound,
        },
        _ => Route::NotFound,
    }
}

fn class_of(route: &Route, method: &Method) -> RequestClass {
    match route {
        Route::Login
        | Route::Renew
        | Route::CreateIdentity
        | Route::UpdateIdentity(_)
        | Route::DeleteIdentity(_) => RequestClass::Write,
        Route::Search
        | Route::Details
        | Route::Identity(_)
        | Route::Memberships(_)
        | Route::AuditLogs => RequestClass::Read,
        Route::Config { .. } | Route::NotFound => {
            if method == Method::GET {
                RequestClass::Read
            } else {
                RequestClass::Write
            }
        }
    }
}

fn kind_of(route: &Route, method: &Method, query: Option<&str>) -> RequestKind {
    match route {
        Route::Login | Route::Renew => RequestKind::Login,
        Route::Details | Route::Identity(_) => RequestKind::IdentityLookup,
        Route::Search | Route::Memberships(_) => RequestKind::Listing,
        Route::CreateIdentity | Route::UpdateIdentity(_) | Route::DeleteIdentity(_) => {
            RequestKind::IdentityWrite
        }
        Route::Config { .. } if method == Method::GET => RequestKind::ConfigRead,
        Route::Config { .. } => RequestKind::ConfigWrite,
        Route::AuditLogs => RequestKind::of_audit_query(query),
        Route::NotFound => RequestKind::Unknown,
    }
}

/// The request as handlers see it.
struct Req<'a> {
    shared: &'a Shared,
    /// The caller's address (the TCP peer), which trusted IPs are checked against.
    peer: IpAddr,
    headers: &'a HeaderMap,
    uri: &'a Uri,
    method: &'a Method,
    body: &'a Bytes,
}

async fn dispatch(
    State(sim): State<Sim>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let shared = &sim.shared;
    let path = uri.path().to_owned();
    let route = parse_route(&method, &path, shared.settings.legacy, |seg| {
        shared.read().extra_methods.contains(seg)
    });
    let class = class_of(&route, &method);
    let kind = kind_of(&route, &method, uri.query());
    let ip = conn.peer.ip();
    let req = Req {
        shared,
        peer: ip,
        headers: &headers,
        uri: &uri,
        method: &method,
        body: &body,
    };
    let legacy = shared.settings.legacy;
    // Global cap first (an onRequest hook), then authentication, then the route's category
    // limit (a preValidation hook): an unauthenticated call never counts against it.
    let global = shared.limiter().check_global(ip, Instant::now());
    let early = match global {
        Some(limited) => Some(limited),
        None if needs_auth(&route) => match authenticate(&req) {
            Ok(_) => None,
            Err(resp) => {
                return finish(shared, &conn, &method, path, (class, kind), resp, None);
            }
        },
        None => None,
    };
    let verdict = match early {
        Some(v) => v,
        None if matches!(route, Route::NotFound) => Verdict::Unlimited,
        None => shared.limiter().check(ip, class, Instant::now()),
    };
    let (mut resp, fault) = match &verdict {
        Verdict::Limited {
            limit,
            reset,
            retry_after_header,
            window,
        } => (
            too_many(shared, *limit, *reset, *retry_after_header, *window, legacy),
            None,
        ),
        _ => {
            if let Some(delay) = &shared.settings.delay {
                delay.sleep_until(arrived + shared.settings.latency).await;
            }
            handle(&req, route).await
        }
    };
    if let Verdict::Allowed {
        limit,
        remaining,
        reset,
    } = verdict
    {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    }
    finish(shared, &conn, &method, path, (class, kind), resp, fault)
}

fn needs_auth(route: &Route) -> bool {
    !matches!(route, Route::Login | Route::Renew | Route::NotFound)
}

/// Logs the request and, for a dropped connection, kills it.
fn finish(
    shared: &Shared,
    conn: &ConnInfo,
    method: &Method,
    path: String,
    (class, kind): (RequestClass, RequestKind),
    resp: Response,
    fault: Option<FaultKind>,
) -> Response {
    let dropped = fault == Some(FaultKind::DropConnection);
    shared.log().push(LoggedRequest {
        at: shared.settings.started.elapsed(),
        method: method.to_string(),
        path,
        status: if dropped { 0 } else { resp.status().as_u16() },
        class,
        kind,
        fault,
    });
    if dropped {
        conn.kill();
    }
    resp
}

async fn handle(req: &Req<'_>, route: Route) -> (Response, Option<FaultKind>) {
    let s = req.shared;
    match route {
        Route::Login => (login(req), None),
        Route::Renew => (renew(req), None),
        Route::NotFound => (not_found(req.method, req.uri.path()), None),
        Route::Details => (details(req), None),
        Route::Identity(id) => (identity(req, &id), None),
        Route::CreateIdentity => {
            let fault = roll_fault(s, false, None);
            with_fault(req, fault, |r| {
                changes::create_identity(r).unwrap_or_else(|e| e)
            })
            .await
        }
        Route::UpdateIdentity(id) => {
            let fault = roll_fault(s, false, Some(&id));
            with_fault(req, fault, |r| {
                changes::update_identity(r, &id).unwrap_or_else(|e| e)
            })
            .await
        }
        Route::DeleteIdentity(id) => {
            let fault = roll_fault(s, false, Some(&id));
            with_fault(req, fault, |r| {
                changes::delete_identity(r, &id).unwrap_or_else(|e| e)
            })
            .await
        }
        Route::Search => {
            let fault = roll_fault(s, true, None);
            let answer = with_fault(req, fault, search).await;
            if answer.0.status().is_success() {
                s.after_listing_page();
            }
            answer
        }
        Route::Memberships(org) => {
            let fault = roll_fault(s, true, None);
            let answer = with_fault(req, fault, |r| memberships(r, &org)).await;
            if answer.0.status().is_success() {
                s.after_listing_page();
            }
            answer
        }
        Route::AuditLogs => {
            s.note_audit_query(req.uri.query().unwrap_or(""));
            // Faults as for a config read.
            let fault = roll_fault(s, false, None);
            with_fault(req, fault, audit_logs).await
        }
        Route::Config { method, id } => {
            if s.faults().forbidden.contains(&id) {
                if let Err(resp) = authenticate(req) {
                    return (resp, None);
                }
                let action = match *req.method {
                    Method::GET => "read",
                    Method::POST => "create",
                    _ => "edit",
                };
                return (permission_denied(s, action, "identity"), None);
            }
            let fault = roll_fault(s, false, Some(&id));
            if *req.method == Method::GET {
                if let Err(resp) = authenticate(req) {
                    return (resp, None);
                }
                let always = s.faults().always_fail.contains(&id) && exists(s, &id);
                if always {
                    return (server_error(s, 500), Some(FaultKind::ServerError));
                }
                with_fault(req, fault, |r| get_config(r, &method, &id)).await
            } else if *req.method == Method::POST {
                with_fault(req, fault, |r| {
                    changes::attach_config(r, &method, &id).unwrap_or_else(|e| e)
                })
                .await
            } else if *req.method == Method::DELETE {
                with_fault(req, fault, |r| {
                    changes::revoke_config(r, &method, &id).unwrap_or_else(|e| e)
                })
                .await
            } else {
                let answer = with_fault(req, fault, |r| patch_config(r, &method, &id)).await;
                if answer.0.status().is_success() && s.faults().patch_garbled_answers.contains(&id)
                {
                    let garbled = json_response_raw(200, "{\"identityAuth\": {\"id\": nope");
                    return (garbled, Some(FaultKind::Malformed));
                }
                answer
            }
        }
    }
}

fn exists(s: &Shared, id: &str) -> bool {
    s.read().identities.contains_key(id)
}

/// Decides whether this request faults. `listing`: a listing page (only when `faults.listing`).
fn roll_fault(s: &Shared, listing: bool, _id: Option<&str>) -> Option<FaultKind> {
    let faults = s.faults();
    if (listing && !faults.listing) || faults.kinds.is_empty() || faults.rate <= 0.0 {
        return None;
    }
    let mut dice = s.dice();
    if dice.random::<f64>() >= faults.rate {
        return None;
    }
    faults.kinds.choose(&mut *dice).copied()
}

async fn with_fault(
    req: &Req<'_>,
    fault: Option<FaultKind>,
    run: impl FnOnce(&Req<'_>) -> Response,
) -> (Response, Option<FaultKind>) {
    let s = req.shared;
    match fault {
        None => (run(req), None),
        Some(FaultKind::ServerError) => {
            let status = *[500u16, 502, 503].choose(&mut *s.dice()).unwrap_or(&500);
            (server_error(s, status), fault)
        }
        Some(FaultKind::HtmlPage) => {
            let html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
            let mut resp = (StatusCode::BAD_GATEWAY, html).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            (resp, fault)
        }
        Some(FaultKind::DropConnection) => (server_error(s, 500), fault),
        Some(FaultKind::Malformed) => (
            json_response_raw(200, "{\"identityAuth\": {\"id\": nope, }}<html>"),
            fault,
        ),
        Some(FaultKind::Slow) => {
            let slow = s.faults().slow;
            tokio::time::sleep(slow).await;
            (run(req), fault)
        }
        Some(FaultKind::Truncated) => {
            let resp = run(req);
            let (mut parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts.status = StatusCode::OK;
            parts.headers.remove(header::CONTENT_LENGTH);
            (Response::from_parts(parts, Body::from(cut)), fault)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Response helpers

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// A response with a JSON content type and `body` as is (which need not be JSON).
fn json_response_raw(status: u16, body: &'static str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn error(s: &Shared, status: u16, error: &str, message: Value) -> Response {
    let n = s.req_counter.fetch_add(1, Ordering::Relaxed);
    json_response(
        status,
        &json!({"reqId": format!("req-sim{n:08x}"), "statusCode": status, "message": message,
                "error": error}),
    )
}

/// Infisical's error handler for a CASL ForbiddenError (`error-handler.ts`): "You are not
/// allowed to ${action} on ${subjectType}", and in `details` the role's rules for that action
/// (none: the role lacks it).
fn permission_denied(s: &Shared, action: &str, subject: &str) -> Response {
    let n = s.req_counter.fetch_add(1, Ordering::Relaxed);
    let body = json!({"reqId": format!("req-sim{n:08x}"), "statusCode": 403,
        "error": "PermissionDenied",
        "message": format!("You are not allowed to {action} on {subject}"),
        "details": []});
    json_response(403, &body)
}

fn server_error(s: &Shared, status: u16) -> Response {
    let name = match status {
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        _ => "InternalServerError",
    };
    error(s, status, name, json!("Something went wrong"))
}

fn validation(s: &Shared, issues: Vec<Value>) -> Response {
    // Older servers answered validation failures with HTTP 401.
    let status = if s.settings.legacy { 401 } else { 422 };
    error(s, status, "ValidationFailure", Value::Array(issues))
}

fn not_found(method: &Method, path: &str) -> Response {
    json_response(
        404,
        &json!({"message": format!("Route {method}:{path} not found"), "error": "Not Found",
                "statusCode": 404}),
    )
}

fn too_many(
    s: &Shared,
    limit: u32,
    reset: u64,
    retry_after: bool,
    window: Duration,
    legacy: bool,
) -> Response {
    let mut resp = if legacy {
        // The October-2024 server printed the whole window ("in 1 minute") and no reqId.
        json_response(
            429,
            &json!({"statusCode": 429,
                    "message": format!("Rate limit exceeded. Please try again in {}", human(window)),
                    "error": "RateLimitExceeded"}),
        )
    } else {
        // rateLimiter.ts: `in ${Math.ceil(context.ttl / 1000)} seconds`, via RateLimitError.
        error(
            s,
            429,
            "RateLimitExceeded",
            json!(format!(
                "Rate limit exceeded. Please try again in {reset} seconds"
            )),
        )
    };
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    if retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(reset));
    }
    resp
}

fn human(d: Duration) -> String {
    let secs = d.as_secs().max(1);
    if secs.is_multiple_of(60) {
        let m = secs / 60;
        if m == 1 {
            "1 minute".into()
        } else {
            format!("{m} minutes")
        }
    } else if secs == 1 {
        "1 second".into()
    } else {
        format!("{secs} seconds")
    }
}

/// The JSON body, or an error response (400 for unparseable JSON; GUESS: Fastify's
/// content-type parser error).
#[allow(clippy::result_large_err)] // the error is the HTTP response itself
fn parse_body(req: &Req<'_>) -> Result<Value, Response> {
    if req.body.is_empty() {
        // No body: zod sees `undefined`.
        return Ok(Value::Null);
    }
    serde_json::from_slice(req.body).map_err(|_| {
        error(
            req.shared,
            400,
            "BadRequest",
            json!("Body is not valid JSON but content-type is set to 'application/json'"),
        )
    })
}

/// The zod issue for a body that is not an object ("Required" when there was no body).
fn not_object(req: &Req<'_>, body: &Value) -> Value {
    let got = if req.body.is_empty() {
        None
    } else {
        Some(body)
    };
    zod::invalid_type(&[], "object", got)
}

/// The identity the bearer token stands for, or the error response. With trusted-IP
/// enforcement on, the caller must also be inside the `accessTokenTrustedIps` of the auth
/// config the token was issued through, read live from the stored config (Infisical's source:
/// `fnValidateIdentityAccessToken` in `services/identity-access-token/`, after the token and
/// its revocation are checked).
#[allow(clippy::result_large_err)] // the error is the HTTP response itself
fn authenticate(req: &Req<'_>) -> Result<String, Response> {
    let s = req.shared;
    let Some(raw) = req
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(error(s, 401, "UnauthorizedError", json!("Token missing")));
    };
    // The server slices off the first 7 characters ("Bearer ").
    let token = raw.get(7..).unwrap_or("");
    let checked = s.auth().check(token);
    let (identity_id, method) = match checked {
        Ok(found) => found,
        Err(TokenProblem::Malformed) => {
            return Err(error(
                s,
                403,
                "TokenError",
                json!(
                    "The provided access token is malformed. Please use a valid token or generate a new one and try again."
                ),
            ));
        }
        Err(TokenProblem::Expired) => {
            return Err(error(
                s,
                403,
                "TokenError",
                json!("Your token has expired. Please re-authenticate."),
            ));
        }
    };
    if s.enforces_trusted_ips() {
        let trusted = s
            .read()
            .identities
            .get(&identity_id)
            .and_then(|rec| rec.config(&method))
            .and_then(|cfg| cfg.get("accessTokenTrustedIps").cloned());
        // No config or no list: nothing to check against (Infisical skips a null list).
        if let Some(list) = trusted.filter(|l| !l.is_null())
            && !ip_allowed(&list, req.peer)
        {
            return Err(ip_forbidden(s));
        }
    }
    Ok(identity_id)
}

/// Whether a stored trusted-IP list holds `peer`. An empty list holds nobody: the older
/// service passed it to the block list as is (denied); the newest skips the check for it, so
/// the stricter behaviour is kept. A value that is not a list holds nobody either.
fn ip_allowed(list: &Value, peer: IpAddr) -> bool {
    match list {
        Value::Array(entries) => trusted_ips::allows(entries, peer),
        _ => false,
    }
}

/// Infisical's answer for a caller outside the trusted IPs: `ForbiddenRequestError` (name
/// `ForbiddenError`, no `details`) through the error handler, 403.
fn ip_forbidden(s: &Shared) -> Response {
    error(s, 403, "ForbiddenError", json!(FORBIDDEN_IP_MESSAGE))
}

// ---------------------------------------------------------------------------------------------
// Auth routes

fn login(req: &Req<'_>) -> Response {
    let s = req.shared;
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(obj) = body.as_object() else {
        return validation(s, vec![not_object(req, &body)]);
    };
    let mut issues = Vec::new();
    let mut field = |k: &str| match obj.get(k) {
        Some(Value::String(v)) => Some(v.trim().to_owned()),
        other => {
            issues.push(zod::invalid_type(&zod::key(k), "string", other));
            None
        }
    };
    let (client_id, secret) = (field("clientId"), field("clientSecret"));
    let (Some(client_id), Some(secret)) = (client_id, secret) else {
        return validation(s, issues);
    };
    let now = Instant::now();
    let mut auth = s.auth();
    if client_id != s.settings.client_id {
        return error(s, 401, "UnauthorizedError", json!("Invalid credentials"));
    }
    // Infisical's universal-auth login checks `clientSecretTrustedIps` right after finding
    // the client id, before the lockout and the secret (`identity-ua-service.ts`); a refused
    // caller does not count towards the lockout.
    if s.enforces_trusted_ips() {
        let state = s.read();
        let trusted = state
            .identities
            .get(&state.login_identity)
            .and_then(|rec| rec.config(&AuthMethod::Universal))
            .and_then(|cfg| cfg.get("clientSecretTrustedIps"));
        // GUESS: without a stored list (the config was removed by hand) nobody is let in.
        if !trusted.is_some_and(|list| ip_allowed(list, req.peer)) {
            return ip_forbidden(s);
        }
    }
    let lock = auth.lockouts.entry(client_id.clone()).or_default();
    if lock.locked_until.is_some_and(|t| t > now) {
        return error(
            s,
            401,
            "UnauthorizedError",
            json!("This identity auth method is temporarily locked, please try again later"),
        );
    }
    if secret != s.settings.client_secret {
        if lock
            .first_failure
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(30))
        {
            lock.first_failure = Some(now);
            lock.failures = 0;
        }
        lock.failures += 1;
        if lock.failures >= 3 {
            lock.locked_until = Some(now + Duration::from_secs(300));
            lock.failures = 0;
            lock.first_failure = None;
        }
        return error(s, 401, "UnauthorizedError", json!("Invalid credentials"));
    }
    *lock = Default::default();
    let (identity_id, org_id) = {
        let state = s.read();
        (state.login_identity.clone(), state.org.id.clone())
    };
    let ttl = s.settings.token_ttl;
    let token = auth.issue(&identity_id, &AuthMethod::Universal, &org_id, ttl);
    drop(auth);
    note_login(req, &identity_id);
    token_response(&token, ttl)
}

/// What a successful universal-auth login leaves: the membership's last login (set by `login`
/// in `services/identity-ua/identity-ua-service.ts`; the newest servers debounce that write,
/// the simulator does not) and, on newer servers, a `login-identity-universal-auth` event
/// naming the identity as actor, with the caller's address and user agent. The October-2024
/// server stored no login events (seen on a real one), and shows no last login.
fn note_login(req: &Req<'_>, identity_id: &str) {
    let s = req.shared;
    let now = s.settings.clock.now();
    let mut state = s.write();
    let Some(rec) = state.identities.get_mut(identity_id) else {
        return;
    };
    rec.last_login = Some(LastLogin {
        at: now,
        method: AuthMethod::Universal,
    });
    if s.settings.legacy {
        return;
    }
    let config_id = rec
        .config(&AuthMethod::Universal)
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body = EventBody::Login(Login {
        method: AuthMethod::Universal,
        identity_id: std::sync::Arc::from(identity_id),
        config_id: std::sync::Arc::from(config_id),
        token_id: uuid::Uuid::new_v4(),
        client_secret_id: Some(s.settings.client_secret_id),
    });
    let event = request_event(req, (&rec.id, &rec.name), now, body);
    drop(state);
    s.record(event);
}

/// An event of this request, made by the identity `(id, name)` (from the caller's address,
/// with its `user-agent`, "" when none: `req.headers["user-agent"] ?? ""`).
fn request_event(
    req: &Req<'_>,
    (actor_id, actor_name): (&str, &str),
    at: jiff::Timestamp,
    body: EventBody,
) -> AuditEvent {
    let ua = req
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    AuditEvent {
        id: uuid::Uuid::new_v4(),
        at,
        ip: Some(req.peer),
        user_agent: Some(std::sync::Arc::from(ua)),
        actor: Actor::Identity {
            id: std::sync::Arc::from(actor_id),
            name: std::sync::Arc::from(actor_name),
        },
        body,
        project: None,
    }
}

fn token_response(token: &str, ttl: Duration) -> Response {
    json_response(
        200,
        &json!({"accessToken": token, "expiresIn": ttl.as_secs(),
                "accessTokenMaxTTL": ttl.as_secs(), "tokenType": "Bearer"}),
    )
}

fn renew(req: &Req<'_>) -> Response {
    let s = req.shared;
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let token = match body.get("accessToken") {
        Some(Value::String(t)) => t.trim().to_owned(),
        other => {
            let issue = if body.is_object() {
                zod::invalid_type(&zod::key("accessToken"), "string", other)
            } else {
                not_object(req, &body)
            };
            return validation(s, vec![issue]);
        }
    };
    let mut auth = s.auth();
    let Some(rec) = auth.get(&token).cloned() else {
        return error(
            s,
            403,
            "TokenError",
            json!("Your token has expired. Please re-authenticate."),
        );
    };
    if rec.revoked {
        return error(
            s,
            401,
            "UnauthorizedError",
            json!("Failed to authorize revoked access token"),
        );
    }
    if rec.expires_at <= Instant::now() {
        return error(
            s,
            403,
            "TokenError",
            json!("Your token has expired. Please re-authenticate."),
        );
    }
    let org_id = s.read().org.id.clone();
    let ttl = s.settings.token_ttl;
    // Renewal does not check trusted IPs (Infisical's `renewAccessToken` never calls
    // `checkIPAgainstBlocklist`); the renewed token is checked on its next use.
    let new = auth.issue(&rec.identity_id, &rec.auth_method, &org_id, ttl);
    token_response(&new, ttl)
}

// ---------------------------------------------------------------------------------------------
// Identities

fn details(req: &Req<'_>) -> Response {
    let s = req.shared;
    if let Err(r) = authenticate(req) {
        return r;
    }
    if s.settings.legacy {
        // The route did not exist: `/identities/:identityId` took "details" as an id and the
        // database refused it (500).
        return lookup_error(s, "details");
    }
    let state = s.read();
    json_response(
        200,
        &json!({"identityDetails": {"organization": {"id": state.org.id, "name": state.org.name,
                                                      "slug": state.org.slug}}}),
    )
}

/// The identity object inside a listing item. Infisical's response schemas strip every field
/// they do not name, so each route gets exactly its schema's fields.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// v2 search: name, id, hasDeleteProtection, orgId, authMethods.
    Search,
    /// v2 identity-memberships: name, id, orgId, authMethods.
    Membership,
    /// `GET /api/v1/identities/{id}`: also activeLockoutAuthMethods.
    Detail,
    /// October-2024 server: name, id, authMethod.
    Legacy,
}

fn inner_identity(rec: &IdentityRec, org_id: &str, shape: Shape) -> Value {
    let methods: Vec<&str> = rec.methods().map(AuthMethod::as_str).collect();
    match shape {
        Shape::Legacy => {
            json!({"name": rec.name, "id": rec.id, "authMethod": methods.first()})
        }
        Shape::Membership => {
            json!({"name": rec.name, "id": rec.id, "orgId": org_id, "authMethods": methods})
        }
        Shape::Search => json!({"name": rec.name, "id": rec.id, "hasDeleteProtection": false,
                                "orgId": org_id, "authMethods": methods}),
        Shape::Detail => json!({"name": rec.name, "id": rec.id, "hasDeleteProtection": false,
                                "orgId": org_id, "authMethods": methods,
                                "activeLockoutAuthMethods": []}),
    }
}

fn membership(rec: &IdentityRec, org_id: &str, shape: Shape) -> Value {
    let mut item = json!({"id": rec.membership_id, "role": "member", "roleId": null,
           "orgId": org_id, "identityId": rec.id, "createdAt": rec.created_at,
           "updatedAt": rec.created_at, "identity": inner_identity(rec, org_id, shape)});
    if shape != Shape::Legacy {
        add_last_login(&mut item, rec);
    }
    item
}

/// `lastLoginAuthMethod` and `lastLoginTime` of the membership (null: never logged in). The
/// October-2024 server had no such columns.
fn add_last_login(item: &mut Value, rec: &IdentityRec) {
    let (method, time) = match &rec.last_login {
        Some(l) => (json!(l.method.as_str()), json!(iso_millis(l.at))),
        None => (Value::Null, Value::Null),
    };
    if let Some(obj) = item.as_object_mut() {
        obj.insert("lastLoginAuthMethod".into(), method);
        obj.insert("lastLoginTime".into(), time);
    }
}

fn is_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok() && id.len() == 36
}

/// 500 for a non-UUID id (the database rejects it), 404 for an unknown one.
fn lookup_error(s: &Shared, id: &str) -> Response {
    if !is_uuid(id) {
        let name = if s.settings.legacy {
            "FindOne"
        } else {
            "DatabaseError"
        };
        return error(s, 500, name, json!("Something went wrong"));
    }
    error(
        s,
        404,
        "NotFound",
        json!(format!("Failed to find identity with ID {id}")),
    )
}

fn identity(req: &Req<'_>, id: &str) -> Response {
    let s = req.shared;
    if let Err(r) = authenticate(req) {
        return r;
    }
    let state = s.read();
    match state.identities.get(id) {
        Some(rec) => {
            let shape = if s.settings.legacy {
                Shape::Legacy
            } else {
                Shape::Detail
            };
            let mut m = membership(rec, &state.org.id, shape);
            if let Some(obj) = m.as_object_mut() {
                obj.insert("metadata".into(), json!([]));
            }
            json_response(200, &json!({ "identity": m }))
        }
        None => lookup_error(s, id),
    }
}

// ---------------------------------------------------------------------------------------------
// Audit logs

/// `GET /api/v1/organization/audit-logs`: the query is validated (422; 401 on the
/// October-2024 server), then the org permission `audit-logs` read is checked (403), then an
/// `actorType` that cannot filter by `actor` is refused (400), then the page is read; without
/// an audit-log plan it is always empty. Newer servers then record `view-audit-logs` when the
/// first page (`offset` 0) was read.
fn audit_logs(req: &Req<'_>) -> Response {
    let s = req.shared;
    let actor_id = match authenticate(req) {
        Ok(actor_id) => actor_id,
        Err(r) => return r,
    };
    let query: HashMap<String, String> = Query::try_from_uri(req.uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let legacy = s.settings.legacy;
    let now = s.settings.clock.now();
    let extra = s.read().extra_methods.clone();
    let parsed = match audit_query::parse(&query, legacy, now, &extra) {
        Ok(parsed) => parsed,
        Err(QueryError::Validation(issues)) => return validation(s, issues),
    };
    let mode = s.audit_mode();
    if mode == AuditLogs::Forbidden {
        return permission_denied(s, "read", "audit-logs");
    }
    if let Some(actor_type) = parsed.actor_unsupported {
        return error(
            s,
            400,
            "BadRequest",
            json!(format!(
                "Actor type '{actor_type}' does not support filtering by actor ID"
            )),
        );
    }
    if parsed.bad_paging {
        // GUESS: Postgres refuses a negative or fractional OFFSET/LIMIT; DatabaseError.
        return error(s, 500, "DatabaseError", json!("Something went wrong"));
    }
    let (org_id, actor) = {
        let state = s.read();
        let actor = state
            .identities
            .get(&actor_id)
            .map(|a| (a.id.clone(), a.name.clone()));
        (state.org.id.clone(), actor)
    };
    let items: Vec<Value> = match mode {
        AuditLogs::Enabled => s
            .audit()
            .find(&parsed.filter)
            .into_iter()
            .map(|e| e.to_json(&org_id))
            .collect(),
        AuditLogs::Disabled | AuditLogs::Forbidden => Vec::new(),
    };
    if parsed.first_page
        && !legacy
        && let Some((id, name)) = actor
    {
        // GUESS: the event's projectId/projectName are left null (the query's projectId
        // would be recorded; the simulator keeps no project names for it).
        let body = EventBody::Other {
            event_type: "view-audit-logs".into(),
            metadata: Box::default(),
        };
        s.record(request_event(
            req,
            (&id, &name),
            s.settings.clock.now(),
            body,
        ));
    }
    json_response(200, &json!({ "auditLogs": items }))
}

fn search_item(rec: &IdentityRec, org_id: &str) -> Value {
    let (scope, project_id, project) = match &rec.project {
        Some(p) => (
            "project",
            json!(p.id),
            json!({"id": p.id, "name": p.name, "slug": p.slug, "type": "secret-manager"}),
        ),
        None => ("organization", Value::Null, Value::Null),
    };
    let mut item = json!({"id": rec.membership_id, "identityId": rec.id, "scope": scope,
           "orgId": org_id, "projectId": project_id, "project": project,
           "createdAt": rec.created_at, "updatedAt": rec.created_at,
           "roles": [{"id": rec.membership_id,
                      "role": if rec.project.is_some() { "viewer" } else { "member" },
                      "customRoleId": null, "customRoleName": null, "customRoleSlug": null,
                      "isTemporary": false}],
           "identity": inner_identity(rec, org_id, Shape::Search)});
    add_last_login(&mut item, rec);
    item
}

/// A name filter of v2 search: a plain string (GUESS: equality) or `{$eq|$contains|$in}`.
enum NameFilter {
    Eq(String),
    Contains(String),
    In(Vec<String>),
}

impl NameFilter {
    fn matches(&self, name: &str) -> bool {
        match self {
            NameFilter::Eq(v) => name == v,
            NameFilter::Contains(v) => name.to_lowercase().contains(&v.to_lowercase()),
            NameFilter::In(vs) => vs.iter().any(|v| v == name),
        }
    }
}

/// Search strings: at most 255 characters of letters, digits, spaces, `_`, `-`, `/`.
fn search_string(v: &Value, p: &[Seg], label: &str, issues: &mut Vec<Value>) -> Option<String> {
    let Some(text) = v.as_str() else {
        issues.push(zod::invalid_type(p, "string", Some(v)));
        return None;
    };
    if text.chars().count() > 255 {
        issues.push(zod::too_big(p, "string", 255, None));
        return None;
    }
    let ok = text
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '_' || c == '-' || c == '/');
    if !ok {
        issues.push(zod::custom(
            p,
            &format!("{label} can only contain alphanumeric characters, spaces, underscores, hyphens, forward slashes"),
        ));
        return None;
    }
    Some(text.to_owned())
}

/// The `search.name` filter of v2 search (a `search.role` filter is accepted and ignored: every
/// simulated identity has the same role).
fn name_filter(search: Option<&Value>, issues: &mut Vec<Value>) -> Option<NameFilter> {
    let base = [Seg::Key("search".into()), Seg::Key("name".into())];
    let name = match search {
        None => return None,
        Some(Value::Object(o)) => o.get("name")?,
        Some(other) => {
            issues.push(zod::invalid_type(
                &zod::key("search"),
                "object",
                Some(other),
            ));
            return None;
        }
    };
    let sub = |op: &str| {
        let mut p = base.to_vec();
        p.push(Seg::Key(op.to_owned()));
        p
    };
    match name {
        Value::String(_) => search_string(name, &base, "Name", issues).map(NameFilter::Eq),
        Value::Object(o) => {
            if let Some(v) = o.get("$eq") {
                search_string(v, &sub("$eq"), "Name $eq", issues).map(NameFilter::Eq)
            } else if let Some(v) = o.get("$contains") {
                search_string(v, &sub("$contains"), "Name $contains", issues)
                    .map(NameFilter::Contains)
            } else if let Some(v) = o.get("$in") {
                let Value::Array(items) = v else {
                    issues.push(zod::invalid_type(&sub("$in"), "array", Some(v)));
                    return None;
                };
                let mut names = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let mut p = sub("$in");
                    p.push(Seg::Index(i));
                    names.extend(search_string(item, &p, "Name $in", issues));
                }
                Some(NameFilter::In(names))
            } else {
                None
            }
        }
        other => {
            issues.push(zod::invalid_type(&base, "string", Some(other)));
            None
        }
    }
}

fn search(req: &Req<'_>) -> Response {
    let s = req.shared;
    if let Err(r) = authenticate(req) {
        return r;
    }
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(obj) = body.as_object() else {
        return validation(s, vec![not_object(req, &body)]);
    };
    let mut issues = Vec::new();
    let limit = int_field(obj.get("limit"), "limit", 1, Some(100), 50, &mut issues);
    let offset = int_field(obj.get("offset"), "offset", 0, None, 0, &mut issues);
    let order_by = enum_field(
        obj.get("orderBy"),
        "orderBy",
        &["name", "role", "lastLogin"],
        "name",
        &mut issues,
    );
    let desc = enum_field(
        obj.get("orderDirection"),
        "orderDirection",
        &["asc", "desc"],
        "asc",
        &mut issues,
    ) == "desc";
    // GUESS for `role`: every simulated identity has the same role, so name order.
    let mut want_org = true;
    let mut want_project = false;
    match obj.get("scope") {
        None => {}
        Some(Value::Array(items)) => {
            want_org = false;
            if items.is_empty() {
                issues.push(zod::too_small(&zod::key("scope"), "array", 1, None));
            }
            for (i, item) in items.iter().enumerate() {
                let p = [Seg::Key("scope".into()), Seg::Index(i)];
                match item.as_str() {
                    Some("organization") => want_org = true,
                    Some("project") => want_project = true,
                    Some(other) => {
                        issues.push(zod::invalid_enum(&p, &["organization", "project"], other))
                    }
                    None => issues.push(zod::invalid_type(&p, "string", Some(item))),
                }
            }
        }
        Some(other) => issues.push(zod::invalid_type(&zod::key("scope"), "array", Some(other))),
    }
    let filter = name_filter(obj.get("search"), &mut issues);
    if !issues.is_empty() {
        return validation(s, issues);
    }
    let state = s.read();
    let scope = match (want_org, want_project) {
        (true, true) => ScopeFilter::All,
        (false, true) => ScopeFilter::Project,
        _ => ScopeFilter::Organization,
    };
    let order = if order_by == "lastLogin" {
        Order::LastLogin { desc }
    } else {
        Order::Name { desc }
    };
    let (items, total) = page(
        &state,
        scope,
        order,
        offset,
        limit,
        filter.as_ref(),
        |rec| search_item(rec, &state.org.id),
    );
    s.note_listed(&state, &items);
    json_response(200, &json!({"identities": items, "totalCount": total}))
}

/// The order of a listing.
#[derive(Debug, Clone, Copy)]
enum Order {
    /// By name (then id), reversed as a whole when `desc`.
    Name { desc: bool },
    /// By last login (`searchIdentitiesV2` in `services/identity/identity-org-dal.ts`):
    /// identities that never logged in last whatever the direction, ties by membership id.
    LastLogin { desc: bool },
}

/// One page of the ids in `order`, mapped; plus the total count.
fn page(
    state: &OrgState,
    scope: ScopeFilter,
    order: Order,
    offset: u64,
    limit: u64,
    filter: Option<&NameFilter>,
    map: impl Fn(&IdentityRec) -> Value,
) -> (Vec<Value>, usize) {
    let ids = state.sorted(scope);
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let recs = |i: &String| state.identities.get(i);
    if let (Order::Name { desc }, None) = (order, filter) {
        // Straight off the sorted ids, without collecting the org.
        let iter: Box<dyn Iterator<Item = &String>> = if desc {
            Box::new(ids.iter().rev())
        } else {
            Box::new(ids.iter())
        };
        let items = iter
            .skip(offset)
            .take(limit)
            .filter_map(recs)
            .map(&map)
            .collect();
        return (items, ids.len());
    }
    let mut matched: Vec<&IdentityRec> = ids
        .iter()
        .filter_map(recs)
        .filter(|r| filter.is_none_or(|f| f.matches(&r.name)))
        .collect();
    match order {
        Order::Name { desc: true } => matched.reverse(),
        Order::Name { desc: false } => {}
        Order::LastLogin { desc } => matched.sort_by(|a, b| by_last_login(a, b, desc)),
    }
    let total = matched.len();
    let items = matched
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(map)
        .collect();
    (items, total)
}

/// Last-login order: the newest (`desc`) or oldest first, never-used last, then membership id.
fn by_last_login(a: &IdentityRec, b: &IdentityRec, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let by_time = match (&a.last_login, &b.last_login) {
        (Some(x), Some(y)) if desc => y.at.cmp(&x.at),
        (Some(x), Some(y)) => x.at.cmp(&y.at),
        (Some(_), None) => Less,
        (None, Some(_)) => Greater,
        (None, None) => Equal,
    };
    by_time.then_with(|| a.membership_id.cmp(&b.membership_id))
}

fn memberships(req: &Req<'_>, org: &str) -> Response {
    let s = req.shared;
    if let Err(r) = authenticate(req) {
        return r;
    }
    let query: HashMap<String, String> = Query::try_from_uri(req.uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let coerce = |k: &str| {
        query.get(k).map(|v| match v.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => serde_json::Number::from_f64(n)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            _ => Value::String(v.clone()),
        })
    };
    let mut issues = Vec::new();
    let (limit_v, offset_v) = (coerce("limit"), coerce("offset"));
    let limit = int_field(limit_v.as_ref(), "limit", 1, Some(20_000), 100, &mut issues);
    let offset = int_field(offset_v.as_ref(), "offset", 0, None, 0, &mut issues);
    let order_dir = query
        .get("orderDirection")
        .map(|v| Value::String(v.clone()));
    let order_by = query.get("orderBy").map(|v| Value::String(v.clone()));
    enum_field(
        order_by.as_ref(),
        "orderBy",
        &["name", "role"],
        "name",
        &mut issues,
    );
    let desc = enum_field(
        order_dir.as_ref(),
        "orderDirection",
        &["asc", "desc"],
        "asc",
        &mut issues,
    ) == "desc";
    if !issues.is_empty() {
        return validation(s, issues);
    }
    let state = s.read();
    if org != state.org.id {
        // GUESS: the org permission check fails for another org.
        return error(
            s,
            403,
            "PermissionDenied",
            json!("You are not allowed to read on Identity"),
        );
    }
    let filter = query
        .get("search")
        .filter(|v| !v.is_empty())
        .map(|v| NameFilter::Contains(v.clone()));
    let shape = if s.settings.legacy {
        Shape::Legacy
    } else {
        Shape::Membership
    };
    let (items, total) = page(
        &state,
        ScopeFilter::Organization,
        Order::Name { desc },
        offset,
        limit,
        filter.as_ref(),
        |rec| membership(rec, &state.org.id, shape),
    );
    s.note_listed(&state, &items);
    json_response(
        200,
        &json!({"identityMemberships": items, "totalCount": total}),
    )
}

/// A zod `number().int().min().max().default()` field; records issues.
fn int_field(
    v: Option<&Value>,
    key: &str,
    min: u64,
    max: Option<u64>,
    default: u64,
    issues: &mut Vec<Value>,
) -> u64 {
    let p = zod::key(key);
    let Some(v) = v else { return default };
    let Some(f) = v.as_f64().filter(|_| v.is_number()) else {
        issues.push(zod::invalid_type(&p, "number", Some(v)));
        return default;
    };
    if f.fract() != 0.0 {
        issues.push(zod::not_integer(&p));
        return default;
    }
    if f < min as f64 {
        issues.push(zod::too_small(&p, "number", min, None));
        return default;
    }
    if let Some(max) = max
        && f > max as f64
    {
        issues.push(zod::too_big(&p, "number", max, None));
        return default;
    }
    f as u64
}

fn enum_field(
    v: Option<&Value>,
    key: &str,
    options: &[&str],
    default: &str,
    issues: &mut Vec<Value>,
) -> String {
    match v {
        None => default.to_owned(),
        Some(Value::String(s)) if options.contains(&s.as_str()) => s.clone(),
        Some(Value::String(s)) => {
            issues.push(zod::invalid_enum(&zod::key(key), options, s));
            default.to_owned()
        }
        Some(other) => {
            issues.push(zod::invalid_type(&zod::key(key), "string", Some(other)));
            default.to_owned()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Auth-method configs

/// Status and message when `method` is not attached (GET). UA and Kubernetes look the row up
/// first (404); OCI, AWS, JWT and GCP check `authMethods` (400); the others: GUESS 400.
fn not_configured_get(s: &Shared, method: &AuthMethod, id: &str) -> Response {
    let legacy = s.settings.legacy;
    match method {
        AuthMethod::Universal if legacy => error(
            s,
            400,
            "BadRequest",
            json!("The identity does not have universal auth"),
        ),
        AuthMethod::Universal | AuthMethod::Kubernetes => row_not_found(s, method, id),
        _ => does_not_have(s, 400, method),
    }
}

/// "The identity does not have X attached", as a 400 `BadRequest` or a 404 `NotFound`.
fn does_not_have(s: &Shared, status: u16, method: &AuthMethod) -> Response {
    let name = if status == 404 {
        "NotFound"
    } else {
        "BadRequest"
    };
    let message = format!("The identity does not have {} attached", pretty(method));
    error(s, status, name, json!(message))
}

/// Infisical's 404 for a method whose row it cannot find.
fn row_not_found(s: &Shared, method: &AuthMethod, id: &str) -> Response {
    error(
        s,
        404,
        "NotFound",
        json!(format!(
            "Failed to find {} for identity with ID {id}",
            pretty(method).to_lowercase()
        )),
    )
}

/// PATCH when not attached: universal auth (row lookup first), OCI and AWS 404; JWT and GCP
/// 400; others GUESS 400.
fn not_configured_patch(s: &Shared, method: &AuthMethod, id: &str) -> Response {
    match method {
        AuthMethod::Universal | AuthMethod::Oci | AuthMethod::Aws => row_not_found(s, method, id),
        _ => error(
            s,
            400,
            "BadRequest",
            json!(format!("Failed to update {}", pretty(method))),
        ),
    }
}

fn pretty(method: &AuthMethod) -> &'static str {
    match method {
        AuthMethod::Universal => "Universal Auth",
        AuthMethod::Gcp => "GCP Auth",
        AuthMethod::AliCloud => "Alibaba Cloud Auth",
        AuthMethod::Aws => "AWS Auth",
        AuthMethod::Kubernetes => "Kubernetes Auth",
        AuthMethod::Oci => "OCI Auth",
        AuthMethod::Oidc => "OIDC Auth",
        AuthMethod::Azure => "Azure Auth",
        AuthMethod::Token => "Token Auth",
        AuthMethod::Jwt => "JWT Auth",
        AuthMethod::Ldap => "LDAP Auth",
        AuthMethod::TlsCert => "TLS Certificate Auth",
        AuthMethod::Spiffe => "SPIFFE Auth",
        AuthMethod::Unknown(_) => "Auth",
    }
}

/// The GET/PATCH answer: what GET shows of the stored config, under the wrapper key.
fn wrapped(s: &Shared, method: &AuthMethod, cfg: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert(
        method.wrapper_key().into_owned(),
        Value::Object(s.view(method, cfg)),
    );
    Value::Object(out)
}

fn get_config(req: &Req<'_>, method: &AuthMethod, id: &str) -> Response {
    let s = req.shared;
    if let Err(r) = authenticate(req) {
        return r;
    }
    let state = s.read();
    let Some(rec) = state.identities.get(id) else {
        return lookup_error(s, id);
    };
    match rec.config(method) {
        Some(cfg) => json_response(200, &wrapped(s, method, cfg)),
        None => not_configured_get(s, method, id),
    }
}

fn patch_config(req: &Req<'_>, method: &AuthMethod, id: &str) -> Response {
    let s = req.shared;
    let actor_id = match authenticate(req) {
        Ok(actor_id) => actor_id,
        Err(r) => return r,
    };
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut state = s.write();
    let actor = state
        .identities
        .get(&actor_id)
        .map(|a| (a.id.clone(), a.name.clone()));
    let Some(rec) = state.identities.get_mut(id) else {
        return lookup_error(s, id);
    };
    let Some(cfg) = rec.config_mut(method) else {
        return not_configured_patch(s, method, id);
    };
    if s.settings.legacy
        && let Some(0) = body.get("accessTokenMaxTTL").and_then(Value::as_u64)
    {
        // GUESS: older schemas had `accessTokenMaxTTL` min 1 on update.
        return validation(
            s,
            vec![zod::too_small(
                &zod::key("accessTokenMaxTTL"),
                "number",
                1,
                None,
            )],
        );
    }
    if req.body.is_empty() {
        return validation(s, vec![zod::invalid_type(&[], "object", None)]);
    }
    let spiffe_api = s.settings.spiffe_api;
    match patch::apply(method, cfg, &body, s.settings.ip_allowlisting, spiffe_api) {
        Ok(mut updated) => {
            updated.insert(
                "updatedAt".into(),
                Value::String(jiff::Timestamp::now().to_string()),
            );
            *cfg = updated;
            let answer = json_response(200, &wrapped(s, method, cfg));
            let event = actor.map(|(actor_id, actor_name)| {
                let body = changes::config_event("update", method, id, cfg);
                request_event(req, (&actor_id, &actor_name), s.settings.clock.now(), body)
            });
            drop(state);
            if let Some(event) = event {
                s.record(event);
            }
            answer
        }
        Err(e) => patch_error(s, e),
    }
}

/// The answer to a refused config write: 422 (401 on the October-2024 server), 400 or 500.
fn patch_error(s: &Shared, e: PatchError) -> Response {
    match e {
        PatchError::Validation(issues) => validation(s, issues),
        PatchError::BadRequest(message) => error(s, 400, "BadRequest", json!(message)),
        PatchError::Internal => server_error(s, 500),
    }
}
