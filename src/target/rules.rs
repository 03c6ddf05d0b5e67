//! Prometheus alert rules from the spec's triggers, for one phase.

use crate::model::{Model, Phase};

use super::Rendered;

pub fn render(_model: &Model, _phase: &Phase) -> Rendered {
    Rendered::default()
}
