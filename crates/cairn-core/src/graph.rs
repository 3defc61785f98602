//! The dependency graph of a stack (petgraph).
//!
//! Nodes are resources in source order; an edge runs from a dependency to
//! the resource that depends on it, so a topological order lists every
//! resource after everything it needs. Edges come from `${res.output}`
//! references anywhere in a resource's properties and from
//! `options.dependsOn`. References whose root is not a resource of the
//! stack (config variables, typos the loader already reported) are ignored.

use crate::diag::Problem;
use crate::interp;
use crate::spec::StackSpec;
use crate::state::StackState;
use crate::value::{PropertyPath, Value};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};

/// Code of the problem reported for a dependency cycle.
pub const CYCLE_CODE: &str = "cairn::graph::cycle";

/// Who depends on whom, by logical resource name.
#[derive(Clone, Debug, Default)]
pub struct DependencyGraph {
    /// Node weights are resource names; node index `i` is the i-th resource
    /// in source order. Edge `a -> b` means `b` depends on `a`.
    graph: DiGraph<String, ()>,
    index: HashMap<String, NodeIndex>,
}

impl DependencyGraph {
    /// Builds the graph of a stack; fails when the resources form a cycle.
    // The error type is the shared `Problem`, as the brief specifies.
    #[allow(clippy::result_large_err)]
    pub fn build(spec: &StackSpec) -> Result<DependencyGraph, Problem> {
        let g = Self::from_parts(spec.resources.iter().map(|r| {
            let mut deps = Vec::new();
            for v in r.properties.values() {
                collect_refs(v, &mut deps);
            }
            deps.extend(r.options.depends_on.iter().cloned());
            (r.name.as_str(), deps)
        }));
        match g.first_cycle() {
            None => Ok(g),
            Some((cycle, others)) => {
                let chain: Vec<&str> = cycle
                    .iter()
                    .chain(cycle.first())
                    .map(|n| g.graph[*n].as_str())
                    .collect();
                let first = &g.graph[cycle[0]];
                let span = spec
                    .resource(first)
                    .and_then(|r| r.spans.get(&PropertyPath::root()).copied());
                let mut message = format!("dependency cycle: {}", chain.join(" → "));
                if others > 0 {
                    message.push_str(&format!(
                        " (and {others} more cycle{})",
                        if others == 1 { "" } else { "s" }
                    ));
                }
                Err(Problem::error(CYCLE_CODE, message)
                    .at(span, format!("`{first}` is part of this cycle"))
                    .help(
                        "each arrow is a `${resource.output}` reference or a dependsOn entry; \
                         remove one of them to break the cycle",
                    )
                    .in_source(spec.source.as_ref()))
            }
        }
    }

    /// The graph recorded in state (`ResourceState::dependencies`). Never
    /// fails: recorded state is acyclic when written by the engine, and a
    /// corrupt cycle only loses ordering (see [`topo_order`](Self::topo_order)).
    pub fn from_state(state: &StackState) -> DependencyGraph {
        Self::from_parts(
            state
                .resources
                .iter()
                .map(|(name, r)| (name.as_str(), r.dependencies.clone())),
        )
    }

    /// Each named node depends on every listed name that is also a node.
    /// A repeated name is one node with the union of the dependencies.
    fn from_parts<'a>(nodes: impl Iterator<Item = (&'a str, Vec<String>)>) -> DependencyGraph {
        let mut graph = DiGraph::new();
        let mut index: HashMap<String, NodeIndex> = HashMap::new();
        let nodes: Vec<(&str, Vec<String>)> = nodes.collect();
        for (name, _) in &nodes {
            if !index.contains_key(*name) {
                let n = graph.add_node(name.to_string());
                index.insert(name.to_string(), n);
            }
        }
        let mut seen = BTreeSet::new();
        for (name, ds) in nodes {
            let to = index[name];
            for d in ds {
                if let Some(&from) = index.get(&d) {
                    if seen.insert((from, to)) {
                        graph.add_edge(from, to, ());
                    }
                }
            }
        }
        DependencyGraph { graph, index }
    }

    /// The first cycle (members in dependency order, starting with the one
    /// written first) and how many further cycles there are.
    fn first_cycle(&self) -> Option<(Vec<NodeIndex>, usize)> {
        let mut cyclic: Vec<Vec<NodeIndex>> = petgraph::algo::tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| scc.len() > 1 || self.graph.contains_edge(scc[0], scc[0]))
            .collect();
        if cyclic.is_empty() {
            return None;
        }
        for scc in &mut cyclic {
            scc.sort();
        }
        cyclic.sort();
        let scc = &cyclic[0];
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let start = scc[0];
        // Shortest walk start → (depends on) … → start, inside the component.
        let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut last = None;
        'bfs: while let Some(n) = queue.pop_front() {
            let mut deps: Vec<NodeIndex> = self
                .graph
                .neighbors_directed(n, Direction::Incoming)
                .filter(|d| members.contains(d))
                .collect();
            deps.sort();
            for d in deps {
                if d == start {
                    last = Some(n);
                    break 'bfs;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(d) {
                    e.insert(n);
                    queue.push_back(d);
                }
            }
        }
        let mut path = Vec::new();
        let mut cur = last?;
        while cur != start {
            path.push(cur);
            cur = *prev.get(&cur)?;
        }
        path.push(start);
        path.reverse();
        Some((path, cyclic.len() - 1))
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Resource names in source order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.graph.node_weights().map(String::as_str)
    }

    /// Every resource after all of its dependencies; ties keep source
    /// order, so the result is deterministic. Members of a (corrupt) cycle
    /// come last in source order.
    pub fn topo_order(&self) -> Vec<&str> {
        self.topo_indices()
            .into_iter()
            .map(|i| self.graph[NodeIndex::new(i)].as_str())
            .collect()
    }

    /// [`topo_order`](Self::topo_order) as source-order indices.
    pub(crate) fn topo_indices(&self) -> Vec<usize> {
        let n = self.graph.node_count();
        let mut indegree: Vec<usize> = (0..n)
            .map(|i| {
                self.graph
                    .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<usize>> = indegree
            .iter()
            .enumerate()
            .filter(|(_, d)| **d == 0)
            .map(|(i, _)| Reverse(i))
            .collect();
        let mut out = Vec::with_capacity(n);
        let mut done = vec![false; n];
        while let Some(Reverse(i)) = ready.pop() {
            out.push(i);
            done[i] = true;
            for m in self
                .graph
                .neighbors_directed(NodeIndex::new(i), Direction::Outgoing)
            {
                let m = m.index();
                indegree[m] -= 1;
                if indegree[m] == 0 {
                    ready.push(Reverse(m));
                }
            }
        }
        out.extend((0..n).filter(|i| !done[*i]));
        out
    }

    /// Source-order index of a resource.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).map(|n| n.index())
    }

    fn neighbors(&self, name: &str, dir: Direction) -> Vec<&str> {
        let Some(&n) = self.index.get(name) else {
            return Vec::new();
        };
        let mut v: Vec<NodeIndex> = self.graph.neighbors_directed(n, dir).collect();
        v.sort();
        v.into_iter().map(|m| self.graph[m].as_str()).collect()
    }

    /// What `name` depends on directly, in source order.
    pub fn dependencies(&self, name: &str) -> Vec<&str> {
        self.neighbors(name, Direction::Incoming)
    }

    /// What depends on `name` directly, in source order.
    pub fn dependents(&self, name: &str) -> Vec<&str> {
        self.neighbors(name, Direction::Outgoing)
    }

    fn closure<'a>(
        &self,
        seeds: impl IntoIterator<Item = &'a str>,
        dir: Direction,
    ) -> BTreeSet<String> {
        let mut seen: BTreeSet<NodeIndex> = BTreeSet::new();
        let mut stack: Vec<NodeIndex> = seeds
            .into_iter()
            .filter_map(|s| self.index.get(s).copied())
            .collect();
        while let Some(n) = stack.pop() {
            if seen.insert(n) {
                stack.extend(self.graph.neighbors_directed(n, dir));
            }
        }
        seen.into_iter().map(|n| self.graph[n].clone()).collect()
    }

    /// The given resources and everything they transitively depend on
    /// (what `--target` needs to exist). Unknown names are ignored.
    pub fn with_dependencies<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<String> {
        self.closure(names, Direction::Incoming)
    }

    /// The given resources and everything that transitively depends on
    /// them (what `--exclude` must also skip). Unknown names are ignored.
    pub fn with_dependents<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<String> {
        self.closure(names, Direction::Outgoing)
    }
}

/// Every reference root in a value, recursively.
pub(crate) fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.contains("${") => {
            out.extend(interp::references(s).into_iter().map(|(root, _)| root));
        }
        Value::List(l) => l.iter().for_each(|v| collect_refs(v, out)),
        Value::Map(m) => m.values().for_each(|v| collect_refs(v, out)),
        Value::Secret(inner) => collect_refs(inner, out),
        _ => {}
    }
}
