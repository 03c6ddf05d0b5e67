//! The traffic settings: `allow`, `metrics`, `ingress.controller` and
//! `monitoring` name namespaces, labels, address ranges and ports that end up
//! in NetworkPolicies and ServiceMonitors.

use crate::code::Code;
use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::diag::Diagnostic;
use crate::spec::{Acme, Peer, Service};
use crate::yaml::SpecPath;

use super::{Validator, names, root};

impl Validator<'_> {
    pub(super) fn network(&mut self) {
        let spec = self.spec;
        if let Some(controller) = spec.ingress.as_ref().and_then(|i| i.controller.as_ref()) {
            let path = root().key("ingress").key("controller");
            self.namespace(&path.key("namespace"), controller.namespace.as_deref());
            if let Some(pods) = &controller.pods {
                self.labels(&path.key("pods"), pods);
            }
        }
        if let Some(acme) = spec.ingress.as_ref().and_then(|i| i.acme.as_ref()) {
            self.acme(acme);
        }
        if let Some(monitoring) = &spec.monitoring {
            let path = root().key("monitoring");
            self.namespace(&path.key("namespace"), monitoring.namespace.as_deref());
            if let Some(release) = &monitoring.release
                && let Some(why) = names::label_value(release)
            {
                let message = format!("`{release}` {why}: it becomes the `release` label");
                self.push(Diagnostic::error(Code::InvalidLabel, message, &path.key("release")));
            }
        }
        for (host, registry) in &spec.registries {
            let path = root().key("registries").key(host);
            if host.is_empty() || host.contains(['/', '@']) || host.chars().any(char::is_whitespace) {
                self.push(
                    Diagnostic::error(Code::InvalidName, format!("`{host}` is not a registry host"), &path)
                        .on_key()
                        .help("write the host as images name it: `registry.example.com`, `registry.example.com:5000`"),
                );
            }
            if let Some(why) = names::dns1123_label(&registry.pull_secret) {
                self.push(Diagnostic::error(
                    Code::InvalidName,
                    format!("pull secret `{}` {why}", registry.pull_secret),
                    &path.key("pull_secret"),
                ));
            }
        }
        for (name, service) in &spec.services {
            let path = root().key("services").key(name);
            self.metrics_port(&path, service);
            let Some(allow) = &service.allow else { continue };
            for (side, peers) in [("from", &allow.from), ("to", &allow.to)] {
                for (i, peer) in peers.iter().enumerate() {
                    self.peer(&path.key("allow").key(side).index(i), peer, (side == "from").then_some(service));
                }
            }
        }
    }

    fn acme(&mut self, acme: &Acme) {
        let path = root().key("ingress").key("acme");
        if self.spec.ingress.as_ref().and_then(|i| i.tls.as_ref()).is_none() {
            self.push(
                Diagnostic::error(
                    Code::AcmeWithoutTls,
                    "`ingress.acme` without `ingress.tls`: no issuer is named",
                    &path,
                )
                .on_key()
                .help("name the ClusterIssuer: `tls: letsencrypt-prod`"),
            );
        }
        let (user, domain) = acme.email.split_once('@').unwrap_or_default();
        if user.is_empty() || !domain.contains('.') || acme.email.chars().any(char::is_whitespace) {
            let message = format!("`{}` is not an email address", acme.email);
            self.push(Diagnostic::error(Code::InvalidValue, message, &path.key("email")));
        }
        if let Some(server) = &acme.server
            && !(server.starts_with("https://") && server.len() > "https://".len())
        {
            let message = format!("`{server}` is not an https URL of an ACME directory");
            self.push(
                Diagnostic::error(Code::InvalidValue, message, &path.key("server")).help(
                    "Let's Encrypt's staging directory is https://acme-staging-v02.api.letsencrypt.org/directory",
                ),
            );
        }
    }

    fn namespace(&mut self, path: &SpecPath, namespace: Option<&str>) {
        if let Some(namespace) = namespace
            && let Some(why) = names::dns1123_label(namespace)
        {
            self.push(
                Diagnostic::error(Code::InvalidName, format!("namespace `{namespace}` {why}"), path)
                    .help("a namespace is a DNS-1123 label: lowercase letters, digits and `-`"),
            );
        }
    }

    /// `metrics.port` must be one of the service's ports (it names a Service port).
    fn metrics_port(&mut self, path: &SpecPath, service: &Service) {
        let Some(metrics) = &service.metrics else { return };
        let path = path.key("metrics");
        match service.port_or_main(metrics.port) {
            None => self.push(
                Diagnostic::error(Code::MetricsWithoutPort, "metrics need a port to be scraped on", &path)
                    .on_key()
                    .help("add `port:` to the service or to `metrics` (one of its `ports`)"),
            ),
            Some(port) if !has_port(service, port) => self.push(
                Diagnostic::error(
                    Code::MetricsUnknownPort,
                    format!("`metrics.port` {port} is not one of the service's ports"),
                    &path.key("port"),
                )
                .help(
                    "declare it under `ports:` (`ports: { metrics: 9100 }`): a ServiceMonitor scrapes a Service port",
                ),
            ),
            Some(_) => {}
        }
        if let Some(metrics_path) = &metrics.path
            && !metrics_path.starts_with('/')
        {
            let message = format!("`{metrics_path}` is not an absolute path");
            self.push(Diagnostic::error(Code::InvalidValue, message, &path.key("path")).help("write it as `/metrics`"));
        }
    }

    /// One peer of `allow`; `own` is the service itself for a `from` peer, whose ports are its own.
    fn peer(&mut self, path: &SpecPath, peer: &Peer, own: Option<&Service>) {
        if let Some(cidr) = &peer.cidr {
            if let Some(why) = cidr_error(cidr) {
                self.push(
                    Diagnostic::error(Code::InvalidCidr, format!("`{cidr}` {why}"), &path.key("cidr"))
                        .help("write an address range as `10.0.8.0/24` (or `0.0.0.0/0` for any address)"),
                );
            }
            if peer.namespace.is_some() || !peer.pods.is_empty() {
                self.push(
                    Diagnostic::error(
                        Code::PeerCidrAndPods,
                        "a peer is either an address range (`cidr`) or pods (`namespace`, `pods`), not both",
                        path,
                    )
                    .help("write them as two peers"),
                );
            }
        }
        self.namespace(&path.key("namespace"), peer.namespace.as_deref());
        self.labels(&path.key("pods"), &peer.pods);
        for (i, port) in peer.ports.iter().enumerate() {
            if *port == 0 {
                self.push(Diagnostic::error(Code::InvalidValue, "port 0 is not a port", &path.key("ports").index(i)));
            } else if let Some(service) = own.filter(|s| !has_port(s, *port)) {
                let message = format!("{port} is not one of the service's ports: callers can only reach those");
                self.push(Diagnostic::error(Code::AllowUnknownPort, message, &path.key("ports").index(i)).help(
                    format!(
                        "use one of {}",
                        ports_of(service).iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
}

fn has_port(service: &Service, port: u16) -> bool {
    service.port == Some(port) || service.ports.values().any(|p| *p == port)
}

fn ports_of(service: &Service) -> Vec<u16> {
    let named: BTreeMap<u16, ()> = service.ports.values().map(|p| (*p, ())).collect();
    service.port.into_iter().chain(named.into_keys()).collect()
}

/// Why `text` is not an address range `ADDRESS/PREFIX` with no host bits set, if it is not.
fn cidr_error(text: &str) -> Option<String> {
    let Some((address, prefix)) = text.split_once('/') else {
        return Some("has no `/prefix`".to_owned());
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        return Some("does not start with an IP address".to_owned());
    };
    let bits = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix.parse::<u32>() {
        Ok(number) if number <= bits && number.to_string() == prefix => number,
        _ => return Some(format!("has a prefix that is not a number from 0 to {bits}")),
    };
    let value: u128 = match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    let host_bits = bits - prefix;
    let host_mask = if host_bits == 0 { 0 } else { u128::MAX >> (128 - host_bits) };
    (value & host_mask != 0).then(|| "has host bits set below its prefix".to_owned())
}

#[cfg(test)]
mod tests {
    use super::cidr_error;

    #[test]
    fn cidrs() {
        for good in ["10.0.8.0/24", "0.0.0.0/0", "192.168.1.7/32", "fd00::/8", "::/0"] {
            assert_eq!(cidr_error(good), None, "{good}");
        }
        for bad in ["10.0.8.0", "10.0.8.1/24", "10.0.8.0/33", "10.0.8.0/024", "db.example.com/32", "::1/129"] {
            assert!(cidr_error(bad).is_some(), "{bad}");
        }
    }
}
