//! Which organization the token belongs to, when `--org-id` is not given.
//!
//! Current servers: `GET /api/v1/identities/details`. Older servers lack that route (it falls
//! into `/identities/:id` and answers 500, or 404): there the token's `identityId` claim and
//! `GET /api/v1/identities/{identityId}` give the membership's `orgId`.

use http::Method;
use serde_json::Value;
use url::Url;

use super::endpoint;
use super::error::{ApiError, ErrorKind};
use super::session::Session;
use super::throttle::Class;
use super::transport::{Request, TokenHolder, Transport};

/// Finds the organization id of the session's token.
pub(crate) async fn discover(
    transport: &Transport,
    session: &Session,
    base: &Url,
) -> Result<String, ApiError> {
    let mut req = Request::new(
        Method::GET,
        endpoint(base, &["api", "v1", "identities", "details"]),
        Class::Read,
    );
    // A 500 here means "older server" far more often than "transient": go to the fallback.
    req.retry_server_errors = false;
    req.forbidden = ErrorKind::Auth;
    match transport
        .execute(&req, Some(session as &dyn TokenHolder))
        .await
    {
        Ok(body) => body
            .pointer("/identityDetails/organization/id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::OrgUnknown {
                detail: "GET /api/v1/identities/details answered without \
                         identityDetails.organization.id"
                    .into(),
                kind: ErrorKind::Decode,
            }),
        Err(e) if matches!(e.status(), Some(404 | 500)) => {
            tracing::debug!(
                "no /api/v1/identities/details here ({e}); using the token's identityId"
            );
            legacy(transport, session, base, &e).await
        }
        Err(e) if e.status().is_some() => Err(ApiError::OrgUnknown {
            detail: e.to_string(),
            kind: e.kind(),
        }),
        Err(e) => Err(e),
    }
}

async fn legacy(
    transport: &Transport,
    session: &Session,
    base: &Url,
    details_error: &ApiError,
) -> Result<String, ApiError> {
    let identity_id = session
        .claims()
        .and_then(|c| {
            c.get("identityId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .ok_or_else(|| ApiError::OrgUnknown {
            detail: format!(
                "{details_error}; and the token carries no identityId claim to look it up"
            ),
            kind: ErrorKind::NotFound,
        })?;
    let req = Request::new(
        Method::GET,
        endpoint(base, &["api", "v1", "identities", &identity_id]),
        Class::Read,
    );
    let body = transport
        .execute(&req, Some(session as &dyn TokenHolder))
        .await
        .map_err(|e| match e.status() {
            Some(_) => ApiError::OrgUnknown {
                detail: e.to_string(),
                kind: e.kind(),
            },
            None => e,
        })?;
    body.pointer("/identity/orgId")
        .or_else(|| body.pointer("/identity/identity/orgId"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::OrgUnknown {
            detail: format!("{} answered without identity.orgId", req.describe()),
            kind: ErrorKind::Decode,
        })
}
