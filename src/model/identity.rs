//! A machine identity as the listing endpoints describe it, with what they say of its use.

use jiff::Timestamp;

use super::AuthMethod;

/// Where an identity lives: the organization, or a single project (project-scoped identities
/// are missed by the org membership listing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityScope {
    Organization,
    Project { project_id: String },
}

/// One machine identity with its configured auth methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The identity id (not the membership id).
    pub id: String,
    /// The identity's name.
    pub name: String,
    /// Methods from `authMethods` (or the older single `authMethod`), unknown names kept.
    pub auth_methods: Vec<AuthMethod>,
    /// Organization or project scope.
    pub scope: IdentityScope,
    /// When it joined and when it last logged in, as far as the server says.
    pub usage: Usage,
}

/// What the listing says of an identity's use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// When its membership (organization or project) was created: when it was added.
    pub created_at: Option<Timestamp>,
    pub last_login: LastLogin,
}

/// An identity's last login as the listing reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LastLogin {
    /// The server does not report last logins (older servers omit the fields).
    #[default]
    NotReported,
    /// Reported, and there was none.
    Never,
    /// The last login, and the method it used when the server names one.
    At {
        time: Timestamp,
        method: Option<AuthMethod>,
    },
}
