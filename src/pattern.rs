//! The `*` glob used for identity names and allowlist entries: `*` matches any run of
//! characters (including none), every other character matches itself, case-sensitively.
//!
//! Matching is iterative with a single backtrack point (the classic wildcard algorithm), so it
//! takes at most `O(pattern × text)` steps and never backtracks exponentially. This module knows
//! nothing of policies or identities; it only matches text.

use std::fmt;

/// A compiled `*` glob. Construction never fails: every string is a valid pattern.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    text: String,
    chars: Vec<char>,
}

impl Pattern {
    /// Compiles `p`; `*` is the only special character.
    pub fn new(p: &str) -> Pattern {
        Pattern {
            text: p.to_owned(),
            chars: p.chars().collect(),
        }
    }

    /// Whether the whole of `text` matches. A `*` inside `text` is an ordinary character, so
    /// an entry `role/*` is matched by the pattern `role/*` or `role/**` but not by `role/x`.
    pub fn matches(&self, text: &str) -> bool {
        let p = &self.chars;
        let t: Vec<char> = text.chars().collect();
        let (mut pi, mut ti) = (0usize, 0usize);
        // Position of the last `*` seen in the pattern and the text index it was tried at.
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if pi < p.len() && p[pi] == t[ti] {
                pi += 1;
                ti += 1;
            } else if let Some((sp, st)) = star {
                // Let the last star swallow one more character and retry after it.
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern contains a `*`.
    pub fn has_wildcard(&self) -> bool {
        self.text.contains('*')
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_star_semantics() {
        assert!(Pattern::new("ci-*").matches("ci-"));
        assert!(Pattern::new("ci-*").matches("ci-deploy"));
        assert!(!Pattern::new("ci-*").matches("CI-deploy"));
        assert!(!Pattern::new("ci-*").matches("xci-deploy"));
        assert!(Pattern::new("*@corp.iam").matches("a@corp.iam"));
        assert!(!Pattern::new("*@corp.iam").matches("a@corp.iam.evil"));
        assert!(Pattern::new("a*b*c").matches("aXXbYYc"));
        assert!(!Pattern::new("a*b*c").matches("aXXcYYb"));
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("").matches(""));
        assert!(!Pattern::new("").matches("x"));
        assert!(Pattern::new("exact").matches("exact"));
        assert!(!Pattern::new("exact").matches("exac"));
        assert!(
            Pattern::new("?.+[").matches("?.+["),
            "no regex metacharacters"
        );
    }

    #[test]
    fn star_in_text_is_literal() {
        let p = Pattern::new("arn:aws:iam::1:role/*");
        assert!(p.matches("arn:aws:iam::1:role/*"));
        assert!(!Pattern::new("arn:aws:iam::1:role/x").matches("arn:aws:iam::1:role/*"));
    }

    #[test]
    fn pathological_input_is_fast() {
        let p = Pattern::new(&format!("{}b", "a*".repeat(200)));
        let text = "a".repeat(5000);
        let start = std::time::Instant::now();
        assert!(!p.matches(&text));
        assert!(start.elapsed().as_secs() < 2);
    }

    #[test]
    fn unicode_is_matched_by_char() {
        assert!(Pattern::new("h*é").matches("hé"));
        assert!(Pattern::new("*ü*").matches("aüb"));
        assert_eq!(Pattern::new("x*").as_str(), "x*");
    }
}
