//! Value overrides: many deployments from one spec file.
//!
//! An operator changes a spec without editing it, with an overlay file (a TOML document merged
//! into the spec) and `--set PATH=VALUE` assignments, applied in that order. The result is new
//! spec *text*, rewritten with `toml_edit` so that comments and layout of everything untouched
//! stay as they were: the rewritten text is what [`crate::load_str`] reads and what its
//! diagnostics point into, so a mistake in an override is reported like any mistake in the
//! spec. Only what cannot be applied at all (a path through a string, an entry name that does
//! not exist, an overlay that is not TOML) is an [`OverrideError`].
//!
//! Paths address tables by key (`deployment.tags.Owner`) and the entries of an array of
//! tables by their `name` (`subnet.app-a.cidr`); the entries of an array without names by a
//! 0-based index (`route_table.public.route.0.destination`).

use std::fmt;
use std::str::FromStr;

use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, Table, TableLike, Value};

use crate::diag::did_you_mean;

/// One `--set PATH=VALUE`.
#[derive(Clone, Debug)]
pub struct Override {
    /// The keys and entry names from the root down (`["subnet", "app-a", "cidr"]`).
    pub path: Vec<String>,
    /// The value as TOML, or a string when the text is not a TOML value (`10.1.0.0/16`).
    pub value: Value,
    /// The assignment as written, for messages and for showing what was applied.
    pub text: String,
}

impl Override {
    /// `--deployment NAME`: the same as `--set deployment.name=NAME`, except that NAME is a
    /// string whatever it looks like.
    pub fn deployment_name(name: &str) -> Override {
        Override {
            path: vec!["deployment".to_string(), "name".to_string()],
            value: Value::from(name),
            text: format!("deployment.name={name}"),
        }
    }

    /// The value to write where `old` is. A number, boolean or date written without quotes
    /// stays text where the spec has a string (`engine_version=8.0`, `name=2024`), since
    /// nobody writing `--set` wants to quote those in the shell.
    fn value_for(&self, old: Option<&Value>) -> Value {
        let scalar = matches!(self.value, Value::Integer(_) | Value::Float(_) | Value::Boolean(_) | Value::Datetime(_));
        match (old, split_assignment(&self.text)) {
            (Some(Value::String(_)), Ok((_, raw))) if scalar => Value::from(raw.trim()),
            _ => self.value.clone(),
        }
    }
}

/// Why a `--set` argument is not `PATH=VALUE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseOverrideError(String);

impl fmt::Display for ParseOverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseOverrideError {}

impl FromStr for Override {
    type Err = ParseOverrideError;

    /// Parses `PATH=VALUE`: the path up to the first `=` outside quotes, dot-separated, a
    /// segment in `"..."` or `'...'` when it holds dots; the value as a TOML value, or as a
    /// bare string when it is not one.
    fn from_str(s: &str) -> Result<Override, ParseOverrideError> {
        let (path, raw) = split_assignment(s)?;
        let raw = raw.trim();
        let mut value = raw.parse::<Value>().unwrap_or_else(|_| raw.into());
        // The spacing around a value is the spec's: kept where a value is replaced, the
        // default where one is added.
        value.decor_mut().clear();
        Ok(Override { path, value, text: s.to_string() })
    }
}

/// Splits `PATH=VALUE` into the path's segments and the value's text.
fn split_assignment(s: &str) -> Result<(Vec<String>, &str), ParseOverrideError> {
    let err = |m: String| Err(ParseOverrideError(m));
    let mut segments = Vec::new();
    let mut current = String::new();
    // Whether the segment being read was quoted, so `""` is a key and `a..b` a mistake.
    let mut quoted = false;
    let mut chars = s.char_indices();
    let value_at = loop {
        let Some((i, c)) = chars.next() else {
            return err("expected PATH=VALUE, e.g. `vpc.main.cidr=10.1.0.0/16`".to_string());
        };
        match c {
            '=' | '.' => {
                let segment = std::mem::take(&mut current);
                let segment = if quoted { segment } else { segment.trim().to_string() };
                if segment.is_empty() && !quoted {
                    let path = &s[..s[i..].find('=').map_or(s.len(), |e| i + e)];
                    return if c == '=' && segments.is_empty() {
                        err("the path before `=` is empty".to_string())
                    } else {
                        err(format!("empty segment in the path `{}`", path.trim()))
                    };
                }
                segments.push(segment);
                quoted = false;
                if c == '=' {
                    break i + 1;
                }
            }
            '"' | '\'' if current.trim().is_empty() && !quoted => {
                current.clear();
                loop {
                    match chars.next() {
                        None => return err(format!("unterminated {c} in the path of `{s}`")),
                        Some((_, q)) if q == c => break,
                        Some((_, '\\')) if c == '"' => match chars.next() {
                            Some((_, e)) => current.push(e),
                            None => return err(format!("unterminated {c} in the path of `{s}`")),
                        },
                        Some((_, other)) => current.push(other),
                    }
                }
                quoted = true;
            }
            c if quoted && c.is_whitespace() => {}
            c if quoted || c == '"' || c == '\'' => {
                return err(format!("quotes must enclose a whole segment of the path of `{s}`"));
            }
            c => current.push(c),
        }
    };
    Ok((segments, &s[value_at..]))
}

/// Why overrides could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverrideError {
    /// The spec itself is not TOML, so there is nothing to apply overrides to. [`crate::load_with`]
    /// reports the spec's own syntax errors instead.
    Spec { message: String },
    /// The overlay file is not TOML.
    OverlaySyntax { overlay: String, line: usize, column: usize, message: String },
    /// The overlay does not fit the spec (an entry of a named array without a name).
    Overlay { overlay: String, message: String },
    /// A `--set` that names something it cannot set.
    Set { text: String, message: String },
}

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverrideError::Spec { message } => write!(f, "the spec is not valid TOML: {message}"),
            OverrideError::OverlaySyntax { overlay, line, column, message } => {
                write!(f, "--overlay {overlay}:{line}:{column}: invalid TOML: {message}")
            }
            OverrideError::Overlay { overlay, message } => write!(f, "--overlay {overlay}: {message}"),
            OverrideError::Set { text, message } => write!(f, "--set {text}: {message}"),
        }
    }
}

impl std::error::Error for OverrideError {}

/// Applies an overlay (`(name, text)`, the name for messages) and then each override in order
/// to spec text, and returns the rewritten text. With neither, the text comes back unchanged.
pub fn apply(text: &str, overlay: Option<(&str, &str)>, overrides: &[Override]) -> Result<String, OverrideError> {
    if overlay.is_none() && overrides.is_empty() {
        return Ok(text.to_string());
    }
    let mut doc: DocumentMut =
        text.parse().map_err(|e: toml_edit::TomlError| OverrideError::Spec { message: one_line(e.message()) })?;
    if let Some((name, overlay_text)) = overlay {
        let over: DocumentMut = overlay_text.parse().map_err(|e: toml_edit::TomlError| {
            let at = e.span().map_or(0, |s| s.start).min(overlay_text.len());
            let before = &overlay_text[..at];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            OverrideError::OverlaySyntax { overlay: name.to_string(), line, column, message: one_line(e.message()) }
        })?;
        merge_tables(doc.as_table_mut(), false, over.as_table(), &mut Vec::new())
            .map_err(|message| OverrideError::Overlay { overlay: name.to_string(), message })?;
    }
    for o in overrides {
        if o.path.is_empty() {
            let message = "the path before `=` is empty".to_string();
            return Err(OverrideError::Set { text: o.text.clone(), message });
        }
        set_in_table(doc.as_table_mut(), false, o, 0, &mut Vec::new())
            .map_err(|message| OverrideError::Set { text: o.text.clone(), message })?;
    }
    Ok(doc.to_string())
}

fn one_line(message: &str) -> String {
    message.trim().lines().map(str::trim).collect::<Vec<_>>().join("; ")
}

// ---------------------------------------------------------------------------------------------
// --set
// ---------------------------------------------------------------------------------------------

/// Sets `o.path[depth..]` inside `table` (an inline table when `inline`). `header` is the path
/// of keys down to `table` without entry names, for naming arrays as `[[subnet]]`.
fn set_in_table(
    table: &mut dyn TableLike,
    inline: bool,
    o: &Override,
    depth: usize,
    header: &mut Vec<String>,
) -> Result<(), String> {
    let key = o.path[depth].as_str();
    if depth + 1 == o.path.len() {
        match table.get_mut(key) {
            Some(Item::Value(old)) => {
                let mut new = o.value_for(Some(old));
                *new.decor_mut() = old.decor().clone();
                *old = new;
            }
            Some(item) => {
                // A `[table]` or `[[entries]]` becomes `key = value` in its parent; the
                // header's spacing would be wrong there.
                *item = Item::Value(o.value.clone());
                if let Some(mut k) = table.key_mut(key) {
                    k.leaf_decor_mut().clear();
                }
            }
            None if inline => insert_inline(table, key, o.value.clone()),
            None => {
                table.insert(key, Item::Value(o.value.clone()));
            }
        }
        return Ok(());
    }
    if !table.contains_key(key) {
        if inline {
            insert_inline(table, key, Value::InlineTable(InlineTable::new()));
        } else {
            // Implicit: no `[a]` header of its own when only `[a.b]` has keys.
            let mut t = Table::new();
            t.set_implicit(true);
            table.insert(key, Item::Table(t));
        }
    }
    header.push(key.to_string());
    let child = table.get_mut(key).expect("present or just inserted");
    let result = set_in_item(child, o, depth + 1, header);
    header.pop();
    result
}

/// Sets `o.path[depth..]` inside `item`, the value at `o.path[..depth]`.
fn set_in_item(item: &mut Item, o: &Override, depth: usize, header: &mut Vec<String>) -> Result<(), String> {
    match item {
        Item::Table(t) => set_in_table(t, false, o, depth, header),
        Item::Value(v) => set_in_value(v, o, depth, header),
        Item::ArrayOfTables(a) => {
            let names: Vec<Option<String>> = a.iter().map(|t| name_of(t).map(str::to_string)).collect();
            let at = select(&names, true, o, depth, header)?;
            let element = a.get_mut(at).expect("selected from the same array");
            set_in_table(element, false, o, depth + 1, header)
        }
        Item::None => Err(format!("`{}` does not exist", o.path[..depth].join("."))),
    }
}

fn set_in_value(value: &mut Value, o: &Override, depth: usize, header: &mut Vec<String>) -> Result<(), String> {
    match value {
        Value::InlineTable(t) => set_in_table(t, true, o, depth, header),
        Value::Array(a) => {
            let tables = !a.is_empty() && a.iter().all(Value::is_inline_table);
            let names: Vec<Option<String>> =
                a.iter().map(|v| v.as_inline_table().and_then(|t| name_of(t)).map(str::to_string)).collect();
            let at = select(&names, tables, o, depth, header)?;
            let element = a.get_mut(at).expect("selected from the same array");
            if depth + 1 == o.path.len() {
                let mut new = o.value_for(Some(element));
                *new.decor_mut() = element.decor().clone();
                *element = new;
                return Ok(());
            }
            set_in_value(element, o, depth + 1, header)
        }
        other => Err(format!("`{}` is {}, not a table", o.path[..depth].join("."), article(other.type_name()))),
    }
}

/// Which element of an array `o.path[depth]` selects: by name in an array of tables with
/// names (`names`, one per element), else by index. An entry of an array of tables
/// (`tables`) is never the target itself: it is changed key by key, or by an overlay.
fn select(
    names: &[Option<String>],
    tables: bool,
    o: &Override,
    depth: usize,
    header: &[String],
) -> Result<usize, String> {
    let segment = o.path[depth].as_str();
    let here = o.path[..=depth].join(".");
    let kind = format!("[[{}]]", header.join("."));
    let named = tables && names.iter().any(Option::is_some);
    let at = if named {
        match names.iter().position(|n| n.as_deref() == Some(segment)) {
            Some(at) => at,
            None => {
                let known = names.iter().flatten().map(String::as_str);
                let hint = match did_you_mean(segment, known.clone()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("the names are {}", known.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")),
                };
                return Err(format!("no {kind} named `{segment}` ({hint})"));
            }
        }
    } else {
        let len = names.len();
        let path = o.path[..depth].join(".");
        match segment.parse::<usize>() {
            Ok(i) if i < len => i,
            Ok(i) => return Err(format!("`{path}` has {len} element(s), so there is no element {i}")),
            Err(_) => {
                return Err(format!("`{path}` is an array without names: address its elements by index (0, 1, ...)"))
            }
        }
    };
    if tables && depth + 1 == o.path.len() {
        return Err(format!(
            "`{here}` is a whole {kind} entry: set its keys one by one (`{here}.KEY=VALUE`) or change it with --overlay"
        ));
    }
    Ok(at)
}

fn name_of(table: &dyn TableLike) -> Option<&str> {
    table.get("name").and_then(Item::as_str)
}

fn article(type_name: &str) -> String {
    let an = type_name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {type_name}", if an { "an" } else { "a" })
}

/// Adds a key to an inline table, moving the space before `}` to after the new value so that
/// `{ a = 1 }` becomes `{ a = 1, b = 2 }` rather than `{ a = 1 , b = 2 }`.
fn insert_inline(table: &mut dyn TableLike, key: &str, mut value: Value) {
    let mut trailing = None;
    if let Some((_, Item::Value(last))) = table.iter_mut().last() {
        let suffix = last.decor().suffix().and_then(|s| s.as_str()).unwrap_or("");
        if suffix.chars().all(char::is_whitespace) {
            trailing = Some(suffix.to_string());
            last.decor_mut().set_suffix("");
        }
    }
    if let Some(suffix) = trailing {
        value.decor_mut().set_suffix(suffix);
    }
    table.insert(key, Item::Value(value));
}

// ---------------------------------------------------------------------------------------------
// --overlay
// ---------------------------------------------------------------------------------------------

/// Merges `over` into `base` key by key: tables merge, arrays of named tables merge entry by
/// entry, everything else is replaced.
fn merge_tables(
    base: &mut dyn TableLike,
    base_inline: bool,
    over: &dyn TableLike,
    header: &mut Vec<String>,
) -> Result<(), String> {
    for (key, item) in over.iter() {
        header.push(key.to_string());
        match base.get_mut(key) {
            Some(existing) => merge_item(existing, base_inline, item, header)?,
            None if base_inline => insert_inline(base, key, as_value(item)),
            // The overlay's key keeps its comments; its table positions do not come along.
            None => match over.key(key) {
                Some(k) => {
                    base.entry_format(k).or_insert(fresh_item(item));
                }
                None => {
                    base.insert(key, fresh_item(item));
                }
            },
        }
        header.pop();
    }
    Ok(())
}

fn merge_item(base: &mut Item, base_inline: bool, over: &Item, header: &mut Vec<String>) -> Result<(), String> {
    if base.is_table_like() && over.is_table_like() {
        let inline = base.is_inline_table();
        let base = base.as_table_like_mut().expect("checked");
        return merge_tables(base, inline, over.as_table_like().expect("checked"), header);
    }
    // Arrays of tables merge by name when either side names its entries; an overlay entry
    // without a name is then a mistake rather than a reason to replace them all.
    if let (Some(entries), true) = (table_entries(over), is_array_of_tables(base)) {
        if has_names(base) || entries.iter().any(|t| name_of(t).is_some()) {
            return merge_by_name(base, entries, header);
        }
    }
    match (base, over) {
        (Item::Value(old), Item::Value(new)) => {
            let decor = old.decor().clone();
            *old = new.clone();
            *old.decor_mut() = decor;
        }
        (base, over) if base_inline => *base = Item::Value(as_value(over)),
        (base, over) => *base = fresh_item(over),
    }
    Ok(())
}

/// The entries of an array of tables, as standard tables.
fn table_entries(item: &Item) -> Option<Vec<Table>> {
    match item {
        Item::ArrayOfTables(a) => Some(a.iter().map(fresh_table).collect()),
        Item::Value(Value::Array(a)) => a.iter().map(|v| v.as_inline_table().map(|t| t.clone().into_table())).collect(),
        _ => None,
    }
}

fn is_array_of_tables(item: &Item) -> bool {
    match item {
        Item::ArrayOfTables(_) => true,
        Item::Value(Value::Array(a)) => a.iter().all(Value::is_inline_table),
        _ => false,
    }
}

fn has_names(item: &Item) -> bool {
    match item {
        Item::ArrayOfTables(a) => a.iter().any(|t| name_of(t).is_some()),
        Item::Value(Value::Array(a)) => a.iter().filter_map(Value::as_inline_table).any(|t| name_of(t).is_some()),
        _ => false,
    }
}

fn merge_by_name(base: &mut Item, entries: Vec<Table>, header: &mut Vec<String>) -> Result<(), String> {
    let kind = format!("[[{}]]", header.join("."));
    for (i, entry) in entries.into_iter().enumerate() {
        let Some(name) = name_of(&entry).map(str::to_string) else {
            return Err(format!("{kind} entry {} has no `name`: {kind} entries are merged by name", i + 1));
        };
        let name = Some(name.as_str());
        match base {
            Item::ArrayOfTables(a) => {
                let found = a.iter().position(|t| name_of(t) == name);
                match found {
                    Some(at) => merge_tables(a.get_mut(at).expect("just found"), false, &entry, header)?,
                    None => a.push(entry),
                }
            }
            Item::Value(Value::Array(a)) => {
                let found = a.iter().position(|v| v.as_inline_table().is_some_and(|t| name_of(t) == name));
                match found {
                    Some(at) => {
                        let existing = a.get_mut(at).and_then(Value::as_inline_table_mut).expect("just found");
                        merge_tables(existing, true, &entry, header)?
                    }
                    None => a.push(entry.into_inline_table()),
                }
            }
            _ => unreachable!("checked by is_array_of_tables"),
        }
    }
    Ok(())
}

/// An overlay item as a value, for a place inside an inline table.
fn as_value(item: &Item) -> Value {
    let mut item = item.clone();
    item.make_value();
    match item {
        Item::Value(v) => v,
        _ => Value::from(""),
    }
}

/// A copy of an overlay item to insert into the spec, with the overlay's table positions
/// dropped: kept, they would sort the new tables among the spec's by where they stood in the
/// overlay file. Without one a new table is written right after what precedes it.
fn fresh_item(item: &Item) -> Item {
    match item {
        Item::Table(t) => Item::Table(fresh_table(t)),
        Item::ArrayOfTables(a) => {
            let mut new = ArrayOfTables::new();
            for t in a.iter() {
                new.push(fresh_table(t));
            }
            Item::ArrayOfTables(new)
        }
        other => other.clone(),
    }
}

fn fresh_table(t: &Table) -> Table {
    let mut new = Table::new();
    new.set_implicit(t.is_implicit());
    new.set_dotted(t.is_dotted());
    *new.decor_mut() = t.decor().clone();
    // A blank line before each header, as between the spec's own tables, wherever the table
    // stood in the overlay.
    let prefix = t.decor().prefix().and_then(|p| p.as_str()).unwrap_or("\n");
    if !prefix.starts_with('\n') {
        new.decor_mut().set_prefix(format!("\n{prefix}"));
    }
    for (key, item) in t.iter() {
        match t.key(key) {
            Some(k) => new.insert_formatted(k, fresh_item(item)),
            None => new.insert(key, fresh_item(item)),
        };
    }
    new
}
