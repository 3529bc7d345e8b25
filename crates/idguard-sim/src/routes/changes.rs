//! The routes that change the org's identities, and the audit events they write, as
//! Infisical's routers do (`server/routes/v1/identity-*-auth-router.ts`, `identity-router.ts`):
//!
//! - `POST /api/v1/auth/<method>/identities/{id}` attaches a method (the row: `attach.rs`;
//!   400 when the identity already has it, or on the October-2024 server any method, since it
//!   kept one per identity) and writes `add-identity-<method>`;
//! - `DELETE` on the same path removes it (400, or 404 for aws, oci and alicloud, when it is
//!   not attached), revokes the tokens issued through it and writes
//!   `revoke-identity-<method>`;
//! - `POST /api/v1/identities` (`{name, organizationId, role = "no-access", metadata?}`)
//!   creates an org-scoped identity with no method (`create-identity`); `PATCH
//!   /api/v1/identities/{id}` (`{name?, role?, metadata?}`) renames it (`update-identity`);
//!   `DELETE /api/v1/identities/{id}` removes it and revokes its tokens (`delete-identity`).
//!   Simplification: the role is checked (a built-in slug: `admin`, `member`, `no-access`;
//!   GUESS: another slug is a custom role the org lacks, 404) but not kept, and `metadata` is
//!   checked for shape and dropped.
//!
//! Every event carries `identityId` in its metadata (the add event also the config's values,
//! see `config_event`; create and update also `name`), names the calling identity as actor and
//! records the caller's address; nothing is written when the org has no audit-log plan. The
//! config PATCH (`update-identity-<method>`) lives in `routes.rs` with the config GET.

// Handlers answer `Result<Response, Response>` so that `?` carries an error answer out.
#![allow(clippy::result_large_err)]

use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{
    Req, authenticate, does_not_have, error, json_response, lookup_error, not_object, parse_body,
    patch_error, pretty, request_event, validation, wrapped,
};
use crate::attach;
use crate::audit_log::EventBody;
use crate::clock::iso_millis;
use crate::generator;
use crate::patch::PatchError;
use crate::records::IdentityRec;
use crate::zod::{self, Seg};
use crate::{AuthMethod, IdentitySpec};

/// The org roles every org has (`OrgMembershipRole`).
const BUILT_IN_ROLES: [&str; 3] = ["admin", "member", "no-access"];

/// The calling identity `(id, name)`, `None` when it no longer exists (then no event is
/// written), or the authentication error.
fn acting(req: &Req<'_>) -> Result<Option<(String, String)>, Response> {
    let actor_id = authenticate(req)?;
    let state = req.shared.read();
    Ok(state
        .identities
        .get(&actor_id)
        .map(|a| (a.id.clone(), a.name.clone())))
}

/// Records `body` as done by `actor` in this request (no event without an actor).
fn record(req: &Req<'_>, actor: Option<(String, String)>, body: EventBody) {
    let s = req.shared;
    if let Some((id, name)) = actor {
        s.record(request_event(
            req,
            (&id, &name),
            s.settings.clock.now(),
            body,
        ));
    }
}

/// An event of type `event_type` with `metadata`.
fn event(event_type: String, metadata: Map<String, Value>) -> EventBody {
    EventBody::Other {
        event_type: event_type.into(),
        metadata: Box::new(metadata),
    }
}

/// `{identityId}` plus `extra`.
fn identity_metadata(identity_id: &str, extra: &[(&str, &str)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in extra {
        m.insert((*k).into(), json!(v));
    }
    m.insert("identityId".into(), json!(identity_id));
    m
}

/// `<verb>-identity-<method>` (`add` or `update`) with `identityId` and the config's values.
/// The universal-auth fields are those of its routes (`identity-universal-auth-router.ts`);
/// GUESS for the other methods: the access-token fields only (their routes add their own).
pub(super) fn config_event(
    verb: &str,
    method: &AuthMethod,
    identity_id: &str,
    cfg: &Map<String, Value>,
) -> EventBody {
    let mut keys = vec![
        "accessTokenTTL",
        "accessTokenMaxTTL",
        "accessTokenTrustedIps",
        "accessTokenNumUsesLimit",
    ];
    if *method == AuthMethod::Universal {
        keys.extend([
            "clientSecretTrustedIps",
            "lockoutEnabled",
            "lockoutThreshold",
            "lockoutDurationSeconds",
            "lockoutCounterResetSeconds",
        ]);
    }
    let mut metadata = identity_metadata(identity_id, &[]);
    for key in keys {
        if let Some(v) = cfg.get(key) {
            metadata.insert(key.into(), v.clone());
        }
    }
    event(format!("{verb}-identity-{}", method.as_str()), metadata)
}

/// `POST /api/v1/auth/<method>/identities/{id}`: the body is validated first (422), then the
/// identity looked up (404; 500 for an id that is no UUID), then a method already attached
/// refused (400), then the service checks (400).
pub(super) fn attach_config(
    req: &Req<'_>,
    method: &AuthMethod,
    id: &str,
) -> Result<Response, Response> {
    let s = req.shared;
    let actor = acting(req)?;
    let body = parse_body(req)?;
    if !body.is_object() {
        return Err(validation(s, vec![not_object(req, &body)]));
    }
    let now = iso_millis(s.settings.clock.now());
    let built = attach::row(
        method,
        id,
        &body,
        &now,
        s.settings.ip_allowlisting,
        s.settings.spiffe_api,
    );
    if let Err(PatchError::Validation(issues)) = built {
        return Err(validation(s, issues));
    }
    let mut state = s.write();
    let Some(rec) = state.identities.get_mut(id) else {
        return Err(lookup_error(s, id));
    };
    let taken = if s.settings.legacy {
        !rec.configs.is_empty()
    } else {
        rec.config(method).is_some()
    };
    if taken {
        return Err(error(s, 400, "BadRequest", json!(already_attached(method))));
    }
    let row = built.map_err(|e| patch_error(s, e))?;
    let answer = json_response(200, &wrapped(s, method, &row));
    let body = config_event("add", method, id, &row);
    rec.configs.push((method.clone(), row));
    drop(state);
    record(req, actor, body);
    Ok(answer)
}

/// "Failed to add universal auth to already configured identity"; the other methods name
/// themselves as their errors do (GUESS for those whose message was not seen: OCI, OIDC,
/// Azure, AliCloud, TLS certificate).
fn already_attached(method: &AuthMethod) -> String {
    let name = match method {
        AuthMethod::Universal => "universal auth",
        other => pretty(other),
    };
    format!("Failed to add {name} to already configured identity")
}

/// `DELETE /api/v1/auth/<method>/identities/{id}`: answers the removed row.
pub(super) fn revoke_config(
    req: &Req<'_>,
    method: &AuthMethod,
    id: &str,
) -> Result<Response, Response> {
    let s = req.shared;
    let actor = acting(req)?;
    let mut state = s.write();
    let Some(rec) = state.identities.get_mut(id) else {
        return Err(lookup_error(s, id));
    };
    let Some(at) = rec.configs.iter().position(|(m, _)| m == method) else {
        return Err(not_attached(req, method));
    };
    let (_, row) = rec.configs.remove(at);
    let answer = json_response(200, &wrapped(s, method, &row));
    drop(state);
    // Lock order: the token table is never taken while the state is held.
    s.auth().revoke_for(id, Some(method));
    let body = event(
        format!("revoke-identity-{}", method.as_str()),
        identity_metadata(id, &[]),
    );
    record(req, actor, body);
    Ok(answer)
}

/// A revoke of a method that is not attached: universal auth 400 "The identity does not have
/// universal auth"; aws, oci and alicloud 404, the others 400, "The identity does not have X
/// attached" (GUESS for OIDC, token, LDAP, TLS certificate and SPIFFE: 400).
fn not_attached(req: &Req<'_>, method: &AuthMethod) -> Response {
    let s = req.shared;
    match method {
        AuthMethod::Universal => error(
            s,
            400,
            "BadRequest",
            json!("The identity does not have universal auth"),
        ),
        AuthMethod::Aws | AuthMethod::Oci | AuthMethod::AliCloud => does_not_have(s, 404, method),
        _ => does_not_have(s, 400, method),
    }
}

/// The identity as the create, update and delete routes answer it (`IdentitiesSchema`;
/// GUESS: its columns on each version; the create route adds `authMethods`).
fn identity_json(rec: &IdentityRec, org_id: &str, legacy: bool) -> Value {
    let first = rec.methods().next().map(AuthMethod::as_str);
    let mut out = json!({"id": rec.id, "name": rec.name, "authMethod": first,
                         "createdAt": rec.created_at, "updatedAt": rec.created_at});
    if !legacy && let Some(obj) = out.as_object_mut() {
        obj.insert("hasDeleteProtection".into(), json!(false));
        obj.insert("orgId".into(), json!(org_id));
        obj.insert(
            "projectId".into(),
            json!(rec.project.as_ref().map(|p| &p.id)),
        );
    }
    out
}

/// One string field of an identity body: trimmed, `min` characters at least; `None` when
/// absent or refused (the issue is recorded).
fn text(
    obj: &Map<String, Value>,
    key: &str,
    required: bool,
    min: usize,
    issues: &mut Vec<Value>,
) -> Option<String> {
    let p = zod::key(key);
    match obj.get(key) {
        None if !required => None,
        Some(Value::String(v)) => {
            let v = v.trim();
            if v.chars().count() < min {
                issues.push(zod::too_small(&p, "string", min as u64, None));
                return None;
            }
            Some(v.to_owned())
        }
        other => {
            issues.push(zod::invalid_type(&p, "string", other));
            None
        }
    }
}

/// `metadata`: an optional array of `{key, value}` (both trimmed, at least one character).
fn metadata(obj: &Map<String, Value>, issues: &mut Vec<Value>) {
    let Some(v) = obj.get("metadata") else { return };
    let Value::Array(items) = v else {
        issues.push(zod::invalid_type(&zod::key("metadata"), "array", Some(v)));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let p = [Seg::Key("metadata".into()), Seg::Index(i)];
        let Some(entry) = item.as_object() else {
            issues.push(zod::invalid_type(&p, "object", Some(item)));
            continue;
        };
        for k in ["key", "value"] {
            let mut nested = Vec::new();
            text(entry, k, true, 1, &mut nested);
            for mut issue in nested {
                let mut full = p.to_vec();
                full.push(Seg::Key(k.into()));
                issue["path"] = zod::path(&full);
                issues.push(issue);
            }
        }
    }
}

/// The identity body: an object, its fields checked; `Err` is the 422 (401 on the
/// October-2024 server).
fn identity_body(req: &Req<'_>, create: bool) -> Result<IdentityBody, Response> {
    let s = req.shared;
    let body = parse_body(req)?;
    let Some(obj) = body.as_object() else {
        return Err(validation(s, vec![not_object(req, &body)]));
    };
    let mut issues = Vec::new();
    let name = text(obj, "name", create, 0, &mut issues);
    let organization_id = if create {
        text(obj, "organizationId", true, 0, &mut issues)
    } else {
        None
    };
    let role = text(obj, "role", false, 1, &mut issues);
    metadata(obj, &mut issues);
    if !issues.is_empty() {
        return Err(validation(s, issues));
    }
    Ok(IdentityBody {
        name,
        organization_id,
        role,
    })
}

/// A validated identity body.
struct IdentityBody {
    name: Option<String>,
    organization_id: Option<String>,
    role: Option<String>,
}

/// The 404 for a role that is no built-in one (GUESS: the message).
fn unknown_role(req: &Req<'_>, role: Option<&str>) -> Option<Response> {
    let role = role.filter(|r| !BUILT_IN_ROLES.contains(r))?;
    Some(error(
        req.shared,
        404,
        "NotFound",
        json!(format!("Failed to find role with slug {role}")),
    ))
}

/// `POST /api/v1/identities`.
pub(super) fn create_identity(req: &Req<'_>) -> Result<Response, Response> {
    let s = req.shared;
    let actor = acting(req)?;
    let body = identity_body(req, true)?;
    let mut state = s.write();
    let org_id = state.org.id.clone();
    if body.organization_id.as_deref() != Some(org_id.as_str()) {
        // GUESS: the org permission check fails for another org.
        return Err(super::permission_denied(s, "create", "identity"));
    }
    if let Some(r) = unknown_role(req, body.role.as_deref()) {
        return Err(r);
    }
    let spec = IdentitySpec {
        name: body.name.unwrap_or_default(),
        project_id: None,
        methods: Vec::new(),
    };
    let mut rec = generator::hand_built(&spec, &org_id);
    rec.created_at = iso_millis(s.settings.clock.now());
    let mut answer = identity_json(&rec, &org_id, s.settings.legacy);
    if let Some(obj) = answer.as_object_mut() {
        obj.insert("authMethods".into(), json!([]));
    }
    let body = named_event("create-identity", &rec);
    state.identities.insert(rec.id.clone(), rec);
    state.resort();
    drop(state);
    answer_identity(req, actor, body, answer)
}

/// `PATCH /api/v1/identities/{id}`: renames the identity when `name` is given.
pub(super) fn update_identity(req: &Req<'_>, id: &str) -> Result<Response, Response> {
    let s = req.shared;
    let actor = acting(req)?;
    let body = identity_body(req, false)?;
    let mut state = s.write();
    let org_id = state.org.id.clone();
    let Some(rec) = state.identities.get_mut(id) else {
        return Err(lookup_error(s, id));
    };
    if let Some(r) = unknown_role(req, body.role.as_deref()) {
        return Err(r);
    }
    if let Some(name) = body.name {
        rec.name = name;
    }
    let answer = identity_json(rec, &org_id, s.settings.legacy);
    let body = named_event("update-identity", rec);
    state.resort();
    drop(state);
    answer_identity(req, actor, body, answer)
}

/// `DELETE /api/v1/identities/{id}`: answers the removed identity.
pub(super) fn delete_identity(req: &Req<'_>, id: &str) -> Result<Response, Response> {
    let s = req.shared;
    let actor = acting(req)?;
    let mut state = s.write();
    let org_id = state.org.id.clone();
    let Some(rec) = state.identities.remove(id) else {
        return Err(lookup_error(s, id));
    };
    state.resort();
    drop(state);
    s.auth().revoke_for(id, None);
    let body = event("delete-identity".into(), identity_metadata(id, &[]));
    let answer = identity_json(&rec, &org_id, s.settings.legacy);
    answer_identity(req, actor, body, answer)
}

/// `create-identity` or `update-identity`: `{identityId, name}`.
fn named_event(event_type: &str, rec: &IdentityRec) -> EventBody {
    event(
        event_type.into(),
        identity_metadata(&rec.id, &[("name", &rec.name)]),
    )
}

/// Records the identity route's event and answers `{identity}`.
fn answer_identity(
    req: &Req<'_>,
    actor: Option<(String, String)>,
    body: EventBody,
    identity: Value,
) -> Result<Response, Response> {
    record(req, actor, body);
    Ok(json_response(200, &json!({ "identity": identity })))
}
