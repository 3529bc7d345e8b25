//! The bytes of one `report.csv` row, encoded by hand into a reusable buffer.
//!
//! The encoding is exactly what the `csv` crate writes with its defaults (delimiter `,`, quote
//! `"` escaped by doubling, `QuoteStyle::Necessary`, no comment character) and a CRLF
//! terminator: a cell is quoted when it holds `,`, `"`, CR or LF, and nothing else is ever
//! quoted (rows always have 16 cells, so the crate's lone-empty-field case cannot arise). Cells
//! a spreadsheet would run as a formula get a leading `'` first. The tests in `csv_report`
//! prove byte equality with the `csv` crate. Files, buffering and errors live in `csv_report`.

use crate::finding::{Finding, Remediation, Violation};

/// Appends a whole row (16 cells and CRLF) for `f` to `out`. `scratch` is reused for cells
/// that have to be assembled (joined violations, remediation text, the patch JSON).
pub(super) fn push_row(out: &mut Vec<u8>, scratch: &mut Vec<u8>, f: &Finding) {
    cell(out, f.finding_id.as_bytes());
    cell(out, f.identity_id.as_bytes());
    cell(out, f.identity_name.as_bytes());
    cell(out, f.auth_method.as_str().as_bytes());
    cell(out, f.rule.as_bytes());
    plain_cell(out, f.severity.as_str());
    plain_cell(out, f.status.as_str());
    joined(out, scratch, &f.violations, b";", |v| v.check.as_str());
    joined(out, scratch, &f.violations, b" | ", |v| &v.observed);
    joined(out, scratch, &f.violations, b" | ", |v| &v.expected);
    joined(out, scratch, &f.violations, b" | ", |v| &v.message);
    let exemption = f.exemption.as_ref();
    cell(out, exemption.map_or("", |e| e.reason.as_str()).as_bytes());
    cell(out, exemption.map_or("", |e| e.expires.as_str()).as_bytes());
    cell(out, f.error.as_deref().unwrap_or("").as_bytes());
    match &f.remediation {
        None => {
            cell(out, b"");
            cell(out, b"");
        }
        Some(Remediation::Auto { patch, .. }) => {
            plain_cell(out, "auto");
            scratch.clear();
            // Serializing a JSON map into memory cannot fail; an empty cell if it ever does.
            if serde_json::to_writer(&mut *scratch, patch).is_err() {
                scratch.clear();
            }
            cell(out, scratch);
        }
        Some(Remediation::Manual { reason, .. }) => {
            scratch.clear();
            scratch.extend_from_slice(b"manual: ");
            scratch.extend_from_slice(reason.as_bytes());
            cell(out, scratch);
            cell(out, b"");
        }
    }
    end_row(out);
}

/// Appends the header row: `names`, each encoded like any cell.
pub(super) fn push_header(out: &mut Vec<u8>, names: &[&str]) {
    for name in names {
        cell(out, name.as_bytes());
    }
    end_row(out);
}

/// Replaces the `,` after the last cell with the CRLF terminator.
fn end_row(out: &mut Vec<u8>) {
    if out.last() == Some(&b',') {
        out.pop();
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends the cell made of `part` of every violation joined with `sep`, followed by `,`.
/// Zero or one violation (the usual case) is written without copying.
fn joined(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    violations: &[Violation],
    sep: &[u8],
    part: fn(&Violation) -> &str,
) {
    match violations {
        [] => cell(out, b""),
        [one] => cell(out, part(one).as_bytes()),
        many => {
            scratch.clear();
            for (i, v) in many.iter().enumerate() {
                if i > 0 {
                    scratch.extend_from_slice(sep);
                }
                scratch.extend_from_slice(part(v).as_bytes());
            }
            cell(out, scratch);
        }
    }
}

/// Appends one cell followed by `,`: a `'` first when a spreadsheet would evaluate it as a
/// formula, the whole in double quotes (inner quotes doubled) when it holds `,`, `"`, CR or LF.
/// Inlined into every call site: most cells are empty or plain and take a few instructions.
#[inline(always)]
pub(super) fn cell(out: &mut Vec<u8>, text: &[u8]) {
    if text.is_empty() {
        out.push(b',');
    } else if needs_quotes(text) {
        quoted_cell(out, text);
    } else {
        if is_formula(text) {
            out.push(b'\'');
        }
        out.extend_from_slice(text);
        out.push(b',');
    }
}

/// Appends a cell that is known to need no quoting and no formula guard (`pass`, `high`,
/// `auto`: the tests check every such constant), followed by `,`.
#[inline(always)]
fn plain_cell(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.push(b',');
}

/// The rare case of [`cell`]: the cell holds `,`, `"`, CR or LF.
#[cold]
#[inline(never)]
fn quoted_cell(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    if is_formula(text) {
        out.push(b'\'');
    }
    let mut parts = text.split(|&b| b == b'"');
    if let Some(first) = parts.next() {
        out.extend_from_slice(first);
    }
    for part in parts {
        out.extend_from_slice(b"\"\"");
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"\",");
}

/// Whether a spreadsheet would run the cell as a formula (it starts with `=`, `+`, `-`, `@`,
/// tab or CR).
#[inline]
fn is_formula(text: &[u8]) -> bool {
    matches!(
        text.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Whether the cell holds a byte that forces quoting: `,`, `"`, CR or LF. Checks 16 bytes
/// (SIMD), 8 or 4 bytes (one word) at a time, since this runs on every cell of every row.
fn needs_quotes(text: &[u8]) -> bool {
    if let Some(last) = text.last_chunk::<16>() {
        // Every full block, then the last 16 bytes when they overlap a partial block.
        let (blocks, rest) = text.as_chunks::<16>();
        return blocks.iter().any(special_in_16) || (!rest.is_empty() && special_in_16(last));
    }
    if let (Some(first), Some(last)) = (text.first_chunk::<8>(), text.last_chunk::<8>()) {
        return special_in_word(u64::from_le_bytes(*first))
            || special_in_word(u64::from_le_bytes(*last));
    }
    if let (Some(first), Some(last)) = (text.first_chunk::<4>(), text.last_chunk::<4>()) {
        return special_in_word(u64::from(u32::from_le_bytes(*first)))
            || special_in_word(u64::from(u32::from_le_bytes(*last)));
    }
    text.iter().any(|&b| is_special(b))
}

/// Whether `b` forces quoting.
#[inline]
fn is_special(b: u8) -> bool {
    matches!(b, b',' | b'"' | b'\r' | b'\n')
}

/// [`is_special`] over 16 bytes, without branches (the compiler turns it into SIMD compares).
#[inline]
fn special_in_16(block: &[u8; 16]) -> bool {
    // Plain `==` rather than `is_special`: `matches!` becomes a bit test the compiler does
    // not vectorize.
    block.iter().fold(0u8, |hit, &b| {
        hit | u8::from((b == b',') | (b == b'"') | (b == b'\r') | (b == b'\n'))
    }) != 0
}

/// [`is_special`] over the 8 bytes of a word (zero bytes are never special, so shorter input
/// may be zero-extended): a byte equals `c` when `word ^ splat(c)` has a zero byte, found with
/// the classic `(x - 0x01..) & !x & 0x80..` test (exact for "any").
#[inline]
fn special_in_word(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let eq = |c: u8| zero_byte(word ^ (ONES * u64::from(c)));
    (eq(b',') | eq(b'"') | eq(b'\r') | eq(b'\n')) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> String {
        let mut out = Vec::new();
        cell(&mut out, text.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn cells_are_quoted_only_when_needed() {
        assert_eq!(one("plain"), "plain,");
        assert_eq!(one(""), ",");
        assert_eq!(one("a,b"), "\"a,b\",");
        assert_eq!(one("say \"hi\""), "\"say \"\"hi\"\"\",");
        assert_eq!(one("\""), "\"\"\"\",");
        assert_eq!(one("line\nbreak"), "\"line\nbreak\",");
        assert_eq!(one("x\ry"), "\"x\ry\",");
        assert_eq!(one("semi;colon | pipe 'q'"), "semi;colon | pipe 'q',");
    }

    #[test]
    fn formula_cells_are_defused_inside_the_quotes() {
        assert_eq!(one("=1+1"), "'=1+1,");
        assert_eq!(one("-x"), "'-x,");
        assert_eq!(one("\tx"), "'\tx,");
        assert_eq!(one("\rx"), "\"'\rx\",");
        assert_eq!(one("=a,\"b\""), "\"'=a,\"\"b\"\"\",");
        assert_eq!(one("a=b"), "a=b,");
    }

    /// The fast check agrees with a byte-by-byte scan for every length up to 40 and every
    /// position of every special byte (and of bytes that look close to them).
    #[test]
    fn needs_quotes_finds_special_bytes_at_every_position() {
        for len in 0..40 {
            let base = vec![b'a'; len];
            assert!(!needs_quotes(&base), "len {len}");
            for pos in 0..len {
                for b in [b',', b'"', b'\r', b'\n', b'+', b'!', b'\x0b', 0x8c, 0xa2, 0] {
                    let mut t = base.clone();
                    t[pos] = b;
                    assert_eq!(
                        needs_quotes(&t),
                        is_special(b),
                        "len {len} pos {pos} byte {b}"
                    );
                }
            }
        }
    }

    /// A typical pass result (seven short cells, nine empty ones) is one unquoted line, the
    /// same on every reuse of the buffers. Also the workload for measuring instructions per row
    /// (`valgrind --tool=callgrind` on this test in a release build).
    #[test]
    fn typical_pass_row_is_one_plain_line() {
        use crate::finding::{Severity, Status};
        use crate::model::AuthMethod;
        let f = Finding {
            finding_id: "0123456789abcdef0123456789abcdef".into(),
            identity_id: "6f1a9c2e-0d3b-4c5a-9e7f-1a2b3c4d5e6f".into(),
            identity_name: "ci-deploy-042".into(),
            auth_method: AuthMethod::Universal,
            rule: "short-lived-tokens".into(),
            severity: Severity::High,
            status: Status::Pass,
            violations: vec![],
            exemption: None,
            error: None,
            remediation: None,
        };
        let want: &[u8] = b"0123456789abcdef0123456789abcdef,6f1a9c2e-0d3b-4c5a-9e7f-1a2b3c4d5e6f,\
            ci-deploy-042,universal-auth,short-lived-tokens,high,pass,,,,,,,,,\r\n";
        let (mut out, mut scratch) = (Vec::with_capacity(want.len() * 1000), Vec::new());
        for _ in 0..1000 {
            push_row(&mut out, &mut scratch, &f);
        }
        assert_eq!(out.len(), want.len() * 1000);
        assert!(
            out.chunks(want.len()).all(|row| row == want),
            "{}",
            String::from_utf8_lossy(&out[..want.len()])
        );
    }

    /// What [`plain_cell`] writes unchecked really needs no quoting and no formula guard.
    #[test]
    fn plain_cells_are_plain() {
        let severities = crate::finding::Severity::ALL.map(|s| s.as_str());
        let statuses = crate::finding::Status::ALL.map(|s| s.as_str());
        for text in severities.into_iter().chain(statuses).chain(["auto"]) {
            assert!(!text.is_empty() && !needs_quotes(text.as_bytes()), "{text}");
            assert!(!is_formula(text.as_bytes()), "{text}");
            let mut out = Vec::new();
            plain_cell(&mut out, text);
            assert_eq!(out, one(text).as_bytes());
        }
    }

    #[test]
    fn header_row_ends_with_crlf_and_no_trailing_comma() {
        let mut out = Vec::new();
        push_header(&mut out, &["a", "b,c", ""]);
        assert_eq!(out, b"a,\"b,c\",\r\n");
    }
}
