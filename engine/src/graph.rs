//! The dependency graph of a stack: which item must be known before which.
//!
//! Nodes are the stack's items (variables, locals, provider blocks, resource and data blocks,
//! outputs); an edge `a -> b` means "b refers to a" (or `depends_on` it), so a topological order
//! is an evaluation order. Resource instances (`count`/`for_each`) are not nodes: a block is
//! expanded when its node is visited, because the expansion itself may depend on other nodes.
//!
//! Cycles are diagnostics naming every node on the cycle (petgraph's `toposort` names only one;
//! `tarjan_scc` gives the whole strongly connected component).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fmt::Write as _;

use lanestack_model::BlockAddress;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::config::{RefTarget, Reference, Stack};
use crate::diag::{Diagnostic, Diagnostics, Span};

/// One item of a stack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// `variable "NAME"`
    Variable(String),
    /// `locals { NAME = ... }`
    Local(String),
    /// `provider "NAME"` (present even without a block, when a resource uses the provider)
    Provider(String),
    /// A `resource` or `data` block.
    Resource(BlockAddress),
    /// `output "NAME"`
    Output(String),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Variable(n) => write!(f, "var.{n}"),
            Node::Local(n) => write!(f, "local.{n}"),
            Node::Provider(n) => write!(f, "provider.{n}"),
            Node::Resource(a) => write!(f, "{a}"),
            Node::Output(n) => write!(f, "output.{n}"),
        }
    }
}

/// The dependency graph of a stack.
#[derive(Debug, Default)]
pub struct DepGraph {
    graph: DiGraph<Node, ()>,
    index: HashMap<Node, NodeIndex>,
    order: Vec<NodeIndex>,
    /// Where each edge comes from in the source (dependency, dependent) -> the reference.
    edge_spans: HashMap<(NodeIndex, NodeIndex), Span>,
}

impl DepGraph {
    /// Builds the graph from a loaded stack. References to items the stack does not declare
    /// are skipped here (the loader reports them). Cycles are reported as diagnostics, and
    /// the graph is then unusable for walking (its order is empty).
    pub fn build(stack: &Stack) -> (DepGraph, Diagnostics) {
        let mut g = DepGraph::default();
        let mut spans: HashMap<Node, Span> = HashMap::new();
        for (name, v) in &stack.variables {
            spans.insert(Node::Variable(name.clone()), v.span.clone());
            g.add(Node::Variable(name.clone()));
        }
        for (name, l) in &stack.locals {
            spans.insert(Node::Local(name.clone()), l.span.clone());
            g.add(Node::Local(name.clone()));
        }
        for (name, p) in &stack.providers {
            spans.insert(Node::Provider(name.clone()), p.span.clone());
            g.add(Node::Provider(name.clone()));
        }
        for (addr, r) in &stack.resources {
            spans.insert(Node::Resource(addr.clone()), r.span.clone());
            g.add(Node::Resource(addr.clone()));
            g.add(Node::Provider(addr.provider().to_owned()));
        }
        for (name, o) in &stack.outputs {
            spans.insert(Node::Output(name.clone()), o.span.clone());
            g.add(Node::Output(name.clone()));
        }

        for (name, l) in &stack.locals {
            g.depend(Node::Local(name.clone()), l.value.refs.iter(), stack);
        }
        for (name, p) in &stack.providers {
            g.depend(Node::Provider(name.clone()), p.body.refs(), stack);
        }
        for (addr, r) in &stack.resources {
            let me = Node::Resource(addr.clone());
            g.depend(me.clone(), r.refs(), stack);
            g.edge(&Node::Provider(addr.provider().to_owned()), &me);
        }
        for (name, o) in &stack.outputs {
            g.depend(Node::Output(name.clone()), o.value.refs.iter().chain(o.depends_on.iter()), stack);
        }

        let mut diags = Diagnostics::new();
        match petgraph::algo::toposort(&g.graph, None) {
            Ok(order) => g.order = order,
            Err(_) => {
                for scc in petgraph::algo::tarjan_scc(&g.graph) {
                    let is_cycle = scc.len() > 1 || g.graph.contains_edge(scc[0], scc[0]);
                    if !is_cycle {
                        continue;
                    }
                    let mut members: Vec<&Node> = scc.iter().map(|i| &g.graph[*i]).collect();
                    members.sort();
                    let names: Vec<String> = members.iter().map(ToString::to_string).collect();
                    let mut d = Diagnostic::error(
                        "lanestack::cycle",
                        format!("dependency cycle between {}", names.join(", ")),
                    )
                    .hint("break the cycle by removing one of these references or depends_on entries");
                    // Point at the references that close the ring where we have them (the
                    // reference is what the user edits), else at the member's block.
                    let in_cycle: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
                    let mut placed = members.iter().filter_map(|n| {
                        let i = g.index[*n];
                        let via = g
                            .graph
                            .neighbors_directed(i, Direction::Incoming)
                            .filter(|j| in_cycle.contains(j))
                            .filter_map(|j| g.edge_spans.get(&(j, i)).map(|s| (j, s)))
                            .min_by_key(|(_, s)| s.range.start);
                        match via {
                            Some((j, span)) => Some((span.clone(), format!("{n} refers to {}", g.graph[j]))),
                            None => spans.get(*n).map(|s| (s.clone(), format!("{n} is on the cycle"))),
                        }
                    });
                    if let Some((span, label)) = placed.next() {
                        d = d.at(span, label);
                        for (span, label) in placed {
                            d = d.related(span, label);
                        }
                    }
                    diags.push(d);
                }
            }
        }
        (g, diags)
    }

    fn add(&mut self, node: Node) -> NodeIndex {
        if let Some(i) = self.index.get(&node) {
            return *i;
        }
        let i = self.graph.add_node(node.clone());
        self.index.insert(node, i);
        i
    }

    fn edge(&mut self, from: &Node, to: &Node) -> Option<(NodeIndex, NodeIndex)> {
        let (a, b) = (*self.index.get(from)?, *self.index.get(to)?);
        if !self.graph.contains_edge(a, b) {
            self.graph.add_edge(a, b, ());
        }
        Some((a, b))
    }

    fn depend<'r>(&mut self, me: Node, refs: impl Iterator<Item = &'r Reference>, stack: &Stack) {
        for r in refs {
            let dep = match &r.target {
                RefTarget::Var(n) if stack.variables.contains_key(n) => Node::Variable(n.clone()),
                RefTarget::Local(n) if stack.locals.contains_key(n) => Node::Local(n.clone()),
                RefTarget::Resource(a) if stack.resources.contains_key(a) => Node::Resource(a.clone()),
                RefTarget::Var(_)
                | RefTarget::Local(_)
                | RefTarget::Resource(_)
                | RefTarget::Each
                | RefTarget::Count
                | RefTarget::Path
                | RefTarget::SelfRef => continue,
            };
            if let Some(key) = self.edge(&dep, &me) {
                self.edge_spans.entry(key).or_insert_with(|| r.span.clone());
            }
        }
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// True when the stack declares nothing.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Every node, in a topological order (dependencies first). Empty when the graph has a cycle.
    pub fn order(&self) -> impl Iterator<Item = &Node> {
        self.order.iter().map(|i| &self.graph[*i])
    }

    /// The nodes `node` directly depends on.
    pub fn dependencies(&self, node: &Node) -> Vec<&Node> {
        self.neighbors(node, Direction::Incoming)
    }

    /// The nodes that directly depend on `node`.
    pub fn dependents(&self, node: &Node) -> Vec<&Node> {
        self.neighbors(node, Direction::Outgoing)
    }

    fn neighbors(&self, node: &Node, dir: Direction) -> Vec<&Node> {
        let Some(i) = self.index.get(node) else { return Vec::new() };
        let mut out: Vec<&Node> = self.graph.neighbors_directed(*i, dir).map(|j| &self.graph[j]).collect();
        out.sort();
        out
    }

    /// The resource blocks `node` depends on, directly or through locals, variables, providers
    /// and outputs (what state records as a resource's `dependencies`).
    pub fn resource_dependencies(&self, node: &Node) -> Vec<BlockAddress> {
        let Some(start) = self.index.get(node) else { return Vec::new() };
        let mut seen = BTreeSet::new();
        let mut out = BTreeSet::new();
        let mut stack = vec![*start];
        while let Some(i) = stack.pop() {
            for j in self.graph.neighbors_directed(i, Direction::Incoming) {
                if !seen.insert(j) {
                    continue;
                }
                match &self.graph[j] {
                    Node::Resource(a) => {
                        out.insert(a.clone());
                    }
                    Node::Variable(_) | Node::Local(_) | Node::Provider(_) | Node::Output(_) => stack.push(j),
                }
            }
        }
        out.into_iter().collect()
    }

    /// The nodes in topological order, and for each the positions of the nodes it depends on:
    /// the shape [`crate::walk::walk`] takes.
    pub(crate) fn walk_order(&self) -> (Vec<Node>, Vec<Vec<usize>>) {
        let position: HashMap<NodeIndex, usize> =
            self.order.iter().enumerate().map(|(pos, i)| (*i, pos)).collect();
        let nodes = self.order.iter().map(|i| self.graph[*i].clone()).collect();
        let deps = self
            .order
            .iter()
            .map(|i| self.graph.neighbors_directed(*i, Direction::Incoming).map(|j| position[&j]).collect())
            .collect();
        (nodes, deps)
    }

    /// Renders the graph in Graphviz DOT, nodes and edges sorted so the output is stable.
    pub fn to_dot(&self) -> String {
        let mut nodes: Vec<&Node> = self.graph.node_weights().collect();
        nodes.sort();
        let mut edges: Vec<(&Node, &Node)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (&self.graph[a], &self.graph[b]))
            .collect();
        edges.sort();
        let mut out = String::from("digraph lanestack {\n  rankdir = \"RL\";\n  node [shape = \"box\"];\n");
        for n in nodes {
            let shape = match n {
                Node::Resource(_) => "box",
                Node::Variable(_) | Node::Local(_) | Node::Output(_) => "note",
                Node::Provider(_) => "diamond",
            };
            let _ = writeln!(out, "  \"{n}\" [shape = \"{shape}\"];");
        }
        for (a, b) in edges {
            // Edges point from the dependent to its dependency, as in `terraform graph`.
            let _ = writeln!(out, "  \"{b}\" -> \"{a}\";");
        }
        out.push_str("}\n");
        out
    }
}
