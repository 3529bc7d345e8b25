//! The simulated organization's records: the org, its projects, and each identity with its
//! stored configs and last login (as Infisical's database holds them). Plain data shared by the
//! generator, which builds them, and the state, which serves them.

use serde_json::{Map, Value};

use crate::{AuthMethod, LastLogin};

/// A project a project-scoped identity belongs to.
#[derive(Debug, Clone)]
pub(crate) struct ProjectRec {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) slug: String,
}

/// One identity with its configured methods (in `authMethods` order) and stored configs.
#[derive(Debug, Clone)]
pub(crate) struct IdentityRec {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) membership_id: String,
    pub(crate) project: Option<ProjectRec>,
    pub(crate) created_at: String,
    pub(crate) configs: Vec<(AuthMethod, Map<String, Value>)>,
    /// The membership's `lastLoginTime` / `lastLoginAuthMethod`; `None`: never logged in.
    pub(crate) last_login: Option<LastLogin>,
}

impl IdentityRec {
    pub(crate) fn config(&self, method: &AuthMethod) -> Option<&Map<String, Value>> {
        self.configs
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, c)| c)
    }

    pub(crate) fn config_mut(&mut self, method: &AuthMethod) -> Option<&mut Map<String, Value>> {
        self.configs
            .iter_mut()
            .find(|(m, _)| m == method)
            .map(|(_, c)| c)
    }

    pub(crate) fn methods(&self) -> impl Iterator<Item = &AuthMethod> {
        self.configs.iter().map(|(m, _)| m)
    }
}

/// The organization.
#[derive(Debug, Clone)]
pub(crate) struct OrgRec {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) slug: String,
}
