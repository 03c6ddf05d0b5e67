//! The project's Secret `<project>-secrets`, as `secrets_from` says it comes
//! about: created out of band (nothing rendered, the notes give the
//! `kubectl create secret generic` command), an `ExternalSecret`
//! (external-secrets.io/v1) whose target is that Secret, or a `SealedSecret`
//! (bitnami.com/v1alpha1) that unseals into it. Either way the pods read the
//! same Secret, so they are unchanged; no value is ever written.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::model::names::{create_secret_command, kubeseal_commands, secret_name};
use crate::model::{Model, Phase, SecretsSource};

use super::{Objects, project_labels};

/// What a SealedSecret holds for a secret the spec gives no ciphertext for:
/// not base64, so the controller refuses to unseal it (the Secret is not
/// created) instead of creating an empty one.
pub const UNSEALED_PLACEHOLDER: &str = "UNSEALED: seal it with kubeseal (see the notes of topo render)";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecret {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: ExternalSecretSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalSecretSpec {
    refresh_interval: String,
    secret_store_ref: StoreRef,
    target: Target,
    data: Vec<Data>,
}

#[derive(Serialize)]
struct StoreRef {
    name: String,
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    name: String,
    /// The operator owns the Secret: deleting the ExternalSecret deletes it.
    creation_policy: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    secret_key: String,
    remote_ref: RemoteRef,
}

#[derive(Serialize)]
struct RemoteRef {
    key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecret {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: SealedSecretSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SealedSecretSpec {
    encrypted_data: BTreeMap<String, String>,
    template: SecretTemplate,
}

#[derive(Serialize)]
struct SecretTemplate {
    metadata: TemplateMeta,
    #[serde(rename = "type")]
    type_: &'static str,
}

#[derive(Serialize)]
struct TemplateMeta {
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
}

/// The secrets the phase's services read, sorted.
pub fn used_secrets(model: &Model, phase: &Phase) -> Vec<String> {
    model.secrets.iter().filter(|s| phase.services.values().any(|sv| sv.secrets.contains(s))).cloned().collect()
}

/// The ExternalSecret or SealedSecret of the phase's secrets, and the note that says what to do before applying.
pub(super) fn render(model: &Model, phase: &Phase, out: &mut Objects, notes: &mut Vec<String>) {
    let used = used_secrets(model, phase);
    if used.is_empty() {
        return;
    }
    let name = secret_name(model);
    let metadata = ObjectMeta {
        name: Some(name.clone()),
        namespace: Some(model.project.clone()),
        labels: Some(project_labels(model)),
        ..Default::default()
    };
    match &model.secrets_from {
        SecretsSource::OutOfBand => notes.push(format!(
            "create the Secret before applying (values stay out of every file):\n{}",
            create_secret_command(model, &used)
        )),
        SecretsSource::External { store, store_kind, refresh, keys } => {
            let data = used
                .iter()
                .map(|s| Data { secret_key: s.clone(), remote_ref: RemoteRef { key: keys[s].clone() } })
                .collect();
            let external = ExternalSecret {
                api_version: "external-secrets.io/v1",
                kind: "ExternalSecret",
                metadata,
                spec: ExternalSecretSpec {
                    refresh_interval: refresh.go(),
                    secret_store_ref: StoreRef { name: store.clone(), kind: store_kind },
                    target: Target { name: name.clone(), creation_policy: "Owner" },
                    data,
                },
            };
            out.push("externalsecret.yaml", &name, external);
            let listed: Vec<String> = used.iter().map(|s| format!("  {} (for {s})", keys[s])).collect();
            notes.push(format!(
                "External Secrets Operator creates the Secret {name} from the {store_kind} `{store}`, which topo does not render: \
                 it must exist and hold these keys:\n{}",
                listed.join("\n")
            ));
        }
        SecretsSource::Sealed { encrypted, .. } => {
            let encrypted_data = used
                .iter()
                .map(|s| (s.clone(), encrypted.get(s).cloned().unwrap_or_else(|| UNSEALED_PLACEHOLDER.to_owned())))
                .collect();
            let template = SecretTemplate {
                metadata: TemplateMeta {
                    name: name.clone(),
                    namespace: model.project.clone(),
                    labels: project_labels(model),
                },
                type_: "Opaque",
            };
            let sealed = SealedSecret {
                api_version: "bitnami.com/v1alpha1",
                kind: "SealedSecret",
                metadata,
                spec: SealedSecretSpec { encrypted_data, template },
            };
            out.push("sealedsecret.yaml", &name, sealed);
            let unsealed: Vec<String> = used.iter().filter(|s| !encrypted.contains_key(*s)).cloned().collect();
            if !unsealed.is_empty() {
                notes.push(format!(
                    "seal each secret with the cluster's sealed-secrets controller, put the output into the spec's \
                     `secrets_from.sealed-secrets.encrypted`, under the secret's name, and render again \
                     (until then the SealedSecret holds a placeholder the controller refuses to unseal):\n{}",
                    kubeseal_commands(model, &unsealed).join("\n")
                ));
            }
        }
    }
}
