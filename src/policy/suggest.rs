//! "Did you mean": the known word closest to a misspelt one (a key, a rule id, an auth method),
//! when it is close enough to be a likely typo. Only the suggestion; the message is the
//! caller's.

/// Most edits (insertions, deletions, substitutions, swaps of neighbours) a typo may hold.
const MAX_EDITS: usize = 2;

/// The candidate closest to `word` within [`MAX_EDITS`] edits, ignoring case; the first in
/// `candidates` order on a tie. A candidate is never suggested when it takes as many edits
/// as it has characters (`x` is not a typo of `id`).
pub(crate) fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let word = word.to_lowercase();
    candidates
        .iter()
        .filter_map(|c| {
            let edits = strsim::damerau_levenshtein(&word, &c.to_lowercase());
            (edits <= MAX_EDITS && edits < c.chars().count()).then_some((edits, *c))
        })
        .min_by_key(|(edits, _)| *edits)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["max_ttl", "max_max_ttl", "max_uses", "allow_periodic"];

    #[test]
    fn suggests_the_closest_known_word() {
        assert_eq!(did_you_mean("max_tll", KEYS), Some("max_ttl"));
        assert_eq!(did_you_mean("max_max_tl", KEYS), Some("max_max_ttl"));
        assert_eq!(did_you_mean("max_use", KEYS), Some("max_uses"));
        assert_eq!(did_you_mean("alow_periodc", KEYS), Some("allow_periodic"));
        assert_eq!(did_you_mean("Max_TTL", KEYS), Some("max_ttl"), "case");
        assert_eq!(
            did_you_mean("mxa_ttl", KEYS),
            Some("max_ttl"),
            "a swap is one edit"
        );
    }

    #[test]
    fn suggests_nothing_for_a_different_word() {
        assert_eq!(did_you_mean("colour", KEYS), None);
        assert_eq!(did_you_mean("max_lifetime", KEYS), None);
        assert_eq!(did_you_mean("x", &["id"]), None);
        assert_eq!(did_you_mean("", &["id"]), None);
        assert_eq!(did_you_mean("anything", &[]), None);
    }
}
