//! The generated org's usage evidence: each identity's last login (and its membership's
//! `createdAt`, placed consistently) and the audit events of its recent activity, all relative
//! to the simulator's start time and drawn from their own seeded stream, so the configs, names
//! and counts of the generator are the same with or without them.
//!
//! The spread: about 70% of identities logged in within the last week and used their token
//! since (logins through a configured method, `get-secrets` reads made with the token, over the
//! last ~60 days); about 15% last logged in 100–400 days ago (their events have expired); about
//! 15% never (created long ago or in the last two weeks). `old-migration-bot` is always of the
//! stale kind, the login identity always active.
//!
//! Addresses are ones the identity's trusted IPs let through (Infisical refuses, and does not
//! audit, a token used from elsewhere): token uses from the method's `accessTokenTrustedIps`,
//! universal-auth logins from `clientSecretTrustedIps`. Every identity whose config breaks the
//! `network` rule of `policies/example.yaml` (trusted IPs outside 10.0.0.0/8 and fd00::/8) is
//! in use; every other one of them (the 1st, 3rd, ...) from an address outside those ranges
//! that its lists let through (203.0.113.x for an open list), the others only from inside.
//!
//! It owns the generation and the building of one event for an identity (also used by
//! `Sim::add_usage_event`); the store is `audit_log.rs`'s.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::audit_log::{Actor, AuditEvent, EventBody, Login, Project};
use crate::clock::iso_millis;
use crate::generator::{Planted, PlantedKind, RETIRED_IDENTITY_NAME};
use crate::records::{IdentityRec, ProjectRec};
use crate::stored_ip::StoredIp;
use crate::{AuthMethod, LastLogin, UsageActor};

/// Mixed into the seed so the usage stream differs from the generator's.
const USAGE_SALT: u64 = 0x7573_6167_655f_7631;

/// User agents of workloads, by the client they run.
const USER_AGENTS: [&str; 7] = [
    "cli",
    "k8-operator",
    "terraform",
    "InfisicalNodeSDK/3.0.4",
    "InfisicalPythonSDK/1.0.10",
    "Go-http-client/1.1",
    "infisical-agent/0.41.90",
];

const DAY: i64 = 86_400;

/// Where an active identity is used from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Some uses from outside the policy ranges.
    Outside,
    /// Only from inside them.
    Inside,
}

/// How an identity has been used.
#[derive(Debug, Clone, PartialEq)]
enum Profile {
    /// Logged in within the last week through `method`, used since.
    Active { method: AuthMethod, reach: Reach },
    /// Last login 100–400 days ago through `method`.
    Stale { method: AuthMethod },
    /// Never logged in.
    Never,
}

/// Fills in `last_login` and `created_at` of the generated identities and returns their
/// audit events. Deterministic for a seed, an org and `now`.
pub(crate) fn generate(
    seed: u64,
    now: Timestamp,
    identities: &mut [IdentityRec],
    planted: &[Planted],
    projects: &[ProjectRec],
    login_identity: &str,
) -> Vec<AuditEvent> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ USAGE_SALT);
    let projects: Vec<Project> = projects.iter().map(project).collect();
    let mut events = Vec::new();
    let mut network_breakers = 0usize;
    let mut planted_on: HashMap<&str, Vec<&Planted>> = HashMap::new();
    for p in planted {
        planted_on
            .entry(p.identity_id.as_str())
            .or_default()
            .push(p);
    }
    for rec in identities.iter_mut() {
        let mine = planted_on
            .get(rec.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        let breaks = network_method(mine);
        let profile = if let Some(method) = breaks {
            let reach = if network_breakers.is_multiple_of(2) {
                Reach::Outside
            } else {
                Reach::Inside
            };
            network_breakers += 1;
            Profile::Active { method, reach }
        } else {
            pick_profile(&mut rng, rec, login_identity)
        };
        let created = apply(&mut rng, now, rec, &profile, &projects, &mut events);
        rec.created_at = iso_millis(created);
    }
    events
}

/// The method of the first config whose trusted IPs break the `network` rule (an
/// `accessTokenTrustedIps` break preferred: it shows in token uses), from the identity's
/// planted violations.
fn network_method(mine: &[&Planted]) -> Option<AuthMethod> {
    let on = |field: &str| {
        mine.iter()
            .find(|p| match p.kind {
                PlantedKind::TrustedIpsOpen { field: f }
                | PlantedKind::TrustedIpsOutside { field: f } => f == field,
                _ => false,
            })
            .map(|p| p.method.clone())
    };
    on("accessTokenTrustedIps").or_else(|| on("clientSecretTrustedIps"))
}

fn pick_profile(rng: &mut ChaCha8Rng, rec: &IdentityRec, login_identity: &str) -> Profile {
    let methods: Vec<&AuthMethod> = rec.methods().collect();
    let method = methods.choose(rng).map(|m| (*m).clone());
    let roll = rng.random_range(0..100);
    if rec.id == login_identity {
        return Profile::Active {
            method: AuthMethod::Universal,
            reach: Reach::Inside,
        };
    }
    // A method since removed: the last login names a method the identity no longer has.
    let first_byte = rec.id.as_bytes().first().copied().unwrap_or(0);
    let fallback = || AuthMethod::KNOWN[usize::from(first_byte) % AuthMethod::KNOWN.len()].clone();
    if rec.name == RETIRED_IDENTITY_NAME {
        return Profile::Stale {
            method: method.unwrap_or_else(fallback),
        };
    }
    match (roll, method) {
        (0..70, Some(method)) => Profile::Active {
            method,
            reach: Reach::Inside,
        },
        (70..85, m) => Profile::Stale {
            method: m.unwrap_or_else(fallback),
        },
        _ => Profile::Never,
    }
}

/// Applies a profile: sets the last login, pushes the events; returns the creation time.
fn apply(
    rng: &mut ChaCha8Rng,
    now: Timestamp,
    rec: &mut IdentityRec,
    profile: &Profile,
    projects: &[Project],
    events: &mut Vec<AuditEvent>,
) -> Timestamp {
    match profile {
        Profile::Never => {
            rec.last_login = None;
            if rng.random_bool(0.5) {
                ago(now, rng.random_range(120 * DAY..700 * DAY))
            } else {
                ago(now, rng.random_range(0..14 * DAY))
            }
        }
        Profile::Stale { method } => {
            let last = ago(now, rng.random_range(100 * DAY..400 * DAY));
            rec.last_login = Some(LastLogin {
                at: last,
                method: method.clone(),
            });
            ago(last, rng.random_range(DAY..500 * DAY))
        }
        Profile::Active { method, reach } => {
            let last = ago(now, rng.random_range(0..7 * DAY));
            let mut logins = vec![last];
            for _ in 0..rng.random_range(0..3) {
                logins.push(ago(now, rng.random_range(7 * DAY..60 * DAY)));
            }
            let first = logins.iter().min().copied().unwrap_or(last);
            let ua: Arc<str> = Arc::from(*USER_AGENTS.choose(rng).unwrap_or(&"cli"));
            let identity = Arc::<str>::from(rec.id.as_str());
            let name = Arc::<str>::from(rec.name.as_str());
            let used_project = rec
                .project
                .as_ref()
                .map(project)
                .or_else(|| projects.choose(rng).cloned());
            let login_ips = addresses(rng, rec, method, "clientSecretTrustedIps", *reach);
            let use_ips = addresses(rng, rec, method, "accessTokenTrustedIps", *reach);
            // GUESS: logins through methods other than universal auth come from the workload's
            // address, the one its token is used from.
            let login_ips = if *method == AuthMethod::Universal {
                login_ips
            } else {
                use_ips.clone()
            };
            if *method != AuthMethod::Token {
                for at in &logins {
                    let ip = login_ips.choose(rng).copied();
                    let mut e = event_for(
                        rng,
                        rec,
                        &identity,
                        &name,
                        &login_type(method),
                        UsageActor::Identity,
                        ip,
                        *at,
                    );
                    e.actor = login_actor(method, &identity, &name);
                    e.user_agent = Some(ua.clone());
                    events.push(e);
                }
            }
            // One read after the last login (so every active identity is in use within the
            // week), then more since the first.
            let uses = rng.random_range(1..4);
            for n in 0..uses {
                let from = if n == 0 { last } else { first };
                let span = now.duration_since(from).as_secs().max(1);
                let at = ago(now, rng.random_range(0..span));
                // The outside address shows in the newest read at least.
                let ip = if n == 0 && *reach == Reach::Outside {
                    use_ips.first().copied()
                } else {
                    use_ips.choose(rng).copied()
                };
                let mut e = event_for(
                    rng,
                    rec,
                    &identity,
                    &name,
                    "get-secrets",
                    UsageActor::Identity,
                    ip,
                    at,
                );
                e.user_agent = Some(ua.clone());
                e.project = used_project.clone();
                events.push(e);
            }
            rec.last_login = Some(LastLogin {
                at: last,
                method: method.clone(),
            });
            ago(first, rng.random_range(DAY..500 * DAY))
        }
    }
}

/// `login-identity-<method>` (token auth has none: making a token is another event).
fn login_type(method: &AuthMethod) -> String {
    format!("login-identity-{}", method.as_str())
}

/// Newer servers name the identity as the actor of universal-auth, JWT and AliCloud logins;
/// the other logins are unauthenticated requests (`unknownUser`).
pub(crate) fn login_actor(method: &AuthMethod, id: &Arc<str>, name: &Arc<str>) -> Actor {
    match method {
        AuthMethod::Universal | AuthMethod::Jwt | AuthMethod::AliCloud => Actor::Identity {
            id: id.clone(),
            name: name.clone(),
        },
        _ => Actor::UnknownUser,
    }
}

/// One event about `rec`, its metadata following `event_type` (see [`crate::UsageEvent`]).
/// No user agent and no project unless the caller sets them.
#[allow(clippy::too_many_arguments)] // the columns of one event
pub(crate) fn event_for(
    rng: &mut impl Rng,
    rec: &IdentityRec,
    identity: &Arc<str>,
    name: &Arc<str>,
    event_type: &str,
    actor: UsageActor,
    ip: Option<IpAddr>,
    at: Timestamp,
) -> AuditEvent {
    let login_method = event_type
        .strip_prefix("login-identity-")
        .and_then(AuthMethod::parse_known)
        .filter(|m| *m != AuthMethod::Token);
    let body = match login_method {
        Some(method) => EventBody::Login(Login {
            config_id: rec
                .config(&method)
                .and_then(|c| c.get("id"))
                .and_then(Value::as_str)
                .map(Arc::from)
                .unwrap_or_else(|| Arc::from(random_uuid(rng).to_string())),
            client_secret_id: (method == AuthMethod::Universal).then(|| random_uuid(rng)),
            token_id: random_uuid(rng),
            identity_id: identity.clone(),
            method,
        }),
        None if event_type == "get-secrets" => EventBody::GetSecrets {
            environment: ["prod", "staging", "dev"].choose(rng).unwrap_or(&"prod"),
            secret_path: ["/", "/app", "/db"].choose(rng).unwrap_or(&"/"),
            count: rng.random_range(1..40),
        },
        None => {
            let mut m = Map::new();
            m.insert("identityId".into(), json!(identity.as_ref()));
            EventBody::Other {
                event_type: event_type.into(),
                metadata: Box::new(m),
            }
        }
    };
    AuditEvent {
        id: random_uuid(rng),
        at,
        ip,
        user_agent: None,
        actor: match actor {
            UsageActor::Identity => Actor::Identity {
                id: identity.clone(),
                name: name.clone(),
            },
            UsageActor::UnknownUser => Actor::UnknownUser,
        },
        body,
        project: None,
    }
}

/// A random (version 4) uuid from `rng`.
pub(crate) fn random_uuid(rng: &mut impl Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// A project as events name it.
pub(crate) fn project(p: &ProjectRec) -> Project {
    Project {
        id: Arc::from(p.id.as_str()),
        name: Arc::from(p.name.as_str()),
    }
}

fn ago(t: Timestamp, secs: i64) -> Timestamp {
    let millis = secs.saturating_mul(1000) + (secs.rem_euclid(997));
    t.checked_sub(SignedDuration::from_millis(millis))
        .unwrap_or(t)
}

/// Addresses `field` of `method`'s config lets through, inside the policy ranges for
/// [`Reach::Inside`]; for [`Reach::Outside`] the first is outside them when the list allows
/// one. Falls back to 10.0.0.0/8 when the config has no usable list.
fn addresses(
    rng: &mut ChaCha8Rng,
    rec: &IdentityRec,
    method: &AuthMethod,
    field: &str,
    reach: Reach,
) -> Vec<IpAddr> {
    let entries: Vec<StoredIp> = rec
        .config(method)
        .and_then(|c| c.get(field))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(StoredIp::from_stored).collect())
        .unwrap_or_default();
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for entry in &entries {
        for ip in candidates(rng, entry) {
            if in_policy(ip) {
                inside.push(ip);
            } else {
                outside.push(ip);
            }
        }
    }
    if inside.is_empty() {
        inside.push(IpAddr::V4(Ipv4Addr::new(
            10,
            0,
            0,
            rng.random_range(2..250),
        )));
    }
    match reach {
        Reach::Inside => inside,
        Reach::Outside => {
            outside.extend(inside);
            outside
        }
    }
}

/// Addresses inside one entry: a host of its network; for an open entry (prefix 0) one from
/// inside the policy ranges and one from a documentation range outside them.
fn candidates(rng: &mut ChaCha8Rng, entry: &StoredIp) -> Vec<IpAddr> {
    match (entry.prefix, entry.address) {
        (Some(0), IpAddr::V4(_)) => vec![
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, rng.random_range(2..250))),
            IpAddr::V4(Ipv4Addr::new(
                10,
                rng.random(),
                rng.random(),
                rng.random_range(2..250),
            )),
        ],
        (Some(0), IpAddr::V6(_)) => vec![
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0,
                0,
                0,
                0,
                0,
                rng.random_range(2..0xfff0),
            )),
            IpAddr::V6(Ipv6Addr::new(
                0xfd00,
                0,
                0,
                0,
                0,
                0,
                0,
                rng.random_range(2..0xfff0),
            )),
        ],
        (prefix, address) => {
            let Ok(net) = IpNet::new(address, prefix.unwrap_or(entry.host_prefix())) else {
                return Vec::new();
            };
            vec![host_in(rng, net.trunc())]
        }
    }
}

/// A host address of `net` (the address itself for a single host); an IPv4-mapped IPv6
/// address is given as the IPv4 caller Infisical would record.
fn host_in(rng: &mut ChaCha8Rng, net: IpNet) -> IpAddr {
    let ip = match net {
        IpNet::V4(n) => {
            let bits = 32 - u32::from(n.prefix_len());
            let span = if bits >= 32 {
                u32::MAX
            } else {
                (1u32 << bits) - 1
            };
            let offset = if span >= 2 {
                rng.random_range(1..span)
            } else {
                0
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | offset))
        }
        IpNet::V6(n) => {
            let bits = (128 - u32::from(n.prefix_len())).min(64);
            let span = if bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            let offset = if span >= 2 {
                rng.random_range(1..span)
            } else {
                0
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) | u128::from(offset)))
        }
    };
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Whether `ip` is inside the ranges `policies/example.yaml` allows: 10.0.0.0/8, fd00::/8.
fn in_policy(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 10,
        IpAddr::V6(v6) => v6.octets()[0] == 0xfd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;
    use crate::generator;
    use crate::trusted_ips;

    fn now() -> Timestamp {
        "2026-06-15T12:00:00Z".parse().unwrap()
    }

    fn generated(cfg: &SimConfig) -> (Vec<IdentityRec>, Vec<AuditEvent>, Vec<Planted>) {
        let mut g = generator::generate(cfg);
        let events = generate(
            cfg.seed,
            now(),
            &mut g.identities,
            &g.planted,
            &g.projects,
            &g.login_identity,
        );
        (g.identities, events, g.planted)
    }

    /// The same seed and start give the same usage.
    #[test]
    fn deterministic() {
        let (a, ea, _) = generated(&SimConfig::default());
        let (b, eb, _) = generated(&SimConfig::default());
        let logins = |v: &[IdentityRec]| -> Vec<Option<LastLogin>> {
            v.iter().map(|i| i.last_login.clone()).collect()
        };
        assert_eq!(logins(&a), logins(&b));
        assert_eq!(ea.len(), eb.len());
        assert!(
            ea.iter()
                .zip(&eb)
                .all(|(x, y)| x.id == y.id && x.at == y.at && x.ip == y.ip)
        );
    }

    /// Most identities logged in within the week, some 100–400 days ago, some never (created
    /// both long ago and recently); logins are after creation and none is in the future.
    #[test]
    fn a_realistic_spread() {
        let (ids, _, _) = generated(&SimConfig {
            identities: 400,
            ..SimConfig::default()
        });
        let age = |t: Timestamp| now().duration_since(t).as_secs() / DAY;
        let recent = ids
            .iter()
            .filter(|i| i.last_login.as_ref().is_some_and(|l| age(l.at) < 7))
            .count();
        let stale = ids
            .iter()
            .filter(|i| {
                i.last_login
                    .as_ref()
                    .is_some_and(|l| (100..400).contains(&age(l.at)))
            })
            .count();
        let never: Vec<&IdentityRec> = ids.iter().filter(|i| i.last_login.is_none()).collect();
        assert!(
            recent > 220 && stale > 30 && never.len() > 30,
            "{recent} {stale} {}",
            never.len()
        );
        let created = |i: &IdentityRec| i.created_at.parse::<Timestamp>().unwrap();
        assert!(never.iter().any(|i| age(created(i)) < 14));
        assert!(never.iter().any(|i| age(created(i)) > 120));
        for i in &ids {
            if let Some(l) = &i.last_login {
                assert!(created(i) < l.at && l.at <= now(), "{}", i.name);
            }
        }
    }

    /// Every token use comes from an address the method's `accessTokenTrustedIps` lets
    /// through, and the network-rule breakers split between outside and inside use.
    #[test]
    fn addresses_respect_trusted_ips() {
        let (ids, events, planted) = generated(&SimConfig {
            identities: 300,
            ..SimConfig::default()
        });
        let by_id = |id: &str| ids.iter().find(|i| i.id == id).unwrap();
        let mut outside_users = std::collections::HashSet::new();
        for e in &events {
            let Actor::Identity { id, .. } = &e.actor else {
                continue;
            };
            if !matches!(e.body, EventBody::GetSecrets { .. }) {
                continue;
            }
            let rec = by_id(id);
            let method = &rec.last_login.as_ref().unwrap().method;
            let list = rec.config(method).unwrap()["accessTokenTrustedIps"]
                .as_array()
                .unwrap();
            let ip = e.ip.unwrap();
            assert!(trusted_ips::allows(list, ip), "{} {ip} {list:?}", rec.name);
            if !in_policy(ip) {
                outside_users.insert(id.to_string());
            }
        }
        let breakers: std::collections::HashSet<&str> = planted
            .iter()
            .filter(|p| p.kind.rule_id() == "network")
            .map(|p| p.identity_id.as_str())
            .collect();
        assert!(!outside_users.is_empty());
        assert!(
            outside_users
                .iter()
                .all(|id| breakers.contains(id.as_str()))
        );
        assert!(breakers.len() > outside_users.len());
    }
}
