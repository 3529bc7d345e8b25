//! Whether the organization's audit log can serve as usage evidence in this run.
//!
//! Audit logs are a paid feature: without it the endpoint answers 200 with an empty list, the
//! same answer as an organization where nothing happened. An empty log for the whole window is
//! therefore never read as "no activity": it makes the evidence unavailable. So do a refused
//! read (idguard's identity lacks the permission), a failed one, and an older server (it records
//! logins without an address and cannot filter events by identity actor; it is recognised by a
//! listing without last logins).

use crate::infisical::{AuditLogQuery, Client, ErrorKind, EventsOf};

use super::evidence::Window;

/// Where usage evidence comes from in a run (`run.usage_evidence` in report.json).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EvidenceSource {
    /// The organization's audit log was read.
    AuditLogs,
    /// It could not be used, for this reason.
    Unavailable { reason: String },
    /// No trusted-IP narrowing needed it.
    #[default]
    NotNeeded,
}

impl EvidenceSource {
    /// The value report.json records.
    pub fn as_str(&self) -> &'static str {
        match self {
            EvidenceSource::AuditLogs => "audit-logs",
            EvidenceSource::Unavailable { .. } => "unavailable",
            EvidenceSource::NotNeeded => "not-needed",
        }
    }

    /// The reason it is unavailable.
    pub fn reason(&self) -> Option<&str> {
        match self {
            EvidenceSource::Unavailable { reason } => Some(reason),
            _ => None,
        }
    }
}

/// Decides whether the audit log is usable: one read of a single event of the window, unless
/// the listing already showed an older server (`reports_last_logins` false).
pub async fn probe(client: &Client, window: Window, reports_last_logins: bool) -> EvidenceSource {
    if !reports_last_logins {
        return unavailable(
            "this Infisical version does not report last logins, records logins without an \
             address and cannot filter its audit log by identity",
        );
    }
    let first = client
        .audit_log_page(&AuditLogQuery {
            events: EventsOf::Any,
            since: window.since,
            until: window.until,
            offset: 0,
            limit: 1,
        })
        .await;
    match first {
        Ok(events) if events.is_empty() => unavailable(&format!(
            "the organization's audit log holds no event since {}: audit logs are not part of \
             its plan, or are not kept that long",
            window.since
        )),
        Ok(_) => EvidenceSource::AuditLogs,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => unavailable(
            "idguard's identity may not read the organization's audit log (permission denied)",
        ),
        Err(e) => unavailable(&format!("reading the audit log failed: {e}")),
    }
}

fn unavailable(reason: &str) -> EvidenceSource {
    EvidenceSource::Unavailable {
        reason: reason.to_owned(),
    }
}
