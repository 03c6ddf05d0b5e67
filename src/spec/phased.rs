//! Values that change from phase to phase.
//!
//! A phased field holds one value for every phase (`replicas: 2`) or a map
//! from phase number to value (`replicas: { 1: 1, 2: 4 }`). A phase missing
//! from the map inherits the value of the nearest earlier phase that has one;
//! before the first one the field's default applies.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// A phase number (`1`, `2`, `3`): phases grow in numeric order.
pub type PhaseNumber = u32;

/// One value for every phase, or values by phase number.
#[derive(Clone, Debug, PartialEq)]
pub enum Phased<T> {
    All(T),
    ByPhase(BTreeMap<PhaseNumber, T>),
}

impl<T> Phased<T> {
    /// The value in force in `phase`: the map entry of the greatest phase
    /// number not after it; `None` when the field starts later.
    pub fn at(&self, phase: PhaseNumber) -> Option<&T> {
        match self {
            Phased::All(value) => Some(value),
            Phased::ByPhase(map) => map.range(..=phase).next_back().map(|(_, value)| value),
        }
    }

    /// The phase numbers written in the map (none for a single value).
    pub fn keys(&self) -> impl Iterator<Item = PhaseNumber> + '_ {
        let map = match self {
            Phased::All(_) => None,
            Phased::ByPhase(map) => Some(map),
        };
        map.into_iter().flat_map(|m| m.keys().copied())
    }
}

/// Phase-number keys; a map from phase number to `T`.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseMap<T>(pub BTreeMap<PhaseNumber, T>);

const PHASE_KEY_PATTERN: &str = "^[0-9]+$";

impl<T: JsonSchema> JsonSchema for PhaseMap<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("PhaseMap_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "propertyNames": { "pattern": PHASE_KEY_PATTERN },
            "additionalProperties": generator.subschema_for::<T>(),
            "minProperties": 1
        })
    }
}

impl<T: JsonSchema> JsonSchema for Phased<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Phased_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let value = generator.subschema_for::<T>();
        json_schema!({
            "description": "One value for every phase, or a map from phase number to value; a phase left out inherits the previous phase's value.",
            "anyOf": [
                value.clone(),
                {
                    "type": "object",
                    "propertyNames": { "pattern": PHASE_KEY_PATTERN },
                    "additionalProperties": value,
                    "minProperties": 1
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inherits_from_the_nearest_earlier_phase() {
        let replicas = Phased::ByPhase(BTreeMap::from([(1, 1), (2, 4), (5, 2)]));
        assert_eq!(replicas.at(1), Some(&1));
        assert_eq!(replicas.at(2), Some(&4));
        assert_eq!(replicas.at(3), Some(&4));
        assert_eq!(replicas.at(4), Some(&4));
        assert_eq!(replicas.at(5), Some(&2));
        assert_eq!(replicas.at(9), Some(&2));
    }

    #[test]
    fn before_the_first_phase_there_is_nothing() {
        let autoscale = Phased::ByPhase(BTreeMap::from([(3, "on")]));
        assert_eq!(autoscale.at(1), None);
        assert_eq!(autoscale.at(2), None);
        assert_eq!(autoscale.at(3), Some(&"on"));
    }

    #[test]
    fn one_value_holds_everywhere() {
        let placement = Phased::All("manager");
        assert_eq!(placement.at(0), Some(&"manager"));
        assert_eq!(placement.at(7), Some(&"manager"));
        assert_eq!(placement.keys().count(), 0);
    }
}
