"""Cloud facts against their sources: numbers are written out literally from the provider docs or from
published worked examples, not computed with the loader's own functions."""

import pytest

from inferstack import catalog
from inferstack.catalog import cloud_facts as cf

MIB_PER_GIB = 1024


# --- Every shipped node type has facts ------------------------------------------------------------


@pytest.mark.parametrize("offering", catalog.offerings(), ids=lambda o: f"{o.cloud}:{o.node_type}")
def test_every_offering_has_facts(offering):
    facts = cf.node_facts(offering.cloud, offering.node_type)
    assert facts.vcpus == offering.vcpus and facts.memory_gib == offering.memory_gib
    assert facts.boot_disks, "a node pool needs a boot disk type"
    assert facts.capacity_source
    assert facts.capacity_modes or facts.capacity_modes_unknown
    assert 0 < facts.allocatable_cpu_m < offering.vcpus * 1000
    assert 0 < facts.allocatable_memory_mib < facts.formula_allocatable_memory_mib < offering.memory_gib * MIB_PER_GIB


def test_no_facts_without_an_offering_or_a_system_pool():
    """Facts for a type nobody ships are stale: a renamed offering must rename its facts too."""
    shipped = {(o.cloud, o.node_type) for o in catalog.offerings()}
    data = cf.facts_data()
    for cloud, types in data["node_types"].items():
        for node_type in types:
            assert (cloud, node_type) in shipped, f"{cloud}:{node_type} has facts but no offering"


@pytest.mark.parametrize("offering", [o for o in catalog.offerings() if o.cloud == "gcp"], ids=lambda o: o.node_type)
def test_gcp_zones_cover_exactly_the_offering_regions(offering):
    """Both read skypilot-catalog gcp/vms.csv @006059e0f18a: a region with the type has at least one zone."""
    zones = cf.node_facts("gcp", offering.node_type).zones
    assert zones is not None
    assert set(zones) == set(offering.regions)
    for region, region_zones in zones.items():
        assert region_zones and all(z.startswith(region + "-") for z in region_zones)


def test_unknown_node_type_names_the_known_ones():
    with pytest.raises(KeyError) as err:
        cf.node_facts("gcp", "a3-highgpu-3g")
    assert "a3-highgpu-1g" in str(err.value) and "g2-standard-4" in str(err.value)
    with pytest.raises(KeyError, match="aws, gcp"):
        cf.node_facts("azure", "nd96")


# --- GKE node sizing (cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes) -------------


def test_gke_memory_reservation_published_examples():
    # hatemosphere/gke-node-allocatable-memory-calculator README, 150 GiB machine:
    # "Standard GKE reserved memory: 9.8577 GiB" (includes the 100 MiB eviction threshold),
    # "Allocatable memory: 140.1423 GiB".
    # Whole MiB here (the cluster autoscaler's prediction truncates too): within 1 MiB = 0.001 GiB.
    reserved = cf.kube_reserved_memory_mib("gcp", 150 * MIB_PER_GIB) + 100
    assert reserved / MIB_PER_GIB == pytest.approx(9.8577, abs=1e-3)
    assert 150 - reserved / MIB_PER_GIB == pytest.approx(140.1423, abs=1e-3)
    # Bracket walk-throughs from a public test table of the same formula: 128Gi -> 9543Mi, 14200Mi -> 2444Mi.
    assert cf.kube_reserved_memory_mib("gcp", 128 * MIB_PER_GIB) == 9543
    assert cf.kube_reserved_memory_mib("gcp", 14200) == 2444
    # "255 MiB of memory for machines with less than 1 GiB of memory"
    assert cf.kube_reserved_memory_mib("gcp", 614) == 255


def test_gke_cpu_reservation_from_the_documented_percentages():
    # 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above 4 cores.
    assert cf.kube_reserved_cpu_m("gcp", 1) == 60
    assert cf.kube_reserved_cpu_m("gcp", 2) == 70
    assert cf.kube_reserved_cpu_m("gcp", 4) == 80
    assert cf.kube_reserved_cpu_m("gcp", 96) == 80 + 230  # 92 cores x 2.5m


def test_quickstart_g2_standard_4_cannot_hold_a_13gi_pod():
    """Issue 12 finding 4: the quickstart serving pod requests 3 CPU / 13 Gi on g2-standard-4 (4 vCPU, 16 GB).

    GKE reserves 25% of 4 GiB + 20% of 4 GiB + 10% of 8 GiB = 2662.4 MiB plus 100 MiB eviction, so even the
    formula on the nominal 16 GiB leaves 13621.6 MiB (83% < 85%), only 309 MiB above the pod; the kernel's share
    of a 16 GiB COS node (16384/64 + 16 + 64 MiB + ~29 MiB, cluster autoscaler's model) takes the rest."""
    facts = cf.node_facts("gcp", "g2-standard-4")
    nominal_mib = 16 * MIB_PER_GIB
    pod_mib = 13 * MIB_PER_GIB
    assert 13621 <= facts.formula_allocatable_memory_mib <= 13622  # 13621.6 MiB, reservation in whole MiB
    assert facts.formula_allocatable_memory_mib < 0.85 * nominal_mib
    assert facts.allocatable_memory_mib < pod_mib
    budget = cf.daemonset_budget("gcp")
    assert facts.formula_allocatable_memory_mib - budget.memory_mib < pod_mib
    # CPU is not the constraint: 4000m - 80m leaves 3920m for a 3000m request (before DaemonSets).
    assert facts.allocatable_cpu_m == 3920


# --- EKS AMI (awslabs/amazon-eks-ami nodeadm) ---------------------------------------------------------


def test_eks_memory_reservation_published_example():
    # aws/karpenter-provider-aws#8205: "When reservedENI=0 for an m6g.xlarge instance maxPods=58,
    # kube-reserved memory = 11 * 58 + 255 = 893". m6i.xlarge and g6.xlarge have the same 4 ENIs x 15 IPs.
    assert cf.kube_reserved_memory_mib("aws", 16 * MIB_PER_GIB, eni_max_pods=58) == 893
    assert cf.node_facts("aws", "m6i.xlarge").kube_reserved_memory_mib == 893
    assert cf.node_facts("aws", "g6.xlarge").kube_reserved_memory_mib == 893


def test_eks_max_pods_eni_values():
    # eni-max-pods.txt values: m6i.large 29, p5.48xlarge 100 (2 ENIs x 49 + 2), p4d.24xlarge 737.
    assert cf.node_facts("aws", "m6i.large").max_pods == 29
    assert cf.node_facts("aws", "p5.48xlarge").max_pods == 100
    # Managed node groups cap maxPods at 250 above 30 vCPUs ...
    assert cf.node_facts("aws", "p4d.24xlarge").max_pods == 250
    # ... but nodeadm still reserves memory for the ENI value 737: 11 x 737 + 255.
    assert cf.node_facts("aws", "p4d.24xlarge").kube_reserved_memory_mib == 8362


def test_eks_cpu_reservation_from_nodeadm_brackets():
    # cpuPercentageReservedForRanges {600, 100, 50, 25} per 10000 over {0, 1000, 2000, 4000, total} millicores.
    assert cf.kube_reserved_cpu_m("aws", 2) == 70
    assert cf.kube_reserved_cpu_m("aws", 4) == 80
    assert cf.kube_reserved_cpu_m("aws", 192) == 80 + 470  # 188000 x 25 / 10000


def test_eks_system_node_cannot_run_a_two_cpu_job():
    """Issue 12 finding 1: the prefetch Job requests 2 CPUs; m6i.large keeps 70m for kubelet/runtime."""
    assert cf.node_facts("aws", "m6i.large").allocatable_cpu_m < 2000


# --- Capacity modes and boot disks (compute/docs/accelerator-optimized-machines) ----------------------


@pytest.mark.parametrize("machine", ["a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g"])
def test_small_a3_high_is_only_spot_or_flex_start(machine):
    # "When provisioning a3-highgpu-1g, a3-highgpu-2g, or a3-highgpu-4g machine types, you must create
    # instances by using Spot VMs or Flex-start VMs."
    facts = cf.node_facts("gcp", machine)
    assert set(facts.capacity_modes) == {"spot", "flex_start"}
    assert facts.can_buy("on_demand") is False


def test_a3_ultra_needs_reservation_spot_or_flex_start_and_hyperdisk_boot():
    # "you must reserve capacity ..., use Spot VMs, use Flex-start VMs"; "Hyperdisk Balanced
    # (hyperdisk-balanced): this is the only disk type that is supported for the boot disk".
    facts = cf.node_facts("gcp", "a3-ultragpu-8g")
    assert set(facts.capacity_modes) == {"reservation", "spot", "flex_start"}
    assert facts.can_buy("on_demand") is False
    assert facts.boot_disks == ("hyperdisk-balanced",)
    assert "pd-ssd" not in facts.boot_disks


def test_boot_disks_per_machine_series():
    assert "pd-standard" not in cf.node_facts("gcp", "g2-standard-4").boot_disks  # G2 limitation
    assert "hyperdisk-balanced" not in cf.node_facts("gcp", "a2-highgpu-1g").boot_disks  # not in A2's list
    assert "pd-ssd" in cf.node_facts("gcp", "a3-highgpu-8g").boot_disks
    assert cf.node_facts("aws", "p5.48xlarge").boot_disks == ("gp3",)


def test_aws_capacity_blocks_and_unknowns_stay_unknown():
    assert cf.node_facts("aws", "p5.48xlarge").can_buy("capacity_block") is True
    assert cf.node_facts("aws", "g6.xlarge").can_buy("capacity_block") is None
    assert cf.node_facts("aws", "g6.xlarge").can_buy("flex_start") is False
    with pytest.raises(ValueError, match="known"):
        cf.node_facts("aws", "g6.xlarge").can_buy("preemptible")


# --- Zones -------------------------------------------------------------------------------------------


def test_gpu_zones():
    # skypilot-catalog gcp/vms.csv @006059e0f18a: a3-ultragpu-8g,...,us-central1,us-central1-b
    assert cf.gpu_zones("gcp", "us-central1", "a3-ultragpu-8g") == ("us-central1-b",)
    assert cf.gpu_zones("gcp", "us-east4", "g2-standard-4") == ("us-east4-a", "us-east4-c")
    assert cf.gpu_zones("gcp", "europe-west2", "a3-highgpu-8g") == ()
    assert cf.gpu_zones("aws", "us-east-1", "p5.48xlarge") is None  # not sourced: unknown, not invented


# --- Control plane to node ports ---------------------------------------------------------------------


def test_private_gke_needs_firewall_rules_for_keda():
    # GKE firewall-rules page: private clusters allow "TCP: 443 (metrics-server) and TCP: 10250 (Kubelet)";
    # KEDA's metrics server listens on 6443, its admission webhooks on 9443.
    gcp = cf.control_plane_ports("gcp")
    assert set(gcp.open_by_default or ()) == {443, 10250}
    assert {p.port for p in gcp.missing_for({"keda"})} == {6443, 9443}
    assert gcp.missing_for(set()) == ()


def test_eks_cluster_security_group_allows_the_control_plane():
    assert cf.control_plane_ports("aws").open_by_default is None
    assert cf.control_plane_ports("aws").missing_for({"keda"}) == ()


# --- Versions ----------------------------------------------------------------------------------------


def test_eks_1_33_is_out_of_standard_support_in_december_2026():
    assert "1.33" not in cf.eks_standard_support_versions("2026-12-01")
    assert cf.eks_standard_support_versions("2026-12-01") == ("1.34", "1.35")


# --- Every fact carries a source or an estimate -------------------------------------------------------


def test_every_fact_has_a_source_or_is_an_estimate():
    data = cf.facts_data()
    for name, modes in data["capacity_mode_sets"].items():
        assert modes.get("source"), name
        for mode in cf.CAPACITY_MODES:
            assert modes.get(mode) in (True, False, cf.UNKNOWN), f"{name}.{mode}"
    for name, disks in data["boot_disk_sets"].items():
        assert disks["types"] and disks["source"], name
    for cloud, budget in data["daemonset_budget"].items():
        assert budget["estimate"] is True and budget["reasoning"], cloud
    for cloud, formula in data["formulas"].items():
        assert formula["source"], cloud
        overhead = formula["os_memory_overhead"]
        assert overhead["estimate"] is True and overhead["reasoning"], cloud
    for cloud, types in data["node_types"].items():
        for node_type, row in types.items():
            assert row["zones"] == cf.UNKNOWN or isinstance(row["zones"], dict), f"{cloud}:{node_type}"
