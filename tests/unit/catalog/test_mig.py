"""MIG profiles: the sourced H100 rows, the names Kubernetes uses, and a slice as a device."""

from __future__ import annotations

from fractions import Fraction

import pytest

from inferstack import catalog
from inferstack.catalog import mig


def test_h100_profiles_match_nvidia_smi_and_the_mig_user_guide():
    rows = {(p.profile, p.memory_gib, p.memory_fraction, p.instances) for p in mig.profiles_of("H100")}
    assert rows == {
        ("1g.10gb", 9.75, Fraction(1, 8), 7),
        ("1g.20gb", 19.62, Fraction(2, 8), 4),
        ("2g.20gb", 19.62, Fraction(2, 8), 3),
        ("3g.40gb", 39.50, Fraction(4, 8), 2),
        ("4g.40gb", 39.50, Fraction(4, 8), 1),
        ("7g.80gb", 79.25, Fraction(8, 8), 1),
    }


@pytest.mark.parametrize("profile", mig.profiles(), ids=lambda p: f"{p.gpu}-{p.profile}")
def test_slices_of_a_profile_never_take_more_memory_than_the_gpu(profile):
    assert profile.instances * profile.memory_fraction <= 1
    assert profile.gpu in catalog.gpus()
    assert profile.source


def test_kubernetes_names_of_a_slice():
    profile = mig.profile("H100", "3g.40gb")
    assert profile is not None
    assert profile.resource == "nvidia.com/mig-3g.40gb"
    assert profile.mig_config == ("nvidia.com/mig.config", "all-3g.40gb")
    assert profile.gke_partition == ("cloud.google.com/gke-gpu-partition-size", "3g.40gb")


def test_a_slice_is_a_device_with_its_memory_and_share_of_bandwidth():
    profile = mig.profile("H100", "3g.40gb")
    assert profile is not None
    device = mig.slice_gpu(profile)
    assert (device.sku, device.memory_gib, device.bandwidth_gbps, device.fp8) == (
        "H100-MIG-3g.40gb",
        39.5,
        1675.0,
        True,
    )
    assert mig.slice_of("H100-MIG-3g.40gb") == profile
    assert mig.slice_of("H100") is None


def test_slices_are_not_gpus_a_spec_can_name():
    assert not any("-MIG-" in sku for sku in catalog.gpus())


def test_unknown_profiles_and_gpus():
    assert mig.profile("H100", "3g.20gb") is None
    assert mig.profiles_of("L4") == ()
