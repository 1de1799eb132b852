//! The spec's `[outputs]`, rendered from the state: what operators and scripts need once
//! the platform is up (URLs, addresses, an SSH line).

use std::collections::BTreeMap;

use strato_spec::Spec;
use strato_state::State;

/// Each output's name and value; a value whose references are not all recorded yet is an
/// error naming the first missing one.
pub fn render(spec: &Spec, state: &State) -> Vec<(String, Result<String, String>)> {
    spec.outputs
        .iter()
        .map(|o| {
            let mut missing = None;
            let text = strato_spec::template::render(&o.value.value, |r| {
                let v = resolve(spec, state, r);
                if v.is_none() && missing.is_none() {
                    missing = Some(r.to_string());
                }
                v
            });
            let value = match missing {
                Some(r) => Err(format!("`${{{r}}}` is not recorded yet")),
                None => Ok(text),
            };
            (o.name.value.clone(), value)
        })
        .collect()
}

fn resolve(spec: &Spec, state: &State, reference: &str) -> Option<String> {
    match reference.split('.').collect::<Vec<_>>()[..] {
        ["deployment", _] => spec.deployment_value(reference),
        [ns, name, attr] => {
            let address = strato_graph::Address::of_namespace(ns, name)?;
            state.objects.get(address.as_str())?.value(attr).map(str::to_string)
        }
        _ => None,
    }
}

/// Outputs as one JSON object: name to value (`null` when not recorded).
pub fn to_json(rendered: &[(String, Result<String, String>)]) -> serde_json::Value {
    let map: BTreeMap<&str, serde_json::Value> = rendered
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_ref().map_or(serde_json::Value::Null, |s| s.clone().into())))
        .collect();
    serde_json::json!(map)
}

/// Outputs as aligned `name = value` lines.
pub fn to_text(rendered: &[(String, Result<String, String>)]) -> String {
    let width = rendered.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rendered
        .iter()
        .map(|(k, v)| match v {
            Ok(v) => format!("  {k:<width$} = {v}\n"),
            Err(e) => format!("  {k:<width$}   ({e})\n"),
        })
        .collect()
}
