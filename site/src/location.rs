//! Where things are in a site file's text: a field path (`lanes[39].to`) to its line and
//! column, and back from a byte offset to the field path, both from the spans of the TOML
//! parser (no hand-written scanning of the text).

use serde::Serialize;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// A position in a text file: 1-based line and 1-based column (counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl Location {
    /// The line and column of byte `offset` in `text` (clamped to the text; an offset inside
    /// a multi-byte character counts as that character).
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        Location {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

/// One step of a field path: a key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `lanes[39].points[2]` into `lanes`, `39`, `points`, `2`; `None` if it is not a
/// field path.
fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if (key.is_empty() && out.is_empty()) || !key.chars().all(bare) {
            return None;
        }
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Step::Index(r[..end].parse().ok()?));
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// Where the field `path` (`lanes[39].to`, `terrain.size_m[1]`, `loaders[2]`,
/// `radio.ue.antenna_height_m`) is written in the TOML `text`: the start of its value, which
/// for a table or an element of an array of tables is its `[header]`.
///
/// When the path is not all written (a defaulted field, a key that is not there) it points
/// at the deepest part that is, e.g. the `[radio.carrier]` header for
/// `radio.carrier.tdd_pattern` left at its default; `None` when not even the first key is
/// there, the path is not a field path (`(file)`), or the text does not parse.
pub fn locate(text: &str, path: &str) -> Option<Location> {
    let doc = DeTable::parse(text).ok()?;
    let steps = steps(path)?;
    let mut table: &DeTable<'_> = doc.get_ref();
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    let mut found: Option<Range<usize>> = None;
    for step in steps {
        let next = match (step, value.map(|v| v.get_ref())) {
            (Step::Key(k), None) => table.get(k),
            (Step::Key(k), Some(DeValue::Table(t))) => t.get(k),
            (Step::Index(i), Some(DeValue::Array(a))) => a.get(i),
            _ => None,
        };
        let Some(next) = next else { break };
        found = Some(next.span());
        value = Some(next);
        if let DeValue::Table(t) = next.get_ref() {
            table = t;
        }
    }
    found.map(|sp| Location::of_offset(text, sp.start))
}

/// The field path (`lanes[39].to`) written at the byte range `span` of the TOML `text` (an
/// error's span): the deepest key or value whose span holds it, else (a span between
/// entries, or in text that does not parse) the table whose header or entry most closely
/// precedes it. `None` when nothing does (a span over the whole document).
pub fn path_at(text: &str, span: Range<usize>) -> Option<String> {
    let (doc, _errors) = DeTable::parse_recoverable(text);
    let mut best = Best::default();
    walk_table(doc.get_ref(), String::new(), &span, &mut best);
    best.inside.or(best.before.map(|(_, p)| p))
}

#[derive(Default)]
struct Best {
    /// Deepest path whose key or value span holds the offset (with that span's length).
    inside: Option<String>,
    inside_len: usize,
    /// Table or array element whose span starts last before the offset.
    before: Option<(usize, String)>,
}

/// Whether the entry span `outer` holds the error span `inner`.
fn holds(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    if inner.is_empty() {
        outer.contains(&inner.start) || (outer.is_empty() && outer.start == inner.start)
    } else {
        outer.start <= inner.start && inner.end <= outer.end
    }
}

fn consider(best: &mut Best, path: &str, spans: &[Range<usize>], at: &Range<usize>, table: bool) {
    let offset = at.start;
    for sp in spans {
        if holds(sp, at) && (best.inside.is_none() || sp.len() <= best.inside_len) {
            best.inside = Some(path.to_string());
            best.inside_len = sp.len();
        }
    }
    if table {
        if let Some(sp) = spans
            .iter()
            .filter(|sp| sp.start <= offset)
            .max_by_key(|sp| sp.start)
        {
            if best.before.as_ref().is_none_or(|(s, _)| sp.start >= *s) {
                best.before = Some((sp.start, path.to_string()));
            }
        }
    }
}

fn walk_table(t: &DeTable<'_>, prefix: String, at: &Range<usize>, best: &mut Best) {
    for (k, v) in t.iter() {
        if k.get_ref().is_empty() {
            continue; // what error recovery makes of a missing key
        }
        let path = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        walk_value(v, path, Some(k.span()), at, best);
    }
}

fn walk_value(
    v: &Spanned<DeValue<'_>>,
    path: String,
    key: Option<Range<usize>>,
    at: &Range<usize>,
    best: &mut Best,
) {
    let mut spans = vec![v.span()];
    spans.extend(key);
    let is_table = matches!(v.get_ref(), DeValue::Table(_));
    consider(best, &path, &spans, at, is_table);
    match v.get_ref() {
        DeValue::Table(t) => walk_table(t, path, at, best),
        DeValue::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                walk_value(e, format!("{path}[{i}]"), None, at, best);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"x\"\n\
        [terrain]\n\
        size_m = [3000.0, 2500.0]\n\
        cell_m = 6.0\n\
        \n\
        [terrain.pit]\n\
        depth_m = 180.0\n\
        \n\
        [[lanes]]\n\
        from = 0\n\
        to = 1\n\
        \n\
        [[lanes]]\n\
        from = 1\n\
        to   =   0\n\
        points = [[0.0, 0.0, 1.0],\n  [5.0, 0.0, 1.0]]\n\
        \n\
        [radio.ue]\n\
        antenna_height_m = 4.0\n";

    fn at(line: u32, column: u32) -> Option<Location> {
        Some(Location { line, column })
    }

    #[test]
    fn offsets_become_lines_and_columns() {
        assert_eq!(
            Location::of_offset("ab\ncd", 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset("ab\ncd", 3),
            Location { line: 2, column: 1 }
        );
        assert_eq!(
            Location::of_offset("ab\ncd", 4),
            Location { line: 2, column: 2 }
        );
        assert_eq!(
            Location::of_offset("ab\ncd", 99),
            Location { line: 2, column: 3 }
        );
        // columns count characters, not bytes
        assert_eq!(
            Location::of_offset("é = 1", 4),
            Location { line: 1, column: 4 }
        );
        assert_eq!(Location::of_offset("é", 1), Location { line: 1, column: 1 });
    }

    #[test]
    fn paths_are_split_into_keys_and_indices() {
        assert_eq!(
            steps("lanes[39].points[2][1]"),
            Some(vec![
                Step::Key("lanes"),
                Step::Index(39),
                Step::Key("points"),
                Step::Index(2),
                Step::Index(1)
            ])
        );
        assert_eq!(steps("(file)"), None);
        assert_eq!(steps("lanes[x]"), None);
        assert_eq!(steps("lanes[1]x"), None);
    }

    #[test]
    fn fields_are_located_at_their_values() {
        assert_eq!(locate(TEXT, "name"), at(1, 8));
        assert_eq!(locate(TEXT, "terrain.cell_m"), at(4, 10));
        assert_eq!(locate(TEXT, "terrain.size_m"), at(3, 10));
        assert_eq!(locate(TEXT, "terrain.size_m[1]"), at(3, 19));
        assert_eq!(locate(TEXT, "lanes[1].to"), at(15, 10));
        assert_eq!(locate(TEXT, "lanes[0].to"), at(11, 6));
        assert_eq!(locate(TEXT, "lanes[1].points[1]"), at(17, 3));
        assert_eq!(locate(TEXT, "lanes[1].points[1][2]"), at(17, 14));
        assert_eq!(locate(TEXT, "radio.ue.antenna_height_m"), at(20, 20));
    }

    #[test]
    fn tables_and_elements_are_located_at_their_headers() {
        assert_eq!(locate(TEXT, "terrain"), at(2, 1));
        assert_eq!(locate(TEXT, "terrain.pit"), at(6, 1));
        assert_eq!(locate(TEXT, "lanes[0]"), at(9, 1));
        assert_eq!(locate(TEXT, "lanes[1]"), at(13, 1));
        assert_eq!(locate(TEXT, "radio.ue"), at(19, 1));
    }

    #[test]
    fn missing_parts_fall_back_to_what_is_written() {
        // a defaulted key: its table
        assert_eq!(locate(TEXT, "terrain.pit.outline"), at(6, 1));
        assert_eq!(locate(TEXT, "radio.ue.tx_power_dbm"), at(19, 1));
        // an element past the end: the array
        assert_eq!(locate(TEXT, "lanes[7].to"), at(9, 1));
        assert_eq!(locate(TEXT, "nodes[0].pos"), None);
        assert_eq!(locate(TEXT, "(file)"), None);
        assert_eq!(locate("name = [", "name"), None);
    }

    #[test]
    fn offsets_name_their_field() {
        let off = |needle: &str| {
            let i = TEXT.find(needle).unwrap_or(usize::MAX);
            i..i
        };
        assert_eq!(path_at(TEXT, off("6.0")).as_deref(), Some("terrain.cell_m"));
        assert_eq!(
            path_at(TEXT, off("cell_m")).as_deref(),
            Some("terrain.cell_m")
        );
        assert_eq!(
            path_at(TEXT, off("2500")).as_deref(),
            Some("terrain.size_m[1]")
        );
        assert_eq!(path_at(TEXT, off("to   =")).as_deref(), Some("lanes[1].to"));
        assert_eq!(
            path_at(TEXT, off("[5.0")).as_deref(),
            Some("lanes[1].points[1]")
        );
        assert_eq!(
            path_at(TEXT, off("[radio.ue]")).as_deref(),
            Some("radio.ue")
        );
        assert_eq!(
            path_at(TEXT, off("antenna")).as_deref(),
            Some("radio.ue.antenna_height_m")
        );
        // between entries: the table it is in
        let gap = off("\n\n[terrain.pit]").start + 1;
        assert_eq!(path_at(TEXT, gap..gap).as_deref(), Some("terrain"));
        assert_eq!(path_at(TEXT, 0..0).as_deref(), Some("name"));
        // a span: the entry that holds all of it
        let v = off("[[0.0").start;
        assert_eq!(
            path_at(TEXT, v + 1..v + 15).as_deref(),
            Some("lanes[1].points[0]")
        );
        assert_eq!(path_at(TEXT, v..v + 20).as_deref(), Some("lanes[1].points"));
        assert_eq!(path_at(TEXT, 0..TEXT.len()), None);
        // text that does not parse: the entry or table it is in
        let bad = "name = \"x\"\n[terrain]\ncell_m = 6.0 7\n";
        let seven = bad.find("7").unwrap_or(0);
        assert_eq!(
            path_at(bad, seven..seven).as_deref(),
            Some("terrain.cell_m")
        );
        let bad = "name = \"x\"\n[terrain]\n= 6.0\n";
        let eq = bad.rfind("=").unwrap_or(0);
        assert_eq!(path_at(bad, eq..eq).as_deref(), Some("terrain"));
    }
}
