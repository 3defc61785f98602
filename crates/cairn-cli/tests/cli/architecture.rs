//! ARCHITECTURE.md's invariants, enforced: the core does no IO; only
//! `cairn-aws` and `cairn-backend-s3` link `aws-sdk-*` (outside tests); only
//! `cairn-cli` renders reports; tests reach only loopback. Dependencies come
//! from `cargo metadata`, code from a scan of the sources. Each check is also
//! run once on a deliberate violation, so it is known to fail.

use super::common::{files_under, workspace};
use serde_json::Value as Json;
use std::path::PathBuf;
use std::process::Command;

/// Crates allowed to link the AWS SDK in normal (non-dev) dependencies.
const AWS_LINKERS: [&str; 2] = ["cairn-aws", "cairn-backend-s3"];
/// Crates that do no IO.
const IO_FREE: &str = "cairn-core";
/// Dependencies that do IO (network, storage, clouds).
const IO_CRATES: [&str; 7] = [
    "sled", "reqwest", "hyper", "redis", "mio", "socket2", "ureq",
];
/// Paths in IO-free sources that mean IO (files, sockets, child processes).
const IO_PATHS: [&str; 9] = [
    "std::fs",
    "std::net",
    "std::process::Command",
    "std::os::unix::net",
    "tokio::fs",
    "tokio::net",
    "tokio::process",
    "File::open",
    "File::create",
];
/// What rendering a miette report looks like in code.
const RENDERING: [&str; 4] = [
    "GraphicalReportHandler",
    "NarratableReportHandler",
    "render_report",
    "miette::set_hook",
];
/// URLs in sources that name something and are never connected to.
const IDENTIFIER_URLS: [&str; 4] = [
    "https://json-schema.org/",              // JSON Schema `$schema` ids
    "http://elasticache.amazonaws.com/doc/", // XML namespaces in mocked answers
    // EKS OIDC issuer ids stored by IAM; the emulator never fetches them.
    "https://oidc.eks.",
    "http://oidc.eks.",
];

fn metadata() -> Json {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata json")
}

fn packages(meta: &Json) -> &Vec<Json> {
    meta["packages"].as_array().expect("packages")
}

fn name(p: &Json) -> &str {
    p["name"].as_str().unwrap_or_default()
}

/// A package's normal (non-dev, non-build) dependencies.
fn normal_deps(p: &Json) -> impl Iterator<Item = &Json> {
    p["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["kind"].is_null())
}

fn links_aws(dep: &str) -> bool {
    dep.starts_with("aws-sdk-") || dep == "aws-config"
}

/// Workspace crates `root` depends on (normal dependencies), `root` included.
fn workspace_closure<'a>(meta: &'a Json, root: &'a str) -> Vec<&'a str> {
    let ws: Vec<&str> = packages(meta).iter().map(name).collect();
    let mut seen = vec![];
    let mut todo = vec![root];
    while let Some(n) = todo.pop() {
        if seen.contains(&n) {
            continue;
        }
        seen.push(n);
        let Some(p) = packages(meta).iter().find(|p| name(p) == n) else {
            continue;
        };
        for d in normal_deps(p) {
            let d = d["name"].as_str().unwrap_or_default();
            if let Some(w) = ws.iter().find(|w| **w == d) {
                todo.push(*w);
            }
        }
    }
    seen
}

fn source_files(dir: &str) -> Vec<(PathBuf, String)> {
    let mut files: Vec<(PathBuf, String)> = files_under(&workspace().join(dir))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            (p, text)
        })
        .collect();
    files.sort();
    files
}

/// Lines that are code (not comments).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

// ---------------------------------------------------------------------------
// The checks: each returns the violations it finds.

fn io_dependencies_of_the_core(meta: &Json) -> Vec<String> {
    let ws: Vec<&str> = packages(meta).iter().map(name).collect();
    let core = packages(meta)
        .iter()
        .find(|p| name(p) == IO_FREE)
        .expect("cairn-core in the workspace");
    // Workspace crates are IO unless they are proc macros (compile time only).
    let proc_macro = |krate: &str| {
        packages(meta).iter().filter(|p| name(p) == krate).any(|p| {
            p["targets"].as_array().into_iter().flatten().any(|t| {
                t["kind"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k == "proc-macro")
            })
        })
    };
    normal_deps(core)
        .filter_map(|d| d["name"].as_str())
        .filter(|d| links_aws(d) || IO_CRATES.contains(d) || (ws.contains(d) && !proc_macro(d)))
        .map(|d| format!("{IO_FREE} depends on {d}"))
        .collect()
}

fn io_in_the_core_sources(files: &[(PathBuf, String)]) -> Vec<String> {
    let mut found = vec![];
    for (path, text) in files {
        for (n, line) in code_lines(text) {
            for io in IO_PATHS.iter().filter(|io| line.contains(*io)) {
                found.push(format!("{}:{n}: `{io}` in {IO_FREE}", path.display()));
            }
        }
    }
    found
}

fn aws_sdk_outside_providers(meta: &Json) -> Vec<String> {
    let mut found = vec![];
    for p in packages(meta) {
        if AWS_LINKERS.contains(&name(p)) {
            continue;
        }
        for d in normal_deps(p).filter_map(|d| d["name"].as_str()) {
            if links_aws(d) {
                found.push(format!("{} links {d}", name(p)));
            }
        }
    }
    found
}

/// miette's graphical handler (`fancy*` features) in a crate linked into the
/// `cairn` binary other than `cairn-cli`, or code there that renders a report.
fn rendering_outside_the_cli(
    meta: &Json,
    sources: &dyn Fn(&str) -> Vec<(PathBuf, String)>,
) -> Vec<String> {
    let mut found = vec![];
    for krate in workspace_closure(meta, "cairn-cli") {
        if krate == "cairn-cli" {
            continue;
        }
        let p = packages(meta)
            .iter()
            .find(|p| name(p) == krate)
            .expect("package");
        for d in normal_deps(p).filter(|d| d["name"] == "miette") {
            for f in d["features"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
            {
                if f.starts_with("fancy") {
                    found.push(format!("{krate} enables miette's `{f}`"));
                }
            }
        }
        for (path, text) in sources(krate) {
            for (n, line) in code_lines(&text) {
                for r in RENDERING.iter().filter(|r| line.contains(*r)) {
                    found.push(format!("{}:{n}: `{r}` in {krate}", path.display()));
                }
            }
        }
    }
    found
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// The host of `url` after `scheme://`, or None for a computed one (`{}`).
fn url_host(rest: &str) -> Option<&str> {
    let end = rest
        .find(['/', '"', '\'', ' ', ')', '`', '?'])
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = if host_port.starts_with('[') {
        &host_port[..host_port.find(']').map_or(host_port.len(), |i| i + 1)]
    } else {
        host_port.split(':').next().unwrap_or(host_port)
    };
    (!host.is_empty() && !host.contains('{')).then_some(host)
}

/// String literals on a line.
fn literals(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

/// A literal that is an IPv4 address or `host:port`, as a host to check.
fn literal_host(lit: &str) -> Option<&str> {
    let host = lit.rsplit_once(':').map_or(lit, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() {
            h
        } else {
            lit
        }
    });
    let ipv4 = host.split('.').count() == 4 && host.split('.').all(|o| o.parse::<u8>().is_ok());
    (ipv4 || host != lit).then_some(host)
}

/// Non-loopback hosts in test code: `http(s)://` URLs anywhere, and literal
/// addresses where a connection is made (connect, bind, endpoints).
fn non_loopback_hosts(files: &[(PathBuf, String)]) -> Vec<String> {
    const CONNECTING: [&str; 6] = [
        "connect(",
        "bind(",
        "TcpStream",
        "endpoint_url(",
        "AWS_ENDPOINT_URL",
        "SocketAddr",
    ];
    let mut found = vec![];
    for (path, text) in files {
        for (n, line) in code_lines(text) {
            for scheme in ["http://", "https://"] {
                for (at, _) in line.match_indices(scheme) {
                    let url = &line[at..];
                    if IDENTIFIER_URLS.iter().any(|i| url.starts_with(i)) {
                        continue;
                    }
                    // A single-label name (`http://x`) is a parsing fixture.
                    if let Some(host) = url_host(&url[scheme.len()..]) {
                        if !is_loopback(host) && (host.contains('.') || host.contains(':')) {
                            found.push(format!("{}:{n}: {scheme}{host}", path.display()));
                        }
                    }
                }
            }
            if CONNECTING.iter().any(|c| line.contains(c)) {
                for host in literals(line).into_iter().filter_map(literal_host) {
                    if !is_loopback(host) {
                        found.push(format!("{}:{n}: connects to {host}", path.display()));
                    }
                }
            }
        }
    }
    found
}

/// Test code: every crate's `tests/`, and unit-test files under `src/`
/// (not this file, whose deliberate violations are data).
fn test_sources() -> Vec<(PathBuf, String)> {
    let mut files = vec![];
    for dir in std::fs::read_dir(workspace().join("crates"))
        .expect("crates")
        .flatten()
    {
        let krate = format!("crates/{}", dir.file_name().to_string_lossy());
        files.extend(source_files(&format!("{krate}/tests")));
        files.extend(
            source_files(&format!("{krate}/src"))
                .into_iter()
                .filter(|(p, text)| {
                    p.file_name()
                        .is_some_and(|f| f.to_string_lossy().contains("test"))
                        || text.contains("#[cfg(test)]")
                }),
        );
    }
    files.retain(|(p, _)| !p.ends_with("cairn-cli/tests/cli/architecture.rs"));
    files
}

fn crate_sources(krate: &str) -> Vec<(PathBuf, String)> {
    source_files(&format!("crates/{krate}/src"))
}

#[track_caller]
fn assert_clean(what: &str, found: Vec<String>) {
    assert!(found.is_empty(), "{what}:\n{}", found.join("\n"));
}

#[test]
fn the_core_does_no_io() {
    let meta = metadata();
    assert_clean(
        "IO dependencies of the core",
        io_dependencies_of_the_core(&meta),
    );
    assert_clean(
        "IO in the core's sources",
        io_in_the_core_sources(&crate_sources(IO_FREE)),
    );
}

#[test]
fn only_the_provider_and_the_s3_backend_link_the_aws_sdk() {
    assert_clean(
        "aws-sdk outside cairn-aws and cairn-backend-s3",
        aws_sdk_outside_providers(&metadata()),
    );
}

#[test]
fn only_the_cli_renders_reports() {
    let meta = metadata();
    let closure = workspace_closure(&meta, "cairn-cli");
    assert!(
        closure.contains(&"cairn-config") && closure.contains(&"cairn-core"),
        "{closure:?}"
    );
    assert_clean(
        "report rendering outside cairn-cli",
        rendering_outside_the_cli(&meta, &crate_sources),
    );
}

#[test]
fn tests_reach_only_loopback() {
    let files = test_sources();
    assert!(files.len() >= 30, "test sources found: {}", files.len());
    assert_clean("non-loopback hosts in tests", non_loopback_hosts(&files));
}

/// Every check above reports a deliberate violation.
#[test]
fn each_invariant_check_catches_a_violation() {
    let meta = metadata();
    let mut broken = meta.clone();
    let add_dep = |meta: &mut Json, krate: &str, dep: Json| {
        let p = meta["packages"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|p| p["name"] == krate)
            .unwrap();
        p["dependencies"].as_array_mut().unwrap().push(dep);
    };
    let dep = |name: &str, features: &[&str]| serde_json::json!({"name": name, "kind": null, "features": features});
    add_dep(&mut broken, "cairn-core", dep("sled", &[]));
    add_dep(&mut broken, "cairn-verify", dep("aws-sdk-kms", &[]));
    add_dep(&mut broken, "cairn-config", dep("miette", &["fancy"]));
    assert_eq!(
        io_dependencies_of_the_core(&broken),
        ["cairn-core depends on sled"]
    );
    assert_eq!(
        aws_sdk_outside_providers(&broken),
        ["cairn-verify links aws-sdk-kms"]
    );
    let no_sources = |_: &str| vec![];
    assert_eq!(
        rendering_outside_the_cli(&broken, &no_sources),
        ["cairn-config enables miette's `fancy`"]
    );
    let rendering = |krate: &str| {
        if krate == "cairn-policy" {
            vec![(
                PathBuf::from("policy.rs"),
                "let h = miette::GraphicalReportHandler::new();".to_string(),
            )]
        } else {
            vec![]
        }
    };
    assert_eq!(
        rendering_outside_the_cli(&meta, &rendering),
        ["policy.rs:1: `GraphicalReportHandler` in cairn-policy"]
    );
    let core = vec![(
        PathBuf::from("lib.rs"),
        "// std::fs in a comment\nlet f = std::fs::read(p);".to_string(),
    )];
    assert_eq!(
        io_in_the_core_sources(&core),
        ["lib.rs:2: `std::fs` in cairn-core"]
    );
    let tests = vec![(
        PathBuf::from("t.rs"),
        [
            r#"let ok = format!("http://127.0.0.1:{port}");"#,
            r#"let computed = format!("http://{}", addr);"#,
            r#"let s = sdk_config("https://kms.us-east-1.amazonaws.com").await;"#,
            r#"let c = TcpStream::connect(("10.0.0.5", 6379));"#,
            r#"let l = TcpListener::bind("0.0.0.0:8080");"#,
            r#"let schema = "https://json-schema.org/draft/2020-12/schema";"#,
            r#"let cidr = "10.0.0.0/16";"#,
            r#"assert_eq!(parse("http://x"), None);"#,
        ]
        .join("\n"),
    )];
    assert_eq!(
        non_loopback_hosts(&tests),
        [
            "t.rs:3: https://kms.us-east-1.amazonaws.com",
            "t.rs:4: connects to 10.0.0.5",
            "t.rs:5: connects to 0.0.0.0",
        ]
    );
}
