//! Stable diagnostic codes of the stack-file loader.
//!
//! Problems found by schema validation use the codes in
//! [`cairn_core::validate::codes`]; provider checks use their rule ids.

/// The input is larger than [`crate::MAX_FILE_BYTES`].
pub const FILE_TOO_LARGE: &str = "cairn::config::file-too-large";
/// The input is not valid UTF-8.
pub const NOT_UTF8: &str = "cairn::config::not-utf8";
/// The input holds no YAML document (only whitespace or comments).
pub const EMPTY_FILE: &str = "cairn::config::empty-file";
/// The YAML parser rejected the input.
pub const YAML_SYNTAX: &str = "cairn::config::yaml-syntax";
/// More than one YAML document (`---`) in a stack file.
pub const MULTIPLE_DOCUMENTS: &str = "cairn::config::multiple-documents";
/// Nesting deeper than [`crate::MAX_DEPTH`].
pub const TOO_DEEP: &str = "cairn::config::too-deep";
/// More than [`crate::MAX_NODES`] YAML nodes.
pub const TOO_MANY_NODES: &str = "cairn::config::too-many-nodes";
/// Aliases expanding to more than [`crate::MAX_NODES`] nodes.
pub const ALIAS_BOMB: &str = "cairn::config::alias-bomb";
/// A YAML tag other than the core schema's (`!!str`, `!!int`, ...).
pub const UNSUPPORTED_TAG: &str = "cairn::config::unsupported-tag";
/// A value that does not match its `!!int`/`!!float`/`!!bool`/`!!null` tag,
/// or an integer outside the 64-bit range.
pub const INVALID_NUMBER: &str = "cairn::config::invalid-number";
/// A mapping key that is a list or a map.
pub const COMPLEX_KEY: &str = "cairn::config::complex-key";
/// A mapping key that names a resource output (known only at apply).
pub const UNSUPPORTED_KEY_REFERENCE: &str = "cairn::config::unsupported-key-reference";
/// The same key twice in one mapping.
pub const DUPLICATE_KEY: &str = "cairn::config::duplicate-key";
/// The document is not a mapping.
pub const TOP_LEVEL_NOT_MAP: &str = "cairn::config::top-level-not-map";
/// A key the stack format does not know (top level, resource, config
/// declaration, policy, waiver).
pub const UNKNOWN_KEY: &str = "cairn::config::unknown-key";
/// A required key is absent (`name`, `resources`, a resource's `type`...).
pub const MISSING_KEY: &str = "cairn::config::missing-key";
/// A section of the wrong YAML kind (e.g. `properties` not a map).
pub const WRONG_SHAPE: &str = "cairn::config::wrong-shape";
/// An option that does not exist.
pub const UNKNOWN_OPTION: &str = "cairn::config::unknown-option";
/// An option value of the wrong type or form.
pub const INVALID_OPTION: &str = "cairn::config::invalid-option";
/// `options.provider(s)` names no provider of the resource's package.
pub const INVALID_PROVIDER: &str = "cairn::config::invalid-provider";
/// An option cairn accepts but does not act on (`version`); a warning.
pub const OPTION_IGNORED: &str = "cairn::config::option-ignored";
/// A `--config` override for a key the stack does not declare.
pub const UNKNOWN_CONFIG: &str = "cairn::config::unknown-config";
/// A config key with neither a default nor an override.
pub const MISSING_CONFIG: &str = "cairn::config::missing-config";
/// A config value (default or override) that does not match its type.
pub const INVALID_CONFIG: &str = "cairn::config::invalid-config";
/// A config value containing a `${...}` reference.
pub const REFERENCE_IN_CONFIG: &str = "cairn::config::reference-in-config";
/// Variables referring to each other in a cycle.
pub const VARIABLE_CYCLE: &str = "cairn::config::variable-cycle";
/// A name used by two of config, variables and resources.
pub const NAME_CONFLICT: &str = "cairn::config::name-conflict";
/// A `fn::` function that cairn does not support, or misused.
pub const UNSUPPORTED_FUNCTION: &str = "cairn::config::unsupported-function";
/// A built-in function given the wrong number or kind of arguments (wrong
/// type, index out of range, text that is not base64...).
pub const FUNCTION_ARGUMENT: &str = "cairn::config::function-argument";
/// A built-in function applied to a resource output (known only at apply).
pub const FUNCTION_OF_OUTPUT: &str = "cairn::config::function-of-output";
/// A file named by `fn::readFile`, `fn::fileAsset`... cannot be read.
pub const FILE_UNREADABLE: &str = "cairn::config::file-unreadable";
/// `${x}` where `x` is no resource, config key or variable.
pub const UNKNOWN_REFERENCE: &str = cairn_core::validate::codes::UNKNOWN_REFERENCE;
/// A path into a config value or variable that does not exist.
pub const UNKNOWN_REFERENCE_PATH: &str = "cairn::config::unknown-reference-path";
/// A malformed `${...}` or a value that cannot be spliced into text.
pub const BAD_INTERPOLATION: &str = cairn_core::validate::codes::BAD_INTERPOLATION;
/// A value spliced into text that Pulumi writes differently (a null as
/// `<nil>`, a number from 1e6 as `1e+06`); a warning.
pub const TEXT_DIFFERS: &str = "cairn::config::text-differs";
/// An invalid resource, config or variable name.
pub const INVALID_NAME: &str = cairn_core::validate::codes::INVALID_NAME;
/// More than [`crate::MAX_PROBLEMS`] problems; the rest are not listed.
pub const TOO_MANY_PROBLEMS: &str = "cairn::config::too-many-problems";
/// An environment file's `template:` could not be read.
pub const TEMPLATE_UNREADABLE: &str = "cairn::config::template-unreadable";
/// The parser failed in an unexpected way (a bug; reported, never a panic).
pub const INTERNAL: &str = "cairn::config::internal";
/// `fn::invoke` names a function no provider offers.
pub const INVOKE_UNKNOWN_FUNCTION: &str = "cairn::invoke::unknown-function";
/// `fn::invoke`'s arguments are refused (shape, names, types, values).
pub const INVOKE_ARGUMENT: &str = "cairn::invoke::bad-argument";
/// `fn::invoke`'s arguments name a resource output (known only at apply).
pub const INVOKE_OF_OUTPUT: &str = "cairn::invoke::argument-of-output";
/// The data source failed.
pub const INVOKE_FAILED: &str = "cairn::invoke::failed";
/// `fn::invoke` where this caller runs no data sources.
pub const INVOKE_UNAVAILABLE: &str = "cairn::invoke::unavailable";
/// A `Pulumi.yaml` `runtime` other than `yaml` (or a malformed one).
pub const UNSUPPORTED_RUNTIME: &str = "cairn::project::unsupported-runtime";
/// A `Pulumi.<stack>.yaml` config key of another package's namespace
/// (a warning: cairn does not read it).
pub const OTHER_NAMESPACE: &str = "cairn::project::other-namespace";
/// A `Pulumi.<stack>.yaml` feature cairn does not read (`secure:` values).
pub const UNSUPPORTED_STACK_SETTING: &str = "cairn::project::unsupported-setting";
/// `replaceOnChanges` or `additionalSecretOutputs` naming no property
/// (or output) of the resource's type.
pub const UNKNOWN_OPTION_PROPERTY: &str = "cairn::config::unknown-option-property";
/// `get:` could not read the resource (not found, provider error, no
/// provider here).
pub const GET_FAILED: &str = "cairn::get::failed";
/// `options.parent` names no resource of the program.
pub const UNKNOWN_PARENT: &str = "cairn::config::unknown-parent";
/// `options.parent` names the resource itself, or its parents form a cycle.
pub const PARENT_CYCLE: &str = "cairn::config::parent-cycle";
