//! A secret-looking value written into `env`: the spec's `env` is a plain
//! setting (a ConfigMap on k8s, `environment` in compose and stack files), so
//! a credential there is copied into every rendered file. The check uses the
//! one detector of [`crate::secret_shape`] (by name and by shape, as
//! `topo import` does) and never quotes the value.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, SpecPath};
use crate::secret_shape;
use crate::spec::{EnvValue, Spec};

/// Warn about every `env` value (shared and per service) that looks secret.
pub fn secret_looking_env(spec: &Spec, push: &mut impl FnMut(Diagnostic)) {
    env(&SpecPath::root().key("env"), &spec.env, spec, push);
    for (name, service) in &spec.services {
        env(&SpecPath::root().key("services").key(name).key("env"), &service.env, spec, push);
    }
}

fn env(path: &SpecPath, env: &BTreeMap<String, EnvValue>, spec: &Spec, push: &mut impl FnMut(Diagnostic)) {
    for (key, EnvValue(value)) in env {
        // A declared secret's name in `env` is already an error (`secret-in-env`).
        if spec.secrets.iter().any(|s| s == key) || value.trim().is_empty() {
            continue;
        }
        let why = match secret_shape::shape(value) {
            Some(shape) => format!("its value is {}", shape.describe()),
            None if secret_shape::is_secret_name(key) => "its name says it is a credential".to_owned(),
            None => continue,
        };
        push(
            Diagnostic::warning(
                "secret-looking-env",
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
