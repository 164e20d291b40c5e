"""Bad specs: every case asserts the exact message a user reads."""

import copy

import pytest
import yaml

from inferstack.spec import SpecError, load_spec, parse_spec
from tests.conftest import SPECS

QUICKSTART = yaml.safe_load((SPECS / "quickstart.yaml").read_text())


def _mutated(change):
    data = copy.deepcopy(QUICKSTART)
    change(data)
    return data


CASES = {
    "unknown_top_field": (
        lambda d: d.update(replica=2),
        "replica: unknown field 'replica'. Allowed: autoscaling, cache, compliance, cost, endpoint, engine, global_endpoints, model, name, placements, resources, routing, slo, team, workload. Fix: remove it or correct its name.",
    ),
    "unknown_nested_field": (
        lambda d: d["model"].update(revison="x"),
        "model.revison: unknown field 'revison'. Did you mean 'revision'? Allowed: architecture, config, lora_adapters, lora_max_rank, max_context, revision, served_name, source. Fix: remove it or correct its name.",
    ),
    "typo_gpu": (
        lambda d: d["resources"].update(gpu="H1000:1"),
        "resources.gpu.sku = 'H1000': unknown GPU. Did you mean 'H100'? Allowed: A100-40GB, A100-80GB, A10G, B200, H100, H200, L4, L40S.",
    ),
    "typo_engine": (
        lambda d: d["engine"].update(name="vlm"),
        "engine.name = 'vlm': not an allowed value. Did you mean 'vllm'? Allowed: vllm, sglang, tgi, trtllm.",
    ),
    "bad_cloud": (
        lambda d: d["placements"][0].update(cloud="azure"),
        "placements[0].cloud = 'azure': not an allowed value. Allowed: aws, gcp, kubernetes.",
    ),
    "region_typo": (
        lambda d: d["placements"][0].update(region="us-central-1"),
        "placements[0].region = 'us-central-1': not a gcp region. Did you mean 'us-central1'? Allowed: asia-east1, asia-northeast1, asia-northeast3, asia-south1, asia-south2, asia-southeast1, australia-southeast1, europe-central2, europe-north1, europe-southwest1, europe-west1, europe-west10, europe-west12, europe-west2, europe-west3, europe-west4, europe-west6, europe-west8, europe-west9, me-central2, me-west1, northamerica-northeast1, northamerica-northeast2, southamerica-east1, us-central1, us-east1, us-east4, us-east5, us-south1, us-west1, us-west2, us-west3, us-west4.",
    ),
    "region_outside_lock": (
        lambda d: d["placements"][0].update(region="europe-west4"),
        "placements[0].region = 'europe-west4': outside the compliance region lock. Allowed: regions of residency group 'us'. Fix: move the placement into the lock, or widen compliance.allowed_regions if policy permits.",
    ),
    "unpinned_revision": (
        lambda d: d["model"].update(revision="main"),
        "model.revision = 'main': compliance.pin_revisions requires a commit hash, not a branch or tag. Allowed: a 40-hex commit hash (lower case). Fix: replace it with the commit it points to today.",
    ),
    "missing_revision": (
        lambda d: d["model"].pop("revision"),
        "model.revision: hf:// models need a revision. Allowed: a 40-hex commit hash. Fix: copy the commit from the model page's 'Files and versions' tab.",
    ),
    "impossible_tp": (
        lambda d: d["resources"].update(gpu="L4:3"),
        "resources.gpu.count = 3: tensor parallel size 3 does not split the model's 32 attention heads and 8 KV heads evenly. Allowed: 1, 2, 4, 8. Fix: pick a GPU count from the allowed list, or omit it to let the planner choose.",
    ),
    "negative_replicas": (
        lambda d: d["placements"][0].update(replicas={"min": -1, "max": 2}),
        "placements[0].replicas.min = -1: out of range. Allowed: at least 0.",
    ),
    "min_over_max": (
        lambda d: d["placements"][0].update(replicas={"min": 3, "max": 2}),
        "placements[0].replicas = {'min': 3, 'max': 2}: replicas.min (3) is greater than replicas.max (2). Allowed: min <= max. Fix: lower min or raise max.",
    ),
    "fp8_on_a100": (
        lambda d: d["resources"].update(gpu="A100-80GB:1"),
        "engine.quantization = 'fp8': fp8 needs a GPU with FP8 support and A100-80GB has none. Allowed: GPUs with FP8: B200, H100, H200, L4, L40S. Fix: choose one of those GPUs, or a checkpoint and quantization the GPU supports (none, awq, gptq, int8).",
    ),
    "bad_source_scheme": (
        lambda d: d["model"].update(source="http://example.com/model"),
        "model.source = 'http://example.com/model': unsupported model source. Allowed: hf://org/name, s3://bucket/prefix, gs://bucket/prefix, pvc://claim/path. Fix: copy the weights to one of these stores, or name the Hugging Face repository.",
    ),
    "missing_engine": (
        lambda d: d.pop("engine"),
        "engine: required field is missing. Fix: add 'engine'.",
    ),
    "bad_quantization": (
        lambda d: d["engine"].update(quantization="fp4"),
        "engine.quantization = 'fp4': not an allowed value. Did you mean 'nvfp4'? Allowed: none, fp8, int8, awq, gptq, mxfp4, nvfp4.",
    ),
    "disallowed_quantization": (
        lambda d: d["compliance"].update(allowed_quantizations=["none"]),
        "engine.quantization = 'fp8': weight format not allowed by compliance.allowed_quantizations. Allowed: none.",
    ),
    "disallowed_gpu": (
        lambda d: d["compliance"].update(allowed_gpus=["H100"]),
        "resources.gpu.sku = 'L4': GPU not allowed by compliance.allowed_gpus. Allowed: H100.",
    ),
    "disallowed_engine": (
        lambda d: d["compliance"].update(allowed_engines=["sglang"]),
        "engine.name = 'vllm': engine not allowed by compliance.allowed_engines. Allowed: sglang.",
    ),
    "disallowed_cloud": (
        lambda d: d["compliance"].update(allowed_clouds=["aws"]),
        "placements[0].cloud = 'gcp': cloud not allowed by compliance.allowed_clouds. Allowed: aws.",
    ),
    "unpinned_image": (
        lambda d: (
            d["compliance"].update(pin_images=True),
            d.setdefault("cache", {}).update(fetcher_image="python:3.12-slim"),
        ),
        "engine.image: compliance.pin_images requires an image pinned by digest. Allowed: an image reference ending in @sha256:<64 hex>. Fix: append the digest your registry reports for the tag.",
        "cache.fetcher_image = 'python:3.12-slim': compliance.pin_images requires an image pinned by digest. Allowed: an image reference ending in @sha256:<64 hex>. Fix: append the digest your registry reports for the tag.",
        "routing.enabled = True: compliance.pin_images requires an image pinned by digest, and the vllm-router image "
        "vllm/vllm-router:v0.1.17 is a release tag. Allowed: routing.enabled: false until the router image is pinned "
        "by digest. Fix: set routing.enabled: false (the model's Service then spreads requests with kube-proxy).",
    ),
    "bad_residency": (
        lambda d: d["compliance"].update(residency="europe"),
        "compliance.residency = 'europe': unknown residency group. Allowed: ae, au, ca, ch, eu, hk, id, il, in, jp, kr, ksa, sa, sg, tw, uk, us, za.",
    ),
    "context_too_long": (
        lambda d: d["model"].update(max_context=200000),
        "model.max_context = 200000: longer than the model's max_position_embeddings (131072). Allowed: 1 to 131072. Fix: lower model.max_context.",
    ),
    "bad_name": (
        lambda d: d.update(name="Quick_Start"),
        "name = 'Quick_Start': deployment name is not a DNS label. Allowed: 1-40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit. Fix: for example 'quick-start'.",
    ),
    "zone_outside_region": (
        lambda d: d["placements"][0].update(zones=["us-east1-b"]),
        "placements[0].zones[0] = 'us-east1-b': zone is not in region us-central1. Allowed: zones of us-central1, e.g. us-central1-a.",
    ),
    "duplicate_placement": (
        lambda d: d["placements"].append(dict(d["placements"][0])),
        "placements[1].name = 'us-central': placement names must be unique. Fix: rename one of them.",
    ),
    "no_placements": (
        lambda d: d.update(placements=[]),
        "placements = []: needs at least 1 item(s).",
    ),
    "unknown_architecture": (
        lambda d: d["model"].update(source="hf://acme/secret-model"),
        "model.architecture: the planner does not know the architecture of 'hf://acme/secret-model'. Allowed: deepseek-r1-bf16, deepseek-v2-lite, deepseek-v3, gemma-2-27b, gemma-2-9b, gemma-3-27b, gpt-oss-120b, gpt-oss-20b, kimi-k2-thinking, llama-3-70b-instruct-awq, llama-3-8b, llama-3.1-405b, llama-3.1-405b-fp8, llama-3.1-70b, llama-3.1-70b-w8a8, llama-3.1-8b, llama-3.2-1b, llama-3.2-3b, llama-3.3-70b-fp8-dynamic, mistral-7b-v0.3, mixtral-8x7b, qwen2.5-72b, qwen2.5-7b, qwen2.5-7b-instruct-awq, qwen2.5-7b-instruct-gptq-int4, qwen3-0.6b, qwen3-14b, qwen3-235b-a22b, qwen3-235b-a22b-fp8, qwen3-30b-a3b, qwen3-32b, qwen3-8b, qwq-32b. Fix: set model.architecture to a catalog name, or model.config to the checkpoint's config.json.",
    ),
    "bad_shorthand": (
        lambda d: d["resources"].update(gpu="L4:two"),
        "resources.gpu = 'L4:two': GPU count is not a whole number. Allowed: SKU or SKU:COUNT, e.g. H100 or H100:8.",
    ),
    "kubernetes_new_cluster": (
        lambda d: d["placements"][0].update(cloud="kubernetes"),
        "placements[0].cluster.kind = 'new': inferstack creates clusters on aws and gcp only. Allowed: existing. Fix: set cluster.kind: existing and give cluster.kubeconfig or cluster.context.",
    ),
    "instance_type_typo": (
        lambda d: d["placements"][0]["cluster"].update(instance_type="g2-standrd-4"),
        "placements[0].cluster.instance_type = 'g2-standrd-4': not a gcp node type with L4 GPUs. Did you mean 'g2-standard-4'? Allowed: g2-standard-24, g2-standard-4, g2-standard-48, g2-standard-96.",
    ),
    "negative_budget": (
        lambda d: d["compliance"].update(monthly_budget=-5),
        "compliance.monthly_budget = -5: out of range. Allowed: greater than 0.",
    ),
    "bad_engine_version": (
        lambda d: d["engine"].update(version="latest"),
        "engine.version = 'latest': not a release number. Allowed: a release such as 0.32.0. Fix: name the exact release so the image and memory calibration are known.",
    ),
    "lora_bad_scheme": (
        lambda d: d["model"].update(lora_adapters=["chat=ftp://x"]),
        "model.lora_adapters[0].source = 'ftp://x': unsupported LoRA adapter source. Allowed: hf://org/name@<commit>, s3://bucket/prefix, gs://bucket/prefix.",
    ),
    "lora_unpinned_hub": (
        lambda d: d["model"].update(lora_adapters=[{"name": "chat", "source": "hf://acme/lora"}]),
        "model.lora_adapters[0].source = 'hf://acme/lora': Hugging Face adapter is not pinned. Allowed: hf://org/name@<40-hex commit>. Fix: append @ and the adapter's commit hash.",
    ),
    "lora_without_name": (
        lambda d: d["model"].update(lora_adapters=["s3://b/lora"]),
        "model.lora_adapters = ['s3://b/lora']: adapter 's3://b/lora' has no name. Allowed: name=source, or {name: ..., source: ...}. Fix: name it: clients select an adapter by name.",
    ),
    "lora_rank": (
        lambda d: d["model"].update(lora_max_rank=48),
        "model.lora_max_rank = 48: not a LoRA rank engines accept. Allowed: 8, 16, 32, 64, 128, 256.",
    ),
    "lora_on_trtllm": (
        lambda d: (
            d["model"].update(lora_adapters=["sql=s3://acme/lora"]),
            d["engine"].update(name="trtllm", version="1.0.0"),
            d["engine"].pop("quantization"),
            d.update(autoscaling={"enabled": False}),
        ),
        "model.lora_adapters = ['sql=s3://acme/lora']: trtllm cannot serve LoRA adapters here. Allowed: vllm, sglang, tgi. Fix: merge the adapters into the checkpoint or choose another engine.",
    ),
    "kv_usage_target_percent": (
        lambda d: d.update(autoscaling={"signal": "kv_cache_usage", "target": 80}),
        "autoscaling.target = 80.0: KV-cache usage is a fraction of the pool. Allowed: greater than 0, at most 1. Fix: for 80 % write 0.8.",
    ),
    "price_on_cloud_placement": (
        lambda d: d["placements"][0].update(price_per_gpu_hour=2.5),
        "placements[0].price_per_gpu_hour = 2.5: gcp placements are priced from the catalog. Fix: remove it.",
    ),
    "architecture_and_config": (
        lambda d: d["model"].update(architecture="llama-3.1-8b", config="/nonexistent/config.json"),
        "model.config = '/nonexistent/config.json': both model.architecture and model.config are set. Fix: keep one: the catalog name, or the checkpoint's config.json.",
    ),
    "replicas_min_zero_without_routing": (
        lambda d: (d["placements"][0].update(replicas={"min": 0, "max": 2}), d.update(routing={"enabled": False})),
        "placements[0].replicas.min = 0: scaling from zero needs the engine's router in front of the replicas, and "
        "routing.enabled is false: with no replica running there would be no metric to wake one. Allowed: at least 1 "
        "without a router. Fix: set replicas.min to 1, or serve with an engine that has a router (sglang, vllm) and "
        "routing.enabled: true.",
    ),
    "replicas_min_zero_engine_without_router": (
        lambda d: (
            d["placements"][0].update(replicas={"min": 0, "max": 2}),
            d["engine"].update(name="tgi", version="3.3.4", quantization=None),
        ),
        "placements[0].replicas.min = 0: scaling from zero needs the engine's router in front of the replicas, and "
        "tgi ships no router (sglang, vllm do): with no replica running there would be no metric to wake one. "
        "Allowed: at least 1 without a router. Fix: set replicas.min to 1, or serve with an engine that has a router "
        "(sglang, vllm) and routing.enabled: true.",
    ),
    "replicas_min_zero_without_autoscaling": (
        lambda d: (d["placements"][0].update(replicas={"min": 0, "max": 2}), d.update(autoscaling={"enabled": False})),
        "placements[0].replicas.min = 0: scaling from zero needs the autoscaler, and autoscaling.enabled is false: "
        "no replica would ever start. Allowed: at least 1 without autoscaling. Fix: set replicas.min to 1, or "
        "autoscaling.enabled: true.",
    ),
    "routing_policy_without_router": (
        lambda d: d.update(routing={"enabled": False, "policy": "round_robin"}),
        "routing.policy = 'round_robin': no router applies it: routing.enabled is false. Fix: remove routing.policy "
        "(kube-proxy spreads connections without one).",
    ),
    "quantization_the_engine_cannot_do": (
        lambda d: (d["engine"].update(name="trtllm", version="1.0.0"), d.update(autoscaling={"enabled": False})),
        "engine.quantization = 'fp8': trtllm cannot quantize weights to fp8 at load time. Allowed: none. Fix: serve a checkpoint already in that format (leave engine.quantization unset).",
    ),
    "speculative_on_trtllm": (
        lambda d: (
            d["engine"].update(name="trtllm", version="1.0.0", speculative={"num_tokens": 4}),
            d["engine"].pop("quantization"),
            d.update(autoscaling={"enabled": False}),
        ),
        "engine.speculative.method = 'ngram': trtllm does not run this speculative decoding. Allowed: none: remove engine.speculative.",
    ),
    "empty_image": (
        lambda d: d["engine"].update(image=""),
        "engine.image = '': not an image reference. Allowed: registry/repository:tag, optionally followed by @sha256:<64 hex>. Fix: copy the reference your registry shows.",
    ),
    "boolean_context": (
        lambda d: d["model"].update(max_context=True),
        "model.max_context = True: input should be a valid integer. Fix: write a number, not true or false.",
    ),
    "aws_single_zone": (
        lambda d: (
            d["placements"][0].update(cloud="aws", region="us-east-1", zones=["us-east-1a"]),
            d["resources"].update(gpu="L40S:1"),
        ),
        "placements[0].zones = ['us-east-1a']: EKS needs subnets in at least two zones. Allowed: two or more zones of us-east-1. Fix: add a zone, or omit zones to use the region's first three.",
    ),
    "existing_cluster_without_prometheus": (
        lambda d: d["placements"][0].update(
            cloud="kubernetes", region="us-east-1", cluster={"kind": "existing", "context": "lab"}
        ),
        "placements[0].cluster.prometheus_url: KEDA scales on the engine's metrics and needs the cluster's Prometheus. Fix: set cluster.prometheus_url (e.g. http://prometheus-operated.monitoring.svc:9090), or set autoscaling.enabled: false.",
    ),
    "bad_operator_cidr": (
        lambda d: d["placements"][0].update(cluster={"operator_cidrs": ["10.0.0.0/33"]}),
        "placements[0].cluster.operator_cidrs = ['10.0.0.0/33']: '10.0.0.0/33' is not an address range. Allowed: CIDR notation such as 10.8.0.0/16.",
    ),
    "workload_longer_than_context": (
        lambda d: d.update(workload={"peak_requests_per_s": 5, "prompt_tokens": 8000, "output_tokens": 500}),
        "workload = 8500: prompt plus output tokens exceed model.max_context (8192). Allowed: at most 8192 tokens in all. Fix: raise model.max_context or correct the workload.",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec_reports_exact_message(case):
    change, *expected = CASES[case]
    with pytest.raises(SpecError) as caught:
        parse_spec(_mutated(change), "spec.yaml")
    rendered = caught.value.render().splitlines()
    count = len(expected)
    assert rendered[0] == f"spec.yaml: {count} problem{'s' if count != 1 else ''}"
    assert [line.removeprefix("  - ") for line in rendered[1:]] == expected


def _write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def _messages(path):
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return caught.value.render().splitlines()[1:]


def test_malformed_yaml_names_line_and_column(tmp_path):
    path = _write(tmp_path, "name: x\nmodel: [unclosed\n")
    assert _messages(path) == ["  - line 3, column 1: invalid YAML: expected ',' or ']', but got '<stream end>'."]


def test_duplicate_key_is_an_error_not_last_wins(tmp_path):
    path = _write(tmp_path, "name: a\nname: b\n")
    assert _messages(path) == [
        "  - line 2, column 1: invalid YAML: key 'name' appears twice in one mapping (first on line 1)."
    ]


def test_spec_that_is_not_a_mapping(tmp_path):
    path = _write(tmp_path, "- just\n- a list\n")
    assert _messages(path) == [
        "  - (top level): the spec is a list, not a mapping. Fix: start from specs/quickstart.yaml: "
        "the top level holds name, model, engine, resources, placements."
    ]


def test_empty_file(tmp_path):
    assert _messages(_write(tmp_path, "")) == [
        "  - (top level): the spec is empty, not a mapping. Fix: start from specs/quickstart.yaml: "
        "the top level holds name, model, engine, resources, placements."
    ]


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert _messages(missing) == [f"  - (file) = {str(missing)!r}: file not found. Fix: check the path."]


def test_every_problem_is_reported_at_once():
    def break_three_things(d):
        d["engine"]["name"] = "vlm"
        d["placements"][0]["region"] = "europe-west4"
        d["resources"]["gpu"] = "L4:3"

    with pytest.raises(SpecError) as caught:
        parse_spec(_mutated(break_three_things), "spec.yaml")
    paths = [v.path for v in caught.value.violations]
    # the field error first, then every cross-field rule that does not read engine.name
    assert paths == ["engine.name", "resources.gpu.count", "placements[0].region"]
    fixed = _mutated(break_three_things)
    fixed["engine"]["name"] = "vllm"
    with pytest.raises(SpecError) as caught:
        parse_spec(fixed, "spec.yaml")
    assert [v.path for v in caught.value.violations] == ["resources.gpu.count", "placements[0].region"]


def test_unpinned_revision_is_accepted_when_pinning_is_off():
    data = _mutated(lambda d: d["model"].update(revision="main"))
    data["compliance"]["pin_revisions"] = False
    assert parse_spec(data).model.revision == "main"


def test_local_config_path_is_read_relative_to_the_spec(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(
        '{"num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "hidden_size": 128,'
        ' "intermediate_size": 256, "vocab_size": 1000, "max_position_embeddings": 512}'
    )
    text = (SPECS / "quickstart.yaml").read_text()
    text = text.replace("hf://meta-llama/Llama-3.1-8B-Instruct", "s3://acme-models/tiny")
    text = text.replace("  revision: 0e9e39f249a16976918f6564b8830bc894c89659\n", "  config: model/config.json\n")
    text = text.replace("max_context: 8192", "max_context: 256").replace("  quantization: fp8\n", "")
    spec = load_spec(_write(tmp_path, text))
    assert spec.model.config == str(tmp_path / "model" / "config.json")
