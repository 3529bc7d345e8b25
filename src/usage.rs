//! Usage evidence: what Infisical records of how identities are used. [`evidence`] reads, per
//! identity, the addresses it logged in from or used its token from (the organization's audit
//! log); [`availability`] decides once per run whether that log can be trusted as evidence;
//! [`lockout`] decides which trusted-IP narrowings the evidence holds back; [`reader`] ties them
//! together for one run; [`at_apply`] reads the evidence again before a plan is applied.

pub mod at_apply;
pub mod availability;
pub mod evidence;
pub mod lockout;
pub mod reader;
