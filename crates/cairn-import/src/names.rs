//! Stable, readable logical names from Terraform addresses:
//! `module.network.aws_subnet.database[0]` → `databaseSubnet0`. When two
//! instances would get the same name, their module path is put in front
//! (`networkDatabaseSubnet0`); if that still collides, a number is added,
//! in address order, so the same state always gives the same names.

use crate::mapping::NameHint;
use std::collections::{BTreeMap, BTreeSet};

fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            // Split camelCase too, so `dbSubnet` gives `db`, `Subnet`.
            if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            cur.push(c);
        } else {
            prev_lower = false;
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// `route_table_id` → `RouteTableId`.
pub fn pascal(s: &str) -> String {
    words(s).iter().map(|w| capitalise(w)).collect()
}

/// `route_table_id` → `routeTableId` (Terraform attribute → cairn property).
pub fn camel(s: &str) -> String {
    let p = pascal(s);
    let mut c = p.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// The name without module: `databaseSubnet0`.
fn base(h: &NameHint) -> String {
    let name = camel(&h.name);
    let mut out = if h.type_word.is_empty()
        || name
            .to_ascii_lowercase()
            .ends_with(&h.type_word.to_ascii_lowercase())
    {
        name
    } else {
        format!("{name}{}", h.type_word)
    };
    if let Some(i) = &h.index {
        out.push_str(&pascal(i));
    }
    if out.is_empty() || !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out = format!("r{}", pascal(&out));
    }
    out
}

fn with_modules(h: &NameHint) -> String {
    let b = base(h);
    if h.modules.is_empty() {
        return b;
    }
    let prefix = camel(&h.modules.join("_"));
    if prefix.is_empty() {
        return b;
    }
    format!("{prefix}{}", pascal_keep(&b))
}

/// Upper-cases the first letter only (keeps `databaseSubnet0`'s inner case).
fn pascal_keep(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// One logical name per hint, in the same order. `addresses` orders the
/// tie-breaks (the first in address order keeps the plain name).
pub fn assign(hints: &[(&str, &NameHint)]) -> Vec<String> {
    let mut order: Vec<usize> = (0..hints.len()).collect();
    order.sort_by(|&a, &b| hints[a].0.cmp(hints[b].0));
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for (_, h) in hints {
        *count.entry(base(h)).or_default() += 1;
    }
    let mut taken = BTreeSet::new();
    let mut out = vec![String::new(); hints.len()];
    for i in order {
        let h = hints[i].1;
        let b = base(h);
        let mut name = if count[&b] > 1 { with_modules(h) } else { b };
        if taken.contains(&name) {
            let mut n = 2;
            while taken.contains(&format!("{name}{n}")) {
                n += 1;
            }
            name = format!("{name}{n}");
        }
        taken.insert(name.clone());
        out[i] = name;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(modules: &[&str], name: &str, ty: &str, index: Option<&str>) -> NameHint {
        NameHint {
            modules: modules.iter().map(|s| s.to_string()).collect(),
            name: name.into(),
            type_word: ty.into(),
            index: index.map(str::to_string),
        }
    }

    #[test]
    fn names_read_like_the_address() {
        let a = hint(&["network"], "database", "Subnet", Some("0"));
        let b = hint(&[], "main", "Vpc", None);
        let c = hint(&[], "nodes_sg", "SecurityGroup", None);
        let d = hint(&[], "nat", "Eip", Some("us-east-1a"));
        let names = assign(&[("a", &a), ("b", &b), ("c", &c), ("d", &d)]);
        assert_eq!(
            names,
            [
                "databaseSubnet0",
                "mainVpc",
                "nodesSgSecurityGroup",
                "natEipUsEast1a"
            ]
        );
        assert_eq!(camel("map_public_ip_on_launch"), "mapPublicIpOnLaunch");
    }

    #[test]
    fn collisions_take_the_module_then_a_number_in_address_order() {
        let a = hint(&["a"], "x", "Vpc", None);
        let b = hint(&["b"], "x", "Vpc", None);
        let c = hint(&[], "vpc", "Vpc", None);
        let d = hint(&[], "vpc", "", None);
        let names = assign(&[
            ("module.b.aws_vpc.x", &b),
            ("module.a.aws_vpc.x", &a),
            ("aws_vpc.vpc", &c),
            ("vpc", &d),
        ]);
        assert_eq!(names, ["bXVpc", "aXVpc", "vpc", "vpc2"]);
    }
}
