//! The spec's words for where the Kubernetes Secret of a project's secrets
//! comes from (`secrets_from`): created out of band (the default), synced by
//! External Secrets Operator from a store, or unsealed by the sealed-secrets
//! controller from ciphertext a GitOps repository can hold.

use crate::code::Code;
use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::diag::Diagnostic;
use crate::yaml::SpecPath;

use super::Duration;
use super::decode::{Decode, Decoder, Fields, scalar_key};
use crate::yaml::{Node, Resolved};

/// Where the Kubernetes Secret `<project>-secrets` comes from. A value is never written to any file in any mode.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum SecretsFrom {
    /// `out-of-band`: you create the Secret yourself (the plan prints the `kubectl create secret generic` command).
    #[default]
    OutOfBand,
    /// `external-secrets`: an ExternalSecret that External Secrets Operator turns into the Secret.
    ExternalSecrets(ExternalSecrets),
    /// `sealed-secrets`: a SealedSecret that the sealed-secrets controller unseals into the Secret.
    SealedSecrets(SealedSecrets),
}

/// External Secrets Operator: one ExternalSecret whose target is the Secret the pods read, with one entry per secret.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ExternalSecrets {
    /// The name of the SecretStore (in the project's namespace) or ClusterSecretStore the values are read from. topo does not render the store: it holds your provider's credentials.
    pub store: String,
    /// `SecretStore` (default) or `ClusterSecretStore`.
    pub store_kind: Option<StoreKind>,
    /// How often the operator reads the values again (default `1h`).
    pub refresh: Option<Duration>,
    /// The key in the store of each secret, by secret name (default `<project>/<NAME>`, as `finanzas/DATABASE_URL`).
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}

/// The kind of External Secrets Operator store an ExternalSecret references.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StoreKind {
    /// A store in the project's namespace.
    #[default]
    SecretStore,
    /// A cluster-wide store.
    ClusterSecretStore,
}

impl StoreKind {
    pub const ALL: [(&'static str, StoreKind); 2] =
        [("SecretStore", StoreKind::SecretStore), ("ClusterSecretStore", StoreKind::ClusterSecretStore)];

    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::SecretStore => "SecretStore",
            StoreKind::ClusterSecretStore => "ClusterSecretStore",
        }
    }
}

/// Bitnami sealed-secrets: a SealedSecret holding ciphertext only the cluster's controller can decrypt.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SealedSecrets {
    /// The namespace of the sealed-secrets controller, for `kubeseal` (default `kube-system`).
    pub controller_namespace: Option<String>,
    /// The name of the controller's Service, for `kubeseal` (default `sealed-secrets-controller`).
    pub controller_name: Option<String>,
    /// The ciphertext of each secret, by secret name, as `kubeseal --raw` prints it (safe to commit: only the controller can decrypt it). A secret without one gets a placeholder the controller refuses to unseal.
    #[serde(default)]
    pub encrypted: BTreeMap<String, String>,
}

impl Decode for SecretsFrom {
    const EXPECTED: &'static str =
        "`out-of-band`, `sealed-secrets`, or a mapping with `external-secrets` or `sealed-secrets`";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        if let Some(Resolved::Str(word)) = node.resolve() {
            return match word {
                "out-of-band" => Some(SecretsFrom::OutOfBand),
                "sealed-secrets" => Some(SecretsFrom::SealedSecrets(SealedSecrets::default())),
                "external-secrets" => {
                    d.push(
                        Diagnostic::shape(Code::MissingField, "`external-secrets` needs the name of a store", path)
                            .with_span(node.span)
                            .label("no store named")
                            .help("write `secrets_from: { external-secrets: { store: <SecretStore name> } }`"),
                    );
                    None
                }
                _ => {
                    let words = ["out-of-band", "sealed-secrets", "external-secrets"];
                    d.push(
                        Diagnostic::shape(Code::InvalidValue, format!("unknown secrets source `{word}`"), path)
                            .with_span(node.span)
                            .label(format!("expected one of {}", super::decode::list_names(&words)))
                            .help_opt(crate::diag::suggestion(word, words.iter().copied())),
                    );
                    None
                }
            };
        }
        let Some(entries) = node.entries().filter(|e| e.len() == 1) else {
            d.wrong_type(node, path, Self::EXPECTED);
            return None;
        };
        let entry = &entries[0];
        let key = scalar_key(d, &entry.key, path)?;
        let inner = path.key(key);
        match key {
            "external-secrets" => ExternalSecrets::decode(d, &entry.value, &inner).map(SecretsFrom::ExternalSecrets),
            "sealed-secrets" => {
                let sealed: Option<SealedSecrets> = Option::decode(d, &entry.value, &inner)?;
                Some(SecretsFrom::SealedSecrets(sealed.unwrap_or_default()))
            }
            _ => {
                let words = ["external-secrets", "sealed-secrets"];
                d.push(
                    Diagnostic::shape(Code::UnknownField, format!("unknown secrets source `{key}`"), &inner)
                        .with_span(entry.key.span)
                        .label(format!("expected one of {}", super::decode::list_names(&words)))
                        .help_opt(crate::diag::suggestion(key, words.iter().copied())),
                );
                None
            }
        }
    }
}

impl Decode for ExternalSecrets {
    const EXPECTED: &'static str = "External Secrets settings (`store`, `store_kind`, `refresh`, `keys`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "source")?;
        let store = f.req(d, "store");
        let store_kind = f.opt(d, "store_kind");
        let refresh = f.opt(d, "refresh");
        let keys = f.opt(d, "keys").unwrap_or_default();
        f.finish(d);
        Some(ExternalSecrets { store: store?, store_kind, refresh, keys })
    }
}

impl Decode for StoreKind {
    const EXPECTED: &'static str = "`SecretStore` or `ClusterSecretStore`";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        super::decode::keyword(d, node, path, "store kind", &StoreKind::ALL)
    }
}

impl Decode for SealedSecrets {
    const EXPECTED: &'static str = "sealed-secrets settings (`controller_namespace`, `controller_name`, `encrypted`)";

    fn decode(d: &mut Decoder, node: &Node, path: &SpecPath) -> Option<Self> {
        let mut f = Fields::open(d, node, path, "source")?;
        let controller_namespace = f.opt(d, "controller_namespace");
        let controller_name = f.opt(d, "controller_name");
        let encrypted = f.opt(d, "encrypted").unwrap_or_default();
        f.finish(d);
        Some(SealedSecrets { controller_namespace, controller_name, encrypted })
    }
}

impl JsonSchema for SecretsFrom {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretsFrom".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let external = generator.subschema_for::<ExternalSecrets>();
        let sealed = generator.subschema_for::<SealedSecrets>();
        schemars::json_schema!({
            "description": "Where the Kubernetes Secret `<project>-secrets` comes from: `out-of-band` (default: you create it), `sealed-secrets` (a SealedSecret), or `{ external-secrets: { store: … } }` (an ExternalSecret). A value is never written to any file.",
            "anyOf": [
                { "type": "string", "enum": ["out-of-band", "sealed-secrets"] },
                {
                    "type": "object",
                    "properties": { "external-secrets": external },
                    "required": ["external-secrets"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "properties": { "sealed-secrets": { "anyOf": [sealed, { "type": "null" }] } },
                    "required": ["sealed-secrets"],
                    "additionalProperties": false
                }
            ]
        })
    }
}
