//! Every diagnostic code topo can give, in one list: the stable, kebab-case
//! identifier (`unknown-field`) that reports print and that users match on.
//! The ground floor of the crate (it uses nothing else), so that every stage,
//! the YAML reader included, names its codes from here; a test holds the
//! README to documenting each one.

/// A diagnostic's code. Its text (`as_str`, `Display`, JSON) is the variant's
/// name in kebab-case: `UnknownField` is `unknown-field`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::Display, strum::EnumString, strum::EnumIter,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Code {
    AcmeWithoutTls,
    AllowUnknownPort,
    Approximated,
    AutoscaleIgnored,
    AutoscaleRange,
    AutoscaleWithoutMetric,
    AutoscaleWithoutRequest,
    BindMount,
    BuildPlaceholder,
    CheckTimeout,
    CheckWithoutPort,
    CommandVariable,
    ComposeMultipleNodes,
    DependencyCycle,
    DependsOnIgnored,
    DependsOnNotEnforced,
    Dropped,
    DuplicateAlert,
    DuplicateKey,
    DuplicateMergeKey,
    DuplicateMount,
    DuplicatePhaseName,
    DuplicatePort,
    DuplicateRoute,
    DuplicateSecret,
    EmptySpec,
    EnvFileMissing,
    EnvFileNotText,
    EnvFileOutside,
    EnvFileTooLarge,
    EnvVariable,
    ExecSingleArgument,
    ExposeUnknownPort,
    ExposeWithoutPort,
    FileTooLarge,
    GlobalAutoscale,
    GlobalOneNode,
    GlobalStateful,
    Guessed,
    HealthVariable,
    HttpCheckToolUnknown,
    ImageHardeningUnknown,
    ImageUserUnknown,
    ImportFailed,
    InvalidCheck,
    InvalidCidr,
    InvalidCompose,
    InvalidHost,
    InvalidImage,
    InvalidInterpolation,
    InvalidKey,
    InvalidLabel,
    InvalidMerge,
    InvalidMount,
    InvalidName,
    InvalidPath,
    InvalidPhaseKey,
    InvalidPort,
    InvalidPromql,
    InvalidThreshold,
    InvalidType,
    InvalidValue,
    LivenessNotUsed,
    MetricsUnknownPort,
    MetricsWithoutPort,
    MissingField,
    MissingImage,
    MixedPhaseMap,
    MultipleDocuments,
    NoDisruptionBudget,
    NoManager,
    NoMatchingNode,
    NoNodes,
    NoPhases,
    NoServices,
    NodeTooSmall,
    NodeWithoutCapacity,
    NotSealed,
    NotUtf8,
    OrderDependentPlacement,
    OutIsInput,
    OutNotADirectory,
    OutNotOwned,
    OutObstacle,
    OutProtected,
    OutUnwritable,
    OutWriteFailed,
    OverLimit,
    PeerCidrAndPods,
    PgIsreadyWithoutHost,
    PhaseDoesNotFit,
    PhaseTight,
    PlacementIgnored,
    RedisWithoutPassword,
    Renamed,
    RequestAboveLimit,
    ReserveExceedsNode,
    Secret,
    SecretInEnv,
    SecretLookingEnv,
    SettingsIgnored,
    SharedVolume,
    SingleNodeVolume,
    SpreadIgnored,
    SpreadUnsatisfiable,
    StartupNotUsed,
    StatefulNotPinned,
    StatefulReplicas,
    StatefulWithoutVolume,
    TlsWithoutIssuer,
    TooDeep,
    TooManyBytes,
    TooManyNodes,
    TraefikService,
    TriggerWatchesNodes,
    TriggerWithoutQuery,
    UndeclaredSecret,
    UnknownField,
    UnknownKey,
    UnknownMetric,
    UnknownNode,
    UnknownPhase,
    UnknownService,
    UnpinnedImage,
    UnreachableService,
    UnreadableSpec,
    UnusedSecret,
    VolumeFrom,
    VolumeNotPinned,
    VolumeNotShared,
    VolumeWithoutSize,
    YamlSyntax,
    YamlTag,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every code, in declaration order.
    pub fn all() -> impl Iterator<Item = Code> {
        <Code as strum::IntoEnumIterator>::iter()
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Codes order as their text does, so that sorting diagnostics by code is alphabetical.
impl Ord for Code {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// Each code's text is kebab-case, distinct, and reads back as the same code.
    #[test]
    fn every_code_is_kebab_case_and_reads_back() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::all() {
            let text = code.as_str();
            assert!(
                text.split('-')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "{code:?}: `{text}`"
            );
            assert!(seen.insert(text), "{text} twice");
            assert_eq!(text.parse::<Code>().unwrap(), code);
        }
        assert_eq!(Code::UnknownField.as_str(), "unknown-field");
        assert_eq!(Code::NotUtf8.as_str(), "not-utf8");
        assert_eq!(serde_json::to_string(&Code::DuplicateKey).unwrap(), "\"duplicate-key\"");
    }
}
