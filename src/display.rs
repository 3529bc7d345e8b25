//! Showing server-supplied text (identity names, allowlist entries, error messages) on a
//! terminal or in a log line: control characters, bidirectional overrides and line breaks are
//! shown as escapes, so a name cannot move the cursor, recolour the terminal, reorder what is
//! shown or forge a line of idguard's own output. Report files keep their own escaping.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: C0 and C1 controls (newline, carriage return,
/// escape, ...), DEL, and the invisible format characters that reorder or hide text
/// (bidirectional marks, embeddings, overrides and isolates, line and paragraph separators).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// `s` with every [`is_unsafe`] character written as an escape (`\n`, `\r`, `\t`, `\e`,
/// otherwise `\u{…}`); unchanged (and not copied) when it holds none.
pub fn safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Escapes, carriage returns, right-to-left overrides and newlines come out as visible
    /// escapes; ordinary text (accents, emoji, quotes) is left alone.
    #[test]
    fn unsafe_characters_are_shown_as_escapes() {
        assert_eq!(safe("ci-deploy é 😀 \"q\""), "ci-deploy é 😀 \"q\"");
        assert!(matches!(safe("plain"), Cow::Borrowed(_)));
        let forged = "x\nidguard: exit 0: all good\r\u{1b}[31m\u{202e}txt.exe\u{7f}\u{85}";
        let shown = safe(forged);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert_eq!(
            shown,
            "x\\nidguard: exit 0: all good\\r\\e[31m\\u{202e}txt.exe\\u{007f}\\u{0085}"
        );
    }
}
