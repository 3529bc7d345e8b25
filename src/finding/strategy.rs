//! Proptest generators of [`Finding`]s, shared by the tests of the report writers (each brings
//! the strings and patch values that matter to its format).

use proptest::prelude::*;
use serde_json::Value;

use super::{AppliedExemption, CheckCode, Finding, Remediation, Severity, Status, Violation};
use crate::model::AuthMethod;

/// Findings whose strings come from `text` and whose automatic patches hold `value`s: every
/// status and severity, known and unknown methods, 0-3 violations, optional exemption, error
/// and remediation.
pub(crate) fn finding(
    text: BoxedStrategy<String>,
    value: BoxedStrategy<Value>,
) -> BoxedStrategy<Finding> {
    let method = prop_oneof![
        3 => prop::sample::select(AuthMethod::KNOWN.to_vec()),
        1 => text.clone().prop_map(AuthMethod::Unknown),
    ];
    let violation = (
        prop::sample::select(CheckCode::ALL.to_vec()),
        text.clone(),
        text.clone(),
        text.clone(),
        text.clone(),
    )
        .prop_map(|(check, field, observed, expected, message)| Violation {
            check,
            field,
            observed,
            expected,
            message,
        });
    let exemption = (text.clone(), prop::option::of(text.clone()), text.clone()).prop_map(
        |(reason, owner, expires)| AppliedExemption {
            reason,
            owner,
            expires,
        },
    );
    let remediation = prop_oneof![
        prop::collection::btree_map(text.clone(), value, 0..4)
            .prop_map(|m| Remediation::auto(m.into_iter().collect())),
        text.clone().prop_map(Remediation::manual),
    ];
    (
        (
            text.clone(),
            text.clone(),
            text.clone(),
            method,
            text.clone(),
        ),
        (
            prop::sample::select(Severity::ALL.to_vec()),
            prop::sample::select(Status::ALL.to_vec()),
            prop::collection::vec(violation, 0..=3),
            prop::option::of(exemption),
            prop::option::of(text),
            prop::option::of(remediation),
        ),
    )
        .prop_map(
            |(
                (finding_id, identity_id, identity_name, auth_method, rule),
                (severity, status, violations, exemption, error, remediation),
            )| Finding {
                finding_id,
                identity_id,
                identity_name,
                auth_method,
                rule,
                severity,
                status,
                violations,
                exemption,
                error,
                remediation,
            },
        )
        .boxed()
}
