//! The JSON Schema of the spec language, for editors and CI.

use crate::spec::Spec;

/// The schema as pretty JSON with a trailing newline: what `topo schema` prints
/// and `topo.schema.json` holds.
pub fn json_schema() -> String {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<Spec>();
    schema.insert("title".into(), "topo spec".into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
