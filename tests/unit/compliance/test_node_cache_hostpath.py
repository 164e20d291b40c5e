"""INF011's one hostPath shape: the node_local tier's directory maker passes; the same volume written
through, or anywhere else on the node, fails."""

import copy

from inferstack.compliance import RESOURCE_RULES, Resource
from inferstack.kube import placement_objects
from inferstack.plan import plan
from inferstack.spec.models import Compliance
from tests.conftest import spec_variant

RULE = next(r for r in RESOURCE_RULES if r.id == "INF011")
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"


def _owner():
    result = plan(spec_variant("deepseek-v3-h200", {}))
    return next(
        o
        for o in placement_objects(result, result.placements[0])
        if (o["kind"], o["metadata"]["name"]) == ("DaemonSet", "deepseek-v3-node-cache-owner")
    )


def _violations(obj):
    return list(RULE.check(Resource(DAEMON_SET, obj["metadata"]["name"], obj), Compliance()))


def test_the_node_cache_directory_maker_passes():
    owner = _owner()
    assert _violations(owner) == []


def test_a_writable_or_other_hostpath_fails():
    owner = _owner()
    writable = copy.deepcopy(owner)
    writable["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = False
    elsewhere = copy.deepcopy(owner)
    elsewhere["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["path"] = "/var/lib/kubelet"
    message = "volume 'node-cache' is a hostPath. Fix: use a PersistentVolumeClaim or emptyDir"
    assert _violations(writable) == [message]
    assert _violations(elsewhere) == [message]
