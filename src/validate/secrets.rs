//! A secret-looking value written into `env`: the spec's `env` is a plain
//! setting (a ConfigMap on k8s, `environment` in compose and stack files), so
//! a credential there is copied into every rendered file. The check uses the
//! one detector of [`crate::secret_shape`] (by name and by shape, as
//! `topo import` does) and never quotes the value.

use crate::code::Code;
use std::collections::BTreeMap;

use crate::diag::{Diagnostic, suggestion};
use crate::secret_shape;
use crate::spec::{EnvValue, SecretsFrom, Spec};
use crate::yaml::SpecPath;

use super::names;

/// Warn about every `env` value (shared and per service) that looks secret.
pub fn secret_looking_env(spec: &Spec, push: &mut impl FnMut(Diagnostic)) {
    env(&SpecPath::root().key("env"), &spec.env, &[], spec, push);
    for (name, service) in &spec.services {
        env(&SpecPath::root().key("services").key(name).key("env"), &service.env, &service.secrets, spec, push);
    }
}

fn env(
    path: &SpecPath,
    env: &BTreeMap<String, EnvValue>,
    secrets: &[String],
    spec: &Spec,
    push: &mut impl FnMut(Diagnostic),
) {
    for (key, EnvValue(value)) in env {
        // A declared secret's name in `env` is already an error (`secret-in-env`).
        if spec.secrets.iter().any(|s| s == key) || value.trim().is_empty() {
            continue;
        }
        // A value built from the service's secrets (`${DB_PASSWORD}`) holds no value itself.
        if crate::model::args::Arg::parse(value, secrets).secrets().next().is_some() {
            continue;
        }
        let why = match secret_shape::shape(value) {
            Some(shape) => format!("its value is {}", shape.describe()),
            None if secret_shape::is_secret_name(key) => "its name says it is a credential".to_owned(),
            None => continue,
        };
        push(
            Diagnostic::warning(
                Code::SecretLookingEnv,
                format!("`{key}` looks secret ({why}), but `env` is a plain setting: its value is copied into every rendered file (a ConfigMap on k8s)"),
                &path.key(key),
            )
            .label("a secret-looking value")
            .help(format!(
                "remove it from `env`, declare `secrets: [{key}]` and list it in the service's `secrets`, then set `{key}` in the deploy environment"
            )),
        );
    }
}

/// `secrets_from`: the names it gives a store or ciphertext for are declared
/// secrets, the store and controller names are names Kubernetes accepts, and
/// each ciphertext is what `kubeseal --raw` prints (base64), not a value.
pub fn secrets_from(spec: &Spec, push: &mut impl FnMut(Diagnostic)) {
    let path = SpecPath::root().key("secrets_from");
    match &spec.secrets_from {
        None | Some(SecretsFrom::OutOfBand) => {}
        Some(SecretsFrom::ExternalSecrets(external)) => {
            let path = path.key("external-secrets");
            if let Some(why) = names::dns1123_subdomain(&external.store) {
                push(
                    Diagnostic::error(
                        Code::InvalidName,
                        format!("store name `{}` {why}", external.store),
                        &path.key("store"),
                    )
                    .help("a SecretStore's name is a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`"),
                );
            }
            declared(spec, &path.key("keys"), external.keys.keys(), push);
            for (secret, key) in &external.keys {
                if key.trim().is_empty() {
                    push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            format!("the store key of `{secret}` is empty"),
                            &path.key("keys").key(secret),
                        )
                        .help(format!("leave `{secret}` out for the default key `{}/{secret}`", spec.project)),
                    );
                }
            }
        }
        Some(SecretsFrom::SealedSecrets(sealed)) => {
            let path = path.key("sealed-secrets");
            for (field, name) in
                [("controller_namespace", &sealed.controller_namespace), ("controller_name", &sealed.controller_name)]
            {
                if let Some(why) = name.as_deref().and_then(names::dns1123_label) {
                    push(
                        Diagnostic::error(
                            Code::InvalidName,
                            format!("`{}` {why}", name.as_deref().unwrap_or_default()),
                            &path.key(field),
                        )
                        .help("use a DNS-1123 label: lowercase letters, digits and `-`, at most 63 characters"),
                    );
                }
            }
            declared(spec, &path.key("encrypted"), sealed.encrypted.keys(), push);
            for (secret, text) in &sealed.encrypted {
                if !is_ciphertext(text) {
                    push(
                        Diagnostic::error(Code::NotSealed, format!("the ciphertext of `{secret}` is not what `kubeseal --raw` prints"), &path.key("encrypted").key(secret))
                            .label("expected base64 ciphertext")
                            .help(format!("seal the value and paste the output: printf '%s' \"${secret}\" | kubeseal --raw --from-file=/dev/stdin --namespace {} --name {}-secrets", spec.project, spec.project)),
                    );
                }
            }
        }
    }
}

/// Each name is a declared secret.
fn declared<'a>(
    spec: &Spec,
    path: &SpecPath,
    names: impl Iterator<Item = &'a String>,
    push: &mut impl FnMut(Diagnostic),
) {
    for name in names.filter(|n| !spec.secrets.contains(n)) {
        push(
            Diagnostic::error(Code::UndeclaredSecret, format!("`{name}` is not a declared secret"), &path.key(name))
                .on_key()
                .label("not in the top-level `secrets`")
                .help_opt(
                    suggestion(name, spec.secrets.iter().map(String::as_str))
                        .or_else(|| Some(format!("declare it in the top-level `secrets: [{name}]`"))),
                ),
        );
    }
}

/// What `kubeseal --raw` prints: standard base64 of an RSA-OAEP-wrapped key and the data, so
/// hundreds of characters. A short or non-base64 text is a value pasted by mistake.
fn is_ciphertext(text: &str) -> bool {
    const MIN_LEN: usize = 64;
    text.len() >= MIN_LEN && text.len().is_multiple_of(4) && base64_body(text)
}

fn base64_body(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    text.len() - body.len() <= 2 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}
