//! What a node keeps for itself: the operating system and the orchestrator.
//!
//! The spec may give a node's reserve (`reserve: { cpu, memory }`); otherwise
//! these defaults apply, per target and role. Each says where it comes from.

use serde::Serialize;

use crate::model::Node;
use crate::spec::{Cpu, Memory, Role, Target};

const MI: u64 = 1 << 20;

/// A node's reserve and where its numbers come from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reserve {
    pub cpu: Cpu,
    pub memory: Memory,
    /// `spec` when the node gives its own reserve, else the default's name.
    pub source: &'static str,
    /// Why these numbers.
    pub reason: &'static str,
}

/// The default reserve of a node of `role` in a phase of `target`.
pub fn default_reserve(target: Target, role: Role) -> Reserve {
    match (target, role) {
        (Target::Compose | Target::Swarm, Role::Manager) => Reserve {
            cpu: Cpu::from_millis(500),
            memory: Memory::from_bytes(2048 * MI),
            source: "dokploy-host",
            reason: "the OS and dockerd (about 0.5 GiB) plus Dokploy with its Traefik, PostgreSQL and Redis \
                     (about 1.5 GiB); Dokploy's installation guide asks for at least 2 GB of RAM",
        },
        (Target::Compose | Target::Swarm, Role::Worker) => Reserve {
            cpu: Cpu::from_millis(100),
            memory: Memory::from_bytes(512 * MI),
            source: "docker-host",
            reason: "the OS and dockerd, which run beside the containers and are invisible to Swarm",
        },
        (Target::K8s, Role::Manager) => Reserve {
            cpu: Cpu::from_millis(500),
            memory: Memory::from_bytes(1638 * MI),
            source: "k3s-server",
            reason: "the OS plus the k3s server with its datastore, Traefik, CoreDNS and metrics-server \
                     (about 1.6 GiB, after K3s' resource profiling); K3s reserves nothing by default, \
                     so its allocatable is the whole machine unless the plan keeps this back",
        },
        (Target::K8s, Role::Worker) => Reserve {
            cpu: Cpu::from_millis(100),
            memory: Memory::from_bytes(300 * MI),
            source: "k3s-agent",
            reason: "the OS plus the k3s agent (kubelet, containerd, flannel; about 0.3 GiB)",
        },
    }
}

/// The reserve of `node`: its own where the spec gives one, the default for the rest.
pub fn reserve_of(target: Target, node: &Node) -> Reserve {
    let default = default_reserve(target, node.role);
    match (node.reserve_cpu, node.reserve_memory) {
        (None, None) => default,
        (cpu, memory) => Reserve {
            cpu: cpu.unwrap_or(default.cpu),
            memory: memory.unwrap_or(default.memory),
            source: "spec",
            reason: "the node's own `reserve` in the spec (a resource it leaves out keeps the default)",
        },
    }
}
