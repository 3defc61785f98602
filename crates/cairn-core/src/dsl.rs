//! The typed Rust DSL: build a [`StackSpec`] from Rust, with typed inputs
//! and outputs, producing exactly what the YAML loader produces.
//!
//! ```
//! use cairn_core::dsl::{StackBuilder, ResourceType, Input, Output};
//! use cairn_core::schema::ResourceSchema;
//! use serde::Serialize;
//!
//! struct Data;
//! #[derive(Serialize)]
//! struct DataArgs { input: Input<String> }
//! struct DataOutputs { output: Output<String> }
//! impl ResourceType for Data {
//!     const TOKEN: &'static str = "core:Data";
//!     type Args = DataArgs;
//!     type Outputs = DataOutputs;
//!     fn outputs(name: &str) -> DataOutputs { DataOutputs { output: Output::of(name, "output") } }
//! }
//! let mut b = StackBuilder::new("demo");
//! let a = b.resource::<Data>("a", DataArgs { input: "hello".to_string().into() });
//! b.resource::<Data>("b", DataArgs { input: a.output.clone().into() });
//! let spec = b.build();
//! assert_eq!(spec.resources[1].properties["input"].as_str(), Some("${a.output}"));
//! ```

use crate::spec::{ResourceOptions, ResourceSpec, StackSpec, Waiver};
use crate::value::Value;
use serde::{Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

/// A resource type usable from the Rust DSL.
pub trait ResourceType {
    /// The Pulumi-style type token.
    const TOKEN: &'static str;
    /// Input properties; serialized with serde (use `rename_all = "camelCase"`).
    type Args: Serialize;
    /// Typed references to the outputs.
    type Outputs;
    fn outputs(name: &str) -> Self::Outputs;
}

/// A typed reference to another resource's output, `${name.output}`.
pub struct Output<T> {
    reference: String,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Output<T> {
    fn clone(&self) -> Self {
        Output {
            reference: self.reference.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> Output<T> {
    pub fn of(resource: &str, output: &str) -> Self {
        Output {
            reference: format!("${{{resource}.{output}}}"),
            _type: PhantomData,
        }
    }
    /// The interpolation text, for building strings with `format!`.
    pub fn reference(&self) -> &str {
        &self.reference
    }
}

impl<T> fmt::Display for Output<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reference)
    }
}

impl<T> fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reference)
    }
}

/// An input: a literal value or another resource's output.
#[derive(Clone, Debug)]
pub enum Input<T> {
    Value(T),
    Output(Output<T>),
}

impl<T> From<T> for Input<T> {
    fn from(v: T) -> Self {
        Input::Value(v)
    }
}

impl<T> From<Output<T>> for Input<T> {
    fn from(o: Output<T>) -> Self {
        Input::Output(o)
    }
}

impl From<&str> for Input<String> {
    fn from(s: &str) -> Self {
        Input::Value(s.to_string())
    }
}

impl<T: Serialize> Serialize for Input<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Input::Value(v) => v.serialize(s),
            Input::Output(o) => s.serialize_str(&o.reference),
        }
    }
}

/// A declared resource: derefs to its typed outputs.
pub struct Handle<T: ResourceType> {
    logical_name: String,
    outputs: T::Outputs,
}

impl<T: ResourceType> Handle<T> {
    /// The resource's name in the stack (its outputs may have a `name` too).
    pub fn logical_name(&self) -> &str {
        &self.logical_name
    }
}

impl<T: ResourceType> Deref for Handle<T> {
    type Target = T::Outputs;
    fn deref(&self) -> &T::Outputs {
        &self.outputs
    }
}

/// Builds a stack in Rust.
pub struct StackBuilder {
    spec: StackSpec,
}

impl StackBuilder {
    pub fn new(name: &str) -> Self {
        StackBuilder {
            spec: StackSpec::new(name),
        }
    }

    pub fn resource<T: ResourceType>(&mut self, name: &str, args: T::Args) -> Handle<T> {
        self.resource_with::<T>(name, args, ResourceOptions::default())
    }

    pub fn resource_with<T: ResourceType>(
        &mut self,
        name: &str,
        args: T::Args,
        options: ResourceOptions,
    ) -> Handle<T> {
        let properties = match serde_json::to_value(&args).map(|j| Value::from_json(&j)) {
            Ok(Value::Map(m)) => m
                .into_iter()
                .filter(|(_, v)| !matches!(v, Value::Null))
                .collect(),
            _ => Default::default(),
        };
        let mut spec = ResourceSpec::new(name, T::TOKEN, properties);
        spec.options = options;
        self.spec.add(spec);
        Handle {
            logical_name: name.to_string(),
            outputs: T::outputs(name),
        }
    }

    pub fn output(&mut self, name: &str, value: impl Into<Value>) {
        self.spec.output(name, value);
    }

    pub fn waive(&mut self, rule: &str, resource: Option<&str>, reason: &str) {
        self.spec.waivers.push(Waiver {
            rule: rule.to_string(),
            resource: resource.map(str::to_string),
            reason: reason.to_string(),
            span: None,
        });
    }

    pub fn build(self) -> StackSpec {
        self.spec
    }
}
