//! The scaling plan: fit by each target's admission rules, placement, N+1,
//! lower bound, cost, migration, and the fit check of `topo check`.

#![allow(clippy::unwrap_used, clippy::panic)]

use crate::support::{root, topo_in};
use std::path::PathBuf;
use std::process::Command;
use topo::emit::yaml::Serialised as _;

use topo::plan::{self, Verdict};

use crate::support::specs;

fn model(text: &str) -> topo::model::Model {
    match topo::compile(text.as_bytes()) {
        Ok(compiled) => compiled.model,
        Err(diags) => panic!("spec does not compile: {:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>()),
    }
}

fn phase_plan(text: &str) -> plan::PhasePlan {
    let model = model(text);
    plan::plan_phase(&model.phases[0])
}

const GI: u64 = 1 << 30;
const MI: u64 = 1 << 20;

#[test]
fn kubernetes_allocatable_is_capacity_minus_reserve_and_replicas_spread() {
    let plan = phase_plan(
        "project: p
phases:
  1:
    name: k
    target: k8s
    nodes:
      cp: { role: manager, cpu: 4, memory: 4Gi }
      w1: { cpu: 2, memory: 2Gi }
services:
  api:
    image: api:1.0
    replicas: 5
    resources: { requests: { cpu: 100m, memory: 512Mi } }
",
    );
    let cp = plan.nodes.iter().find(|n| n.load.name == "cp").unwrap();
    assert_eq!((cp.load.allocatable_memory, cp.load.allocatable_cpu), (4 * GI - 1638 * MI, 3500));
    assert_eq!(cp.load.reserve.source, "k3s-server");
    let w1 = plan.nodes.iter().find(|n| n.load.name == "w1").unwrap();
    assert_eq!((w1.load.allocatable_memory, w1.load.reserve.source), (2 * GI - 300 * MI, "k3s-agent"));
    // Spread first (fewest replicas of the service), then the least allocated node.
    let nodes: Vec<&str> = plan.placement.iter().map(|p| p.node.as_deref().unwrap()).collect();
    assert_eq!(nodes, ["cp", "w1", "cp", "w1", "cp"]);
    // cp: 3 × 512Mi of 2446Mi; w1: 2 × 512Mi of 1748Mi → 41% free, over the 20% target.
    assert_eq!(plan.verdict, Verdict::Fits, "{:#?}", plan.reasons);
}

#[test]
fn does_not_fit_lists_the_stranded_replicas() {
    let plan = phase_plan(
        "project: p
phases:
  1:
    name: k
    target: k8s
    nodes:
      cp: { role: manager, cpu: 1, memory: 2Gi }
      w1: { cpu: 2, memory: 2Gi }
      w2: { cpu: 2, memory: 1Gi }
services:
  api:
    image: api:1.0
    replicas: 5
    resources: { requests: { cpu: 100m, memory: 512Mi } }
",
    );
    // cp: 2048−1638 = 410Mi → none; w1: 2048−300 = 1748Mi → 3 replicas (1536Mi), 212Mi left;
    // w2: 724Mi → 1 replica, 212Mi left.
    assert_eq!(plan.verdict, Verdict::DoesNotFit);
    let stranded: Vec<&str> = plan.reasons.iter().map(String::as_str).collect();
    assert_eq!(
        stranded,
        [
            "api replica 5: needs 512Mi memory, 410Mi free on cp; needs 512Mi memory, 212Mi free on w1; \
          needs 512Mi memory, 212Mi free on w2",
            "w1: 12% of memory free after requests, under the 20% headroom target"
        ],
        "{:#?}",
        plan.reasons
    );
    let unplaced: Vec<u32> = plan.placement.iter().filter(|p| p.node.is_none()).map(|p| p.replica).collect();
    assert_eq!(unplaced, [5]);
}

#[test]
fn swarm_admits_on_reservations_against_the_total_and_says_which_order_avoids_stranding() {
    let text = "project: p
phases:
  1:
    name: s
    target: swarm
    nodes:
      mgr: { role: manager, cpu: 4, memory: 8Gi }
      n1: { cpu: 2, memory: 4Gi }
      n2: { cpu: 2, memory: 4Gi }
services:
  aaa:
    image: a:1.0
    replicas: 2
    placement: { role: worker }
    resources: { requests: { memory: 1Gi } }
  zzz:
    image: z:1.0
    placement: { role: worker }
    resources: { requests: { memory: 3584Mi } }
";
    let plan = phase_plan(text);
    // Name order: aaa spreads one per worker (3Gi free each), then zzz (3.5Gi) fits nowhere; Swarm
    // takes the tasks in no fixed order, and the largest first places them all: order-dependent.
    assert_eq!(plan.verdict, Verdict::OrderDependent, "{:#?}", plan.reasons);
    assert!(plan.reasons[0].starts_with("zzz replica 1: needs 3.5Gi memory, 3Gi free on n1"), "{:#?}", plan.reasons);
    assert!(
        plan.reasons.iter().any(|r| r.contains("creating the largest replicas first places every one: zzz, aaa")),
        "{:#?}",
        plan.reasons
    );
    // Swarm counts the node's total (4Gi), not the allocatable (3.5Gi): 3.5Gi + 0 fits on n1.
    let n1 = plan.nodes.iter().find(|n| n.load.name == "n1").unwrap();
    assert_eq!(n1.load.capacity_memory, 4 * GI);
    assert_eq!(n1.load.allocatable_memory, 4 * GI - 512 * MI);
}

#[test]
fn swarm_reservations_that_eat_the_reserve_do_not_fit() {
    let plan = phase_plan(
        "project: p
phases:
  1:
    name: s
    target: swarm
    nodes:
      mgr: { role: manager, cpu: 4, memory: 4Gi }
services:
  db:
    image: postgres:17.2
    stateful: true
    volumes: { data: { mount: /data } }
    placement: { node: mgr }
    resources: { requests: { memory: 3Gi } }
",
    );
    assert_eq!(plan.verdict, Verdict::DoesNotFit);
    assert!(plan.reasons[0].contains("reservations of 3Gi leave less than its 2Gi reserve"), "{:#?}", plan.reasons);
}

#[test]
fn compose_checks_the_sum_of_limits() {
    let text = "project: p
phases:
  1:
    name: c
    target: compose
    nodes:
      vps: { role: manager, cpu: 4, memory: 8Gi, reserve: { memory: 1Gi } }
services:
  app:
    image: app:1.0
    replicas: 4
    resources: { requests: { memory: 512Mi }, limits: { memory: 2Gi } }
";
    let plan = phase_plan(text);
    // 4 × 2Gi = 8Gi of limits on 8Gi − 1Gi (the spec's own reserve).
    assert_eq!(plan.verdict, Verdict::DoesNotFit);
    assert_eq!(plan.nodes[0].load.reserve.source, "spec");
    assert_eq!(plan.nodes[0].load.reserve.cpu.millis(), 500, "cpu keeps the default reserve");
    assert!(plan.reasons[0].contains("memory limits add up to 8Gi, over its 7Gi allocatable"), "{:#?}", plan.reasons);
    let fits = phase_plan(&text.replace("replicas: 4", "replicas: 3"));
    // 6Gi of limits on 7Gi, 1.5Gi of requests: it fits.
    assert_eq!(fits.verdict, Verdict::Fits, "{:#?}", fits.reasons);
}

#[test]
fn headroom_under_target_is_tight_and_peak_is_checked() {
    let text = "project: p
phases:
  1:
    name: k
    target: k8s
    headroom: 30%
    nodes:
      cp: { role: manager, cpu: 1, memory: 2Gi }
      w1: { cpu: 2, memory: 4Gi }
      w2: { cpu: 2, memory: 4Gi }
services:
  api:
    image: api:1.0
    replicas: 2
    autoscale: { max: 10, cpu: 70% }
    resources: { requests: { cpu: 500m, memory: 1Gi }, limits: { cpu: 500m, memory: 1Gi } }
";
    let plan = phase_plan(text);
    // At 2 replicas each node has 1Gi of 3.7Gi requested (73% free): fits, but the
    // peak of 10 needs 10Gi and 5 cpu: 6 fit (3 per node by cpu, 1.9 cpu free each).
    let peak = plan.peak.as_ref().unwrap();
    assert!(!peak.fits);
    assert_eq!(peak.replicas["api"], 10);
    // The four stranded replicas are one run, said once.
    assert_eq!(
        peak.unplaced,
        ["api replicas 7–10: needs 1Gi memory, 410Mi free on cp; needs 1Gi memory, 724Mi free on w1; \
          needs 1Gi memory, 724Mi free on w2"],
        "{:#?}",
        peak.unplaced
    );
    assert_eq!(plan.verdict, Verdict::Tight);
    assert!(plan.reasons.iter().all(|r| r.starts_with("at the autoscaling peak, api replica")), "{:#?}", plan.reasons);

    let crowded = phase_plan(&text.replace("replicas: 2", "replicas: 6").replace("max: 10", "max: 6"));
    assert_eq!(crowded.verdict, Verdict::Tight);
    assert!(
        crowded.reasons.iter().any(|r| r.contains("19% of memory free after requests, under the 30% headroom target"))
    );
}

#[test]
fn n_plus_one_and_lower_bound() {
    let plan = phase_plan(
        "project: p
phases:
  1:
    name: k
    target: k8s
    nodes:
      big: { role: manager, cpu: 8, memory: 32Gi, cost: 80 }
      w1: { cpu: 2, memory: 4Gi, cost: 10 }
      w2: { cpu: 2, memory: 4Gi, cost: 10 }
services:
  db:
    image: postgres:17.2
    stateful: true
    volumes: { data: { mount: /data, size: 1Gi } }
    placement: { role: manager }
    resources: { requests: { cpu: 1, memory: 8Gi } }
  web:
    image: web:1.0
    replicas: 4
    resources: { requests: { cpu: 250m, memory: 1Gi } }
",
    );
    assert_eq!(plan.verdict, Verdict::Fits, "{:#?}", plan.reasons);
    let n1 = plan.n_plus_one.as_ref().unwrap();
    assert_eq!(n1.worst.as_deref(), Some("big"));
    assert!(!n1.fits);
    let big = &n1.losses[0];
    assert_eq!((big.lost.as_str(), big.down.as_slice()), ("big", ["db".to_owned()].as_slice()));
    // web: 4 × 1Gi fits on w1 + w2 (3.7Gi each) after losing big.
    assert!(big.degraded.is_empty(), "{:?}", big.degraded);
    // Losing a small worker: web moves to big.
    assert!(n1.losses[1..].iter().all(|l| l.fits), "{:?}", n1.losses);
    // 12Gi and 2 cpu requested; the largest allocatable is big's (32 − 1.6 Gi, 7.5 cpu).
    assert_eq!((plan.lower_bound.by_memory, plan.lower_bound.by_cpu, plan.lower_bound.given), (1, 1, 3));

    // Cost: the shares add up to the total, give or take rounding.
    let cost = &plan.cost;
    assert_eq!(cost.total_cents, Some(10_000));
    let shares: u64 = cost.per_service_cents.values().sum::<u64>() + cost.reserve_cents + cost.headroom_cents;
    assert!(shares.abs_diff(10_000) <= 4, "{shares} vs 10000: {cost:?}");
    assert!(cost.per_service_cents["db"] > cost.per_service_cents["web"]);
    // Half of 100.00 over 12 cores: 4.1666… per cpu.
    assert_eq!(cost.per_cpu_cents, Some(417));
}

/// The printed rates are those the shares charge: half of the price ÷ the cores, half ÷ the GiB.
/// A service requesting one core and nothing else pays exactly the rate per cpu.
#[test]
fn cost_rates_are_the_halves_the_shares_charge() {
    let plan = phase_plan(
        "project: p
phases:
  1:
    name: one
    target: compose
    nodes:
      vps: { role: manager, cpu: 4, memory: 16Gi, cost: 35 }
services:
  cpu-only:
    image: a:1.0
    resources: { requests: { cpu: 1 } }
  memory-only:
    image: b:1.0
    resources: { requests: { memory: 1Gi } }
",
    );
    let cost = &plan.cost;
    // 17.50 for 4 cores is 4.375 a core, 17.50 for 16 GiB is 1.09375 a GiB: both round half away from zero.
    assert_eq!((cost.per_cpu_cents, cost.per_gib_cents), (Some(438), Some(109)));
    assert_eq!(cost.per_service_cents["cpu-only"], 438);
    assert_eq!(cost.per_service_cents["memory-only"], 109);
    let markdown =
        plan::markdown::plan(&plan::Plan { project: "p".into(), phases: vec![plan.clone()], migrations: vec![] }, None);
    assert!(markdown.contains("4.38 per cpu and 1.09 per GiB"), "{markdown}");
}

/// Figures round half away from zero, exactly: 4.25Gi is 4.3Gi, not the 4.2Gi of `{:.1}`.
#[test]
fn printed_figures_round_half_away_from_zero() {
    assert_eq!(plan::mem(4 * GI + GI / 4), "4.3Gi");
    assert_eq!(plan::mem(4 * GI + GI / 4 - 1), "4.2Gi");
    assert_eq!(plan::mem(GI * 3 / 2), "1.5Gi");
    assert_eq!(plan::mem(2 * GI), "2Gi");
    assert_eq!(plan::mem(MI * 3 / 2), "2Mi");
    assert_eq!(plan::mem(GI - MI / 2), "1Gi");
    assert_eq!(plan::cpu(1125), "1.13");
    assert_eq!(plan::cpu(1500), "1.5");
    assert_eq!(plan::cpu(250), "250m");
    assert_eq!(plan::cpu(116_800), "116.8", "a large figure in cpu, not 116800m");
    assert_eq!(plan::cpu(12_000), "12");
    assert_eq!(plan::times(1125, 1000), "1.13×");
    assert_eq!(plan::times(5, 4), "1.25×");
    assert_eq!(plan::percent_free(7, 8), "13%");
    assert_eq!(plan::percent_free(0, 0), "0%");
    assert_eq!(plan::money(1250), "12.50");
}

#[test]
fn finanzas_plan() {
    let text = fs_err::read_to_string(root().join("specs/finanzas.yaml")).unwrap();
    let model = model(&text);
    let plan = plan::plan_for(&model, "specs/finanzas.yaml");
    let verdicts: Vec<Verdict> = plan.phases.iter().map(|p| p.verdict).collect();
    assert_eq!(verdicts, [Verdict::Tight, Verdict::Tight, Verdict::Fits]);
    let costs: Vec<Option<u64>> = plan.phases.iter().map(|p| p.cost.total_cents).collect();
    assert_eq!(costs, [Some(1500), Some(10_500), Some(4500)]);
    // Phase 2: embedding only where ram=high, workers only where tier=batch.
    let placed = |phase: usize, service: &str| -> Vec<String> {
        plan.phases[phase].placement.iter().filter(|p| p.service == service).filter_map(|p| p.node.clone()).collect()
    };
    assert!(placed(1, "embedding").iter().all(|n| n == "vps-2"));
    assert!(placed(1, "bullmq-worker").iter().all(|n| n == "vps-3"));
    assert_eq!(placed(1, "backend").len(), 6);
    assert_eq!(placed(2, "postgres"), ["node-1"]);
    // The migration to K3s opens its ports and seals each secret (`secrets_from: sealed-secrets`), without values.
    let to_k3s = &plan.migrations[1];
    let ports: Vec<&str> = to_k3s.ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, ["6443/tcp", "8472/udp", "10250/tcp"]);
    let commands: Vec<&String> = to_k3s.steps.iter().flat_map(|s| &s.commands).collect();
    assert!(!commands.iter().any(|c| c.contains("create secret generic")), "the controller creates the Secret");
    let sealing: Vec<&&String> = commands.iter().filter(|c| c.contains("kubeseal --raw")).collect();
    assert_eq!(sealing.len(), 4, "one per secret: {sealing:?}");
    assert!(
        sealing[0].starts_with(
            "printf '%s' \"$GEMINI_API_KEY\" | kubeseal --raw --from-file=/dev/stdin --namespace finanzas --name finanzas-secrets"
        ),
        "{}",
        sealing[0]
    );
    let data: Vec<(&str, Option<&str>)> = to_k3s.data.iter().map(|d| (d.service.as_str(), d.size.as_deref())).collect();
    assert_eq!(data, [("postgres", Some("50Gi")), ("redis", Some("5Gi"))]);
    let to_swarm = &plan.migrations[0];
    let ports: Vec<&str> = to_swarm.ports.iter().map(|p| p.port).collect();
    // The overlay is encrypted (three nodes): its VXLAN travels inside IPsec.
    assert_eq!(ports, ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp", "IP protocol 50 (ESP)"]);
    assert_eq!(to_swarm.monthly_cost_change_cents, Some(9000));
    // +90.00: two nodes added (65.00), and vps-1 repriced with no change of size.
    assert_eq!(to_swarm.nodes_repriced, ["vps-1: 15.00 → 40.00 (+25.00), same size"]);
    assert!(to_k3s.nodes_repriced.is_empty(), "{:?}", to_k3s.nodes_repriced);

    insta::assert_snapshot!("finanzas_plan", plan::markdown::plan(&plan, None));
}

/// A Swarm phase whose name-order placement fits, but where `web`, which may run anywhere, can take
/// the room of `db`, pinned to `w`, when its tasks come first: Swarm spreads web over m and w, and
/// db's 1.2 cpu no longer fits beside two of them on w.
const PINNED_AND_LOOSE: &str = "project: p
phases:
  1:
    name: s
    target: swarm
    nodes:
      m: { role: manager, cpu: 2, memory: 8Gi }
      w: { cpu: 2, memory: 8Gi }
services:
  db:
    image: postgres:17.2
    placement: { node: w }
    resources: { requests: { cpu: 1200m, memory: 512Mi } }
  web:
    image: web:1.0
    replicas: 4
    resources: { requests: { cpu: 500m, memory: 256Mi } }
";

#[test]
fn swarm_phase_that_fits_in_name_order_but_not_in_every_order_is_order_dependent() {
    let plan = phase_plan(PINNED_AND_LOOSE);
    assert!(plan.placement.iter().all(|p| p.node.is_some()), "name order places every replica");
    assert_eq!(plan.verdict, Verdict::OrderDependent, "{:#?}", plan.reasons);
    let risks: Vec<(&str, &[String], &[String])> =
        plan.order_risks.iter().map(|r| (r.service.as_str(), r.nodes.as_slice(), r.competitors.as_slice())).collect();
    assert_eq!(risks, [("db", ["w".to_owned()].as_slice(), ["web".to_owned()].as_slice())]);
    let stranded = plan.order_risks[0].stranded.as_deref().unwrap();
    assert_eq!(stranded, "replica 1: needs 1.2 cpu, 1 free on w");
    assert!(plan.reasons.iter().any(|r| r.starts_with("db (its replica, 1.2 cpu, 512Mi each) may stay pending on w")));
    let diags = plan::diagnostics(&plan::Plan { project: "p".into(), phases: vec![plan], migrations: vec![] });
    let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["order-dependent-placement"]);
}

/// What makes it safe: web kept off w, fewer or smaller web replicas, or more room on w.
#[test]
fn swarm_phase_that_no_order_can_strand_is_not_order_dependent() {
    let fixes = [
        (
            "web kept on the manager",
            PINNED_AND_LOOSE.replace("replicas: 4\n", "replicas: 3\n    placement: { role: manager }\n"),
        ),
        ("one web replica", PINNED_AND_LOOSE.replace("replicas: 4", "replicas: 1")),
        ("w with room for all", PINNED_AND_LOOSE.replace("w: { cpu: 2, memory: 8Gi }", "w: { cpu: 4, memory: 8Gi }")),
    ];
    for (fix, text) in fixes {
        let plan = phase_plan(&text);
        assert!(plan.order_risks.is_empty(), "{fix}: {:#?}", plan.order_risks);
        assert!(plan.verdict <= Verdict::Tight, "{fix}: {:?} {:#?}", plan.verdict, plan.reasons);
    }
}

/// Services that may all run anywhere, with room for all of them: the per-node count alone would
/// call them at risk (each node could in principle take every other replica), but replicas of one
/// size cannot block all three nodes, whatever the order.
#[test]
fn swarm_services_that_may_run_anywhere_with_room_are_safe_in_any_order() {
    let plan = phase_plan(
        "project: p
phases:
  1:
    name: s
    target: swarm
    nodes:
      m: { role: manager, cpu: 2, memory: 8Gi }
      w1: { cpu: 2, memory: 8Gi }
      w2: { cpu: 2, memory: 8Gi }
services:
  a: { image: a:1.0, replicas: 3, resources: { requests: { cpu: 500m } } }
  b: { image: b:1.0, replicas: 3, resources: { requests: { cpu: 500m } } }
  c: { image: c:1.0, replicas: 3, resources: { requests: { cpu: 500m } } }
",
    );
    assert!(plan.order_risks.is_empty(), "{:#?}", plan.order_risks);
    assert_ne!(plan.verdict, Verdict::OrderDependent, "{:#?}", plan.reasons);
}

/// topo flags what it cannot prove safe, even when its own others-first order places everything:
/// with three web replicas, Swarm's tie between m and w (broken by node id) can put two on w.
#[test]
fn swarm_risk_without_a_found_order_is_still_a_risk() {
    let plan = phase_plan(&PINNED_AND_LOOSE.replace("replicas: 4", "replicas: 3"));
    assert_eq!(plan.verdict, Verdict::OrderDependent, "{:#?}", plan.reasons);
    assert_eq!(plan.order_risks[0].stranded, None);
    assert!(plan.reasons.iter().any(|r| r.contains("topo cannot rule out an order that strands one")));
}

/// Kubernetes and compose phases have no order risk: the check is Swarm's.
#[test]
fn order_risks_are_swarm_only() {
    let plan = phase_plan(&PINNED_AND_LOOSE.replace("target: swarm", "target: k8s"));
    assert!(plan.order_risks.is_empty());
}

/// N+1 loses each node in turn, not only the largest: in the finanzas Swarm the three nodes are
/// alike in size but not in what they carry (the manager role, `ram: high`, `tier: batch`), and
/// losing any one of them stops something.
#[test]
fn n_plus_one_loses_each_node_and_takes_the_verdict_from_the_worst() {
    let text = fs_err::read_to_string(root().join("specs/finanzas.yaml")).unwrap();
    let plan = plan::plan(&model(&text));
    let n1 = plan.phases[1].n_plus_one.as_ref().unwrap();
    let losses: Vec<(&str, bool, Vec<&str>)> =
        n1.losses.iter().map(|l| (l.lost.as_str(), l.fits, l.down.iter().map(String::as_str).collect())).collect();
    assert_eq!(
        losses,
        [
            ("vps-1", false, vec!["postgres", "redis"]),
            ("vps-2", false, vec!["embedding"]),
            ("vps-3", false, vec!["bullmq-worker"]),
        ]
    );
    assert!(!n1.fits);
    assert_eq!(n1.worst.as_deref(), Some("vps-1"), "two services down");
    let markdown = plan::markdown::plan(&plan, Some(2));
    assert!(markdown.contains("| vps-2 | no | embedding | — |"), "{markdown}");
    let summary = plan::markdown::plan(&plan, None);
    assert!(
        summary.contains(
            "losing vps-1 stops postgres, redis; losing vps-2 stops embedding; losing vps-3 stops bullmq-worker"
        ),
        "{summary}"
    );
}

/// A single-replica service with a writable volume stays beside its data: the
/// Swarm stack pins it by hostname to the node the plan places it on, so losing
/// that node stops it, and N+1 must not move it elsewhere.
#[test]
fn n_plus_one_keeps_a_service_beside_its_data() {
    let plan = phase_plan(&phase_spec_text());
    let db_node = plan.placement.iter().find(|p| p.service == "db").and_then(|p| p.node.clone()).unwrap();
    let n1 = plan.n_plus_one.as_ref().unwrap();
    for loss in &n1.losses {
        let down: Vec<&str> = loss.down.iter().map(String::as_str).collect();
        if loss.lost == db_node {
            assert_eq!(down, ["db"], "losing {} loses db's volume", loss.lost);
        } else {
            assert!(down.is_empty(), "losing {}: {down:?}", loss.lost);
        }
    }
    let pins = plan::schedule::data_pins(&model(&phase_spec_text()).phases[0]);
    assert_eq!(pins.get("db"), Some(&db_node), "the stack's pin is the plan's node");
}

fn phase_spec_text() -> String {
    "project: p
phases:
  1:
    name: s
    target: swarm
    nodes:
      a: { role: manager, cpu: 4, memory: 8Gi }
      b: { cpu: 4, memory: 8Gi }
services:
  db:
    image: postgres:17.2
    stateful: true
    volumes: { data: { mount: /var/lib/postgresql/data, size: 1Gi } }
    resources: { requests: { cpu: 500m, memory: 512Mi } }
  api:
    image: api:1.0
    replicas: 2
    resources: { requests: { cpu: 250m, memory: 256Mi } }
"
    .to_owned()
}

/// A loss that leaves a service running fewer replicas says so, per node.
#[test]
fn n_plus_one_reports_fewer_replicas_per_lost_node() {
    let plan = phase_plan(
        "project: p
phases:
  1:
    name: k
    target: k8s
    nodes:
      a: { role: manager, cpu: 2, memory: 4Gi }
      b: { cpu: 2, memory: 4Gi }
services:
  api:
    image: api:1.0
    replicas: 4
    resources: { requests: { cpu: 100m, memory: 1Gi } }
",
    );
    let n1 = plan.n_plus_one.as_ref().unwrap();
    // a: 4Gi − 1.6Gi holds 2; b: 4Gi − 300Mi holds 3. Losing b leaves 2 of 4, losing a 3 of 4.
    let fewer: Vec<String> = n1.losses.iter().map(|l| format!("{} {:?}", l.lost, l.degraded)).collect();
    assert_eq!(fewer, [r#"a [("api", 3, 4)]"#, r#"b [("api", 2, 4)]"#]);
    assert_eq!(n1.worst.as_deref(), Some("b"), "the loss that leaves the fewest replicas");
}

fn topo(args: &[&str]) -> std::process::Output {
    topo_in(args, &root())
}

#[test]
fn check_fails_when_a_phase_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("topo.yaml");
    fs_err::write(
        &spec,
        "project: p
phases:
  1:
    name: k
    target: k8s
    nodes:
      cp: { role: manager, cpu: 1, memory: 3Gi }
services:
  api:
    image: api:1.0
    replicas: 3
    resources: { requests: { cpu: 100m, memory: 512Mi } }
",
    )
    .unwrap();
    let out = topo(&["check", "-s", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[phase-does-not-fit]: phase 1 (k) does not fit its nodes: api replica 3: needs 512Mi memory, 410Mi free on cp"), "{stderr}");
    assert!(stderr.contains("topo.yaml:6:5"), "located at the phase's `nodes` key: {stderr}");
}

#[test]
fn plan_and_diff_commands() {
    let json = topo(&["plan", "-s", "specs/finanzas.yaml", "--format", "json", "--phase", "k3s"]);
    assert!(json.status.success());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["phases"].as_array().unwrap().len(), 1);
    assert_eq!(value["phases"][0]["verdict"], "fits");
    assert_eq!(value["migrations"][0]["from"], 2);

    let diff = topo(&["diff", "-s", "specs/finanzas.yaml", "--from", "1", "--to", "3"]);
    assert!(diff.status.success());
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(text.starts_with("# From phase 1 (dokploy, compose) to phase 3 (k3s, k8s)"), "{text}");
    assert!(
        text.contains("| 6443/tcp |")
            && text.contains("kubeseal --raw --from-file=/dev/stdin --namespace finanzas --name finanzas-secrets")
    );
    assert!(text.contains("- backend: autoscaling on, 2–6 replicas"), "{text}");

    let missing = topo(&["diff", "-s", "specs/finanzas.yaml", "--from", "1", "--to", "7"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has no phase `7`"));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.md");
    let written = topo(&["plan", "-s", "specs/finanzas.yaml", "--out", out.to_str().unwrap()]);
    assert!(written.status.success() && written.stdout.is_empty());
    let md = fs_err::read_to_string(&out).unwrap();
    assert!(md.starts_with("# Scaling plan: finanzas"));
    // No secret value could be in it (the spec has none), and no placeholder is filled.
    assert!(!md.contains("--from-literal=POSTGRES_PASSWORD=\"") || md.contains("=\"$POSTGRES_PASSWORD\""));
}

/// A global service has exactly one replica on each node its placement
/// admits; one that does not fit its node is a does-not-fit reason, and losing
/// a node (N+1) loses that node's replica without degrading the service.
#[test]
fn a_global_service_runs_one_replica_on_each_admitted_node() {
    let spec = |target: &str| {
        format!(
            "project: p
phases:
  1:
    name: k
    target: {target}
    nodes:
      m: {{ role: manager, cpu: 4, memory: 8Gi }}
      w1: {{ cpu: 4, memory: 16Gi }}
      w2: {{ cpu: 4, memory: 8Gi }}
      tiny: {{ cpu: 1, memory: 1Gi }}
services:
  agent:
    image: agent:1.0
    replicas: global
    placement: {{ role: worker }}
    resources: {{ requests: {{ cpu: 100m, memory: 256Mi }} }}
  api:
    image: api:1.0
    replicas: 4
    resources: {{ requests: {{ cpu: 100m, memory: 128Mi }} }}
"
        )
    };
    for target in ["k8s", "swarm"] {
        let plan = phase_plan(&spec(target));
        let agent: Vec<(&str, Option<&str>)> = plan
            .placement
            .iter()
            .filter(|p| p.service == "agent")
            .map(|p| (p.service.as_str(), p.node.as_deref()))
            .collect();
        assert_eq!(
            agent,
            [("agent", Some("tiny")), ("agent", Some("w1")), ("agent", Some("w2"))],
            "{target}: one per worker, the manager excluded by placement"
        );
        let n_plus_one = plan.n_plus_one.as_ref().unwrap();
        let w1 = n_plus_one.losses.iter().find(|l| l.lost == "w1").unwrap();
        assert!(!w1.degraded.iter().any(|(s, _, _)| s == "agent"), "{target}: {n_plus_one:?}");
        assert!(n_plus_one.fits, "{target}: {n_plus_one:?}");
    }
    // The tiny node cannot take its replica once it is too small for it.
    let plan = phase_plan(&spec("k8s").replace("tiny: { cpu: 1, memory: 1Gi }", "tiny: { cpu: 1, memory: 512Mi }"));
    assert_eq!(plan.verdict, Verdict::DoesNotFit);
    let stranded = plan.placement.iter().find(|p| p.service == "agent" && p.node.is_none()).unwrap();
    assert!(stranded.reason.as_deref().unwrap().contains("on tiny"), "{:?}", stranded.reason);
    assert!(plan.reasons.iter().any(|r| r.starts_with("agent replica 1:")), "{:#?}", plan.reasons);
    // Nothing else takes the stranded replica: w1 and w2 still run one each.
    assert_eq!(plan.placement.iter().filter(|p| p.service == "agent" && p.node.is_some()).count(), 2);
}

/// Every distinct order of a multiset of service names.
fn orders(counts: &mut Vec<(String, u32)>, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if counts.iter().all(|(_, n)| *n == 0) {
        out.push(prefix.clone());
        return;
    }
    for i in 0..counts.len() {
        if counts[i].1 > 0 {
            counts[i].1 -= 1;
            prefix.push(counts[i].0.clone());
            orders(counts, prefix, out);
            prefix.pop();
            counts[i].1 += 1;
        }
    }
}

/// A small random Swarm phase: nodes of a few sizes, services pinned to a node, a role, or none.
fn small_swarm() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let node = (1u32..=4, prop::sample::select(vec!["2Gi", "4Gi", "8Gi"]));
    let service = (
        1u32..=3,
        prop::sample::select(vec!["0m", "250m", "500m", "750m", "1", "1500m"]),
        prop::sample::select(vec!["0Mi", "256Mi", "512Mi", "1Gi", "2Gi"]),
        0usize..5,
        any::<bool>(),
    );
    (prop::collection::vec(node, 2..=3), prop::collection::vec(service, 2..=3)).prop_map(|(nodes, services)| {
        let mut text = "project: p\nphases:\n  1:\n    name: s\n    target: swarm\n    nodes:\n".to_owned();
        for (i, (cpu, memory)) in nodes.iter().enumerate() {
            let role = if i == 0 { "manager" } else { "worker" };
            text += &format!("      n{i}: {{ role: {role}, cpu: {cpu}, memory: {memory} }}\n");
        }
        text += "services:\n";
        for (i, (replicas, cpu, memory, pin, hard)) in services.iter().enumerate() {
            let placement = match pin {
                0 | 1 if *pin < nodes.len() => format!("node: n{pin}"),
                2 => "role: worker".to_owned(),
                _ => String::new(),
            };
            let spread = if *hard { "spread: hard" } else { "" };
            let placement = [placement, spread.to_owned()].iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>();
            text += &format!(
                "  s{i}:\n    image: s:1.0\n    replicas: {replicas}\n    placement: {{ {} }}\n    resources: {{ requests: {{ cpu: {cpu}, memory: {memory} }} }}\n",
                placement.join(", ")
            );
        }
        text
    })
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Off)),
        ..proptest::test_runner::Config::default()
    })]

    /// The verdict is never more optimistic than Swarm: if some order of the tasks strands a
    /// replica (placed by Swarm's own rules, against the nodes' total), the phase neither fits nor
    /// is tight.
    #[test]
    fn swarm_verdict_is_never_more_optimistic_than_any_order_of_the_tasks(text in small_swarm()) {
        let Ok(compiled) = topo::compile(text.as_bytes()) else { return Ok(()) };
        let phase = &compiled.model.phases[0];
        let verdict = plan::plan_phase(phase).verdict;
        let replicas = plan::schedule::replicas(phase, plan::schedule::Load::Base);
        let mut counts: Vec<(String, u32)> = Vec::new();
        for r in &replicas {
            match counts.iter_mut().find(|(s, _)| *s == r.service) {
                Some((_, n)) => *n += 1,
                None => counts.push((r.service.clone(), 1)),
            }
        }
        let mut all = Vec::new();
        orders(&mut counts, &mut Vec::new(), &mut all);
        for order in all {
            let mut next: std::collections::BTreeMap<&str, u32> = std::collections::BTreeMap::new();
            let ordered: Vec<plan::schedule::Replica> = order
                .iter()
                .map(|service| {
                    let index = next.entry(service).or_insert(0);
                    *index += 1;
                    replicas.iter().find(|r| r.service == *service && r.index == *index).unwrap().clone()
                })
                .collect();
            let placed = plan::schedule::schedule(phase, topo::spec::Target::Swarm, &ordered, None);
            if !placed.fits() {
                proptest::prop_assert!(
                    verdict >= Verdict::OrderDependent,
                    "{verdict:?}, yet {order:?} strands {:?}\n{text}",
                    placed.unplaced().map(|p| p.reason.clone()).collect::<Vec<_>>()
                );
            }
        }
    }
}

/// The shell variables a command reads outside single quotes (what a
/// container's own shell reads, in `sh -c '…'`, is not the operator's), and
/// those it sets itself (`i=0`, `for n in`).
fn shell_variables(command: &str) -> (Vec<String>, Vec<String>) {
    let chars: Vec<char> = command.chars().collect();
    let name_at = |start: usize| -> String {
        chars[start..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').collect()
    };
    let (mut read, mut set) = (Vec::new(), Vec::new());
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if !single => i += 1,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '$' if !single => {
                let start = if chars.get(i + 1) == Some(&'{') { i + 2 } else { i + 1 };
                let name = name_at(start);
                if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                    read.push(name);
                }
            }
            c if !single
                && !double
                && (i == 0 || " ;(&|".contains(chars[i - 1]))
                && (c.is_ascii_alphabetic() || c == '_') =>
            {
                let name = name_at(i);
                if chars.get(i + name.len()) == Some(&'=') {
                    set.push(name.clone());
                }
                if name == "for" {
                    set.push(name_at(i + 4));
                }
            }
            _ => {}
        }
        i += 1;
    }
    (read, set)
}

/// Every step of every migration between any two phases of every spec we ship
/// runs as written: POSIX sh that parses, no placeholder, no secret value,
/// every variable it reads declared as an input, on a node of the two phases.
#[test]
fn every_migration_step_is_runnable_sh() {
    let placeholder = |text: &str| {
        text.contains('…')
            || text.split('<').skip(1).any(|rest| {
                let inside: String = rest.chars().take_while(|c| *c != '>').collect();
                rest.starts_with(|c: char| c.is_ascii_alphabetic())
                    && rest.len() > inside.len()
                    && inside.chars().all(|c| c.is_ascii_alphanumeric() || " _-".contains(c))
            })
    };
    let mut checked = 0;
    for path in specs::valid_specs() {
        let text = fs_err::read_to_string(&path).unwrap();
        let model = model(&text);
        let spec = path.strip_prefix(root()).unwrap().display().to_string();
        for (i, a) in model.phases.iter().enumerate() {
            for b in &model.phases[i + 1..] {
                let m = plan::migrate::migration(&model, &spec, a, b);
                let md = plan::markdown::migration(&m);
                assert!(!placeholder(&md), "{spec} {}→{}: a placeholder in\n{md}", a.number, b.number);
                let inputs: Vec<&str> = m.inputs.iter().map(|i| i.name.as_str()).collect();
                for step in &m.steps {
                    let at = format!("{spec} {}→{}, step `{}`", a.number, b.number, step.title);
                    if let Some(node) = &step.on {
                        assert!(a.nodes.contains_key(node) || b.nodes.contains_key(node), "{at}: on {node}");
                    }
                    assert!(step.manual || !step.commands.is_empty(), "{at}: neither commands nor manual");
                    for command in &step.commands {
                        let parsed = Command::new("sh").args(["-n", "-c", command]).output().unwrap();
                        assert!(
                            parsed.status.success(),
                            "{at}: sh -n fails: {}\n{command}",
                            String::from_utf8_lossy(&parsed.stderr)
                        );
                        assert!(!placeholder(command), "{at}: a placeholder in {command}");
                        let (read, set) = shell_variables(command);
                        for name in read.iter().filter(|n| !set.contains(n)) {
                            assert!(inputs.contains(&name.as_str()), "{at}: ${name} is not an input: {command}");
                        }
                        // A secret appears only as a variable the shell expands.
                        for secret in &model.secrets {
                            let bare = command.matches(secret.as_str()).count();
                            let expanded = command.matches(&format!("${secret}")).count()
                                + command.matches(&format!("${{{secret}")).count()
                                + command.matches(&format!("--from-literal={secret}=")).count()
                                + command.matches(&format!("_{secret} ")).count() * 2;
                            assert!(bare <= expanded, "{at}: {secret} appears as a value: {command}");
                        }
                        checked += 1;
                    }
                }
                for input in &m.inputs {
                    if model.secrets.contains(&input.name) {
                        assert!(input.default.is_none(), "{spec}: the secret {} has a default", input.name);
                    }
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} commands checked");
}

#[test]
fn shell_variables_outside_single_quotes() {
    let (read, set) = shell_variables(
        "i=0; until [ \"$i\" -ge 3 ]; do x \"${APP:-p}_db\" sh -c 'echo $INSIDE'; done; for n in a; do $n; done",
    );
    assert_eq!(read, ["i", "APP", "n"]);
    assert_eq!(set, ["i", "n"]);
}

/// One snapshot per spec we ship (specs/ and examples/): its plan, then each
/// phase rendered for its own target and its alert rules, then the last
/// phase for each target no phase uses, so that every spec shows every
/// target. Each output is followed by what the renderer warned.
#[test]
fn every_shipped_spec_snapshot() {
    use topo::render::{Output, render_output};
    use topo::spec::Target;
    let mut specs: Vec<PathBuf> = ["specs", "examples"]
        .iter()
        .flat_map(|dir| fs_err::read_dir(root().join(dir)).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 7, "{specs:?}");
    for path in specs {
        let name = path.strip_prefix(root()).unwrap().to_str().unwrap().to_owned();
        let model = model(&fs_err::read_to_string(&path).unwrap());
        let mut text = format!("==== plan ====\n{}", plan::markdown::plan(&plan::plan_for(&model, &name), None));
        let mut outputs: Vec<(usize, Output)> = Vec::new();
        for (i, phase) in model.phases.iter().enumerate() {
            outputs.extend([(i, Output::Target(phase.target)), (i, Output::Rules)]);
        }
        let last = model.phases.len() - 1;
        for target in [Target::Compose, Target::Swarm, Target::K8s] {
            if model.phases.iter().all(|p| p.target != target) {
                outputs.push((last, Output::Target(target)));
            }
        }
        for (i, output) in outputs {
            let phase = &model.phases[i];
            let rendered = render_output(&model, phase, output);
            let what = match output {
                Output::Target(target) => target.as_str(),
                Output::Rules => "rules",
            };
            text.push_str(&format!(
                "==== phase {} ({}) as {what} ====\n{}",
                phase.number,
                phase.name,
                rendered.stream()
            ));
            for d in rendered.diagnostics.iter() {
                text.push_str(&format!("warning[{}] at {}: {}\n", d.code, d.path, d.message));
            }
        }
        let snapshot = name.trim_end_matches(".yaml").replace('/', "_");
        insta::assert_snapshot!(snapshot, text);
    }
}

/// A Deployment whose replicas share a ReadWriteOnce claim runs them all on the node the volume
/// attaches to: the plan places them there (and says when they do not fit), as the render warns;
/// ReadWriteMany and a StatefulSet (a claim per replica) spread.
#[test]
fn replicas_sharing_a_read_write_once_claim_are_placed_on_one_node() {
    let spec = |access: &str, extra: &str| {
        format!(
            "project: p
phases:
  1:
    name: k
    target: k8s
    nodes:
      cp: {{ role: manager, cpu: 4, memory: 8Gi }}
      w1: {{ cpu: 4, memory: 8Gi }}
      w2: {{ cpu: 4, memory: 8Gi }}
services:
  files:
    image: files:1.0
    replicas: 3
    volumes: {{ data: {{ mount: /srv, size: 1Gi{access} }} }}
    resources: {{ requests: {{ cpu: 500m, memory: 512Mi }} }}
{extra}"
        )
    };
    let nodes = |plan: &plan::PhasePlan| -> Vec<String> {
        plan.placement.iter().map(|p| p.node.clone().unwrap_or_else(|| "unplaced".into())).collect()
    };
    let shared = phase_plan(&spec("", ""));
    let on = nodes(&shared);
    assert_eq!(on.len(), 3);
    assert!(on.iter().all(|n| n == &on[0]), "every replica beside the one volume: {on:?}");
    let loss = shared.n_plus_one.as_ref().unwrap().losses.iter().find(|l| l.lost == on[0]).unwrap();
    assert_eq!(loss.down, ["files"], "losing that node stops the service");
    let compiled = crate::support::compile_text(&spec("", ""));
    let rendered = topo::render::render(&compiled.model, &compiled.model.phases[0], topo::spec::Target::K8s);
    assert!(rendered.diagnostics.iter().any(|d| d.code == "single-node-volume"), "the render says the same");

    for (access, extra) in [(", access: ReadWriteMany", ""), ("", "    stateful: true\n")] {
        let spread = phase_plan(&spec(access, extra));
        let mut on = nodes(&spread);
        on.sort();
        assert_eq!(on, ["cp", "w1", "w2"], "{access}{extra}: a replica per node");
    }

    // Spread hard and one attach cannot both hold: the plan says so.
    let hard = phase_plan(&spec("", "    placement: { spread: hard }\n"));
    assert_eq!(hard.verdict, Verdict::DoesNotFit, "{:?}", nodes(&hard));
}
