//! cert-manager's `ClusterIssuer` (cert-manager.io/v1), opt-in with
//! `ingress.acme`: the ACME issuer that `ingress.tls` names, answering
//! HTTP-01 challenges through the spec's ingress class. Rendered in a phase
//! that serves some host over TLS; without `ingress.acme` the issuer must
//! already exist, as before.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::model::{Model, Phase};

use super::{Objects, project_labels};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterIssuer {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: IssuerSpec,
}

#[derive(Serialize)]
struct IssuerSpec {
    acme: AcmeIssuer,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AcmeIssuer {
    email: String,
    server: String,
    /// The Secret cert-manager keeps the ACME account's private key in (it creates it).
    private_key_secret_ref: SecretRef,
    solvers: Vec<Solver>,
}

#[derive(Serialize)]
struct SecretRef {
    name: String,
}

#[derive(Serialize)]
struct Solver {
    http01: Http01,
}

#[derive(Serialize)]
struct Http01 {
    ingress: SolverIngress,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SolverIngress {
    ingress_class_name: String,
}

/// The ClusterIssuer, when the spec gives an ACME account and the phase serves TLS.
pub(super) fn render(model: &Model, phase: &Phase, out: &mut Objects) {
    let (Some(acme), Some(name)) = (&model.ingress.acme, &model.ingress.cluster_issuer) else { return };
    if !phase.services.values().any(|s| s.expose.as_ref().is_some_and(|e| e.tls)) {
        return;
    }
    let issuer = ClusterIssuer {
        api_version: "cert-manager.io/v1",
        kind: "ClusterIssuer",
        // Cluster-scoped: no namespace.
        metadata: ObjectMeta { name: Some(name.clone()), labels: Some(project_labels(model)), ..Default::default() },
        spec: IssuerSpec {
            acme: AcmeIssuer {
                email: acme.email.clone(),
                server: acme.server.clone(),
                private_key_secret_ref: SecretRef { name: format!("{name}-account-key") },
                solvers: vec![Solver {
                    http01: Http01 { ingress: SolverIngress { ingress_class_name: model.ingress.class.clone() } },
                }],
            },
        },
    };
    out.push("clusterissuer.yaml", name, issuer);
}
