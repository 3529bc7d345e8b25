//! A machine identity as the listing endpoints describe it.

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
}
