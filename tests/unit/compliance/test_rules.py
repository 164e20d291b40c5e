"""One passing and one failing resource per rule and resource type, and the unknown-value case."""

import copy

import pytest

from inferstack.compliance import RESOURCE_RULES, STACK_RULES, UNKNOWN_SENTINEL, Resource, evaluate
from inferstack.kube import placement_objects
from inferstack.plan import plan
from inferstack.spec import load_spec
from inferstack.spec.models import Compliance
from tests.conftest import SPECS

RULES = {r.id: r for r in RESOURCE_RULES}
STRICT = Compliance(
    residency="eu",
    allowed_clouds=["aws", "kubernetes"],
    allowed_gpus=["H100"],
    allowed_engines=["vllm"],
    allowed_quantizations=["fp8"],
    pin_images=True,
    pin_revisions=True,
    monthly_budget=50_000,
)
DIGEST = "@sha256:" + "a" * 64


def _quickstart_objects():
    result = plan(load_spec(SPECS / "quickstart.yaml"))
    return {o["kind"]: o for o in placement_objects(result, result.placements[0])}


def _k8s(kind, obj, **annotations):
    obj = copy.deepcopy(obj)
    obj["metadata"].setdefault("annotations", {}).update(annotations)
    type_token = {"Deployment": "kubernetes:apps/v1:Deployment", "Job": "kubernetes:batch/v1:Job"}[kind]
    return Resource(type_token, obj["metadata"]["name"], obj)


def _pinned(obj):
    obj = copy.deepcopy(obj)
    for c in obj["spec"]["template"]["spec"].get("initContainers", []) + obj["spec"]["template"]["spec"]["containers"]:
        c["image"] += DIGEST
    return obj


OBJECTS = _quickstart_objects()
GOOD_DEPLOYMENT = _k8s("Deployment", _pinned(OBJECTS["Deployment"]), **{"inferstack.dev/gpu": "H100"})
GOOD_JOB = _k8s("Job", _pinned(OBJECTS["Job"]))


def _without(resource, *path):
    """The resource with the value at `path` not known until apply."""
    return _with(resource, UNKNOWN_SENTINEL, *path)


def _with(resource, value, *path):
    inputs = copy.deepcopy(resource.inputs)
    node = inputs
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return Resource(resource.type, resource.name, inputs, resource.provider_inputs)


EKS = Resource(
    "aws:eks/cluster:Cluster",
    "c",
    {
        "region": "eu-west-1",
        "vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True},
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}},
    },
)
GKE = Resource(
    "gcp:container/cluster:Cluster",
    "c",
    {
        "location": "europe-west4",
        "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
        "databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"},
    },
)
TEMPLATE = Resource(
    "aws:ec2/launchTemplate:LaunchTemplate",
    "lt",
    {
        "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 200}}],
        "networkInterfaces": [{"associatePublicIpAddress": "false"}],
    },
    {"region": "eu-west-1"},
)
NODE_GROUP = Resource(
    "aws:eks/nodeGroup:NodeGroup",
    "ng",
    {"instanceTypes": ["p5.48xlarge"], "scalingConfig": {"minSize": 1, "maxSize": 1, "desiredSize": 1}},
    {"region": "eu-north-1"},
)
NODE_POOL = Resource(
    "gcp:container/nodePool:NodePool",
    "np",
    {
        "location": "europe-west4",
        "autoscaling": {"minNodeCount": 0, "maxNodeCount": 1},
        "nodeConfig": {
            "machineType": "a3-highgpu-1g",
            "guestAccelerators": [{"type": "nvidia-h100-80gb", "count": 1}],
            "workloadMetadataConfig": {"mode": "GKE_METADATA"},
        },
    },
)
EFS = Resource("aws:efs/fileSystem:FileSystem", "fs", {"encrypted": True}, {"region": "eu-west-1"})
PAB = Resource(
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "pab",
    {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True},
    {"region": "eu-west-1"},
)
GCS = Resource("gcp:storage/bucket:Bucket", "b", {"location": "EU", "publicAccessPrevention": "enforced"})
SERVICE = Resource("kubernetes:core/v1:Service", "s", {"metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}})
AWS_PROVIDER = Resource("pulumi:providers:aws", "p", {"region": "eu-west-1"})
#: The endpoint's gateway Service as kube.endpoint renders it on GKE (internal by default).
GATEWAY = Resource(
    "kubernetes:core/v1:Service",
    "gw",
    {
        "metadata": {
            "name": "quickstart-endpoint",
            "labels": {"app.kubernetes.io/component": "endpoint"},
            "annotations": {"networking.gke.io/load-balancer-type": "Internal"},
        },
        "spec": {"type": "LoadBalancer"},
    },
)

# rule id -> [(passing resource, failing resource, expected message of the failing one)]
CASES = {
    "INF001": [
        (
            EKS,
            _with(EKS, "us-east-1", "region"),
            "region 'us-east-1' is outside the region lock; allowed: regions of residency group 'eu'. Fix: move the placement into the lock",
        ),
        (
            GKE,
            _with(GKE, "us-central1-a", "location"),
            "region 'us-central1' is outside the region lock; allowed: regions of residency group 'eu'. Fix: move the placement into the lock",
        ),
        (
            AWS_PROVIDER,
            _with(AWS_PROVIDER, "us-west-2", "region"),
            "region 'us-west-2' is outside the region lock; allowed: regions of residency group 'eu'. Fix: move the placement into the lock",
        ),
        (
            EFS,
            Resource(EFS.type, "fs", EFS.inputs, {"region": "ap-south-1"}),
            "region 'ap-south-1' is outside the region lock; allowed: regions of residency group 'eu'. Fix: move the placement into the lock",
        ),
    ],
    "INF002": [
        (
            EKS,
            _with(GKE, "europe-west4", "location"),
            "cloud 'gcp' is not allowed; allowed: aws, kubernetes. Fix: remove the placement on this cloud",
        )
    ],
    "INF003": [
        (
            EKS,
            _with(EKS, True, "vpcConfig", "endpointPublicAccess"),
            "EKS endpointPublicAccess is True; allowed: false. Fix: set vpcConfig.endpointPublicAccess=false and endpointPrivateAccess=true",
        ),
        (
            GKE,
            _with(GKE, False, "privateClusterConfig", "enablePrivateEndpoint"),
            "GKE privateClusterConfig.enablePrivateEndpoint is False; allowed: true. Fix: make the cluster private",
        ),
        (
            TEMPLATE,
            _with(TEMPLATE, True, "networkInterfaces", 0, "associatePublicIpAddress"),
            "networkInterfaces[0].associatePublicIpAddress is true; allowed: false. Fix: place nodes in private subnets without public IPs",
        ),
        (
            SERVICE,
            _with(SERVICE, "LoadBalancer", "spec", "type"),
            "Service type LoadBalancer is public; allowed: ClusterIP or an internal load balancer. Fix: annotate it as internal or use ClusterIP",
        ),
    ],
    "INF004": [
        (
            EKS,
            _with(EKS, {}, "encryptionConfig"),
            "EKS secrets encryption is not configured with a KMS key. Fix: set encryptionConfig {resources: [secrets], provider.keyArn}",
        ),
        (
            GKE,
            _with(GKE, "DECRYPTED", "databaseEncryption", "state"),
            "GKE databaseEncryption.state is 'DECRYPTED'; allowed: ENCRYPTED. Fix: set a Cloud KMS key",
        ),
        (EFS, _with(EFS, False, "encrypted"), "EFS encrypted is False; allowed: true. Fix: set encrypted=true"),
        (
            TEMPLATE,
            _with(TEMPLATE, "false", "blockDeviceMappings", 0, "ebs", "encrypted"),
            "blockDeviceMappings[0].ebs.encrypted is 'false'; allowed: true. Fix: encrypt node volumes",
        ),
    ],
    "INF005": [
        (
            PAB,
            _with(PAB, False, "restrictPublicBuckets"),
            "restrictPublicBuckets is False; allowed: true. Fix: block all public access",
        ),
        (
            GCS,
            _with(GCS, "inherited", "publicAccessPrevention"),
            "publicAccessPrevention is 'inherited'; allowed: enforced. Fix: set publicAccessPrevention=enforced",
        ),
        (
            Resource("aws:s3/bucketV2:BucketV2", "b", {"acl": "private"}),
            Resource("aws:s3/bucketV2:BucketV2", "b", {"acl": "public-read"}),
            "acl is 'public-read'; allowed: private. Fix: remove the public ACL",
        ),
    ],
    "INF006": [
        (
            NODE_GROUP,
            _with(NODE_GROUP, ["g6e.xlarge"], "instanceTypes"),
            "instanceTypes[0]='g6e.xlarge': GPU 'L40S' is not allowed; allowed: H100",
        ),
        (
            NODE_POOL,
            _with(NODE_POOL, [{"type": "nvidia-l4", "count": 1}], "nodeConfig", "guestAccelerators"),
            "guestAccelerators[0].type='nvidia-l4': GPU 'L4' is not allowed; allowed: H100",
        ),
        (
            GOOD_DEPLOYMENT,
            _k8s("Deployment", _pinned(OBJECTS["Deployment"])),
            "annotation inferstack.dev/gpu='L4': GPU 'L4' is not allowed; allowed: H100",
        ),
    ],
    "INF007": [
        (
            GOOD_DEPLOYMENT,
            _k8s("Deployment", _pinned(OBJECTS["Deployment"]), **{"inferstack.dev/engine": "sglang"}),
            "engine 'sglang' is not allowed; allowed: vllm. Fix: change engine.name in the spec",
        )
    ],
    "INF008": [
        (
            GOOD_DEPLOYMENT,
            _with(GOOD_DEPLOYMENT, "vllm/vllm-openai:v0.32.0", "spec", "template", "spec", "containers", 0, "image"),
            "container 'vllm' image 'vllm/vllm-openai:v0.32.0' is not pinned; allowed: an image reference ending in @sha256:<digest>. Fix: pin it by digest",
        ),
        (
            GOOD_JOB,
            _with(GOOD_JOB, "python:3.12-slim", "spec", "template", "spec", "containers", 0, "image"),
            "container 'fetch' image 'python:3.12-slim' is not pinned; allowed: an image reference ending in @sha256:<digest>. Fix: pin it by digest",
        ),
    ],
    "INF009": [
        (
            GOOD_DEPLOYMENT,
            _k8s("Deployment", _pinned(OBJECTS["Deployment"]), **{"inferstack.dev/model-revision": "main"}),
            "model revision 'main' is not a commit; allowed: a 40-hex commit. Fix: pin model.revision",
        )
    ],
    "INF010": [
        (
            TEMPLATE,
            _with(TEMPLATE, "optional", "metadataOptions", "httpTokens"),
            "metadataOptions.httpTokens is 'optional'; allowed: required. Fix: require IMDSv2",
        ),
        (
            NODE_POOL,
            _with(NODE_POOL, "GCE_METADATA", "nodeConfig", "workloadMetadataConfig", "mode"),
            "nodeConfig.workloadMetadataConfig.mode is 'GCE_METADATA'; allowed: GKE_METADATA. Fix: enable the GKE metadata server",
        ),
    ],
    "INF011": [
        (
            GOOD_DEPLOYMENT,
            _with(GOOD_DEPLOYMENT, True, "spec", "template", "spec", "automountServiceAccountToken"),
            "automountServiceAccountToken is not false. Fix: set it to false on the pod",
        ),
        (
            GOOD_JOB,
            _with(GOOD_JOB, [{"name": "host", "hostPath": {"path": "/"}}], "spec", "template", "spec", "volumes"),
            "volume 'host' is a hostPath. Fix: use a PersistentVolumeClaim or emptyDir",
        ),
    ],
    "INF013": [
        (
            GATEWAY,
            _with(GATEWAY, {}, "metadata", "annotations"),
            "endpoint Service 'quickstart-endpoint' of type 'LoadBalancer' is public; allowed: an internal load "
            "balancer or ClusterIP while compliance.private_networking is true. Fix: set endpoint.exposure: private",
        ),
        (
            _with(GATEWAY, "ClusterIP", "spec", "type"),
            _with(
                GATEWAY,
                {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"},
                "metadata",
                "annotations",
            ),
            "endpoint Service 'quickstart-endpoint' of type 'LoadBalancer' is public; allowed: an internal load "
            "balancer or ClusterIP while compliance.private_networking is true. Fix: set endpoint.exposure: private",
        ),
    ],
}
#: rule id -> a resource whose compliance-relevant value is not known at preview.
UNKNOWN_CASES = {
    "INF001": (
        _without(EKS, "region"),
        "region is unknown (not computed at preview); allowed: regions of residency group 'eu'. Fix: set the region explicitly on the resource or its provider",
    ),
    "INF002": None,  # decided by the type token alone, which is always known
    "INF003": (
        _without(EKS, "vpcConfig", "endpointPublicAccess"),
        "EKS endpointPublicAccess is unknown (not computed at preview); allowed: false. Fix: set vpcConfig.endpointPublicAccess=false and endpointPrivateAccess=true",
    ),
    "INF004": (
        _without(EFS, "encrypted"),
        "EFS encrypted is unknown (not computed at preview); allowed: true. Fix: set encrypted=true",
    ),
    "INF005": (
        _without(GCS, "publicAccessPrevention"),
        "publicAccessPrevention is unknown (not computed at preview); allowed: enforced. Fix: set publicAccessPrevention=enforced",
    ),
    "INF006": (
        _without(NODE_GROUP, "instanceTypes"),
        "instanceTypes[0]=None: GPU unknown; allowed: H100. Fix: use a catalog node type with an allowed GPU",
    ),
    "INF007": (
        _k8s("Deployment", _pinned(OBJECTS["Deployment"]), **{"inferstack.dev/quantization": UNKNOWN_SENTINEL}),
        "quantization unknown (not computed at preview) is not allowed; allowed: fp8. Fix: change engine.quantization in the spec",
    ),
    "INF008": (
        _without(GOOD_JOB, "spec", "template", "spec", "containers", 0, "image"),
        "container 'fetch' image unknown (not computed at preview) is not pinned; allowed: an image reference ending in @sha256:<digest>. Fix: pin it by digest",
    ),
    "INF009": (
        _k8s("Deployment", _pinned(OBJECTS["Deployment"]), **{"inferstack.dev/model-revision": UNKNOWN_SENTINEL}),
        "model revision unknown (not computed at preview) is not a commit; allowed: a 40-hex commit. Fix: pin model.revision",
    ),
    "INF010": (
        _without(TEMPLATE, "metadataOptions", "httpTokens"),
        "metadataOptions.httpTokens is unknown (not computed at preview); allowed: required. Fix: require IMDSv2",
    ),
    "INF011": (
        _without(GOOD_JOB, "spec", "template", "spec", "automountServiceAccountToken"),
        "automountServiceAccountToken is not false. Fix: set it to false on the pod",
    ),
    "INF013": (
        _without(_with(GATEWAY, {}, "metadata", "annotations"), "spec", "type"),
        "endpoint Service 'quickstart-endpoint' of type unknown (not computed at preview) is public; allowed: an "
        "internal load balancer or ClusterIP while compliance.private_networking is true. Fix: set endpoint.exposure: "
        "private",
    ),
}


def _messages(rule_id, resource):
    return [f.message for f in RULES[rule_id].evaluate(resource, STRICT)]


def test_every_rule_has_cases():
    assert set(CASES) == set(RULES) == set(UNKNOWN_CASES)


@pytest.mark.parametrize("rule_id, index", [(r, i) for r, cases in CASES.items() for i in range(len(cases))])
def test_rule_passes_good_and_fails_bad(rule_id, index):
    good, bad, expected = CASES[rule_id][index]
    assert _messages(rule_id, good) == []
    assert _messages(rule_id, bad) == [expected]


@pytest.mark.parametrize("rule_id", sorted(k for k, v in UNKNOWN_CASES.items() if v))
def test_unknown_values_fail_closed(rule_id):
    resource, expected = UNKNOWN_CASES[rule_id]
    assert _messages(rule_id, resource) == [expected]


def test_a_mig_slice_is_judged_by_its_whole_gpu():
    """A workload on a MIG pool records the slice (`H100-MIG-3g.40gb`) as its GPU: allowed where H100 is,
    refused where it is not."""
    on_slice = _k8s("Deployment", _pinned(OBJECTS["Deployment"]), **{"inferstack.dev/gpu": "H100-MIG-3g.40gb"})
    assert _messages("INF006", on_slice) == []
    refused = ["annotation inferstack.dev/gpu='H100-MIG-3g.40gb': GPU 'H100-MIG-3g.40gb' is not allowed; allowed: L4"]
    only_l4 = Compliance.model_validate({**STRICT.model_dump(), "allowed_gpus": ["L4"]})
    assert [f.message for f in RULES["INF006"].evaluate(on_slice, only_l4)] == refused


def test_cpu_system_node_groups_are_not_gpu_capacity():
    system = Resource(
        NODE_GROUP.type,
        "system",
        {"amiType": "AL2023_x86_64_STANDARD", "instanceTypes": ["m6i.large"], "scalingConfig": {"maxSize": 3}},
        {"region": "eu-west-1"},
    )
    assert _messages("INF006", system) == []
    assert [f.message for f in STACK_RULES[0].evaluate([system, NODE_GROUP], STRICT)] == []


def test_rules_describe_themselves():
    for rule in RESOURCE_RULES + STACK_RULES:
        assert rule.id.startswith("INF") and rule.description and rule.severity in ("mandatory", "advisory")


BUDGET = STACK_RULES[0]


def test_budget_passes_within_and_fails_over():
    assert [f.message for f in BUDGET.evaluate([NODE_GROUP], STRICT)] == []  # 55.04 x 730 = 40,179
    over = _with(NODE_GROUP, {"minSize": 1, "maxSize": 2, "desiredSize": 1}, "scalingConfig")
    assert [f.message for f in BUDGET.evaluate([over], STRICT)] == [
        "GPU capacity at max size costs 80,358 USD/month, over the budget of 50,000 USD. "
        "Fix: lower replicas.max or choose cheaper GPUs"
    ]


def test_budget_fails_closed_on_unknown_size():
    unknown = _without(NODE_GROUP, "scalingConfig", "maxSize")
    findings = BUDGET.evaluate([unknown], STRICT)
    assert [(f.resource_name, f.message) for f in findings] == [
        (
            "ng",
            "a budget cannot be proven: node type 'p5.48xlarge' with max size unknown (not computed at preview) "
            "has no known price. Fix: use a catalog node type",
        )
    ]


def test_evaluate_runs_resource_and_stack_rules_in_order():
    us_node_group = Resource(NODE_GROUP.type, "ng", NODE_GROUP.inputs, {"region": "us-east-1"})
    findings = evaluate([_with(EFS, False, "encrypted"), us_node_group], STRICT)
    assert [(f.rule, f.resource_name) for f in findings] == [("INF004", "fs"), ("INF001", "ng")]


def _router_deployment():
    result = plan(load_spec(SPECS / "quickstart.yaml"))
    (router,) = [
        o
        for o in placement_objects(result, result.placements[0])
        if (o["kind"], o["metadata"]["name"]) == ("Deployment", "quickstart-router")
    ]
    return _k8s("Deployment", _pinned(router))


def test_the_router_may_carry_a_token_to_discover_pods_in_its_own_namespace():
    router = _router_deployment()
    assert router.get("spec", "template", "spec", "automountServiceAccountToken") is True
    assert _messages("INF011", router) == []
    args = router.get("spec", "template", "spec", "containers", 0, "args")
    elsewhere = list(args)
    elsewhere[elsewhere.index("--service-discovery-namespace") + 1] = "kube-system"
    scoped_elsewhere = _with(router, elsewhere, "spec", "template", "spec", "containers", 0, "args")
    assert _messages("INF011", scoped_elsewhere) == [
        "automountServiceAccountToken is not false. Fix: set it to false on the pod"
    ]


def test_an_endpoint_may_be_public_where_private_networking_is_off():
    public = _with(GATEWAY, {}, "metadata", "annotations")
    assert [f.message for f in RULES["INF013"].evaluate(public, Compliance(private_networking=False))] == []


def test_the_private_endpoint_rule_ignores_services_other_than_the_gateway():
    assert _messages("INF013", _with(_with(GATEWAY, {}, "metadata", "annotations"), {}, "metadata", "labels")) == []


def test_an_internal_nlb_of_the_in_tree_aws_controller_is_private():
    nlb = {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
    internal = _with(
        GATEWAY, {**nlb, "service.beta.kubernetes.io/aws-load-balancer-internal": "true"}, "metadata", "annotations"
    )
    assert _messages("INF003", internal) == [] and _messages("INF013", internal) == []
    assert _messages("INF003", _with(GATEWAY, nlb, "metadata", "annotations")) == [
        "Service type LoadBalancer is public; allowed: ClusterIP or an internal load balancer. "
        "Fix: annotate it as internal or use ClusterIP"
    ]
