//! The YAML policy: reading a file, parsing it with spans, and validating it into the
//! [`Policy`] the evaluation works from. Every problem is reported at once, each with
//! `origin:line:column` (see [`Diagnostic`]).
//!
//! Parse, don't validate: [`node`] reads the YAML into a span-carrying tree (no meaning yet),
//! [`validate`] turns that tree into the types below or collects every diagnostic. Durations and
//! CIDRs have their own modules. What a rule *means* lives in `evaluate`, not here.

mod cidr;
mod duration;
pub(crate) mod node;
mod schema;
pub(crate) mod suggest;
pub(crate) mod validate;
mod warning;

use std::fmt;
use std::path::Path;

use ipnet::IpNet;
use sha2::{Digest, Sha256};

use crate::finding::Severity;
use crate::model::AuthMethod;
use crate::pattern::Pattern;

pub use duration::{format_duration, format_seconds, parse_duration_text};
pub use schema::schema_json;
pub use warning::{Warning, WarningKind};

/// Inputs longer than this are refused before parsing (a policy is a few kilobytes).
pub const MAX_POLICY_BYTES: usize = crate::input::POLICY_CAP as usize;

/// A validated policy, version 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `name`, if given.
    pub name: Option<String>,
    /// The rules, in file order (results come out in this order).
    pub rules: Vec<Rule>,
    /// The exemptions, in file order.
    pub exemptions: Vec<Exemption>,
    /// Where the policy came from (a path, or what the caller named it).
    pub origin: String,
    /// Hex SHA-256 of the source bytes.
    pub sha256: String,
    /// What is valid but probably not meant, sorted by position; expired exemptions are
    /// judged on the UTC day the policy was validated.
    pub warnings: Vec<Warning>,
}

impl Policy {
    /// This policy with the exemptions naming one of `shared` (names several identities of
    /// the org hold) applying to none of them by name.
    pub fn with_shared_names(&self, shared: &[String]) -> Policy {
        let mut policy = self.clone();
        for e in &mut policy.exemptions {
            e.name_shared = shared.contains(&e.identity);
        }
        policy
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// One rule: which identities and methods it covers, and its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique id, `[a-z0-9-]+`.
    pub id: String,
    /// Free text.
    pub description: Option<String>,
    /// The rule's severity, else `defaults.severity`, else medium.
    pub severity: Severity,
    /// Which identities and auth methods the rule covers.
    pub applies_to: AppliesTo,
    /// Checks on the fields every auth method has.
    pub access_token: Option<AccessTokenCheck>,
    /// Trusted-IP containment.
    pub trusted_ips: Option<TrustedIpsCheck>,
    /// Allowlist checks, at most one per field.
    pub allowlists: Vec<AllowlistCheck>,
    /// Whether the identity is still in use.
    pub usage: Option<UsageCheck>,
}

/// `usage`: how long an identity may go without a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageCheck {
    /// Seconds since the last login (or, never logged in, since it was added) that fail.
    pub max_idle: u64,
}

/// `applies_to`: empty means every identity and every auth method.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppliesTo {
    /// `None`: every method, unknown ones included.
    pub auth_methods: Option<Vec<AuthMethod>>,
    /// `None`: every identity. A pattern matches a name (glob) or equals an id.
    pub identities: Option<Vec<Pattern>>,
    /// Identities excluded even when `identities` matches (exclusion wins).
    pub exclude_identities: Vec<Pattern>,
}

/// `access_token`: bounds on the token fields (durations in seconds).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessTokenCheck {
    /// Bound on the effective TTL.
    pub max_ttl: Option<u64>,
    /// Bound on the effective max TTL.
    pub max_max_ttl: Option<u64>,
    /// Bound on `accessTokenNumUsesLimit` (0 there = unlimited, which fails).
    pub max_uses: Option<u64>,
    /// Whether periodic tokens are accepted; `None` when not written.
    pub allow_periodic: Option<bool>,
}

impl AccessTokenCheck {
    /// Whether any check is written.
    pub fn is_empty(&self) -> bool {
        self.max_ttl.is_none()
            && self.max_max_ttl.is_none()
            && self.max_uses.is_none()
            && self.allow_periodic.is_none()
    }
}

/// A trusted-IP field a rule can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrustedIpField {
    /// `accessTokenTrustedIps` (every method).
    AccessToken,
    /// `clientSecretTrustedIps` (universal-auth only).
    ClientSecret,
}

impl TrustedIpField {
    /// Both fields, in the default order.
    pub const ALL: [TrustedIpField; 2] =
        [TrustedIpField::AccessToken, TrustedIpField::ClientSecret];

    /// The Infisical field name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustedIpField::AccessToken => "accessTokenTrustedIps",
            TrustedIpField::ClientSecret => "clientSecretTrustedIps",
        }
    }

    /// Parses an Infisical field name.
    pub fn parse(name: &str) -> Option<TrustedIpField> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// `trusted_ips`: every entry must lie inside one of `allowed_cidrs`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustedIpsCheck {
    /// Normalised networks (host bits cleared, IPv4-mapped ranges as IPv4). Never empty.
    pub allowed_cidrs: Vec<IpNet>,
    /// The fields judged (default both).
    pub fields: Vec<TrustedIpField>,
    /// Used by remediation when no entry is left; each lies inside `allowed_cidrs`.
    pub fallback_cidrs: Vec<IpNet>,
}

/// One `allowlists` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowlistCheck {
    /// The Infisical field name (`allowedUsernames`, ...).
    pub field: String,
    /// Fail when the list is null or empty.
    pub required: bool,
    /// Patterns every entry must match; `None` = no restriction on entries.
    pub allowed: Option<Vec<Pattern>>,
    /// Remediation's replacement when nothing is left; never empty.
    pub default: Option<Vec<String>>,
}

/// One exemption.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemption {
    /// An exact identity id or exact name.
    pub identity: String,
    /// `None`: every rule.
    pub rules: Option<Vec<String>>,
    /// Why (required).
    pub reason: String,
    /// Who owns it.
    pub owner: Option<String>,
    /// From this UTC day on the exemption no longer applies.
    pub expires: jiff::civil::Date,
    /// The org holds several identities with the name `identity`: the exemption then covers
    /// none of them by name (anyone who can create an identity could otherwise borrow it),
    /// only an identity whose id it is. Set per run, never read from the file.
    pub name_shared: bool,
}

impl Exemption {
    /// Whether the exemption no longer applies on the UTC day `today` (from `expires` on).
    pub fn has_expired(&self, today: jiff::civil::Date) -> bool {
        today >= self.expires
    }

    /// The rules it covers for people: `token-lifetime, network`, or `all`.
    pub fn rules_shown(&self) -> String {
        self.rules
            .as_ref()
            .map_or_else(|| "all".to_owned(), |r| r.join(", "))
    }
}

/// One problem in a policy, with its position (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file path or name the policy came from.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// The diagnostic followed by the source line it points at and a caret, for humans, with
    /// every control character escaped.
    pub fn render(&self, source: &str) -> String {
        with_snippet(self.to_string(), source, self.line, self.column)
    }
}

/// `head` followed by line `line` of `source` and a caret under `column`; control characters
/// (of the head and of the line) are shown as escapes.
fn with_snippet(head: String, source: &str, line: usize, column: usize) -> String {
    let mut out = crate::display::safe(&head).into_owned();
    if let Some(text) = source.lines().nth(line.saturating_sub(1)) {
        let text: String = text.chars().take(200).collect();
        let pad = " ".repeat(column.saturating_sub(1).min(200));
        out.push_str(&format!(
            "\n  | {}\n  | {pad}^",
            crate::display::safe(&text)
        ));
    }
    out
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read, or is larger than a policy can be.
    #[error(transparent)]
    Read(crate::input::InputError),
    /// The policy has problems; every one is listed. Its warnings come along, for printing
    /// beside the errors.
    #[error("{}", DiagnosticList(diagnostics))]
    Invalid {
        diagnostics: Vec<Diagnostic>,
        warnings: Vec<Warning>,
    },
}

struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Reads and validates the policy at `path`, judging expired exemptions on today's UTC date.
/// Invalid UTF-8 and oversized files are reported as diagnostics, not read errors.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let origin = path.display().to_string();
    let bytes = crate::input::read_capped(path, crate::input::POLICY_CAP, "policy")
        .map_err(PolicyError::Read)?;
    check(&bytes, &origin, utc_today()).map_err(Rejected::into_error)
}

/// Validates policy bytes (checks UTF-8 first, pointing at the first bad byte).
pub fn parse_bytes(bytes: &[u8], origin: &str) -> Result<Policy, Vec<Diagnostic>> {
    check(bytes, origin, utc_today()).map_err(|r| r.diagnostics)
}

/// Parses and validates a policy source. `origin` names it in diagnostics. Returns every
/// problem found, sorted by position.
pub fn parse(source: &str, origin: &str) -> Result<Policy, Vec<Diagnostic>> {
    parse_on(source, origin, utc_today())
}

/// As [`parse`], with exemptions judged expired or not on the UTC day `today`.
pub fn parse_on(
    source: &str,
    origin: &str,
    today: jiff::civil::Date,
) -> Result<Policy, Vec<Diagnostic>> {
    check(source.as_bytes(), origin, today).map_err(|r| r.diagnostics)
}

/// Today's date in UTC, the calendar exemptions are judged on.
fn utc_today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
}

/// A policy that failed validation: every error, and the warnings found on the way.
struct Rejected {
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<Warning>,
}

impl Rejected {
    fn into_error(self) -> PolicyError {
        PolicyError::Invalid {
            diagnostics: self.diagnostics,
            warnings: self.warnings,
        }
    }
}

/// Decodes `bytes` (checking UTF-8 first, pointing at the first bad byte, then the size) and
/// reads them into the positioned YAML tree. `what` names the file in messages ("policy").
pub(crate) fn read_tree<'b>(
    bytes: &'b [u8],
    origin: &str,
    what: &str,
) -> Result<(&'b str, node::Node), Diagnostic> {
    let diag = |line, column, message: String| Diagnostic {
        origin: origin.to_owned(),
        line,
        column,
        message,
    };
    let source = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            // The prefix is valid UTF-8 by construction.
            let prefix = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
            let line = prefix.matches('\n').count() + 1;
            let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            return Err(diag(line, column, format!("the {what} is not valid UTF-8")));
        }
    };
    if source.len() > MAX_POLICY_BYTES {
        return Err(diag(
            1,
            1,
            format!(
                "the {what} is {} bytes; the limit is {MAX_POLICY_BYTES}",
                source.len()
            ),
        ));
    }
    let tree = node::read(source).map_err(|e| diag(e.line, e.column, e.message))?;
    Ok((source, tree))
}

/// Decodes and validates `bytes`: the policy (with its warnings), or every error (with the
/// warnings), each list sorted by position.
fn check(bytes: &[u8], origin: &str, today: jiff::civil::Date) -> Result<Policy, Rejected> {
    let fatal = |d: Diagnostic| Rejected {
        diagnostics: vec![d],
        warnings: Vec::new(),
    };
    let (source, tree) = read_tree(bytes, origin, "policy").map_err(fatal)?;
    let sha256 = hex::encode(Sha256::digest(source.as_bytes()));
    let mut diagnostics = Vec::new();
    let mut warnings = Vec::new();
    let policy = validate::validate(
        &tree,
        validate::Context {
            origin,
            sha256: &sha256,
            today,
        },
        &mut diagnostics,
        &mut warnings,
    );
    warnings.sort_by_key(|w| (w.line, w.column));
    match policy {
        Some(mut p) if diagnostics.is_empty() => {
            p.warnings = warnings;
            Ok(p)
        }
        _ => {
            if diagnostics.is_empty() {
                diagnostics.push(Diagnostic {
                    origin: origin.to_owned(),
                    line: 1,
                    column: 1,
                    message: "the policy is invalid".to_owned(),
                });
            }
            diagnostics.sort_by_key(|d| (d.line, d.column));
            diagnostics.dedup();
            Err(Rejected {
                diagnostics,
                warnings,
            })
        }
    }
}

#[cfg(test)]
mod tests;
