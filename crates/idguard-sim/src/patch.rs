//! PATCH of one auth-method config, as Infisical does it: zod schema validation (422 issue
//! arrays; unknown fields silently dropped; defaults applied to omitted fields, which is where
//! the omission traps come from), then the service checks (TTL against the stored MaxTTL, plan
//! restriction and IP validity: 400), then the update (comma lists normalised, trusted IPs
//! turned into their stored form).
//!
//! Sources: `server/routes/v1/identity-*-auth-router.ts` and `services/identity-*/...` of
//! Infisical/infisical. Points not confirmed there are marked GUESS. spiffe-auth's two API
//! versions live in `spiffe.rs`.

use serde_json::{Map, Value};

use super::SpiffeApi;
use super::spiffe;
use super::zod::{self, Seg};
use crate::AuthMethod;
use crate::stored_ip::StoredIp;

/// Largest TTL Infisical accepts (10 years).
pub(crate) const MAX_TTL: u64 = 315_360_000;

/// Why a PATCH was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PatchError {
    /// Schema failure: zod issues (422, or 401 on legacy servers).
    Validation(Vec<Value>),
    /// Service check failure (400).
    BadRequest(String),
    /// Server error (500), e.g. an update with nothing to set.
    Internal,
}

/// Validates `body` against the method's update schema and returns the new stored config.
/// `spiffe_api` picks the version of spiffe-auth's schema.
pub(crate) fn apply(
    method: &AuthMethod,
    stored: &Map<String, Value>,
    body: &Value,
    ip_allowlisting: bool,
    spiffe_api: SpiffeApi,
) -> Result<Map<String, Value>, PatchError> {
    let Some(obj) = body.as_object() else {
        return Err(PatchError::Validation(vec![zod::invalid_type(
            &[],
            "object",
            Some(body),
        )]));
    };
    if *method == AuthMethod::Spiffe
        && let Some(issue) = spiffe::discriminator_issue(obj, spiffe_api)
    {
        return Err(PatchError::Validation(vec![issue]));
    }
    let mut v = Validator {
        body: obj,
        issues: Vec::new(),
        out: Map::new(),
        ips: Vec::new(),
    };
    let ttl = v.int("accessTokenTTL", 0, Some(MAX_TTL));
    let max = v.int("accessTokenMaxTTL", 0, Some(MAX_TTL));
    v.int("accessTokenNumUsesLimit", 0, None);
    v.ip_list("accessTokenTrustedIps");
    match method {
        AuthMethod::Universal => {
            v.ip_list("clientSecretTrustedIps");
            v.int("accessTokenPeriod", 0, Some(MAX_TTL));
            v.boolean("lockoutEnabled");
            v.int("lockoutThreshold", 1, Some(30));
            v.int("lockoutDurationSeconds", 30, Some(86_400));
            v.int("lockoutCounterResetSeconds", 5, Some(3600));
        }
        AuthMethod::Oci => oci(&mut v),
        AuthMethod::Aws => aws(&mut v),
        AuthMethod::Gcp => {
            v.enumeration("type", &["iam", "gce"]);
            for f in ["allowedServiceAccounts", "allowedProjects", "allowedZones"] {
                v.comma_list(f, ", ");
            }
        }
        AuthMethod::Azure => {
            v.string("tenantId", Some(1), None, false);
            v.string("resource", Some(1), None, false);
            v.comma_list("allowedServicePrincipalIds", ", ");
        }
        AuthMethod::Kubernetes => kubernetes(&mut v),
        AuthMethod::Oidc => {
            v.url("oidcDiscoveryUrl");
            v.string("caCert", None, None, false);
            v.string("boundIssuer", Some(1), None, false);
            v.comma_list("boundAudiences", ", ");
            v.claims("boundClaims");
            v.claims("claimMetadataMapping");
            v.string("boundSubject", None, None, false);
        }
        AuthMethod::Jwt => jwt(&mut v),
        AuthMethod::Ldap => ldap(&mut v),
        AuthMethod::Token => {}
        AuthMethod::AliCloud => alicloud(&mut v),
        AuthMethod::TlsCert => tls(&mut v),
        AuthMethod::Spiffe => spiffe::validate(&mut v, spiffe_api),
        AuthMethod::Unknown(_) => {}
    }
    if !v.issues.is_empty() {
        return Err(PatchError::Validation(v.issues));
    }
    // Object-level refinements run only once every field parsed (zod semantics). spiffe-auth's
    // update schema has no such refinement (both versions): the service check below answers.
    if let (Some(t), Some(m)) = (ttl, max)
        && *method != AuthMethod::Spiffe
        && t > 0
        && m > 0
        && t > m
    {
        // An object-level `.refine(fn, message)`: the issue's path is empty.
        return Err(PatchError::Validation(vec![zod::custom(
            &[],
            "Access Token TTL cannot be greater than Access Token Max TTL.",
        )]));
    }
    // GUESS: an update with nothing to set fails in the database layer (old servers: 500).
    if v.out.is_empty() && v.ips.is_empty() {
        return Err(PatchError::Internal);
    }
    // Service: `(newMax || storedMax) > 0 && (newTTL || storedMax) > (newMax || storedMax)`;
    // spiffe-auth's service stands in the stored TTL for a missing TTL instead.
    let stored_of = |key: &str| stored.get(key).and_then(Value::as_u64).unwrap_or(0);
    let stored_max = stored_of("accessTokenMaxTTL");
    let ttl_stand_in = if *method == AuthMethod::Spiffe {
        stored_of("accessTokenTTL")
    } else {
        stored_max
    };
    let eff_max = max.filter(|m| *m > 0).unwrap_or(stored_max);
    let eff_ttl = ttl.filter(|t| *t > 0).unwrap_or(ttl_stand_in);
    if eff_max > 0 && eff_ttl > eff_max {
        return Err(PatchError::BadRequest(
            "Access token TTL cannot be greater than max TTL".into(),
        ));
    }
    let mut updated = stored.clone();
    for (field, entries) in &v.ips {
        let mut converted = Vec::with_capacity(entries.len());
        for raw in entries {
            if !ip_allowlisting && raw != "0.0.0.0/0" && raw != "::/0" {
                let what = if *field == "clientSecretTrustedIps" {
                    "client secret"
                } else {
                    "access token"
                };
                return Err(PatchError::BadRequest(format!(
                    "Failed to add IP access range to {what} due to plan restriction. Upgrade plan to add IP access range."
                )));
            }
            let ip = StoredIp::from_request(raw).ok_or_else(|| {
                PatchError::BadRequest("The IP is not a valid IPv4, IPv6, or CIDR block".into())
            })?;
            converted.push(ip.to_stored_json());
        }
        updated.insert((*field).to_owned(), Value::Array(converted));
    }
    if *method == AuthMethod::Spiffe {
        spiffe::service_check(&v.out, spiffe_api)?;
    }
    for (k, val) in v.out {
        updated.insert(k, val);
    }
    Ok(updated)
}

/// One PATCH body being validated: the issues found and the values to store.
pub(crate) struct Validator<'a> {
    body: &'a Map<String, Value>,
    pub(crate) issues: Vec<Value>,
    /// Validated, normalised values to store.
    pub(crate) out: Map<String, Value>,
    /// Trusted-IP lists in request form, converted after the service checks.
    ips: Vec<(&'static str, Vec<String>)>,
}

impl<'a> Validator<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.body.get(key)
    }

    /// A `number().int().min().max()` field; stores and returns it.
    pub(crate) fn int(&mut self, key: &str, min: u64, max: Option<u64>) -> Option<u64> {
        let p = zod::key(key);
        let value = self.get(key)?;
        let Value::Number(n) = value else {
            self.issues
                .push(zod::invalid_type(&p, "number", Some(value)));
            return None;
        };
        let f = n.as_f64().unwrap_or(f64::NAN);
        if f.fract() != 0.0 || !f.is_finite() {
            self.issues.push(zod::not_integer(&p));
            return None;
        }
        if f < min as f64 {
            self.issues.push(zod::too_small(&p, "number", min, None));
            return None;
        }
        if let Some(max) = max
            && f > max as f64
        {
            self.issues.push(zod::too_big(&p, "number", max, None));
            return None;
        }
        let n = f as u64;
        self.out.insert(key.to_owned(), Value::from(n));
        Some(n)
    }

    fn boolean(&mut self, key: &str) {
        match self.get(key) {
            None => {}
            Some(Value::Bool(b)) => {
                let b = *b;
                self.out.insert(key.to_owned(), Value::Bool(b));
            }
            Some(other) => {
                let issue = zod::invalid_type(&zod::key(key), "boolean", Some(other));
                self.issues.push(issue);
            }
        }
    }

    /// A trimmed string with optional length bounds; `nullable` accepts null. Stores it and
    /// returns it (`Some(None)` for null).
    fn string(
        &mut self,
        key: &str,
        min: Option<usize>,
        max: Option<usize>,
        nullable: bool,
    ) -> Option<Option<String>> {
        let p = zod::key(key);
        match self.get(key) {
            None => None,
            Some(Value::Null) if nullable => {
                self.out.insert(key.to_owned(), Value::Null);
                Some(None)
            }
            Some(Value::String(s)) => {
                let s = s.trim().to_owned();
                let len = s.chars().count();
                if let Some(min) = min
                    && len < min
                {
                    self.issues
                        .push(zod::too_small(&p, "string", min as u64, None));
                    return None;
                }
                if let Some(max) = max
                    && len > max
                {
                    self.issues
                        .push(zod::too_big(&p, "string", max as u64, None));
                    return None;
                }
                self.out.insert(key.to_owned(), Value::String(s.clone()));
                Some(Some(s))
            }
            Some(other) => {
                self.issues
                    .push(zod::invalid_type(&p, "string", Some(other)));
                None
            }
        }
    }

    /// A comma-separated list stored joined with `sep`.
    fn comma_list(&mut self, key: &str, sep: &str) {
        if let Some(Some(s)) = self.string(key, None, None, false) {
            self.out
                .insert(key.to_owned(), Value::String(normalise(&s, sep)));
        }
    }

    /// A string enum field; stores and returns it.
    pub(crate) fn enumeration(&mut self, key: &str, options: &[&str]) -> Option<String> {
        let p = zod::key(key);
        match self.get(key) {
            None => None,
            Some(Value::String(s)) if options.contains(&s.as_str()) => {
                let s = s.clone();
                self.out.insert(key.to_owned(), Value::String(s.clone()));
                Some(s)
            }
            Some(Value::String(s)) => {
                let issue = zod::invalid_enum(&p, options, s);
                self.issues.push(issue);
                None
            }
            Some(other) => {
                let issue = zod::invalid_type(&p, "string", Some(other));
                self.issues.push(issue);
                None
            }
        }
    }

    fn url(&mut self, key: &str) -> Option<String> {
        let s = self.string(key, None, None, false)??;
        if !is_url(&s) {
            self.out.remove(key);
            self.issues.push(zod::invalid_string(&zod::key(key), "url"));
            return None;
        }
        Some(s)
    }

    /// An object whose values are strings (bound claims, claim metadata mapping); comma lists
    /// in the values are normalised.
    fn claims(&mut self, key: &str) {
        let p = zod::key(key);
        match self.get(key) {
            None => {}
            Some(Value::Object(map)) => {
                let mut out = Map::new();
                let mut ok = true;
                for (k, val) in map {
                    match val {
                        Value::String(s) => {
                            out.insert(k.clone(), Value::String(normalise(s, ", ")));
                        }
                        other => {
                            ok = false;
                            let mut ip = p.clone();
                            ip.push(Seg::Key(k.clone()));
                            self.issues
                                .push(zod::invalid_type(&ip, "string", Some(other)));
                        }
                    }
                }
                if ok {
                    self.out.insert(key.to_owned(), Value::Object(out));
                }
            }
            Some(other) => {
                let issue = zod::invalid_type(&p, "object", Some(other));
                self.issues.push(issue);
            }
        }
    }

    /// `[{ipAddress: string}]`, at least one entry.
    fn ip_list(&mut self, key: &'static str) {
        let p = zod::key(key);
        let Some(value) = self.get(key) else { return };
        let Value::Array(items) = value else {
            self.issues
                .push(zod::invalid_type(&p, "array", Some(value)));
            return;
        };
        let mut entries = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let mut ip = p.clone();
            ip.push(Seg::Index(i));
            let Value::Object(obj) = item else {
                ok = false;
                self.issues
                    .push(zod::invalid_type(&ip, "object", Some(item)));
                continue;
            };
            match obj.get("ipAddress") {
                Some(Value::String(s)) => entries.push(s.trim().to_owned()),
                other => {
                    ok = false;
                    ip.push(Seg::Key("ipAddress".into()));
                    self.issues.push(zod::invalid_type(&ip, "string", other));
                }
            }
        }
        if items.is_empty() {
            self.issues.push(zod::too_small(&p, "array", 1, None));
            return;
        }
        if ok {
            self.ips.push((key, entries));
        }
    }

    /// Records a missing required field.
    fn require(&mut self, key: &str, expected: &str) -> bool {
        if self.get(key).is_none() {
            self.issues
                .push(zod::invalid_type(&zod::key(key), expected, None));
            return false;
        }
        true
    }
}

fn oci(v: &mut Validator<'_>) {
    if v.require("tenancyOcid", "string")
        && let Some(Some(t)) = v.string("tenancyOcid", None, None, false)
    {
        if t.is_empty() {
            v.out.remove("tenancyOcid");
            v.issues.push(zod::too_small(
                &zod::key("tenancyOcid"),
                "string",
                1,
                Some("Tenancy OCID cannot be empty."),
            ));
        } else if !t.starts_with("ocid1.tenancy.oc1.") || t.len() <= "ocid1.tenancy.oc1.".len() {
            v.out.remove("tenancyOcid");
            v.issues.push(zod::custom(
                &zod::key("tenancyOcid"),
                "Invalid Tenancy OCID format. Must start with ocid1.tenancy.oc1.",
            ));
        }
    }
    // allowedUsernames is `.nullish()` then transformed: omitted, null or empty all become null.
    let p = zod::key("allowedUsernames");
    match v.get("allowedUsernames") {
        None | Some(Value::Null) => {
            v.out.insert("allowedUsernames".into(), Value::Null);
        }
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > 500 {
                v.issues.push(zod::too_big(
                    &p,
                    "string",
                    500,
                    Some("Input exceeds the maximum limit of 500 characters"),
                ));
            } else {
                let names: Vec<&str> = split(s).collect();
                let valid = names.iter().all(|n| {
                    n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
                });
                if !valid {
                    v.issues
                        .push(zod::custom(&p, "One or more usernames are invalid"));
                } else if names.is_empty() {
                    v.out.insert("allowedUsernames".into(), Value::Null);
                } else {
                    v.out
                        .insert("allowedUsernames".into(), Value::String(names.join(", ")));
                }
            }
        }
        Some(other) => {
            let issue = zod::invalid_type(&p, "string", Some(other));
            v.issues.push(issue);
        }
    }
}

fn aws(v: &mut Validator<'_>) {
    v.string("stsEndpoint", Some(1), None, false);
    // Both lists are `.default("")`: omitted means "" (no restriction). The trap.
    for (key, check, message) in [
        (
            "allowedPrincipalArns",
            is_aws_arn as fn(&str) -> bool,
            "Each ARN must be in the format of 'arn:aws:iam::123456789012:user/UserName', 'arn:aws:iam::123456789012:role/RoleName', or 'arn:aws:iam::123456789012:*', 'arn:aws:sts::123456789012:assumed-role/RoleName'. GovCloud ARNs (arn:aws-us-gov:...) are also supported.",
        ),
        (
            "allowedAccountIds",
            is_account_id as fn(&str) -> bool,
            "Each account ID must be a 12-digit number.",
        ),
    ] {
        let p = zod::key(key);
        match v.get(key) {
            None => {
                v.out.insert(key.into(), Value::String(String::new()));
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.len() > 4096 {
                    v.issues.push(zod::too_big(&p, "string", 4096, None));
                } else if s.is_empty() {
                    v.out.insert(key.into(), Value::String(String::new()));
                } else if !s.split(',').map(str::trim).all(check) {
                    v.issues.push(zod::custom(&p, message));
                } else {
                    let joined = s.split(',').map(str::trim).collect::<Vec<_>>().join(", ");
                    v.out.insert(key.into(), Value::String(joined));
                }
            }
            Some(other) => {
                let issue = zod::invalid_type(&p, "string", Some(other));
                v.issues.push(issue);
            }
        }
    }
}

fn kubernetes(v: &mut Validator<'_>) {
    if let Some(Some(host)) = v.string("kubernetesHost", Some(1), None, true) {
        let ok = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":./-".contains(c));
        if !ok {
            v.out.remove("kubernetesHost");
            v.issues.push(zod::custom(
                &zod::key("kubernetesHost"),
                "Kubernetes host must only contain alphabets, numbers, colons, dots, slashes and hyphens.",
            ));
        }
    }
    v.string("caCert", None, None, false);
    v.string("tokenReviewerJwt", None, None, true);
    v.enumeration("tokenReviewMode", &["api", "gateway"]);
    if let Some(Some(g)) = v.string("gatewayId", None, None, true)
        && uuid::Uuid::parse_str(&g).is_err()
    {
        v.out.remove("gatewayId");
        v.issues
            .push(zod::invalid_string(&zod::key("gatewayId"), "uuid"));
    }
    // Stored as sent (not normalised).
    for f in ["allowedNamespaces", "allowedNames", "allowedAudience"] {
        v.string(f, None, None, false);
    }
}

fn jwt(v: &mut Validator<'_>) {
    let p = zod::key("configurationType");
    let mode = match v.get("configurationType") {
        Some(Value::String(s)) if s == "jwks" || s == "static" => Some(s.clone()),
        _ => {
            v.issues
                .push(zod::invalid_discriminator(&p, &["jwks", "static"]));
            None
        }
    };
    v.comma_list("boundAudiences", ", ");
    v.string("boundIssuer", None, None, false);
    v.claims("boundClaims");
    v.string("boundSubject", None, None, false);
    let Some(mode) = mode else { return };
    v.out
        .insert("configurationType".into(), Value::String(mode.clone()));
    if mode == "jwks" {
        if v.require("jwksUrl", "string") {
            v.url("jwksUrl");
        }
        // jwksCaCert `.default("")`, publicKeys `.default([])`: omission resets them.
        if v.get("jwksCaCert").is_none() {
            v.out
                .insert("jwksCaCert".into(), Value::String(String::new()));
        } else {
            v.string("jwksCaCert", None, None, false);
        }
        match v.get("publicKeys") {
            None => {
                v.out.insert("publicKeys".into(), Value::Array(Vec::new()));
            }
            Some(_) => string_array(v, "publicKeys", 0),
        }
    } else {
        if v.get("publicKeys").is_none() {
            v.issues
                .push(zod::invalid_type(&zod::key("publicKeys"), "array", None));
        } else {
            string_array(v, "publicKeys", 1);
        }
        v.string("jwksUrl", None, None, false);
        v.string("jwksCaCert", None, None, false);
        // In static mode the service clears the JWKS settings.
        v.out.insert("jwksUrl".into(), Value::String(String::new()));
        v.out
            .insert("jwksCaCert".into(), Value::String(String::new()));
    }
}

/// An array of non-empty strings with at least `min` items.
fn string_array(v: &mut Validator<'_>, key: &str, min: u64) {
    let p = zod::key(key);
    let Some(value) = v.get(key) else { return };
    let Value::Array(items) = value else {
        let issue = zod::invalid_type(&p, "array", Some(value));
        v.issues.push(issue);
        return;
    };
    let mut ok = true;
    let mut issues = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut ip = p.clone();
        ip.push(Seg::Index(i));
        match item {
            Value::String(s) if min == 0 || !s.is_empty() => {}
            Value::String(_) => {
                ok = false;
                issues.push(zod::too_small(&ip, "string", 1, None));
            }
            other => {
                ok = false;
                issues.push(zod::invalid_type(&ip, "string", Some(other)));
            }
        }
    }
    if (items.len() as u64) < min {
        ok = false;
        issues.push(zod::too_small(&p, "array", min, None));
    }
    let items = items.clone();
    v.issues.extend(issues);
    if ok {
        v.out.insert(key.to_owned(), Value::Array(items));
    }
}

fn ldap(v: &mut Validator<'_>) {
    v.string("url", Some(1), None, false);
    v.string("bindDN", Some(1), None, false);
    v.string("bindPass", Some(1), None, false);
    v.string("searchBase", Some(1), None, false);
    v.string("searchFilter", None, None, false);
    v.string("ldapCaCertificate", None, None, false);
    if let Some(Some(t)) = v.string("templateId", None, None, true)
        && uuid::Uuid::parse_str(&t).is_err()
    {
        v.out.remove("templateId");
        v.issues
            .push(zod::invalid_string(&zod::key("templateId"), "uuid"));
    }
    let p = zod::key("allowedFields");
    match v.get("allowedFields") {
        None => {}
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            let mut issues = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let key = item.get("key").and_then(Value::as_str);
                let value = item.get("value").and_then(Value::as_str);
                match (key, value) {
                    (Some(k), Some(val)) => {
                        let val: String = val.chars().filter(|c| !c.is_whitespace()).collect();
                        out.push(serde_json::json!({"key": k, "value": val}));
                    }
                    _ => {
                        let mut ip = p.clone();
                        ip.push(Seg::Index(i));
                        issues.push(zod::invalid_type(&ip, "object", Some(item)));
                    }
                }
            }
            if issues.is_empty() {
                v.out.insert("allowedFields".into(), Value::Array(out));
            }
            v.issues.extend(issues);
        }
        Some(other) => {
            let issue = zod::invalid_type(&p, "array", Some(other));
            v.issues.push(issue);
        }
    }
    v.boolean("lockoutEnabled");
    v.int("lockoutThreshold", 1, Some(30));
    v.int("lockoutDurationSeconds", 30, Some(86_400));
    v.int("lockoutCounterResetSeconds", 5, Some(3600));
}

fn alicloud(v: &mut Validator<'_>) {
    if v.require("allowedArns", "string")
        && let Some(Some(s)) = v.string("allowedArns", Some(1), Some(500), false)
    {
        if !split(&s).all(is_alicloud_arn) || split(&s).next().is_none() {
            v.out.remove("allowedArns");
            v.issues.push(zod::custom(
                &zod::key("allowedArns"),
                "Invalid ARN format. Expected format: acs:ram::[0-9]{16}:(user|role)/*",
            ));
        } else {
            v.out
                .insert("allowedArns".into(), Value::String(normalise(&s, ", ")));
        }
    }
}

fn tls(v: &mut Validator<'_>) {
    if let Some(Some(pem)) = v.string("caCertificate", Some(1), Some(10_240), false)
        && !pem.starts_with("-----BEGIN CERTIFICATE-----")
    {
        // GUESS: the real server parses the PEM as X.509; we only check the armour.
        v.out.remove("caCertificate");
        v.issues.push(zod::custom(
            &zod::key("caCertificate"),
            "Invalid CA Certificate.",
        ));
    }
    match v.get("allowedCommonNames") {
        Some(Value::Null) => {
            v.out.insert("allowedCommonNames".into(), Value::Null);
        }
        Some(_) => {
            if let Some(Some(s)) = v.string("allowedCommonNames", Some(1), None, false) {
                // TLS common names are joined with "," (no space).
                v.out.insert(
                    "allowedCommonNames".into(),
                    Value::String(normalise(&s, ",")),
                );
            }
        }
        None => {}
    }
}

/// Splits a comma list: trimmed, empties dropped.
fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|e| !e.is_empty())
}

/// Joins the entries of a comma list with `sep`.
pub(crate) fn normalise(s: &str, sep: &str) -> String {
    split(s).collect::<Vec<_>>().join(sep)
}

/// An http(s) URL with a host (close enough to zod's `.url()` for the fields that use it).
pub(crate) fn is_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(' ')
    })
}

/// `^arn:aws(-us-gov)?:(iam|sts)::\d{12}:(user/…|role/…|assumed-role/…|\*)$`
pub(crate) fn is_aws_arn(arn: &str) -> bool {
    let rest = arn
        .strip_prefix("arn:aws-us-gov:")
        .or_else(|| arn.strip_prefix("arn:aws:"));
    let Some(rest) = rest else { return false };
    let rest = rest
        .strip_prefix("iam::")
        .or_else(|| rest.strip_prefix("sts::"));
    let Some(rest) = rest else { return false };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    if !is_account_id(account) {
        return false;
    }
    if resource == "*" {
        return true;
    }
    let name = resource
        .strip_prefix("user/")
        .or_else(|| resource.strip_prefix("role/"))
        .or_else(|| resource.strip_prefix("assumed-role/"));
    name.is_some_and(|n| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.@+*/-".contains(c))
    })
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// `acs:ram::<16 digits>:(user|role)/<name>` (GUESS on the allowed name characters).
pub(crate) fn is_alicloud_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("acs:ram::") else {
        return false;
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    if account.len() != 16 || !account.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let name = resource
        .strip_prefix("user/")
        .or_else(|| resource.strip_prefix("role/"));
    name.is_some_and(|n| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.@+*/-".contains(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored() -> Map<String, Value> {
        json!({"accessTokenTTL": 3600, "accessTokenMaxTTL": 86400, "accessTokenNumUsesLimit": 5,
               "allowedPrincipalArns": "arn:aws:iam::111122223333:role/a",
               "allowedAccountIds": "111122223333"})
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn aws_omission_empties_lists() {
        let out = apply(
            &AuthMethod::Aws,
            &stored(),
            &json!({"accessTokenTTL": 60}),
            true,
            SpiffeApi::Flat,
        )
        .unwrap();
        assert_eq!(out["allowedPrincipalArns"], json!(""));
        assert_eq!(out["allowedAccountIds"], json!(""));
        assert_eq!(out["accessTokenTTL"], json!(60));
    }

    #[test]
    fn max_ttl_alone_lowering_is_400_and_refine_is_422() {
        let err = apply(
            &AuthMethod::Token,
            &stored(),
            &json!({"accessTokenMaxTTL": 3600}),
            true,
            SpiffeApi::Flat,
        )
        .unwrap_err();
        assert!(matches!(err, PatchError::BadRequest(_)));
        let err = apply(
            &AuthMethod::Token,
            &stored(),
            &json!({"accessTokenTTL": 7200, "accessTokenMaxTTL": 3600}),
            true,
            SpiffeApi::Flat,
        )
        .unwrap_err();
        assert!(matches!(err, PatchError::Validation(_)));
    }

    #[test]
    fn formats() {
        assert!(is_aws_arn("arn:aws:iam::111122223333:role/deploy-*"));
        assert!(is_aws_arn("arn:aws:iam::111122223333:*"));
        assert!(!is_aws_arn("arn:aws:iam::1111:role/x"));
        assert!(is_alicloud_arn("acs:ram::1234567890123456:role/ecs"));
        assert!(!is_alicloud_arn("acs:ram::12:role/ecs"));
        assert_eq!(normalise("a,b , c,,", ", "), "a, b, c");
    }
}
