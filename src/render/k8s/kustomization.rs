//! kustomize's `Kustomization` (its own schema; not in k8s-openapi): the one
//! type both `render --out` and the GitOps tree write.

use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<PatchRef>,
}

impl Kustomization {
    pub fn new(resources: Vec<String>, patches: Vec<PatchRef>) -> Self {
        Kustomization { api_version: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources, patches }
    }
}

/// A patch file and the object it applies to.
#[derive(Debug, Serialize)]
pub struct PatchRef {
    pub path: String,
    pub target: PatchTarget,
}

#[derive(Debug, Serialize)]
pub struct PatchTarget {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
}
