//! What topo knows of official images, from their Dockerfiles and entrypoint
//! scripts (docker-library and the vendors' own): the numeric user each one
//! runs as, whether its entrypoint starts as root to fix the ownership of its
//! data and then drops to that user, and which runtime or HTTP client it
//! ships. Only entries that can be read off those files are here; an image
//! that is not is *unknown*, and the targets say so rather than guess.

use super::ImageRef;
use crate::spec::HttpClient;

/// The data-directory conventions an image follows, where topo adapts to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// postgres and images built on it: PGDATA, `/var/run/postgresql`.
    Postgres,
    /// redis and valkey: `/data`.
    Redis,
    Other,
}

/// An image topo knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known {
    /// The uid and gid it runs as (the one its entrypoint drops to).
    pub uid: u32,
    pub gid: u32,
    /// Its entrypoint starts as root, chowns its data and drops to `uid`
    /// (gosu, su-exec or setpriv), unless the container already starts as a user.
    pub starts_as_root: bool,
    pub family: Family,
}

fn alpine(image: &ImageRef) -> bool {
    image.tag().is_some_and(|t| t.contains("alpine"))
}

/// The user of a known image. Sources (each image's Dockerfile):
/// - postgres: `groupadd -r postgres --gid=999; useradd -r -g postgres --uid=999`;
///   alpine: `addgroup -g 70 -S postgres; adduser -u 70 -S -D -G postgres`.
///   pgvector/pgvector and postgis/postgis are built `FROM postgres`.
/// - redis: `groupadd -r -g 999 redis && useradd -r -g redis -u 999 redis`;
///   alpine: `addgroup -S -g 1000 redis && adduser -S -G redis -u 999 redis`;
///   valkey/valkey does the same with its `valkey` user.
/// - mysql, mariadb, mongo, rabbitmq: `groupadd --gid 999` / `useradd --uid 999`
///   (rabbitmq's alpine variant uses other ids and is left out).
/// - grafana/grafana: `USER "$GF_UID"` with `GF_UID=472`, `GF_GID=0`.
/// - prom/prometheus: `USER nobody` (65534:65534 in its busybox base).
/// - nginxinc/nginx-unprivileged: `USER $UID` with `UID=101`, `GID=101`.
/// - bitnami/*: `USER 1001`.
/// - oven/bun: `groupadd bun --gid 1000 && useradd bun --uid 1000 --gid bun`;
///   node: `groupadd --gid 1000 node && useradd --uid 1000 --gid node`. Both
///   images run as root by default; their unprivileged user is 1000.
pub fn known(image: &ImageRef) -> Option<Known> {
    let repository = image.hub_repository();
    let (uid, gid, starts_as_root, family) = match repository {
        "postgres" | "pgvector/pgvector" | "postgis/postgis" if alpine(image) => (70, 70, true, Family::Postgres),
        "postgres" | "pgvector/pgvector" | "postgis/postgis" => (999, 999, true, Family::Postgres),
        "redis" | "valkey/valkey" if alpine(image) => (999, 1000, true, Family::Redis),
        "redis" | "valkey/valkey" => (999, 999, true, Family::Redis),
        "mysql" | "mariadb" | "mongo" => (999, 999, true, Family::Other),
        "rabbitmq" if !alpine(image) => (999, 999, true, Family::Other),
        "grafana/grafana" | "grafana/grafana-oss" => (472, 0, false, Family::Other),
        "prom/prometheus" => (65534, 65534, false, Family::Other),
        "nginxinc/nginx-unprivileged" => (101, 101, false, Family::Other),
        "oven/bun" | "node" => (1000, 1000, false, Family::Other),
        bitnami if bitnami.starts_with("bitnami/") => (1001, 1001, false, Family::Other),
        _ => return None,
    };
    Some(Known { uid, gid, starts_as_root, family })
}

/// Directories a known image writes outside its volumes, which a read-only
/// root must leave writable: postgres's socket and lock directory.
pub fn writable_dirs(image: &ImageRef) -> &'static [&'static str] {
    match known(image) {
        Some(Known { family: Family::Postgres, .. }) => &["/var/run/postgresql"],
        _ => &[],
    }
}

/// The major version of a postgres-family image, when its tag says it
/// (`17`, `16.4-bookworm`, `pg17`, `0.8.0-pg17`); `None` for `latest`, no tag or another scheme.
pub fn postgres_major(image: &ImageRef) -> Option<u32> {
    let tag = image.tag()?;
    let version = match tag.find("pg") {
        Some(at) => &tag[at + 2..],
        None => tag,
    };
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The program an `http` check can use inside the image, when its name says
/// it: the image's own runtime (Bun, Node.js, Python), or BusyBox's `wget` in
/// Alpine and BusyBox images. `None`: topo cannot tell what the image ships.
pub fn http_client(image: &ImageRef) -> Option<HttpClient> {
    let repository = image.hub_repository();
    let name = repository.rsplit('/').next().unwrap_or(repository);
    if repository.starts_with("oven/bun") {
        Some(HttpClient::Bun)
    } else if repository == "node" {
        Some(HttpClient::Node)
    } else if repository == "python" {
        Some(HttpClient::Python)
    } else if name == "busybox" || name == "alpine" || alpine(image) {
        Some(HttpClient::Wget)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_users() {
        let user = |image: &str| known(&ImageRef::parse(image)).map(|k| (k.uid, k.gid));
        assert_eq!(user("postgres:17"), Some((999, 999)));
        assert_eq!(user("docker.io/library/postgres:16-alpine"), Some((70, 70)));
        assert_eq!(user("pgvector/pgvector:pg18"), Some((999, 999)));
        assert_eq!(user("redis:8.2-alpine"), Some((999, 1000)));
        assert_eq!(user("redis:8.2"), Some((999, 999)));
        assert_eq!(user("bitnami/redis:7.4"), Some((1001, 1001)));
        assert_eq!(user("prom/prometheus:v3.5.0"), Some((65534, 65534)));
        assert_eq!(user("registry.example.com/postgres-backup:1.0"), None);
        assert_eq!(user("rabbitmq:4-alpine"), None);
        assert_eq!(known(&ImageRef::parse("postgres:17")).map(|k| k.family), Some(Family::Postgres));
    }

    #[test]
    fn postgres_versions() {
        let cases = [
            ("postgres:17", Some(17)),
            ("postgres:16.4-bookworm", Some(16)),
            ("pgvector/pgvector:pg18", Some(18)),
            ("pgvector/pgvector:0.8.0-pg17", Some(17)),
            ("postgres:18-alpine", Some(18)),
            ("postgres:latest", None),
            ("postgres", None),
        ];
        for (image, major) in cases {
            assert_eq!(postgres_major(&ImageRef::parse(image)), major, "{image}");
        }
    }

    #[test]
    fn http_clients_from_image_names() {
        assert_eq!(http_client(&ImageRef::parse("oven/bun:1.2-slim")), Some(HttpClient::Bun));
        assert_eq!(http_client(&ImageRef::parse("node:22-slim")), Some(HttpClient::Node));
        assert_eq!(http_client(&ImageRef::parse("python:3.12-slim")), Some(HttpClient::Python));
        assert_eq!(http_client(&ImageRef::parse("nginx:1.27-alpine")), Some(HttpClient::Wget));
        assert_eq!(http_client(&ImageRef::parse("registry.example.com/app:1.0")), None);
        assert_eq!(http_client(&ImageRef::parse("nginx:1.27")), None);
    }
}
