//! What a logged request was for, coarser than its route and finer than its rate-limit class:
//! the categories a benchmark counts (sessions, listing pages, config reads and writes, and the
//! audit log by the shape of its query).
//!
//! It owns the categories and the reading of an audit-log query's shape; which route a request
//! took is decided in `routes.rs`.

/// What a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// `POST /api/v1/auth/universal-auth/login` and the token renewal.
    Login,
    /// The logged-in identity's details and single-identity lookups.
    IdentityLookup,
    /// A page of the identity listing (v2 search, or the October-2024 memberships list).
    Listing,
    /// `GET /api/v1/auth/<method>/identities/{id}`.
    ConfigRead,
    /// `PATCH`, `POST` or `DELETE` of an auth config.
    ConfigWrite,
    /// Creating, renaming or deleting an identity.
    IdentityWrite,
    /// An audit-log page filtered by `eventType`.
    AuditLogByType,
    /// An audit-log page filtered by one identity (`actor`, or `eventMetadata`).
    AuditLogByIdentity,
    /// Any other audit-log page (a date range only).
    AuditLogUnfiltered,
    /// A route the simulator does not serve.
    Unknown,
}

impl RequestKind {
    /// Every kind, in the order stats list them.
    pub const ALL: [RequestKind; 10] = [
        RequestKind::Login,
        RequestKind::IdentityLookup,
        RequestKind::Listing,
        RequestKind::ConfigRead,
        RequestKind::ConfigWrite,
        RequestKind::IdentityWrite,
        RequestKind::AuditLogByType,
        RequestKind::AuditLogByIdentity,
        RequestKind::AuditLogUnfiltered,
        RequestKind::Unknown,
    ];

    /// The name used in `/__sim/stats` and `/__sim/requests`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Login => "login",
            RequestKind::IdentityLookup => "identity_lookup",
            RequestKind::Listing => "listing",
            RequestKind::ConfigRead => "config_read",
            RequestKind::ConfigWrite => "config_write",
            RequestKind::IdentityWrite => "identity_write",
            RequestKind::AuditLogByType => "audit_log_by_type",
            RequestKind::AuditLogByIdentity => "audit_log_by_identity",
            RequestKind::AuditLogUnfiltered => "audit_log_unfiltered",
            RequestKind::Unknown => "unknown",
        }
    }

    /// The kind of an audit-log read with this query string: a non-empty `eventType` wins over
    /// an identity filter, which wins over none.
    pub(crate) fn of_audit_query(query: Option<&str>) -> RequestKind {
        let mut by_identity = false;
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "eventType" if !value.is_empty() => return RequestKind::AuditLogByType,
                "actor" | "eventMetadata" if !value.is_empty() => by_identity = true,
                _ => {}
            }
        }
        if by_identity {
            RequestKind::AuditLogByIdentity
        } else {
            RequestKind::AuditLogUnfiltered
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_queries_are_told_apart_by_their_filters() {
        let of = |q| RequestKind::of_audit_query(Some(q));
        assert_eq!(
            of("eventType=update-identity-aws-auth%2Ccreate-identity&startDate=x&limit=1000"),
            RequestKind::AuditLogByType
        );
        assert_eq!(
            of("actorType=identity&actor=abc&offset=0"),
            RequestKind::AuditLogByIdentity
        );
        assert_eq!(
            of("eventMetadata=identityId%3Dabc&limit=1000"),
            RequestKind::AuditLogByIdentity
        );
        assert_eq!(
            of("startDate=x&endDate=y&offset=0&limit=1"),
            RequestKind::AuditLogUnfiltered
        );
        assert_eq!(of("eventType=&actor="), RequestKind::AuditLogUnfiltered);
        assert_eq!(
            RequestKind::of_audit_query(None),
            RequestKind::AuditLogUnfiltered
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = RequestKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RequestKind::ALL.len());
    }
}
