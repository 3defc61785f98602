//! A stable-Rust mutation fuzzer for cairn's input path.
//!
//! cargo-fuzz needs a nightly toolchain, so this is a coverage-less fuzzer:
//! inputs are mutated byte-, token- and line-wise (with a dictionary taken
//! from the seeds and the resource schemas) and run through
//!
//! ```text
//! bytes ─▶ cairn_config::load_stack_layered ─▶ cairn_core::validate::validate
//!       ─▶ cairn_policy::evaluate ─▶ cairn_core::plan::plan (empty state)
//!       ─▶ plan JSON, and every diagnostic rendered by miette
//! ```
//!
//! twice: once as a stack or environment file (whose `template:` may name
//! the real Redis template), once as the template of the prod environment
//! file. Without coverage, "interesting" means a new *outcome feature*: a
//! diagnostic code not seen before (per mode and stage), a new plan shape
//! (the set of actions on resource types in its steps), a new power-of-two
//! bucket of problem or step counts. Such inputs join the in-memory corpus and, small ones, the
//! on-disk corpus (capped, commit-friendly). A panic anywhere is caught
//! (`catch_unwind`) and its input saved under the crash directory.

use cairn_core::diag::Problems;
use cairn_core::plan::{self, PlanOptions};
use cairn_core::{Registry, StackState, Value};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The workspace root (this crate is `crates/cairn-fuzz`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.join("../..").canonicalize().unwrap_or(here)
}

/// How to fuzz.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop after this long.
    pub duration: Duration,
    /// Stop after this many executions, if set.
    pub max_execs: Option<u64>,
    /// Seeds the RNG; the same seed, corpus and execution count give the same inputs.
    pub seed: u64,
    /// Directories whose `*.yaml` files seed the corpus.
    pub seed_dirs: Vec<PathBuf>,
    /// Interesting inputs are read from and saved here (`None`: never written).
    pub corpus_dir: Option<PathBuf>,
    /// Crashing inputs are saved here, with the panic message beside them.
    pub crash_dir: PathBuf,
    /// At most this many files in `corpus_dir`.
    pub max_corpus_files: usize,
    /// Only inputs up to this size are saved to `corpus_dir`.
    pub max_saved_len: usize,
    /// Mutated inputs are cut to this size.
    pub max_len: usize,
    /// An execution slower than this is reported (and saved beside the crashes).
    pub slow_after: Duration,
    /// Print progress every this often (`None`: silent).
    pub progress_every: Option<Duration>,
}

impl Options {
    /// The defaults used by `cargo run -p cairn-fuzz`: seeds from
    /// `tests/corpus`, `tests/stacks` and `stacks`, corpus and crashes under
    /// `crates/cairn-fuzz/`.
    pub fn standard(duration: Duration) -> Options {
        let root = workspace_root();
        let here = root.join("crates/cairn-fuzz");
        Options {
            duration,
            max_execs: None,
            seed: 0x00C0_FFEE,
            seed_dirs: vec![
                root.join("tests/corpus"),
                root.join("tests/stacks"),
                root.join("stacks"),
            ],
            corpus_dir: Some(here.join("corpus")),
            crash_dir: here.join("crashes"),
            max_corpus_files: 200,
            max_saved_len: 4096,
            max_len: 64 * 1024,
            slow_after: Duration::from_secs(1),
            progress_every: Some(Duration::from_secs(10)),
        }
    }
}

/// A caught panic.
#[derive(Debug, Clone)]
pub struct Crash {
    pub input: PathBuf,
    pub message: String,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub executions: u64,
    pub elapsed: Duration,
    pub seeds: usize,
    pub crashes: Vec<Crash>,
    /// Executions that panicked (several may share one saved crash).
    pub crashing_executions: u64,
    pub slow: Vec<(PathBuf, Duration)>,
    pub slowest: Duration,
    pub corpus_size: usize,
    pub saved: usize,
    pub features: usize,
    pub largest_input: usize,
    /// Executions whose input loaded (as a stack file or as a template).
    pub loaded: u64,
    /// Executions that produced a plan.
    pub planned: u64,
}

impl Report {
    pub fn execs_per_sec(&self) -> f64 {
        self.executions as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "executions: {}\nexecs/s: {:.0}\nelapsed: {:.1}s\ncrashes: {} ({} crashing executions)\nloaded: {} executions\nplanned: {} executions\nslow inputs (>1 s): {}\nslowest execution: {:.1} ms\nseeds: {}\ncorpus: {} inputs ({} saved this run)\nfeatures: {}\nlargest input: {} bytes",
            self.executions,
            self.execs_per_sec(),
            self.elapsed.as_secs_f64(),
            self.crashes.len(),
            self.crashing_executions,
            self.loaded,
            self.planned,
            self.slow.len(),
            self.slowest.as_secs_f64() * 1000.0,
            self.seeds,
            self.corpus_size,
            self.saved,
            self.features,
            self.largest_input,
        )
    }
}

// ------------------------------------------------------------------ target

/// The code under test, set up once.
pub struct Target {
    registry: Registry,
    template: Vec<u8>,
    /// `stacks/prod.yaml` with its template renamed to [`FUZZ_TEMPLATE`].
    env_file: Vec<u8>,
}

const TEMPLATE: &str = "redis-cache.template.yaml";
const FUZZ_TEMPLATE: &str = "fuzz.template.yaml";

impl Target {
    pub fn new() -> Target {
        let root = workspace_root();
        let mut registry = Registry::new();
        cairn_builtin::register(&mut registry);
        cairn_aws::register_lazy(&mut registry, None);
        let template = std::fs::read(root.join("stacks").join(TEMPLATE)).unwrap_or_default();
        let env_file = std::fs::read_to_string(root.join("stacks/prod.yaml"))
            .unwrap_or_default()
            .replace(TEMPLATE, FUZZ_TEMPLATE)
            .into_bytes();
        Target {
            registry,
            template,
            env_file,
        }
    }

    /// Every string the resource schemas know (property names, enum values, types).
    pub fn schema_words(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        fn walk(v: &serde_json::Value, out: &mut BTreeSet<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        if !k.starts_with('$') && k.len() < 60 {
                            out.insert(k.clone());
                        }
                        walk(v, out);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                serde_json::Value::String(s) if s.len() < 60 && !s.contains(' ') => {
                    out.insert(s.clone());
                }
                _ => {}
            }
        }
        walk(&cairn_config::json_schema(&self.registry), &mut out);
        out.into_iter().collect()
    }

    /// Runs one input through the whole path, both as a stack file and as a
    /// template; returns its outcome features. Panics propagate.
    pub fn run(&self, input: &[u8]) -> BTreeSet<String> {
        let mut features = BTreeSet::new();
        let config: BTreeMap<String, Value> = BTreeMap::new();
        let real_template = |name: &str| {
            if name == TEMPLATE {
                Ok(self.template.clone())
            } else {
                Err(format!("no such file: {name}"))
            }
        };
        self.run_mode(
            "stack",
            "fuzz.yaml",
            input,
            &real_template,
            &config,
            &mut features,
        );
        let fuzzed_template = |name: &str| {
            if name == FUZZ_TEMPLATE {
                Ok(input.to_vec())
            } else {
                Err(format!("no such file: {name}"))
            }
        };
        self.run_mode(
            "template",
            "prod.yaml",
            &self.env_file,
            &fuzzed_template,
            &config,
            &mut features,
        );
        features
    }

    fn run_mode(
        &self,
        mode: &str,
        name: &str,
        bytes: &[u8],
        read_template: &dyn Fn(&str) -> Result<Vec<u8>, String>,
        config: &BTreeMap<String, Value>,
        features: &mut BTreeSet<String>,
    ) {
        let loaded =
            cairn_config::load_stack_layered(name, bytes, read_template, &self.registry, config);
        let (spec, warnings) = match loaded {
            Err(problems) => {
                note(features, mode, "load", &problems);
                return;
            }
            Ok(ok) => ok,
        };
        features.insert(format!("{mode}:loaded"));
        note(features, mode, "warn", &warnings);
        let validated = cairn_core::validate::validate(&spec, &self.registry);
        note(features, mode, "validate", &validated);
        let policy = cairn_policy::evaluate(&spec);
        note(features, mode, "policy", &policy);
        let state = StackState::default();
        let mut options = vec![PlanOptions::default()];
        if let Some(first) = spec.resources.first() {
            options.push(PlanOptions {
                targets: vec![first.name.clone()],
                excludes: Vec::new(),
            });
            options.push(PlanOptions {
                targets: Vec::new(),
                excludes: vec![first.name.clone()],
            });
        }
        for (i, opts) in options.iter().enumerate() {
            match plan::plan(&spec, &state, &self.registry, opts) {
                Ok(p) => {
                    let json = serde_json::to_string(&p.to_json()).unwrap_or_default();
                    std::hint::black_box(json.len());
                    // The shape: which actions on which types (not how many).
                    let shape: BTreeSet<String> = p
                        .steps
                        .iter()
                        .map(|s| format!("{:?}:{}", s.action, s.type_token))
                        .collect();
                    features.insert(format!("{mode}:plan{i}:{:016x}", hash(&shape)));
                    features.insert(format!("{mode}:plan{i}:steps:{}", bucket(p.steps.len())));
                    for w in &p.warnings {
                        features.insert(format!("{mode}:plan{i}:code:{}", w.code));
                    }
                    let warnings = Problems {
                        file: Some(name.to_string()),
                        problems: p.warnings.clone(),
                    };
                    render(&warnings);
                }
                Err(problems) => note(features, mode, &format!("plan{i}"), &problems),
            }
        }
    }
}

impl Default for Target {
    fn default() -> Self {
        Target::new()
    }
}

fn note(features: &mut BTreeSet<String>, mode: &str, stage: &str, problems: &Problems) {
    features.insert(format!(
        "{mode}:{stage}:n:{}",
        bucket(problems.problems.len())
    ));
    for p in &problems.problems {
        features.insert(format!("{mode}:{stage}:code:{}", p.code));
    }
    if !problems.problems.is_empty() {
        render(problems);
    }
}

/// Renders diagnostics the way the CLI does (miette's graphical handler).
fn render(problems: &Problems) {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut out = String::new();
    let _ = handler.render_report(&mut out, problems);
    std::hint::black_box(out.len());
    std::hint::black_box(problems.to_string().len());
}

fn bucket(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

fn hash<T: Hash + ?Sized>(t: &T) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

// ------------------------------------------------------------------ mutation

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Scalars that tend to break parsers and type checks.
const VALUES: &[&str] = &[
    "",
    "''",
    "\"\"",
    "~",
    "null",
    "true",
    "no",
    "yes",
    "0",
    "-1",
    "-0",
    "65536",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1e309",
    "-1e309",
    ".nan",
    ".inf",
    "0x7f",
    "0o17",
    "1_000",
    "3.5",
    "\"${}\"",
    "${",
    "$${x}",
    "${redisKey}",
    "${redisKey.arn}",
    "${redisKey.arn.x}",
    "${redisKey.keyId}",
    "${missing.x}",
    "${environment}",
    "${network}",
    "${network.subnetIds[0]}",
    "${network.subnetIds[99]}",
    "${network.subnetIds[-1]}",
    "${redis.port}",
    "${redisAuthToken.result}",
    "${a${b}}",
    "[]",
    "{}",
    "[a, b]",
    "{a: 1}",
    "[${redisKey.arn}]",
    "!!binary aGk=",
    "!!int x",
    "!!str 1",
    "!!map {}",
    "!secret x",
    "&anchor x",
    "*anchor",
    "*nope",
    "\"\\u0000\"",
    "\"\\uD800\"",
    "é",
    "日本語",
    "\u{202e}abc",
    "\u{feff}",
    "|\n  block\n",
    ">-\n  folded\n",
    "\"unterminated",
    "'it''s'",
    "aws:kms:Key",
    "aws:elasticache:ReplicationGroup",
    "random:Password",
    "core:Data",
    "aws:nope:Thing",
];

/// Structural snippets: nesting, aliases, documents, tags.
const SNIPPETS: &[&str] = &[
    "\n---\n",
    "\n...\n",
    "\n%YAML 1.2\n---\n",
    "[[[[[[[[[[[[[[[[",
    "{a: {a: {a: {a: {a: {a: {",
    "- - - - - - - - - - - - -",
    "&a [*a, *a, *a, *a]",
    "a: &x [1, 2]\nb: [*x, *x, *x, *x, *x, *x]\n",
    "? complex\n: key\n",
    "<<: {a: 1}\n",
    "\ndependsOn: [redisKey, redisKey]\n",
    "\n    options:\n      protect: true\n      retainOnDelete: true\n      dependsOn: [redis]\n",
    "\n    options:\n      import: ${network.vpcId}\n",
    "\n  extra:\n    type: core:Data\n    properties:\n      input: ${extra.output}\n",
    "\n  pw:\n    type: random:Password\n    properties:\n      length: 10\n",
    "\noutputs:\n  x: ${redisKey.arn}\n",
    "\nconfig:\n  x:\n    type: string\n    default: 1\n",
    "\npolicy:\n  waivers:\n    - rule: CAIRN-POL-007\n      resource: redis\n      reason: because\n",
    "\t",
    "\r\n",
    "\0",
    "# comment\n",
];

struct Mutator {
    rng: Rng,
    dict: Vec<Vec<u8>>,
    max_len: usize,
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

impl Mutator {
    fn token(&mut self) -> Vec<u8> {
        match self.rng.below(3) {
            0 => VALUES[self.rng.below(VALUES.len())].as_bytes().to_vec(),
            1 => SNIPPETS[self.rng.below(SNIPPETS.len())].as_bytes().to_vec(),
            _ if !self.dict.is_empty() => self.dict[self.rng.below(self.dict.len())].clone(),
            _ => b"x".to_vec(),
        }
    }

    fn pos(&mut self, data: &[u8]) -> usize {
        self.rng.below(data.len() + 1)
    }

    fn mutate(&mut self, base: &[u8], other: &[u8]) -> Vec<u8> {
        let mut data = base.to_vec();
        // Mostly one or two changes, sometimes a burst.
        let max = if self.rng.chance(8) { 12 } else { 2 };
        let rounds = 1 + self.rng.below(max);
        for _ in 0..rounds {
            self.once(&mut data, other);
        }
        data.truncate(self.max_len);
        data
    }

    fn once(&mut self, data: &mut Vec<u8>, other: &[u8]) {
        const BYTES: &[u8] = b"\0\xff\n :-{}[]\"'$&*!#|>\t,?%@`\\\x80\xc3\xa9";
        match self.rng.below(15) {
            0 if !data.is_empty() => {
                let i = self.rng.below(data.len());
                data[i] ^= 1 << self.rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = self.rng.below(data.len());
                data[i] = BYTES[self.rng.below(BYTES.len())];
            }
            2 if !data.is_empty() => {
                let i = self.rng.below(data.len());
                let n = 1 + self.rng.below(16.min(data.len() - i));
                data.drain(i..i + n);
            }
            3 => {
                let t = self.token();
                let i = self.pos(data);
                data.splice(i..i, t);
            }
            4 if !data.is_empty() => {
                let i = self.rng.below(data.len());
                let n = 1 + self.rng.below(64.min(data.len() - i));
                let chunk = data[i..i + n].to_vec();
                let at = self.pos(data);
                data.splice(at..at, chunk);
            }
            5..=9 => self.line_op(data),
            10 => {
                // Crossover: lines of another input.
                let theirs = lines(other);
                if !theirs.is_empty() {
                    let a = self.rng.below(theirs.len());
                    let b = (a + 1 + self.rng.below(8)).min(theirs.len());
                    let chunk: Vec<u8> = theirs[a..b].concat();
                    let mine = lines(data);
                    let at = self.rng.below(mine.len() + 1);
                    let mut out: Vec<u8> = mine[..at].concat();
                    out.extend(chunk);
                    out.extend(mine[at..].concat());
                    *data = out;
                }
            }
            11 => {
                // Replace a value after `: ` on some line.
                let mine: Vec<Vec<u8>> = lines(data).into_iter().map(<[u8]>::to_vec).collect();
                if mine.is_empty() {
                    return;
                }
                let at = self.rng.below(mine.len());
                let line = &mine[at];
                if let Some(colon) = find(line, b": ") {
                    let mut new = line[..colon + 2].to_vec();
                    new.extend(self.token());
                    if line.ends_with(b"\n") {
                        new.push(b'\n');
                    }
                    let mut out: Vec<u8> = mine[..at].concat();
                    out.extend(new);
                    out.extend(mine[at + 1..].concat());
                    *data = out;
                }
            }
            12 => {
                // Replace a word with a dictionary word.
                if data.is_empty() {
                    return;
                }
                let i = self.rng.below(data.len());
                let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
                if !word(data[i]) {
                    return;
                }
                let mut s = i;
                while s > 0 && word(data[s - 1]) {
                    s -= 1;
                }
                let mut e = i;
                while e < data.len() && word(data[e]) {
                    e += 1;
                }
                let t = self.token();
                data.splice(s..e, t);
            }
            13 => {
                // Repeat a line many times.
                let mine = lines(data);
                if mine.is_empty() {
                    return;
                }
                let at = self.rng.below(mine.len());
                let times = 2 + self.rng.below(200);
                let line = mine[at].to_vec();
                let mut out: Vec<u8> = mine[..at].concat();
                for _ in 0..times {
                    out.extend_from_slice(&line);
                }
                out.extend(mine[at..].concat());
                *data = out;
            }
            _ => {
                // Deep nesting of a random depth.
                let depth = 1 + self.rng.below(300);
                let (open, close) = if self.rng.chance(2) {
                    ("[", "]")
                } else {
                    ("{a: ", "}")
                };
                let mut t = open.repeat(depth);
                if self.rng.chance(2) {
                    t.push_str(&close.repeat(depth));
                }
                let i = self.pos(data);
                data.splice(i..i, t.into_bytes());
            }
        }
    }

    fn line_op(&mut self, data: &mut Vec<u8>) {
        let mut mine: Vec<Vec<u8>> = lines(data).into_iter().map(<[u8]>::to_vec).collect();
        if mine.is_empty() {
            return;
        }
        let a = self.rng.below(mine.len());
        let b = self.rng.below(mine.len());
        match self.rng.below(5) {
            0 => {
                mine.remove(a);
            }
            1 => {
                let l = mine[a].clone();
                mine.insert(b, l);
            }
            2 => mine.swap(a, b),
            3 => {
                // Indent or dedent.
                let l = &mut mine[a];
                match self.rng.below(3) {
                    0 => {
                        l.splice(0..0, *b"  ");
                    }
                    1 if l.starts_with(b"  ") => {
                        l.drain(..2);
                    }
                    _ => {
                        l.splice(0..0, *b"\t");
                    }
                }
            }
            _ => {
                // Move a line's content to another indentation level's line.
                let l = mine.remove(a);
                let at = self.rng.below(mine.len() + 1);
                mine.insert(at, l);
            }
        }
        *data = mine.concat();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Words of the seeds, for the dictionary.
fn words(data: &[u8], out: &mut BTreeSet<Vec<u8>>) {
    for w in data.split(|b| b.is_ascii_whitespace() || b"[],{}\"'".contains(b)) {
        if (2..=40).contains(&w.len()) && out.len() < 4000 {
            out.insert(w.to_vec());
        }
    }
}

// ------------------------------------------------------------------ driver

static PANIC: Mutex<Option<String>> = Mutex::new(None);

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Runs one input, catching a panic; `Err` holds its message and location.
pub fn run_caught(target: &Target, input: &[u8]) -> Result<BTreeSet<String>, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| target.run(input))).map_err(|p| {
        PANIC
            .lock()
            .ok()
            .and_then(|mut m| m.take())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Swaps in a panic hook that records the message instead of printing it.
struct QuietPanics {
    previous: Option<PanicHook>,
}

impl QuietPanics {
    fn install() -> QuietPanics {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            if let Ok(mut m) = PANIC.lock() {
                *m = Some(format!("{message}{location}"));
            }
        }));
        QuietPanics {
            previous: Some(previous),
        }
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        if let Some(p) = self.previous.take() {
            std::panic::set_hook(p);
        }
    }
}

/// Replays files (e.g. saved crashes and corpus); returns the ones that panic.
pub fn replay(target: &Target, files: &[PathBuf]) -> Vec<Crash> {
    let _quiet = QuietPanics::install();
    files
        .iter()
        .filter_map(|f| {
            let bytes = std::fs::read(f).ok()?;
            run_caught(target, &bytes).err().map(|message| Crash {
                input: f.clone(),
                message,
            })
        })
        .collect()
}

/// The saved corpus and crash files of a run's options.
pub fn saved_inputs(opts: &Options) -> Vec<PathBuf> {
    let mut files = yaml_files(&opts.crash_dir);
    if let Some(dir) = &opts.corpus_dir {
        files.extend(yaml_files(dir));
    }
    files
}

/// The fuzzer's running state.
struct Session<'a> {
    opts: &'a Options,
    target: Target,
    corpus: Vec<Vec<u8>>,
    /// Indexes of corpus inputs that load (mutating them reaches the planner).
    loading: Vec<usize>,
    features: HashSet<String>,
    crash_sites: HashSet<String>,
    saved_files: usize,
    report: Report,
}

impl Session<'_> {
    fn execute(&mut self, input: &[u8], is_seed: bool) {
        let opts = self.opts;
        let t = Instant::now();
        let outcome = run_caught(&self.target, input);
        let took = t.elapsed();
        let report = &mut self.report;
        report.executions += 1;
        report.slowest = report.slowest.max(took);
        match outcome {
            Ok(found) => {
                let loaded = found.iter().any(|f| f.ends_with(":loaded"));
                if loaded {
                    report.loaded += 1;
                }
                if found.iter().any(|f| f.contains(":plan0:steps:")) {
                    report.planned += 1;
                }
                let mut new = 0;
                for f in found {
                    if self.features.insert(f) {
                        new += 1;
                    }
                }
                if took > opts.slow_after && report.slow.len() < 10 {
                    let path = save(&opts.crash_dir, "slow", input, &format!("{took:?}"));
                    report.slow.push((path, took));
                }
                if new > 0 || is_seed {
                    if loaded {
                        self.loading.push(self.corpus.len());
                    }
                    self.corpus.push(input.to_vec());
                    report.largest_input = report.largest_input.max(input.len());
                    if let (true, Some(dir)) = (new > 0 && !is_seed, &opts.corpus_dir) {
                        if input.len() <= opts.max_saved_len
                            && self.saved_files < opts.max_corpus_files
                        {
                            save(dir, "", input, "");
                            self.saved_files += 1;
                            report.saved += 1;
                        }
                    }
                }
            }
            Err(message) => {
                report.crashing_executions += 1;
                let site = message.lines().next().unwrap_or("").to_string();
                if self.crash_sites.insert(site) {
                    let path = save(&opts.crash_dir, "crash", input, &message);
                    report.crashes.push(Crash {
                        input: path,
                        message,
                    });
                }
            }
        }
    }
}

/// Fuzzes for `opts.duration` (or `opts.max_execs`).
pub fn fuzz(opts: &Options) -> Report {
    let started = Instant::now();
    let _quiet = QuietPanics::install();
    let mut rng = Rng(opts.seed);
    let mut session = Session {
        opts,
        target: Target::new(),
        corpus: Vec::new(),
        loading: Vec::new(),
        features: HashSet::new(),
        crash_sites: HashSet::new(),
        saved_files: 0,
        report: Report::default(),
    };

    let mut seed_files = Vec::new();
    for dir in &opts.seed_dirs {
        seed_files.extend(yaml_files(dir));
    }
    let saved_before = opts
        .corpus_dir
        .as_deref()
        .map(yaml_files)
        .unwrap_or_default();
    session.saved_files = saved_before.len();
    seed_files.extend(saved_before);
    let mut dict = BTreeSet::new();
    for w in session.target.schema_words() {
        dict.insert(w.into_bytes());
    }
    for f in &seed_files {
        if let Ok(bytes) = std::fs::read(f) {
            words(&bytes, &mut dict);
            session.execute(&bytes, true);
            session.report.seeds += 1;
        }
    }
    if session.corpus.is_empty() {
        session.corpus.push(b"name: x\nresources: {}\n".to_vec());
    }
    let mut mutator = Mutator {
        rng: Rng(opts.seed ^ 0xA5A5_A5A5),
        dict: dict.into_iter().collect(),
        max_len: opts.max_len,
    };
    let mut last_progress = Instant::now();
    loop {
        if started.elapsed() >= opts.duration
            || opts
                .max_execs
                .is_some_and(|m| session.report.executions >= m)
        {
            break;
        }
        let n = session.corpus.len();
        // Mostly inputs that load (so mutants reach validation, policy and
        // the planner), else recent finds, else anything.
        let base = match rng.below(10) {
            0..=4 if !session.loading.is_empty() => {
                session.loading[rng.below(session.loading.len())]
            }
            5..=6 if n > 32 => n - 1 - rng.below(32),
            _ => rng.below(n),
        };
        let other = rng.below(n);
        let input = mutator.mutate(&session.corpus[base], &session.corpus[other]);
        session.execute(&input, false);
        if let Some(every) = opts.progress_every {
            if last_progress.elapsed() >= every {
                last_progress = Instant::now();
                eprintln!(
                    "fuzz: {:>6.0}s  execs {}  ({:.0}/s)  corpus {}  features {}  crashes {}",
                    started.elapsed().as_secs_f64(),
                    session.report.executions,
                    session.report.executions as f64 / started.elapsed().as_secs_f64(),
                    session.corpus.len(),
                    session.features.len(),
                    session.report.crashes.len()
                );
            }
        }
    }
    let mut report = session.report;
    report.elapsed = started.elapsed();
    report.corpus_size = session.corpus.len();
    report.features = session.features.len();
    report
}

/// Writes `input` as `<prefix>-<hash>.yaml` (and the note as `.txt`).
fn save(dir: &Path, prefix: &str, input: &[u8], note: &str) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let name = if prefix.is_empty() {
        format!("{:016x}", hash(input))
    } else {
        format!("{prefix}-{:016x}", hash(input))
    };
    let path = dir.join(format!("{name}.yaml"));
    let _ = std::fs::write(&path, input);
    if !note.is_empty() {
        let _ = std::fs::write(dir.join(format!("{name}.txt")), note);
    }
    path
}
