//! Domain types shared by the API client, the evaluation and the reports: auth methods,
//! identities, auth-method configurations and trusted-IP entries.
//!
//! These types describe what Infisical stores, decoded once at the edge. They know nothing of
//! policies (see `policy`) or of HTTP (see `infisical`).

mod auth_config;
mod auth_method;
mod identity;
mod trusted_ip;

pub use auth_config::{AuthConfig, ConfigDecodeError};
pub use auth_method::AuthMethod;
pub use identity::{Identity, IdentityScope, LastLogin, Usage};
pub use trusted_ip::{TrustedIp, TrustedIpError};
