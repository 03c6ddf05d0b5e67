//! The names topo gives what it creates, where more than one stage needs
//! them: the renderers write them, the plan's runbook and notes refer to
//! them, the GitOps tree lays its directories out by them. Each is decided
//! here once, so that a command in the plan names exactly what the render
//! made.

use super::{Model, Phase, Service};

/// The compose file of a compose phase (Dokploy's compose mode reads this name).
pub const COMPOSE_FILE: &str = "docker-compose.yml";
/// The stack file of a Swarm phase.
pub const STACK_FILE: &str = "stack.yml";
/// A phase's Prometheus alert rules: `rule_files:` in prometheus.yml loads it.
pub const RULES_FILE: &str = "alerts.rules.yml";
/// The external network Dokploy's Traefik reaches services on.
pub const DOKPLOY_NETWORK: &str = "dokploy-network";

/// A phase's directory in the `render --all` tree: `<number>-<name>`.
pub fn phase_dir(phase: &Phase) -> String {
    format!("{}-{}", phase.number, phase.name)
}

/// A Kubernetes phase's kustomize overlay in the `render --all` tree.
pub fn overlay_dir(phase: &Phase) -> String {
    format!("k8s/overlays/{}", phase_dir(phase))
}

/// A service's named volume, as the compose and stack files declare it
/// (Docker prefixes the project or stack name when it creates it).
pub fn volume_name(service: &Service, volume: &str) -> String {
    format!("{}-{volume}", service.name)
}

/// The named volume a service mounts: its own, or the one it shares `from` another service.
pub fn mounted_volume(service: &Service, volume: &crate::model::Volume) -> String {
    let owner = volume.from.as_ref().map_or(&service.name, |owner| &owner.service);
    format!("{owner}-{}", volume.name)
}

/// The external Swarm secret that holds `secret` (`docker secret create` makes it).
pub fn swarm_secret_name(model: &Model, secret: &str) -> String {
    format!("{}_{secret}", model.project)
}

/// The project's Kubernetes Secret, holding every declared secret.
pub fn secret_name(model: &Model) -> String {
    format!("{}-secrets", model.project)
}

/// The command that creates the project's Secret, with a placeholder for each value (never a value).
pub fn create_secret_command(model: &Model, secrets: &[String]) -> String {
    let literals: String = secrets.iter().map(|s| format!(" \\\n  --from-literal={s}=\"${s}\"")).collect();
    format!("kubectl create secret generic {} --namespace {}{literals}", secret_name(model), model.project)
}

/// One `kubeseal --raw` command per secret, reading its value from the shell's
/// environment; none unless the secrets come from sealed-secrets.
pub fn kubeseal_commands(model: &Model, secrets: &[String]) -> Vec<String> {
    let super::SecretsSource::Sealed { controller_namespace, controller_name, .. } = &model.secrets_from else {
        return Vec::new();
    };
    secrets
        .iter()
        .map(|s| {
            format!(
                "printf '%s' \"${s}\" | kubeseal --raw --from-file=/dev/stdin --namespace {} --name {} \\\n  --controller-namespace {controller_namespace} --controller-name {controller_name}",
                model.project,
                secret_name(model)
            )
        })
        .collect()
}

/// The PrometheusRule of a phase with a monitoring stack.
pub fn rule_name(model: &Model) -> String {
    format!("{}-alerts", model.project)
}
