//! Turns the raw [`Node`] tree into a [`Policy`], collecting every problem with its position:
//! unknown and duplicate keys (with a "did you mean" for a likely typo), wrong types, bad
//! values, and the cross-checks between rules, auth methods, allowlist fields and exemptions.
//! Never stops at the first problem, and never reports a second problem that only follows
//! from one already reported (a cross-check whose input was invalid is skipped). Also
//! collects the [`Warning`]s: valid but probably not meant.

use std::collections::HashMap;

use ipnet::IpNet;

use super::cidr::{contains, parse_cidr};
use super::duration::{check_range, parse_duration_text};
use super::node::{Kind, Node};
use super::suggest::did_you_mean;
use super::{
    AccessTokenCheck, AllowlistCheck, AppliesTo, Diagnostic, Exemption, Policy, Rule,
    TrustedIpField, TrustedIpsCheck, UsageCheck, Warning, WarningKind,
};
use crate::finding::Severity;
use crate::model::AuthMethod;
use crate::pattern::Pattern;

pub(crate) const TOP_KEYS: &[&str] = &["version", "name", "defaults", "rules", "exemptions"];
pub(crate) const DEFAULTS_KEYS: &[&str] = &["severity"];
pub(crate) const RULE_KEYS: &[&str] = &[
    "id",
    "description",
    "severity",
    "applies_to",
    "access_token",
    "trusted_ips",
    "allowlists",
    "usage",
];
pub(crate) const APPLIES_KEYS: &[&str] = &["auth_methods", "identities", "exclude_identities"];
pub(crate) const TOKEN_KEYS: &[&str] = &["max_ttl", "max_max_ttl", "max_uses", "allow_periodic"];
pub(crate) const IPS_KEYS: &[&str] = &["allowed_cidrs", "fields", "fallback_cidrs"];
pub(crate) const USAGE_KEYS: &[&str] = &["max_idle"];
pub(crate) const ALLOWLIST_KEYS: &[&str] = &["field", "required", "allowed", "default"];
pub(crate) const EXEMPTION_KEYS: &[&str] = &["identity", "rules", "reason", "owner", "expires"];
/// The rule keys that are checks: a rule writes at least one; `usage` (the last) stands alone.
pub(crate) const CHECKS: [&str; 4] = ["access_token", "trusted_ips", "allowlists", "usage"];

/// What a validation is of: where the policy came from, its digest, and the UTC day
/// exemptions are judged on.
pub(crate) struct Context<'a> {
    pub origin: &'a str,
    pub sha256: &'a str,
    pub today: jiff::civil::Date,
}

/// Collects diagnostics and warnings against one origin.
pub(crate) struct Ctx<'a> {
    origin: &'a str,
    today: jiff::civil::Date,
    out: &'a mut Vec<Diagnostic>,
    warnings: &'a mut Vec<Warning>,
}

impl<'a> Ctx<'a> {
    /// A collector for another YAML file read with the same helpers (a policy's test cases):
    /// diagnostics go to `out`, warnings to `warnings`.
    pub(crate) fn new(
        origin: &'a str,
        today: jiff::civil::Date,
        out: &'a mut Vec<Diagnostic>,
        warnings: &'a mut Vec<Warning>,
    ) -> Ctx<'a> {
        Ctx {
            origin,
            today,
            out,
            warnings,
        }
    }

    pub(crate) fn err(&mut self, at: &Node, message: impl Into<String>) {
        self.out.push(Diagnostic {
            origin: self.origin.to_owned(),
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }

    fn warn(&mut self, at: &Node, kind: WarningKind) {
        self.warnings.push(Warning {
            origin: self.origin.to_owned(),
            line: at.line,
            column: at.column,
            kind,
        });
    }

    /// A mark for [`Ctx::erred_since`].
    fn mark(&self) -> usize {
        self.out.len()
    }

    /// Whether an error was reported since `mark`: a cross-check that depends on what was
    /// validated in between is then skipped (its complaint would only follow from that error).
    fn erred_since(&self, mark: usize) -> bool {
        self.out.len() > mark
    }
}

/// A mapping's keys after the unknown/duplicate checks; null values count as absent.
pub(crate) struct Fields<'n> {
    at: &'n Node,
    entries: Vec<(&'n str, &'n Node)>,
    /// Known keys suggested for unknown ones (`acess_token` → `access_token`): the key was
    /// probably written, so its absence is no error of its own.
    misspelt: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .filter(|v| v.kind != Kind::Null)
    }

    /// Whether an unknown key of this mapping looks like a misspelling of `key`.
    fn misspelt(&self, key: &str) -> bool {
        self.misspelt.contains(&key)
    }

    /// The value of `key`; reports it missing unless an unknown key looks like it.
    pub(crate) fn require(&self, ctx: &mut Ctx, key: &str, what: &str) -> Option<&'n Node> {
        let v = self.get(key);
        if v.is_none() && !self.misspelt(key) {
            ctx.err(self.at, format!("{what}: missing required key `{key}`"));
        }
        v
    }
}

/// Checks that `node` is a mapping with only `known` keys, each once.
pub(crate) fn fields<'n>(
    ctx: &mut Ctx,
    node: &'n Node,
    known: &[&'static str],
    what: &str,
) -> Option<Fields<'n>> {
    let Kind::Map(entries) = &node.kind else {
        ctx.err(
            node,
            format!("{what}: expected a mapping, found {}", node.type_name()),
        );
        return None;
    };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut kept = Vec::new();
    let mut misspelt = Vec::new();
    for (k, v) in entries {
        let Kind::Str(name) = &k.kind else {
            ctx.err(
                k,
                format!("{what}: keys must be strings, found {}", k.type_name()),
            );
            continue;
        };
        if !known.contains(&name.as_str()) {
            misspelt.extend(did_you_mean(name, known));
            ctx.err(k, format!("{what}: {}", unknown("key", name, known)));
            continue;
        }
        if let Some(first) = seen.get(name.as_str()) {
            ctx.err(
                k,
                format!("{what}: duplicate key `{name}` (first at line {first})"),
            );
            continue;
        }
        seen.insert(name.as_str(), k.line);
        kept.push((name.as_str(), v));
    }
    Some(Fields {
        at: node,
        entries: kept,
        misspelt,
    })
}

/// `unknown <noun> `word``, then "did you mean" when `word` looks like a misspelling of one of
/// `candidates`, else the candidates.
pub(crate) fn unknown(noun: &str, word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates) {
        Some(c) => format!("unknown {noun} `{}`; did you mean `{c}`?", short(word)),
        None => format!(
            "unknown {noun} `{}` (expected one of: {})",
            short(word),
            candidates.join(", ")
        ),
    }
}

/// The string value of `key` in a mapping, without reporting anything.
pub(crate) fn peek_str<'n>(node: &'n Node, key: &str) -> Option<&'n str> {
    let Kind::Map(entries) = &node.kind else {
        return None;
    };
    entries.iter().find_map(|(k, v)| match (&k.kind, &v.kind) {
        (Kind::Str(name), Kind::Str(value)) if name == key => Some(value.as_str()),
        _ => None,
    })
}

pub(crate) fn short(s: &str) -> String {
    let cut: String = s.chars().take(60).collect();
    if cut.len() < s.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

pub(crate) fn string(ctx: &mut Ctx, node: &Node, what: &str) -> Option<String> {
    match &node.kind {
        Kind::Str(s) => Some(s.clone()),
        Kind::Int(i) => Some(i.to_string()),
        _ => {
            ctx.err(
                node,
                format!("{what}: expected a string, found {}", node.type_name()),
            );
            None
        }
    }
}

fn boolean(ctx: &mut Ctx, node: &Node, what: &str) -> Option<bool> {
    match node.kind {
        Kind::Bool(b) => Some(b),
        _ => {
            ctx.err(
                node,
                format!("{what}: expected true or false, found {}", node.type_name()),
            );
            None
        }
    }
}

/// A list of strings, each with its node; `None` (after a diagnostic) when not a list.
/// Items of the wrong type are reported and skipped. An empty list is an error when
/// `non_empty`.
fn string_list<'n>(
    ctx: &mut Ctx,
    node: &'n Node,
    what: &str,
    non_empty: bool,
) -> Option<Vec<(String, &'n Node)>> {
    let Kind::Seq(items) = &node.kind else {
        ctx.err(
            node,
            format!("{what}: expected a list, found {}", node.type_name()),
        );
        return None;
    };
    if non_empty && items.is_empty() {
        ctx.err(node, format!("{what}: the list is empty"));
    }
    Some(
        items
            .iter()
            .filter_map(|item| string(ctx, item, what).map(|s| (s, item)))
            .collect(),
    )
}

fn severity(ctx: &mut Ctx, node: &Node, what: &str) -> Option<Severity> {
    let s = string(ctx, node, what)?;
    let sev = Severity::parse(&s);
    if sev.is_none() {
        let names = Severity::ALL.map(Severity::as_str);
        ctx.err(node, format!("{what}: {}", unknown("severity", &s, &names)));
    }
    sev
}

/// A duration of rule `rule` at `key` (`access_token.max_ttl`). A bare number is read as
/// seconds, as it always was, with a warning saying so.
fn duration(
    ctx: &mut Ctx,
    node: &Node,
    label: &str,
    rule: Option<&str>,
    key: &'static str,
) -> Option<u64> {
    let (r, unitless) = match &node.kind {
        Kind::Int(i) => (check_range(*i), true),
        Kind::Str(s) => (
            parse_duration_text(s),
            s.trim().bytes().all(|b| b.is_ascii_digit()),
        ),
        _ => (
            Err(format!(
                "expected seconds or a duration like `1h30m`, found {}",
                node.type_name()
            )),
            false,
        ),
    };
    match r {
        Ok(seconds) => {
            if unitless {
                ctx.warn(
                    node,
                    WarningKind::UnitlessDuration {
                        rule: rule.map(str::to_owned),
                        key,
                        seconds,
                    },
                );
            }
            Some(seconds)
        }
        Err(e) => {
            ctx.err(node, format!("{label}: {key}: {e}"));
            None
        }
    }
}

fn cidr_list(ctx: &mut Ctx, node: &Node, what: &str) -> Option<Vec<(IpNet, Node)>> {
    let items = string_list(ctx, node, what, true)?;
    let mut out = Vec::new();
    for (text, at) in items {
        match parse_cidr(&text) {
            Ok(net) => out.push((net, at.clone())),
            Err(e) => ctx.err(at, format!("{what}: {e}")),
        }
    }
    Some(out)
}

fn patterns(ctx: &mut Ctx, node: &Node, what: &str) -> Option<Vec<Pattern>> {
    let items = string_list(ctx, node, what, true)?;
    let mut out = Vec::new();
    for (text, at) in items {
        if text.is_empty() {
            ctx.err(at, format!("{what}: empty pattern"));
        } else if text.contains(',') {
            ctx.err(
                at,
                format!(
                    "{what}: `{}` contains a comma; list entries separately",
                    short(&text)
                ),
            );
        } else {
            out.push(Pattern::new(&text));
        }
    }
    Some(out)
}

/// Validates the whole tree. Returns the policy when its structure was readable; the caller
/// rejects it anyway when any diagnostic was pushed.
pub(crate) fn validate(
    root: &Node,
    of: Context<'_>,
    out: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Warning>,
) -> Option<Policy> {
    let ctx = &mut Ctx {
        origin: of.origin,
        today: of.today,
        out,
        warnings,
    };
    if root.kind == Kind::Null {
        ctx.err(
            root,
            "the policy is empty; it needs `version: 1` and `rules`",
        );
        return None;
    }
    let top = fields(ctx, root, TOP_KEYS, "policy")?;

    match top.get("version") {
        None if top.misspelt("version") => {}
        None => ctx.err(
            root,
            "policy: missing required key `version` (write `version: 1`)",
        ),
        Some(v) if v.kind == Kind::Int(1) => {}
        Some(v) => {
            let shown = match &v.kind {
                Kind::Int(i) => i.to_string(),
                Kind::Str(s) => format!("\"{}\"", short(s)),
                _ => v.type_name().to_owned(),
            };
            ctx.err(
                v,
                format!("policy: unsupported version {shown}; this idguard reads `version: 1`"),
            );
        }
    }
    let name = top.get("name").and_then(|n| string(ctx, n, "name"));

    let mut default_severity = Severity::Medium;
    if let Some(d) = top.get("defaults")
        && let Some(df) = fields(ctx, d, DEFAULTS_KEYS, "defaults")
        && let Some(s) = df.get("severity")
        && let Some(sev) = severity(ctx, s, "defaults.severity")
    {
        default_severity = sev;
    }

    let mut rules = Vec::new();
    let mut ids = RuleIds::default();
    match top.get("rules") {
        None if top.misspelt("rules") => {}
        None => ctx.err(
            root,
            "policy: missing required key `rules` (at least one rule)",
        ),
        Some(r) => match &r.kind {
            Kind::Seq(items) if items.is_empty() => {
                ctx.err(r, "rules: the policy needs at least one rule")
            }
            Kind::Seq(items) => {
                ids.complete = true;
                for item in items {
                    if let Some(rule) = rule(ctx, item, default_severity, &mut ids) {
                        rules.push(rule);
                    }
                }
            }
            _ => ctx.err(
                r,
                format!("rules: expected a list, found {}", r.type_name()),
            ),
        },
    }

    let mut exemptions = Vec::new();
    if let Some(e) = top.get("exemptions") {
        match &e.kind {
            Kind::Seq(items) => {
                for item in items {
                    if let Some(ex) = exemption(ctx, item, &ids) {
                        exemptions.push(ex);
                    }
                }
            }
            _ => ctx.err(
                e,
                format!("exemptions: expected a list, found {}", e.type_name()),
            ),
        }
    }

    Some(Policy {
        name,
        rules,
        exemptions,
        origin: of.origin.to_owned(),
        sha256: of.sha256.to_owned(),
        warnings: Vec::new(),
    })
}

/// The rule ids written, for the duplicate check and for the exemptions' `rules`.
#[derive(Default)]
struct RuleIds {
    /// Every id written as text, well-formed or not, with the line of its first use.
    seen: HashMap<String, usize>,
    /// Every rule's id could be read. When not, an exemption naming an unknown rule may be
    /// naming that one, so it is not reported.
    complete: bool,
}

impl RuleIds {
    /// The well-formed ids, for "did you mean".
    fn known(&self) -> Vec<&str> {
        let mut known: Vec<&str> = self
            .seen
            .keys()
            .map(String::as_str)
            .filter(|id| well_formed_id(id))
            .collect();
        known.sort_unstable();
        known
    }
}

/// `[a-z0-9-]+`.
fn well_formed_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn rule(ctx: &mut Ctx, node: &Node, default_severity: Severity, ids: &mut RuleIds) -> Option<Rule> {
    let written_id = peek_str(node, "id");
    let label = match written_id {
        Some(id) => format!("rule `{}`", short(id)),
        None => "rule".to_owned(),
    };
    let Some(f) = fields(ctx, node, RULE_KEYS, &label) else {
        ids.complete = false;
        return None;
    };
    let id_node = f.require(ctx, "id", &label);
    let id = id_node.and_then(|n| string(ctx, n, "rule id"));
    match (&id, id_node) {
        (Some(id), Some(at)) => {
            if !well_formed_id(id) {
                ctx.err(at, format!("rule id `{}` must match [a-z0-9-]+", short(id)));
            } else if let Some(first) = ids.seen.get(id) {
                ctx.err(
                    at,
                    format!("duplicate rule id `{id}` (first at line {first})"),
                );
            }
            // A malformed id is recorded too: an exemption naming it is no second problem.
            ids.seen.entry(id.clone()).or_insert(at.line);
        }
        _ => ids.complete = false,
    }
    let description = f
        .get("description")
        .and_then(|n| string(ctx, n, &format!("{label}: description")));
    let severity = match f.get("severity") {
        Some(n) => severity(ctx, n, &format!("{label}: severity")).unwrap_or(default_severity),
        None => default_severity,
    };
    let applies_to = match f.get("applies_to") {
        Some(n) => applies_to(ctx, n, &label),
        None => AppliesTo::default(),
    };
    let methods: Vec<AuthMethod> = applies_to
        .auth_methods
        .clone()
        .unwrap_or_else(|| AuthMethod::KNOWN.to_vec());

    let access_token = f
        .get("access_token")
        .and_then(|n| access_token(ctx, n, &label, written_id));
    let all_methods = applies_to.auth_methods.is_none();
    let trusted_ips = f
        .get("trusted_ips")
        .and_then(|n| trusted_ips(ctx, n, &label, written_id, &methods, all_methods));
    let allowlists = f
        .get("allowlists")
        .map(|n| allowlists(ctx, n, &label, &methods))
        .unwrap_or_default();
    let usage = f
        .get("usage")
        .and_then(|n| usage(ctx, n, &label, written_id));

    // A rule must write at least one check (validity of each is reported separately; a
    // misspelt check key is reported as such).
    let written = |key: &str| match f.get(key).map(|n| &n.kind) {
        Some(Kind::Map(m)) => !m.is_empty(),
        Some(Kind::Seq(s)) => !s.is_empty(),
        Some(_) => true,
        None => f.misspelt(key),
    };
    if !CHECKS.iter().any(|k| written(k)) {
        let at = CHECKS.iter().find_map(|k| f.get(k)).unwrap_or(node);
        ctx.err(
            at,
            format!("{label}: no checks (add access_token, trusted_ips, allowlists or usage)"),
        );
    }

    if let Some(at) = f.get("usage")
        && CHECKS[..3].iter().any(|k| f.get(k).is_some())
    {
        ctx.err(
            at,
            format!(
                "{label}: usage cannot share a rule with other checks (it is judged from the \
                 listing, not from a config); give it a rule of its own"
            ),
        );
    }

    Some(Rule {
        id: id?,
        description,
        severity,
        applies_to,
        access_token: access_token.filter(|a| !a.is_empty()),
        trusted_ips,
        allowlists,
        usage,
    })
}

/// `usage: {max_idle: 90d}`; `max_idle: ~` checks nothing and is refused.
fn usage(ctx: &mut Ctx, node: &Node, label: &str, rule: Option<&str>) -> Option<UsageCheck> {
    let what = format!("{label}: usage");
    let f = fields(ctx, node, USAGE_KEYS, &what)?;
    if let Some((_, n)) = f.entries.iter().find(|(k, _)| *k == "max_idle")
        && n.kind == Kind::Null
    {
        ctx.err(
            n,
            format!("{what}.max_idle is null (~), so it checks nothing; give it a duration"),
        );
        return None;
    }
    let n = f.require(ctx, "max_idle", &what)?;
    duration(ctx, n, label, rule, "usage.max_idle").map(|max_idle| UsageCheck { max_idle })
}

fn applies_to(ctx: &mut Ctx, node: &Node, label: &str) -> AppliesTo {
    let mut out = AppliesTo::default();
    let what = format!("{label}: applies_to");
    let Some(f) = fields(ctx, node, APPLIES_KEYS, &what) else {
        return out;
    };
    let mark = ctx.mark();
    if let Some(n) = f.get("auth_methods")
        && let Some(items) = string_list(ctx, n, &format!("{what}.auth_methods"), true)
    {
        let known: Vec<&str> = AuthMethod::KNOWN.iter().map(AuthMethod::as_str).collect();
        let mut methods = Vec::new();
        for (name, at) in items {
            match AuthMethod::parse_known(&name) {
                Some(m) if !methods.contains(&m) => methods.push(m),
                Some(_) => {}
                None => ctx.err(
                    at,
                    format!(
                        "{what}.auth_methods: {}",
                        unknown("auth method", &name, &known)
                    ),
                ),
            }
        }
        // A list with a bad entry (or none) leaves the rule's methods unknown: the checks that
        // depend on them then judge against every method, so they add no second error.
        if !ctx.erred_since(mark) {
            out.auth_methods = Some(methods);
        }
    }
    if let Some(n) = f.get("identities") {
        out.identities = patterns(ctx, n, &format!("{what}.identities"));
    }
    if let Some(n) = f.get("exclude_identities")
        && let Kind::Seq(items) = &n.kind
        && !items.is_empty()
    {
        out.exclude_identities =
            patterns(ctx, n, &format!("{what}.exclude_identities")).unwrap_or_default();
    } else if let Some(n) = f.get("exclude_identities")
        && !matches!(n.kind, Kind::Seq(_))
    {
        ctx.err(
            n,
            format!(
                "{what}.exclude_identities: expected a list, found {}",
                n.type_name()
            ),
        );
    }
    out
}

fn access_token(
    ctx: &mut Ctx,
    node: &Node,
    label: &str,
    rule: Option<&str>,
) -> Option<AccessTokenCheck> {
    let what = format!("{label}: access_token");
    let f = fields(ctx, node, TOKEN_KEYS, &what)?;
    let mut out = AccessTokenCheck::default();
    let max_ttl_node = f.get("max_ttl");
    if let Some(n) = max_ttl_node {
        out.max_ttl = duration(ctx, n, label, rule, "access_token.max_ttl");
    }
    if let Some(n) = f.get("max_max_ttl") {
        out.max_max_ttl = duration(ctx, n, label, rule, "access_token.max_max_ttl");
    }
    if let (Some(max_ttl), Some(max_max_ttl), Some(at)) =
        (out.max_ttl, out.max_max_ttl, max_ttl_node)
        && max_ttl > max_max_ttl
    {
        ctx.warn(
            at,
            WarningKind::TtlAboveMaxTtl {
                rule: rule.map(str::to_owned),
                max_ttl,
                max_max_ttl,
            },
        );
    }
    if let Some(n) = f.get("max_uses") {
        match n.kind {
            Kind::Int(i) if i > 0 && i <= i128::from(u32::MAX) => out.max_uses = Some(i as u64),
            Kind::Int(i) if i <= 0 => ctx.err(
                n,
                format!("{what}.max_uses: must be at least 1 (0 means unlimited on the server)"),
            ),
            Kind::Int(_) => ctx.err(n, format!("{what}.max_uses: too large")),
            _ => ctx.err(
                n,
                format!(
                    "{what}.max_uses: expected a positive integer, found {}",
                    n.type_name()
                ),
            ),
        }
    }
    if let Some(n) = f.get("allow_periodic") {
        out.allow_periodic = boolean(ctx, n, &format!("{what}.allow_periodic"));
    }
    // Written keys that are all null (`max_ttl: ~`) check nothing: a rule that looks like a
    // check but passes everything is refused.
    if !f.entries.is_empty() && f.entries.iter().all(|(_, n)| n.kind == Kind::Null) {
        ctx.err(
            node,
            format!(
                "{what}: every check is null (~), so it checks nothing; give at least one a value"
            ),
        );
    }
    Some(out)
}

fn trusted_ips(
    ctx: &mut Ctx,
    node: &Node,
    label: &str,
    rule: Option<&str>,
    methods: &[AuthMethod],
    all_methods: bool,
) -> Option<TrustedIpsCheck> {
    let what = format!("{label}: trusted_ips");
    let f = fields(ctx, node, IPS_KEYS, &what)?;
    let mark = ctx.mark();
    let allowed = f
        .require(ctx, "allowed_cidrs", &what)
        .and_then(|n| cidr_list(ctx, n, &format!("{what}.allowed_cidrs")));
    // With a bad entry, which addresses are allowed is unknown: fallbacks are not judged.
    let allowed_known = !ctx.erred_since(mark);
    for (net, at) in allowed.iter().flatten() {
        if net.prefix_len() == 0 {
            ctx.warn(
                at,
                WarningKind::AdmitsEveryAddress {
                    rule: rule.map(str::to_owned),
                    cidr: *net,
                },
            );
        }
    }
    let mut field_list = Vec::new();
    match f.get("fields") {
        None => field_list = TrustedIpField::ALL.to_vec(),
        Some(n) => {
            for (name, at) in
                string_list(ctx, n, &format!("{what}.fields"), true).unwrap_or_default()
            {
                match TrustedIpField::parse(&name) {
                    Some(field) => {
                        if field == TrustedIpField::ClientSecret
                            && !all_methods
                            && !methods
                                .iter()
                                .any(AuthMethod::has_client_secret_trusted_ips)
                        {
                            ctx.err(
                                at,
                                format!(
                                    "{what}.fields: none of the rule's auth methods has `{name}` (universal-auth only)"
                                ),
                            );
                        }
                        if !field_list.contains(&field) {
                            field_list.push(field);
                        }
                    }
                    None => {
                        let known = TrustedIpField::ALL.map(TrustedIpField::as_str);
                        ctx.err(
                            at,
                            format!(
                                "{what}.fields: {}",
                                unknown("trusted-IP field", &name, &known)
                            ),
                        );
                    }
                }
            }
        }
    }
    let mut fallback = Vec::new();
    if let Some(n) = f.get("fallback_cidrs")
        && let Some(items) = cidr_list(ctx, n, &format!("{what}.fallback_cidrs"))
    {
        for (net, at) in items {
            if allowed_known
                && let Some(allowed) = &allowed
                && !allowed.is_empty()
                && !allowed.iter().any(|(a, _)| contains(a, &net))
            {
                ctx.err(
                    &at,
                    format!("{what}.fallback_cidrs: {net} is not inside allowed_cidrs"),
                );
            }
            if !fallback.contains(&net) {
                fallback.push(net);
            }
        }
    }
    let allowed: Vec<IpNet> = allowed?.into_iter().map(|(n, _)| n).collect();
    if allowed.is_empty() || field_list.is_empty() {
        return None;
    }
    Some(TrustedIpsCheck {
        allowed_cidrs: allowed,
        fields: field_list,
        fallback_cidrs: fallback,
    })
}

fn allowlists(
    ctx: &mut Ctx,
    node: &Node,
    label: &str,
    methods: &[AuthMethod],
) -> Vec<AllowlistCheck> {
    let what = format!("{label}: allowlists");
    let Kind::Seq(items) = &node.kind else {
        ctx.err(
            node,
            format!("{what}: expected a list, found {}", node.type_name()),
        );
        return Vec::new();
    };
    let mut out: Vec<AllowlistCheck> = Vec::new();
    for item in items {
        let Some(f) = fields(ctx, item, ALLOWLIST_KEYS, &format!("{what} entry")) else {
            continue;
        };
        let field_node = f.require(ctx, "field", &format!("{what} entry"));
        let field = field_node.and_then(|n| string(ctx, n, &format!("{what}.field")));
        if let (Some(name), Some(at)) = (&field, field_node) {
            if !methods
                .iter()
                .any(|m| m.allowlist_fields().contains(&name.as_str()))
            {
                let known: Vec<&str> = {
                    let mut v: Vec<&str> = methods
                        .iter()
                        .flat_map(|m| m.allowlist_fields().iter().copied())
                        .collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                };
                let help = match did_you_mean(name, &known) {
                    Some(field) => format!("; did you mean `{field}`?"),
                    None if known.is_empty() => " (known: none)".to_owned(),
                    None => format!(" (known: {})", known.join(", ")),
                };
                ctx.err(
                    at,
                    format!(
                        "{what}: none of the rule's auth methods has an allowlist field `{}`{help}",
                        short(name)
                    ),
                );
            } else if out.iter().any(|a| &a.field == name) {
                ctx.err(at, format!("{what}: `{name}` is listed twice"));
            }
        }
        let fw = match &field {
            Some(n) => format!("{what} `{}`", short(n)),
            None => what.clone(),
        };
        let mark = ctx.mark();
        let required = f
            .get("required")
            .and_then(|n| boolean(ctx, n, &format!("{fw}.required")))
            .unwrap_or(false);
        let required_known = !ctx.erred_since(mark);
        let mark = ctx.mark();
        let allowed = f
            .get("allowed")
            .and_then(|n| patterns(ctx, n, &format!("{fw}.allowed")));
        // With a bad pattern, what `allowed` admits is unknown: defaults are not judged.
        let allowed_known = !ctx.erred_since(mark);
        let mut default = None;
        if let Some(n) = f.get("default")
            && let Some(items) = string_list(ctx, n, &format!("{fw}.default"), true)
        {
            let mut values = Vec::new();
            for (text, at) in items {
                let t = text.trim();
                if t.is_empty() || t.contains(',') {
                    ctx.err(
                        at,
                        format!(
                            "{fw}.default: `{}` is not a single list entry",
                            short(&text)
                        ),
                    );
                    continue;
                }
                if allowed_known
                    && let Some(pats) = &allowed
                    && !pats.iter().any(|p| p.matches(t))
                {
                    ctx.err(
                        at,
                        format!("{fw}.default: `{}` matches none of `allowed`", short(t)),
                    );
                }
                if !values.iter().any(|v| v == t) {
                    values.push(t.to_owned());
                }
            }
            if values.len() > 1
                && let Some(name) = &field
                && AuthMethod::is_single_value_field(name)
            {
                ctx.err(
                    n,
                    format!("{fw}.default: `{name}` holds one value, so `default` takes one entry"),
                );
            }
            if !values.is_empty() {
                default = Some(values);
            }
        }
        if !required
            && required_known
            && f.get("allowed").is_none()
            && !f.misspelt("required")
            && !f.misspelt("allowed")
        {
            ctx.err(
                item,
                format!("{fw}: checks nothing (set `required: true` or `allowed`)"),
            );
        }
        if let Some(field) = field {
            out.push(AllowlistCheck {
                field,
                required,
                allowed,
                default,
            });
        }
    }
    out
}

fn exemption(ctx: &mut Ctx, node: &Node, rule_ids: &RuleIds) -> Option<Exemption> {
    let what = "exemption";
    let f = fields(ctx, node, EXEMPTION_KEYS, what)?;
    let identity = f
        .require(ctx, "identity", what)
        .and_then(|n| string(ctx, n, "exemption identity"));
    if let (Some(id), Some(n)) = (&identity, f.get("identity")) {
        if id.trim().is_empty() {
            ctx.err(n, "exemption identity: empty");
        } else if !is_uuid(id) {
            ctx.warn(
                n,
                WarningKind::ExemptionByName {
                    identity: id.clone(),
                },
            );
        }
    }
    let mut rules = None;
    if let Some(n) = f.get("rules")
        && let Some(items) = string_list(ctx, n, "exemption rules", true)
    {
        let mut ids = Vec::new();
        let known = rule_ids.known();
        for (id, at) in items {
            if !rule_ids.seen.contains_key(&id) {
                // When some rule's id could not be read, this may be it: no second error.
                if rule_ids.complete {
                    ctx.err(
                        at,
                        format!("exemption rules: {}", unknown("rule", &id, &known)),
                    );
                }
            } else if !ids.contains(&id) {
                ids.push(id);
            }
        }
        rules = Some(ids);
    }
    let reason = f
        .require(ctx, "reason", what)
        .and_then(|n| string(ctx, n, "exemption reason"));
    if let (Some(r), Some(n)) = (&reason, f.get("reason"))
        && r.trim().is_empty()
    {
        ctx.err(n, "exemption reason: empty");
    }
    let owner = f
        .get("owner")
        .and_then(|n| string(ctx, n, "exemption owner"));
    let expires = f.require(ctx, "expires", what).and_then(|n| {
        let text = string(ctx, n, "exemption expires")?;
        let date = parse_date(&text);
        if date.is_none() {
            ctx.err(
                n,
                format!(
                    "exemption expires: `{}` is not a date YYYY-MM-DD",
                    short(&text)
                ),
            );
        }
        date
    });
    let exemption = Exemption {
        identity: identity?,
        rules,
        reason: reason?,
        owner,
        expires: expires?,
        name_shared: false,
    };
    if exemption.has_expired(ctx.today)
        && let Some(at) = f.get("expires")
    {
        ctx.warn(
            at,
            WarningKind::ExpiredExemption {
                identity: exemption.identity.clone(),
                expires: exemption.expires,
            },
        );
    }
    Some(exemption)
}

/// Whether `s` looks like an identity id (a UUID: 8-4-4-4-12 hex digits).
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Strict `YYYY-MM-DD` (a real calendar day).
pub(crate) fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return None;
    }
    text.parse().ok()
}
