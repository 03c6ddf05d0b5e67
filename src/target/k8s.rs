//! The Kubernetes target (K3s first, any conformant cluster).

use crate::model::{Model, Phase};

use super::Rendered;

pub fn render(_model: &Model, _phase: &Phase) -> Rendered {
    Rendered::default()
}
