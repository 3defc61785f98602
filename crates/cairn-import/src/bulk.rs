//! Pulumi's bulk import file: `{"resources": [{"type", "name", "id"}]}`.
//! Pulumi's full tokens (`aws:ec2/vpc:Vpc`) are accepted as well as
//! cairn's (`aws:ec2:Vpc`); `logicalName`, when given, names the resource.

use crate::error::ImportError;
use crate::mapping::{Candidate, NameHint, Selection, Skipped};
use cairn_core::schema::ResourceSchema;
use serde_json::Value as Json;

/// `aws:ec2/vpc:Vpc` → `aws:ec2:Vpc`; cairn tokens are unchanged.
pub fn cairn_token(pulumi: &str) -> String {
    let parts: Vec<&str> = pulumi.split(':').collect();
    match parts.as_slice() {
        [pkg, module, ty] => {
            let module = module.split('/').next().unwrap_or(module);
            format!("{pkg}:{module}:{ty}")
        }
        _ => pulumi.to_string(),
    }
}

pub fn select<'a>(
    file: &str,
    text: &str,
    schema_of: &dyn Fn(&str) -> Option<&'a ResourceSchema>,
) -> Result<Selection, ImportError> {
    let bad = |message: String| ImportError::BulkShape {
        file: file.to_string(),
        message,
    };
    let root: Json = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let Some(list) = root.get("resources").and_then(Json::as_array) else {
        return Err(bad("there is no `resources` list".into()));
    };
    let mut out = Selection::default();
    for (i, r) in list.iter().enumerate() {
        let field = |k: &str| {
            r.get(k)
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| bad(format!("resources[{i}] has no `{k}` (a non-empty string)")))
        };
        let ty = field("type")?;
        let name = field("name")?;
        let id = field("id")?;
        let logical = r
            .get("logicalName")
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| name.clone());
        let token = cairn_token(&ty);
        if schema_of(&token).is_none() {
            out.unknown.push(Skipped {
                address: name.clone(),
                tf_type: ty.clone(),
                why: format!("cairn has no type `{token}`"),
            });
            continue;
        }
        out.candidates.push(Candidate {
            address: name,
            name_hint: NameHint {
                modules: Vec::new(),
                name: logical,
                type_word: String::new(),
                index: None,
            },
            token,
            import_id: id,
            terraform: None,
        });
    }
    Ok(out)
}
