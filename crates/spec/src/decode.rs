//! Reading a parsed TOML tree into the spec model without stopping at the first mistake.
//!
//! serde stops at the first error; an operator wants every problem at once. So the model is
//! read through [`Table`], a cursor over one TOML table that records which keys the model
//! asked for. Wrong types and missing keys become diagnostics, and when the model is done
//! with a table, every key it never asked for is reported as unknown, with the closest known
//! key as a suggestion. The list of known keys is therefore the model's own code: there is no
//! second list to keep in step.

use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics, FileId, Sp, Span};

/// Shared state of one decoding pass.
pub struct Ctx<'d> {
    pub file: FileId,
    pub diags: &'d mut Diagnostics,
}

impl Ctx<'_> {
    pub fn span(&self, s: std::ops::Range<usize>) -> Span {
        Span::new(self.file, s)
    }

    pub fn error(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, msg));
    }
}

/// A cursor over one TOML table.
pub struct Table<'a, 'i> {
    table: &'a DeTable<'i>,
    /// Where the table is written (its header or inline braces).
    pub span: Span,
    /// What the table is, for messages: "subnet `app-a`", "the deployment table".
    pub what: String,
    asked: Vec<&'static str>,
    /// Free-form tables (tags, outputs) accept any key.
    all_known: bool,
    /// Required keys that are absent, with their message. Reported by `finish`, unless an
    /// unknown key is a misspelling of one: then that one diagnostic says both.
    missing: Vec<(&'static str, String)>,
}

impl<'a, 'i> Table<'a, 'i> {
    pub fn new(table: &'a DeTable<'i>, span: Span, what: impl Into<String>) -> Self {
        Table { table, span, what: what.into(), asked: Vec::new(), all_known: false, missing: Vec::new() }
    }

    /// Renames the table for messages once its name is known.
    pub fn set_what(&mut self, what: impl Into<String>) {
        self.what = what.into();
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.asked.push(key);
        self.table.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// Span of a key's value, or of the table when the key is absent.
    pub fn value_span(&self, cx: &Ctx, key: &str) -> Span {
        self.table.get(key).map_or(self.span, |v| cx.span(v.span()))
    }

    fn wrong_type(&self, cx: &mut Ctx, key: &str, v: &Spanned<DeValue>, want: &str) {
        let got = v.get_ref().type_str();
        let msg = format!("`{key}` in {} must be {want}, not {got}", self.what);
        cx.error("wrong-type", cx.span(v.span()), msg);
    }

    fn missing(&mut self, key: &'static str, want: &str) {
        let msg = format!("{} has no `{key}` ({want}, required)", self.what);
        self.report_missing(key, msg);
    }

    /// Reports a required key as absent when the table is finished, unless an unknown key
    /// turns out to be its misspelling.
    pub fn report_missing(&mut self, key: &'static str, msg: String) {
        self.missing.push((key, msg));
    }

    pub fn opt_str(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<String>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), cx.span(v.span()))),
            _ => {
                self.wrong_type(cx, key, v, "a string");
                None
            }
        }
    }

    /// A required string; absent or mistyped gives an empty string at the table's span, which
    /// later checks skip (the problem is already reported).
    pub fn str(&mut self, cx: &mut Ctx, key: &'static str) -> Sp<String> {
        if !self.has(key) {
            self.asked.push(key);
            self.missing(key, "a string");
            return Sp::new(String::new(), self.span);
        }
        self.opt_str(cx, key).unwrap_or_else(|| Sp::new(String::new(), self.span))
    }

    pub fn opt_bool(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<bool>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, cx.span(v.span()))),
            _ => {
                self.wrong_type(cx, key, v, "true or false");
                None
            }
        }
    }

    pub fn bool_or(&mut self, cx: &mut Ctx, key: &'static str, default: bool) -> bool {
        self.opt_bool(cx, key).map_or(default, |b| b.value)
    }

    pub fn opt_int(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Sp<i64>> {
        let v = self.get(key)?;
        match int_of(v.get_ref()) {
            Some(Ok(i)) => Some(Sp::new(i, cx.span(v.span()))),
            Some(Err(())) => {
                let msg = format!("`{key}` in {} is too large", self.what);
                cx.error("out-of-range", cx.span(v.span()), msg);
                None
            }
            None => {
                self.wrong_type(cx, key, v, "an integer");
                None
            }
        }
    }

    /// An integer within `range`, reported with `code` when outside it.
    pub fn opt_int_in(
        &mut self,
        cx: &mut Ctx,
        key: &'static str,
        range: std::ops::RangeInclusive<i64>,
        code: &'static str,
    ) -> Option<Sp<i64>> {
        let i = self.opt_int(cx, key)?;
        if !range.contains(&i.value) {
            let msg = format!("`{key}` in {} is {}, outside {}..={}", self.what, i.value, range.start(), range.end());
            cx.error(code, i.span, msg);
            return None;
        }
        Some(i)
    }

    pub fn opt_table(&mut self, cx: &mut Ctx, key: &'static str) -> Option<Table<'a, 'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Table::new(t, cx.span(v.span()), format!("`{key}` of {}", self.what))),
            _ => {
                self.wrong_type(cx, key, v, "a table");
                None
            }
        }
    }

    /// An array of strings; wrong elements are reported and dropped.
    pub fn str_list(&mut self, cx: &mut Ctx, key: &'static str) -> Vec<Sp<String>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let Some(items) = self.array(cx, key, v, "an array of strings") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match item.get_ref() {
                DeValue::String(s) => out.push(Sp::new(s.to_string(), cx.span(item.span()))),
                _ => self.wrong_type(cx, key, item, "a string"),
            }
        }
        out
    }

    /// A raw value, for fields that accept several shapes.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.get(key)
    }

    fn array(&self, cx: &mut Ctx, key: &str, v: &'a Spanned<DeValue<'i>>, want: &str) -> Option<&'a DeArray<'i>> {
        match v.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => {
                self.wrong_type(cx, key, v, want);
                None
            }
        }
    }

    /// An array of tables (`[[key]]` or `key = [{...}]`).
    pub fn tables(&mut self, cx: &mut Ctx, key: &'static str, what: &str) -> Vec<Table<'a, 'i>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let want = format!("an array of tables (`[[{key}]]`)");
        let Some(items) = self.array(cx, key, v, &want) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match item.get_ref() {
                DeValue::Table(t) => out.push(Table::new(t, cx.span(item.span()), what)),
                _ => self.wrong_type(cx, key, item, "a table"),
            }
        }
        out
    }

    /// Every key with its value, for free-form tables (tags, outputs, variables). Marks all
    /// keys as known.
    pub fn entries(
        &mut self,
    ) -> impl Iterator<Item = (&'a Spanned<std::borrow::Cow<'i, str>>, &'a Spanned<DeValue<'i>>)> {
        self.all_known = true;
        self.table.iter()
    }

    /// Reports every key nobody asked for, with a suggestion when one is close.
    pub fn finish(self, cx: &mut Ctx) {
        let mut missing = self.missing;
        if !self.all_known {
            for (key, _) in self.table.iter() {
                if self.asked.iter().any(|k| *k == key.get_ref().as_ref()) {
                    continue;
                }
                let mut d = Diagnostic::error(
                    "unknown-field",
                    cx.span(key.span()),
                    format!("unknown field `{}` in {}", key.get_ref(), self.what),
                );
                d = match did_you_mean(key.get_ref(), self.asked.iter().copied()) {
                    Some(s) => match missing.iter().position(|(k, _)| *k == s) {
                        Some(i) => {
                            missing.remove(i);
                            d.help(format!("did you mean `{s}`? (`{s}` is required)"))
                        }
                        None => d.help(format!("did you mean `{s}`?")),
                    },
                    None => {
                        let mut names: Vec<_> = self.asked.to_vec();
                        names.sort_unstable();
                        names.dedup();
                        d.help(format!("known fields: {}", names.join(", ")))
                    }
                };
                cx.diags.push(d);
            }
        }
        for (_, msg) in missing {
            cx.error("missing-field", self.span, msg);
        }
    }
}

/// Integer value of a TOML integer, `Err` when it does not fit in `i64`.
pub fn int_of(v: &DeValue) -> Option<Result<i64, ()>> {
    match v {
        DeValue::Integer(i) => {
            let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
            let digits = digits.trim_start_matches('+');
            let body = digits.trim_start_matches("0x").trim_start_matches("0o").trim_start_matches("0b");
            Some(i64::from_str_radix(body, i.radix()).map_err(|_| ()))
        }
        _ => None,
    }
}
