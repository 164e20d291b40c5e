"""Every pod inferstack creates schedules on a node it selects, and GPU nodes are bought the way the
cloud sells them. Node numbers are the providers' published formulas, written out here."""

import pytest
from typer.testing import CliRunner

from inferstack import catalog
from inferstack.catalog import cloud_facts
from inferstack.cli import app
from inferstack.kube import placement_objects
from inferstack.plan import plan, scheduling
from tests.conftest import EXAMPLE_SPECS, spec_variant

runner = CliRunner()


def _mi(quantity: str) -> int:
    return int(quantity[:-2]) * (1024 if quantity.endswith("Gi") else 1)


def _milli(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(quantity) * 1000


def _pods(result, placement):
    objects = placement_objects(result, placement)
    name = result.spec.name
    serving = next(
        o for o in objects if o["kind"] in ("Deployment", "LeaderWorkerSet") and o["metadata"]["name"] == name
    )
    # A multi-node replica's leader and workers share the pod size and node selector.
    template = serving["spec"].get("template") or serving["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
    serving = template["spec"]
    job = next((o for o in objects if o["kind"] == "Job"), None)
    return serving, job["spec"]["template"]["spec"] if job else None


def _requests(pod):
    """The pod's effective request: max(largest init container, sum of app containers); a container that
    requests nothing (the GPUDirect daemon sidecar) counts as zero, as the scheduler counts it."""
    apps = [c.get("resources", {}).get("requests", {}) for c in pod["containers"]]
    inits = [c.get("resources", {}).get("requests", {}) for c in pod.get("initContainers", [])]
    cpu = max([sum(_milli(r.get("cpu", "0")) for r in apps)] + [_milli(r.get("cpu", "0")) for r in inits])
    memory = max([sum(_mi(r.get("memory", "0Mi")) for r in apps)] + [_mi(r.get("memory", "0Mi")) for r in inits])
    return cpu, memory


def test_quickstart_serving_pod_fits_g2_standard_4_by_the_gke_formula():
    # GKE node sizing (plan-node-sizes): CPU reserved 6 % of the first core + 1 % of the second + 0.5 % of
    # cores 3-4 = 60 + 10 + 10 = 80m; memory 25 % of the first 4 GiB + 20 % of the next 4 + 10 % of the
    # next 8 = 1024 + 819.2 + 819.2 MiB; eviction threshold 100 MiB. g2-standard-4: 4 vCPU, 16 GiB.
    cpu_allocatable = 4000 - 80
    memory_allocatable = 16 * 1024 - (1024 + 819.2 + 819.2) - 100  # 13621.6 MiB, before the kernel's share
    facts = cloud_facts.node_facts("gcp", "g2-standard-4")
    assert facts.allocatable_cpu_m == cpu_allocatable
    assert facts.formula_allocatable_memory_mib == pytest.approx(memory_allocatable, abs=1)
    result = plan(spec_variant("quickstart", {}))
    serving, _ = _pods(result, result.placements[0])
    cpu, memory = _requests(serving)
    budget = cloud_facts.daemonset_budget("gcp")
    assert cpu <= cpu_allocatable - budget.cpu_m
    assert memory <= memory_allocatable - facts.os_reserved_memory_mib - budget.memory_mib
    # Guaranteed QoS: every container's requests equal its limits.
    for container in serving["containers"] + serving["initContainers"]:
        assert container["resources"]["requests"] == container["resources"]["limits"]
    # The old 85 % sizing asked 13 Gi (13312 MiB): more than the node leaves once the kernel and DaemonSets run.
    assert memory_allocatable - facts.os_reserved_memory_mib - budget.memory_mib < 13 * 1024


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_every_example_is_deployable_and_its_pods_fit_their_nodes(path):
    result = plan(spec_variant(path, {}))
    assert result.deployable, [f.message for f in result.findings if f.blocking]
    for placement in result.placements:
        _assert_pods_fit(result, placement)


def _assert_pods_fit(result, placement):
    serving, job = _pods(result, placement)
    node = placement.node
    if node.node_type is None:  # existing cluster: its nodes are not known
        return
    room = scheduling.node_room(placement.cloud, node.node_type)
    cpu, memory = _requests(serving)
    assert cpu * node.replicas_per_node <= room.cpu_m and memory * node.replicas_per_node <= room.memory_mib
    assert serving["nodeSelector"]["node.kubernetes.io/instance-type"] == node.node_type
    if job is not None:
        # Finding 1: the Job selects the system pool and its request fits that pool's node type.
        assert job["nodeSelector"] == {"inferstack.dev/pool": "system"}
        system = scheduling.node_room(placement.cloud, placement.system_node_type)
        job_cpu, job_memory = _requests(job)
        assert job_cpu <= system.cpu_m and job_memory <= system.memory_mib


MATRIX = [
    (o.gpu, o.cloud, o.node_type, o.regions[0], replicas) for o in catalog.offerings() for replicas in ((1, 1), (2, 8))
]


@pytest.mark.parametrize("gpu, cloud, node_type, region, replicas", MATRIX, ids=lambda v: str(v))
def test_matrix_every_gpu_offering_schedules_or_blocks_with_a_fix(gpu, cloud, node_type, region, replicas):
    spec = spec_variant(
        "quickstart",
        {
            "engine": {"quantization": None},
            "resources": {"gpu": gpu},
            "compliance": {"residency": None, "monthly_budget": None},
            "placements": [
                {
                    "name": "p",
                    "cloud": cloud,
                    "region": region,
                    "cluster": {"instance_type": node_type, "access": "from-inside"},
                    "replicas": {"min": replicas[0], "max": replicas[1]},
                }
            ],
        },
    )
    result = plan(spec)
    placement = result.placements[0]
    if result.deployable:
        _assert_pods_fit(result, placement)
        assert cloud_facts.node_facts(cloud, node_type).can_buy(placement.capacity.mode) is not False
    else:
        blocking = [f for f in result.findings if f.blocking]
        fixes = ("add a mode it is sold in", "pick a node type with more CPU", "list a zone", "offered in:")
        assert all(any(fix in f.message for fix in fixes) for f in blocking), [f.message for f in blocking]


A3_HIGH_SMALL = ("a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g")


@pytest.mark.parametrize("node_type, gpus", [("a3-highgpu-1g", 1), ("a3-highgpu-2g", 2), ("a3-highgpu-4g", 4)])
@pytest.mark.parametrize(
    "capacity", [["on_demand"], ["on_demand", "spot"], ["on_demand", "flex_start"], ["flex_start", "on_demand"]]
)
def test_gcp_a3_high_small_is_never_planned_on_demand(node_type, gpus, capacity):
    # Compute Engine accelerator-optimized machines, A3 High: "When provisioning a3-highgpu-1g,
    # a3-highgpu-2g, or a3-highgpu-4g machine types, you must create instances by using Spot VMs or
    # Flex-start VMs."
    spec = spec_variant(
        "quickstart",
        {
            "resources": {"gpu": f"H100:{gpus}"},
            "compliance": {"monthly_budget": None},
            "placements": {0: {"cluster": {"instance_type": node_type}, "capacity": capacity}},
        },
    )
    placement = plan(spec).placements[0]
    if capacity == ["on_demand"]:
        assert placement.problem_code == "capacity-unavailable"
        assert placement.problem == (
            f"{node_type} cannot be bought as on_demand; it is sold as: spot, flex_start; add a mode it is sold in "
            "to placements[].capacity, or pin another cluster.instance_type"
        )
    else:
        assert placement.capacity.mode in ("spot", "flex_start") and placement.capacity.verified


def test_no_example_or_default_plan_buys_a3_high_small_on_demand():
    for path in EXAMPLE_SPECS:
        for placement in plan(spec_variant(path, {})).placements:
            if placement.gpu_node_type in A3_HIGH_SMALL:
                assert placement.capacity.mode in ("spot", "flex_start")
    qwen = plan(spec_variant("multi-cloud-qwen", {"placements": {1: {"capacity": ["on_demand"]}}}))
    assert qwen.placements[1].gpu_node_type not in A3_HIGH_SMALL


def test_capacity_follows_the_spec_preference_and_flags_unverified_modes():
    # g2 spot is sourced (skypilot-catalog SpotPrice for every G2 zone row); AWS spot is not.
    spot_first = plan(spec_variant("quickstart", {"placements": {0: {"capacity": ["spot", "on_demand"]}}}))
    assert spot_first.placements[0].capacity.mode == "spot" and spot_first.placements[0].capacity.verified
    assert "on-demand list price used as the upper bound for spot" in spot_first.placements[0].node.price_source
    aws = plan(spec_variant("aws-llama-8b-us", {"placements": {0: {"capacity": ["spot"]}}}))
    assert aws.placements[0].capacity.mode == "spot" and not aws.placements[0].capacity.verified
    unverified = next(f for f in aws.findings if f.code == "capacity-unverified")
    assert not unverified.blocking and "g6e.xlarge is sold as spot" in unverified.message
    # The budget judges the worst case: spot is priced at the on-demand list price.
    assert aws.monthly_cost_max == plan(spec_variant("aws-llama-8b-us", {})).monthly_cost_max


def test_gpu_pool_zones_are_the_ones_that_offer_the_gpu():
    # skypilot-catalog gcp/vms.csv AvailabilityZone: g2-standard-4 in us-central1-a, -b and -c, not -f.
    result = plan(spec_variant("quickstart", {}))
    assert result.placements[0].gpu_zones == ("us-central1-a", "us-central1-b", "us-central1-c")
    narrowed = plan(spec_variant("quickstart", {"placements": {0: {"zones": ["us-central1-f", "us-central1-b"]}}}))
    assert narrowed.placements[0].gpu_zones == ("us-central1-b",)
    nowhere = plan(spec_variant("quickstart", {"placements": {0: {"zones": ["us-central1-f"]}}}))
    assert not nowhere.deployable
    problem = nowhere.placements[0].problem
    assert problem.startswith(
        "g2-standard-4 is not offered in zones us-central1-f; us-central1 offers it in: us-central1-a, "
        "us-central1-b, us-central1-c; also "
    )
    assert problem.endswith("; list a zone that offers it in placements[].zones, or remove zones")


def test_a_pod_that_cannot_fit_exits_1_with_the_fix(tmp_path, monkeypatch):
    # Nodes whose DaemonSets request 1.2 CPU (a security agent, a log shipper): g2-standard-4 then
    # leaves 3.92 - 1.2 = 2.72 CPU, under the 3 CPU vLLM's three busy processes need for one GPU.
    heavy = cloud_facts.DaemonSetBudget(1200, 768, True, "test: heavy DaemonSets")
    monkeypatch.setattr(cloud_facts, "daemonset_budget", lambda cloud: heavy)
    text = (EXAMPLE_SPECS[0].parent / "quickstart.yaml").read_text()
    spec = tmp_path / "pinned.yaml"
    spec.write_text(
        text.replace(
            "      operator_cidrs: [203.0.113.7/32]\n",
            "      operator_cidrs: [203.0.113.7/32]\n      instance_type: g2-standard-4\n",
        )
    )
    result = runner.invoke(app, ["plan", str(spec)])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "unschedulable" in output
    assert (
        "a serving pod needs at least 3 CPU, 8.0 GiB (a CPU for each of vLLM's 3 processes, 6 GiB + 2 GiB /dev/shm) "
        "but g2-standard-4 leaves 2.72 CPU, 12.2 GiB after kube-reserved and DaemonSets; pick a node type with more "
        "CPU and memory per GPU (cluster.instance_type: g2-standard-24, g2-standard-48, g2-standard-96), or fewer GPUs "
        "per replica"
    ) in output
    # Unpinned, the planner picks a larger L4 shape instead.
    free = plan(spec_variant("quickstart", {}))
    assert free.deployable and free.placements[0].gpu_node_type != "g2-standard-4"


def test_a3_ultra_needs_a_reservation_spot_or_flex_start_and_uses_the_named_reservation():
    # accelerator-optimized machines, A3 Ultra: "When provisioning A3 Ultra machine types, you must
    # reserve capacity to create instances or clusters, use Spot VMs, use Flex-start VMs, or create a
    # resize request in a MIG."
    def deepseek_on_gcp(capacity):
        placement = {
            "name": "us-central",
            "cloud": "gcp",
            "region": "us-central1",
            "capacity": capacity,
            "cluster": {"access": "from-inside"},
        }
        return plan(spec_variant("deepseek-v3-h200", {"placements": [placement]}))

    on_demand = deepseek_on_gcp(["on_demand"])
    assert not on_demand.deployable
    blocking = next(f for f in on_demand.findings if f.blocking)
    assert blocking.code == "capacity-unavailable"
    assert blocking.message == (
        "placement us-central: a3-ultragpu-8g cannot be bought as on_demand; it is sold as: spot, flex_start, "
        "reservation:NAME; add a mode it is sold in to placements[].capacity, or pin another cluster.instance_type"
    )
    reserved = deepseek_on_gcp(["on_demand", {"reservation": "h200-block"}, "spot"]).placements[0]
    assert (reserved.capacity.mode, reserved.capacity.reservation) == ("reservation", "h200-block")
    assert reserved.gpu_zones == ("us-central1-b",)  # skypilot-catalog: a3-ultragpu-8g in us-central1-b only
