//! A reader of rendered NetworkPolicies that answers "may this pod open a
//! connection to that pod on this port", by the standard semantics of
//! `networking.k8s.io/v1` (the Kubernetes documentation, "Network Policies"):
//!
//! - a pod selected by some policy whose `policyTypes` holds a direction is
//!   isolated in that direction; a pod no policy selects is not;
//! - an isolated pod admits a connection when some rule of some policy
//!   selecting it matches the peer and the port (policies add up, never
//!   subtract); a rule without `from`/`to` matches every peer, without
//!   `ports` every port; a named port is the destination pod's container port
//!   of that name; `endPort` makes a range;
//! - a connection needs the source's egress and the destination's ingress;
//! - `ipBlock` is for addresses outside the cluster: it matches no pod.
//!
//! `policyTypes` absent means `Ingress`, plus `Egress` when the policy has
//! egress rules.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::Value;

/// A pod (or the pods of one workload): where it runs, its labels and ports.
#[derive(Clone, Debug)]
pub struct Pod {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// `(name, number, protocol)` of its container ports.
    pub ports: Vec<(String, i64, String)>,
}

impl Pod {
    pub fn new(name: &str, namespace: &str, labels: &[(&str, &str)]) -> Pod {
        Pod {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ports: Vec::new(),
        }
    }
}

/// The policies and namespaces of a rendered stream.
pub struct Cluster {
    policies: Vec<Value>,
    /// Namespace labels; a namespace not here carries only its name label.
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// The pods of the stream's workloads.
    pub pods: Vec<Pod>,
}

impl Cluster {
    /// Reads the NetworkPolicies, Namespaces and workloads (Deployment,
    /// StatefulSet, DaemonSet: one pod each, with its template's labels) of `docs`.
    pub fn new(docs: &[Value]) -> Cluster {
        let mut cluster = Cluster { policies: Vec::new(), namespaces: BTreeMap::new(), pods: Vec::new() };
        for doc in docs {
            let name = doc["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            match doc["kind"].as_str().unwrap_or_default() {
                "NetworkPolicy" => cluster.policies.push(doc.clone()),
                "Namespace" => {
                    cluster.namespaces.insert(name, string_map(&doc["metadata"]["labels"]));
                }
                "Deployment" | "StatefulSet" | "DaemonSet" => {
                    let template = &doc["spec"]["template"];
                    let ports = template["spec"]["containers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                        .map(|p| {
                            let name = p["name"].as_str().unwrap_or_default().to_owned();
                            let protocol = p["protocol"].as_str().unwrap_or("TCP").to_owned();
                            (name, p["containerPort"].as_i64().unwrap_or_default(), protocol)
                        })
                        .collect();
                    cluster.pods.push(Pod {
                        name,
                        namespace: doc["metadata"]["namespace"].as_str().unwrap_or_default().to_owned(),
                        labels: string_map(&template["metadata"]["labels"]),
                        ports,
                    });
                }
                _ => {}
            }
        }
        cluster
    }

    /// The pod of the workload `name`.
    pub fn pod(&self, name: &str) -> &Pod {
        self.pods.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no workload {name}"))
    }

    /// May `from` open a connection to `to` on `port`/`protocol`?
    pub fn may_reach(&self, from: &Pod, to: &Pod, port: i64, protocol: &str) -> bool {
        self.allows(from, to, to, port, protocol, "Egress") && self.allows(to, from, to, port, protocol, "Ingress")
    }

    /// May `from` send to `to` on `port`, as far as `from`'s egress policies go?
    pub fn egress_allows(&self, from: &Pod, to: &Pod, port: i64, protocol: &str) -> bool {
        self.allows(from, to, to, port, protocol, "Egress")
    }

    /// May `to` accept from `from` on `port`, as far as `to`'s ingress policies go?
    pub fn ingress_allows(&self, from: &Pod, to: &Pod, port: i64, protocol: &str) -> bool {
        self.allows(to, from, to, port, protocol, "Ingress")
    }

    /// Whether the policies selecting `subject` admit `peer` in `direction`
    /// (`Ingress`: `peer` is the source; `Egress`: the destination), to
    /// `destination`'s `port`.
    fn allows(&self, subject: &Pod, peer: &Pod, destination: &Pod, port: i64, protocol: &str, direction: &str) -> bool {
        let selecting: Vec<&Value> = self
            .policies
            .iter()
            .filter(|p| self.selects(p, subject) && policy_types(p).iter().any(|t| t == direction))
            .collect();
        if selecting.is_empty() {
            return true;
        }
        let (rules_key, peers_key) = if direction == "Ingress" { ("ingress", "from") } else { ("egress", "to") };
        selecting.iter().any(|policy| {
            let namespace = policy["metadata"]["namespace"].as_str().unwrap_or_default();
            policy["spec"][rules_key].as_array().into_iter().flatten().any(|rule| {
                let peers_match = match rule[peers_key].as_array() {
                    None => true,
                    Some(peers) if peers.is_empty() => true,
                    Some(peers) => peers.iter().any(|p| self.peer_matches(p, namespace, peer)),
                };
                let ports_match = match rule["ports"].as_array() {
                    None => true,
                    Some(ports) if ports.is_empty() => true,
                    Some(ports) => ports.iter().any(|p| port_matches(p, destination, port, protocol)),
                };
                peers_match && ports_match
            })
        })
    }

    fn selects(&self, policy: &Value, pod: &Pod) -> bool {
        policy["metadata"]["namespace"].as_str() == Some(pod.namespace.as_str())
            && selector_matches(&policy["spec"]["podSelector"], &pod.labels)
    }

    fn peer_matches(&self, peer: &Value, policy_namespace: &str, pod: &Pod) -> bool {
        if !peer["ipBlock"].is_null() {
            return false;
        }
        let namespace_ok = match peer.get("namespaceSelector") {
            None | Some(Value::Null) => pod.namespace == policy_namespace,
            Some(selector) => selector_matches(selector, &self.namespace_labels(&pod.namespace)),
        };
        let pods_ok = match peer.get("podSelector") {
            None | Some(Value::Null) => true,
            Some(selector) => selector_matches(selector, &pod.labels),
        };
        namespace_ok && pods_ok
    }

    fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        let mut labels = self.namespaces.get(namespace).cloned().unwrap_or_default();
        labels.insert("kubernetes.io/metadata.name".to_owned(), namespace.to_owned());
        labels
    }
}

fn policy_types(policy: &Value) -> Vec<String> {
    match policy["spec"]["policyTypes"].as_array() {
        Some(types) => types.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
        None => {
            let mut types = vec!["Ingress".to_owned()];
            if policy["spec"]["egress"].as_array().is_some_and(|e| !e.is_empty()) {
                types.push("Egress".to_owned());
            }
            types
        }
    }
}

fn port_matches(rule_port: &Value, destination: &Pod, port: i64, protocol: &str) -> bool {
    if rule_port["protocol"].as_str().unwrap_or("TCP") != protocol {
        return false;
    }
    match &rule_port["port"] {
        Value::Null => true,
        Value::Number(n) => {
            let start = n.as_i64().unwrap_or(-1);
            let end = rule_port["endPort"].as_i64().unwrap_or(start);
            (start..=end).contains(&port)
        }
        Value::String(name) => {
            destination.ports.iter().any(|(n, number, proto)| n == name && *number == port && proto == protocol)
        }
        _ => false,
    }
}

/// Label selector semantics: `matchLabels` and `matchExpressions` all hold; `{}` selects everything.
pub fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let expressions_ok = selector["matchExpressions"].as_array().into_iter().flatten().all(|e| {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let value = labels.get(key).map(String::as_str);
        match e["operator"].as_str().unwrap_or_default() {
            "In" => value.is_some_and(|v| values.contains(&v)),
            "NotIn" => value.is_none_or(|v| !values.contains(&v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => panic!("unknown selector operator {other}"),
        }
    });
    labels_ok && expressions_ok
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value.as_object().into_iter().flatten().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect()
}
