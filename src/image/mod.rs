//! Container image references, parsed once: `[registry/]path[:tag][@digest]`.
//!
//! The grammar is Docker's (distribution's `reference` package): the first
//! path component is a registry host when it has a dot or a colon or is
//! `localhost`, else the image is on Docker Hub; a colon after the last `/`
//! starts the tag (a colon before it is the registry's port); `@` starts the
//! digest. The model, the targets, the plan and import read images through
//! this type only; [`known`] is what topo knows of official images.

pub mod known;

use std::fmt;
use std::ops::Range;

/// An image reference, kept as written (it prints back byte for byte) with
/// the positions of its parts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    text: String,
    /// The repository, registry included: `text[..repository_end]`.
    repository_end: usize,
    /// The registry host, when the reference names one: `text[..registry_end]`.
    registry_end: Option<usize>,
    tag: Option<Range<usize>>,
    digest: Option<usize>,
}

/// Docker Hub, where an image with no registry host comes from.
pub const DOCKER_HUB: &str = "docker.io";

impl ImageRef {
    /// Reads any text: validation refuses references that are empty or hold
    /// spaces before the model parses them, so every text has a reading.
    pub fn parse(text: &str) -> Self {
        let text = text.to_owned();
        let digest = text.find('@');
        let name = &text[..digest.unwrap_or(text.len())];
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let colon = name[last_slash..].find(':').map(|i| last_slash + i);
        let repository_end = colon.unwrap_or(name.len());
        let tag = colon.map(|c| c + 1..name.len()).filter(|range| !range.is_empty());
        let registry_end = match name.split_once('/') {
            Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => Some(first.len()),
            _ => None,
        };
        Self { repository_end, registry_end, tag, digest, text }
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The repository without tag and digest, registry kept
    /// (`registry.local:5000/app:1.2@sha256:…` → `registry.local:5000/app`).
    pub fn repository(&self) -> &str {
        &self.text[..self.repository_end]
    }

    /// The registry it is pulled from: its host, or [`DOCKER_HUB`].
    pub fn registry(&self) -> &str {
        self.registry_end.map_or(DOCKER_HUB, |end| &self.text[..end])
    }

    /// The repository as Docker Hub's official images are named, without
    /// `docker.io/` and `library/` (`docker.io/library/postgres` → `postgres`).
    pub fn hub_repository(&self) -> &str {
        let repository = self.repository();
        let repository = repository.strip_prefix("docker.io/").unwrap_or(repository);
        repository.strip_prefix("library/").unwrap_or(repository)
    }

    /// The last part of the repository (`pgvector/pgvector:pg18` → `pgvector`).
    pub fn name(&self) -> &str {
        let repository = self.repository();
        repository.rsplit('/').next().unwrap_or(repository)
    }

    /// The tag (`redis:8.2-alpine` → `8.2-alpine`), if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.clone().map(|range| &self.text[range])
    }

    /// The digest (`sha256:…`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.map(|at| &self.text[at + 1..])
    }

    /// Pinned: a digest, or a tag other than `latest`.
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some() || self.tag().is_some_and(|t| t != "latest")
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for ImageRef {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(text))
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_references() {
        // text, repository, registry, name, tag, digest, pinned
        let cases = [
            ("redis:8.2-alpine", "redis", DOCKER_HUB, "redis", Some("8.2-alpine"), None, true),
            ("pgvector/pgvector:pg18", "pgvector/pgvector", DOCKER_HUB, "pgvector", Some("pg18"), None, true),
            ("registry.local:5000/app", "registry.local:5000/app", "registry.local:5000", "app", None, None, false),
            (
                "registry.local:5000/app:1.2",
                "registry.local:5000/app",
                "registry.local:5000",
                "app",
                Some("1.2"),
                None,
                true,
            ),
            (
                "registry.local:5000/app:1.2@sha256:abc",
                "registry.local:5000/app",
                "registry.local:5000",
                "app",
                Some("1.2"),
                Some("sha256:abc"),
                true,
            ),
            ("app@sha256:abc", "app", DOCKER_HUB, "app", None, Some("sha256:abc"), true),
            ("app:latest", "app", DOCKER_HUB, "app", Some("latest"), None, false),
            ("app:", "app", DOCKER_HUB, "app", None, None, false),
            ("localhost/team/app:2", "localhost/team/app", "localhost", "app", Some("2"), None, true),
            ("ghcr.io/org/app:1", "ghcr.io/org/app", "ghcr.io", "app", Some("1"), None, true),
            ("team/app:1", "team/app", DOCKER_HUB, "app", Some("1"), None, true),
        ];
        for (text, repository, registry, name, tag, digest, pinned) in cases {
            let image = ImageRef::parse(text);
            assert_eq!(image.to_string(), text, "prints back as written");
            assert_eq!(image.repository(), repository, "{text}");
            assert_eq!(image.registry(), registry, "{text}");
            assert_eq!(image.name(), name, "{text}");
            assert_eq!(image.tag(), tag, "{text}");
            assert_eq!(image.digest(), digest, "{text}");
            assert_eq!(image.is_pinned(), pinned, "{text}");
        }
    }

    #[test]
    fn official_images_without_the_hub_prefix() {
        assert_eq!(ImageRef::parse("docker.io/library/postgres:17").hub_repository(), "postgres");
        assert_eq!(ImageRef::parse("docker.io/bitnami/redis").hub_repository(), "bitnami/redis");
        assert_eq!(ImageRef::parse("postgres:17").hub_repository(), "postgres");
        assert_eq!(ImageRef::parse("docker.io/library/postgres:17").registry(), "docker.io");
    }
}
