//! Traefik labels → `expose`: the host and path of a router's rule, its
//! TLS certresolver, and the load balancer's port.

use crate::yaml::Node;
use crate::yaml::SpecPath;

/// What a service's labels tell Traefik.
#[derive(Debug, Default)]
pub struct Routes {
    pub enabled: Option<bool>,
    /// Routers in the order their labels appear.
    pub routers: Vec<Router>,
    pub ports: Vec<u16>,
    /// Where the labels were, for notes.
    pub at: Option<(Node, SpecPath)>,
}

#[derive(Debug)]
pub struct Router {
    pub name: String,
    pub rule: Option<(String, Node, SpecPath)>,
    pub tls: bool,
    pub certresolver: Option<String>,
}

/// A service's route as topo's `expose` says it.
#[derive(Debug)]
pub struct Route {
    /// `None` when no usable host was found: the caller writes a placeholder.
    pub host: Option<String>,
    pub path: Option<String>,
    pub tls: bool,
    pub certresolver: Option<String>,
    pub port: Option<u16>,
    /// What was approximated, where.
    pub notes: Vec<(Node, SpecPath, String)>,
}

impl Routes {
    fn router(&mut self, name: &str) -> &mut Router {
        if let Some(i) = self.routers.iter().position(|r| r.name == name) {
            return &mut self.routers[i];
        }
        self.routers.push(Router { name: name.to_owned(), rule: None, tls: false, certresolver: None });
        let last = self.routers.len() - 1;
        &mut self.routers[last]
    }

    /// Take one label; `Some(why)` when topo does not use it.
    pub fn add(&mut self, key: &str, value: &str, node: &Node, path: &SpecPath) -> Option<&'static str> {
        let Some(rest) = key.strip_prefix("traefik.") else {
            return Some("topo writes its own labels");
        };
        if self.at.is_none() {
            self.at = Some((node.clone(), path.clone()));
        }
        let value = value.trim();
        if rest == "enable" {
            self.enabled = Some(value.eq_ignore_ascii_case("true"));
            return None;
        }
        if matches!(rest, "docker.network" | "swarm.network") {
            return None;
        }
        if let Some(router) = rest.strip_prefix("http.routers.") {
            let (name, setting) = router.split_once('.').unwrap_or((router, ""));
            let r = self.router(name);
            return match setting {
                "rule" => {
                    r.rule = Some((value.to_owned(), node.clone(), path.clone()));
                    None
                }
                "tls" => {
                    r.tls = value.eq_ignore_ascii_case("true");
                    None
                }
                "tls.certresolver" => {
                    r.tls = true;
                    r.certresolver = Some(value.to_owned());
                    None
                }
                "entrypoints" | "service" => None,
                "middlewares" => {
                    Some("topo writes only its own HTTPS redirect; add other middlewares to Traefik yourself")
                }
                _ => Some("topo writes its own Traefik routers"),
            };
        }
        if let Some(service) = rest.strip_prefix("http.services.") {
            if service.ends_with(".loadbalancer.server.port") {
                return match super::words::with_defaults(value).parse::<u16>() {
                    Ok(port) if port > 0 => {
                        if !self.ports.contains(&port) {
                            self.ports.push(port);
                        }
                        None
                    }
                    _ => Some("its port is not a number"),
                };
            }
            return Some("topo writes its own Traefik services");
        }
        if rest.starts_with("http.middlewares.") {
            return Some("topo writes only its own HTTPS redirect; add other middlewares to Traefik yourself");
        }
        Some("topo routes HTTP by host and path only")
    }

    /// The route topo keeps, if the labels expose the service.
    pub fn route(&self) -> Option<Route> {
        if self.enabled == Some(false) || (self.enabled.is_none() && self.routers.iter().all(|r| r.rule.is_none())) {
            return None;
        }
        let mut notes = Vec::new();
        let mut chosen: Option<(Vec<String>, Vec<String>, &Router)> = None;
        for router in &self.routers {
            let Some((rule, node, path)) = &router.rule else { continue };
            let parsed = parse_rule(rule);
            match &chosen {
                None => {
                    if parsed.other {
                        notes.push((
                            node.clone(),
                            path.clone(),
                            format!("router `{}`'s rule: only its `Host` and `PathPrefix` are kept", router.name),
                        ));
                    }
                    if parsed.hosts.len() > 1 {
                        notes.push((
                            node.clone(),
                            path.clone(),
                            format!("router `{}`'s rule: only its first host is kept", router.name),
                        ));
                    }
                    if parsed.paths.len() > 1 || parsed.exact_path {
                        notes.push((
                            node.clone(),
                            path.clone(),
                            format!("router `{}`'s rule: kept as one path prefix", router.name),
                        ));
                    }
                    chosen = Some((parsed.hosts, parsed.paths, router));
                }
                Some((hosts, paths, _)) => {
                    if parsed.hosts.first() != hosts.first() || parsed.paths.first() != paths.first() {
                        notes.push((
                            node.clone(),
                            path.clone(),
                            format!(
                                "router `{}`'s rule is not kept: topo exposes a service on one host and path",
                                router.name
                            ),
                        ));
                    }
                }
            }
        }
        let (hosts, paths) = chosen.as_ref().map(|(h, p, _)| (h.clone(), p.clone())).unwrap_or_default();
        let host = hosts.first().map(|h| h.to_ascii_lowercase()).filter(|h| valid_host(h));
        if host.is_none()
            && let Some((node, path)) = self
                .routers
                .iter()
                .find_map(|r| r.rule.as_ref().map(|(_, n, p)| (n, p)))
                .or(self.at.as_ref().map(|(n, p)| (n, p)))
        {
            let what = hosts.first().map_or_else(|| "no host".to_owned(), |h| format!("host `{h}`"));
            notes.push((
                node.clone(),
                path.clone(),
                format!("the labels give {what}, which topo cannot use as a host name: a placeholder is written"),
            ));
        }
        let path =
            paths.first().filter(|p| p.starts_with('/') && !p.contains(['{', '$', ' ']) && p.as_str() != "/").cloned();
        let tls = self.routers.iter().any(|r| r.tls);
        let certresolver = self.routers.iter().find_map(|r| r.certresolver.clone());
        Some(Route { host, path, tls, certresolver, port: self.ports.first().copied(), notes })
    }
}

struct Rule {
    hosts: Vec<String>,
    paths: Vec<String>,
    exact_path: bool,
    /// Matchers or operators topo drops.
    other: bool,
}

fn parse_rule(rule: &str) -> Rule {
    let mut parsed = Rule {
        hosts: Vec::new(),
        paths: Vec::new(),
        exact_path: false,
        other: rule.contains("||") || rule.contains('!'),
    };
    let mut rest = rule;
    while let Some(open) = rest.find('(') {
        let name: String = rest[..open]
            .chars()
            .rev()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let after = &rest[open + 1..];
        let close = closing(after).unwrap_or(after.len());
        let args: Vec<String> = after[..close]
            .split(',')
            .map(|a| a.trim().trim_matches(['`', '"', '\'']).to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        match name.as_str() {
            "Host" => parsed.hosts.extend(args),
            "PathPrefix" => parsed.paths.extend(args),
            "Path" => {
                parsed.exact_path = true;
                parsed.paths.extend(args);
            }
            "" => {}
            _ => parsed.other = true,
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    parsed
}

/// The index of the `)` that closes an argument list, skipping quoted text.
fn closing(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '`' | '"' | '\'') => quote = Some(c),
            (None, ')') => return Some(i),
            _ => {}
        }
    }
    None
}

/// topo's host rule: lowercase DNS labels separated by dots, the first may be `*`.
pub fn valid_host(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    host.split('.').enumerate().all(|(i, label)| {
        (i == 0 && label == "*")
            || (!label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        Node { value: crate::yaml::Value::Scalar(String::new(), crate::yaml::Style::Plain), span: Default::default() }
    }

    #[test]
    fn rules() {
        let rule = parse_rule("Host(`api.example.com`) && PathPrefix(`/v1`)");
        assert_eq!(rule.hosts, ["api.example.com"]);
        assert_eq!(rule.paths, ["/v1"]);
        assert!(!rule.other);
        let rule = parse_rule("Host(`a.com`, `b.com`) || Headers(`X`, `y`)");
        assert_eq!(rule.hosts, ["a.com", "b.com"]);
        assert!(rule.other);
        assert!(parse_rule("HostRegexp(`{sub:[a-z]+}.x.com`)").hosts.is_empty());
    }

    #[test]
    fn routes_from_labels() {
        let mut routes = Routes::default();
        let at = SpecPath::root();
        assert!(routes.add("traefik.enable", "true", &node(), &at).is_none());
        assert!(routes.add("traefik.http.routers.web.rule", "Host(`App.Example.com`)", &node(), &at).is_none());
        assert!(routes.add("traefik.http.routers.web.tls.certresolver", "le", &node(), &at).is_none());
        assert!(routes.add("traefik.http.services.web.loadbalancer.server.port", "3000", &node(), &at).is_none());
        assert!(routes.add("traefik.http.routers.web.middlewares", "auth", &node(), &at).is_some());
        assert!(routes.add("com.example.team", "x", &node(), &at).is_some());
        let route = routes.route().expect("a route");
        assert_eq!(route.host.as_deref(), Some("app.example.com"));
        assert!(route.tls);
        assert_eq!(route.certresolver.as_deref(), Some("le"));
        assert_eq!(route.port, Some(3000));
        let mut off = Routes::default();
        off.add("traefik.enable", "false", &node(), &at);
        off.add("traefik.http.routers.x.rule", "Host(`x.com`)", &node(), &at);
        assert!(off.route().is_none());
        let mut templated = Routes::default();
        templated.add("traefik.http.routers.x.rule", "Host(`${DOMAIN}`)", &node(), &at);
        assert_eq!(templated.route().and_then(|r| r.host), None);
    }
}
