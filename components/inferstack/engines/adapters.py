"""The four built-in engines. Flags and metric names are those of the engines' own documentation
and parsers for the versions named; vLLM's are checked against its real parser in the tests."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferstack import catalog
from inferstack.catalog import multinode
from inferstack.engines.base import EngineAdapter, Metrics, Probes, adapter_paths
from inferstack.plan.memory import GIB

if TYPE_CHECKING:
    from inferstack.plan import Plan


def _kv_pool_bytes(plan: Plan) -> int:
    return max(int(plan.fit.kv_pool_bytes), 0)


def _served_on(served_name: str, port: int) -> list[str]:
    """The name clients request and where the server listens, as vLLM and SGLang both spell them."""
    return ["--served-model-name", served_name, "--host", "0.0.0.0", "--port", str(port)]


def _served_quantization(plan: Plan) -> str | None:
    """The quantization flag to pass: only when serving differs from the checkpoint's own format."""
    wanted = plan.quantization
    native = plan.architecture.native_quantization or "none"
    return None if wanted in ("none", native) else wanted


def _when_set(flag: str, value: float | int | None) -> list[str]:
    """`flag value` for a spec setting the user gave, nothing when the engine keeps its own default."""
    return [] if value is None else [flag, str(value)]


def _lora_modules(plan: Plan) -> list[str]:
    """name=path for each adapter the prefetch job put in the cache."""
    return [f"{name}={path}" for name, path in adapter_paths(plan)]


def _streamer_args(plan: Plan) -> list[str]:
    """vLLM's Run:ai model streamer for the streaming and node_local cache tiers (`plan.coldstart`): it reads
    s3://, gs:// and local paths (vllm/model_executor/model_loader/runai_streamer_loader.py, 0.32.0); with
    tensor parallelism `distributed` makes the ranks split the files, so a node reads the checkpoint once
    (vllm/model_executor/model_loader/weight_utils.py runai_safetensors_weights_iterator). The loader is
    vLLM's `runai` extra (runai-model-streamer[s3,gcs,azure]), which the engine image must carry."""
    if plan.cold_start.tier == "shared_volume":
        return []
    args = ["--load-format", "runai_streamer"]
    if plan.fit.tp > 1:
        args += ["--model-loader-extra-config", json.dumps({"distributed": True}, separators=(",", ":"))]
    return args


@dataclass(frozen=True)
class Vllm(EngineAdapter):
    """vLLM's OpenAI server, started as `vllm serve <model>`. The KV pool is pinned with --kv-cache-memory-bytes (vLLM PR #21489) so the
    engine allocates exactly what the plan computed instead of re-deriving it by profiling."""

    def engine_args(self, plan: Plan) -> list[str]:
        spec = plan.spec
        # `vllm serve <model>`: the model is the positional argument; `--model` after `serve` is deprecated
        # ("With `vllm serve`, you should provide the model as a positional argument ... The `--model`
        # option will be removed in a future version.", vllm/utils/argparse_utils.py).
        args = [
            self.model_path(plan),
            *_served_on(spec.served_name, self.port),
            "--tensor-parallel-size",
            str(plan.fit.tp),
            "--max-model-len",
            str(spec.model.max_context),
            "--kv-cache-memory-bytes",
            str(_kv_pool_bytes(plan)),
        ]
        if quant := _served_quantization(plan):
            args += ["--quantization", quant]
        if spec.engine.kv_cache_dtype != "auto":
            args += ["--kv-cache-dtype", spec.engine.kv_cache_dtype]
        # The pool is pinned above; the fraction still bounds the engine's startup free-memory check.
        args += _when_set("--gpu-memory-utilization", spec.engine.gpu_memory_utilization)
        args += _when_set("--max-num-batched-tokens", spec.engine.max_num_batched_tokens)
        if not spec.engine.cuda_graphs:
            args.append("--enforce-eager")
        # Explicit both ways: vLLM V1 caches prefixes by default, so "off" needs its own flag.
        args.append("--enable-prefix-caching" if spec.engine.prefix_caching else "--no-enable-prefix-caching")
        if modules := _lora_modules(plan):
            args += [
                "--enable-lora",
                "--max-loras",
                str(len(modules)),
                "--max-lora-rank",
                str(spec.model.lora_max_rank),
                "--lora-modules",
                *modules,
            ]
        args += _streamer_args(plan)
        return args

    def group_args(self, plan: Plan, leader: bool) -> list[str]:
        """The leader serves with TP within a node and PP across nodes on Ray's executor ("Set
        tensor_parallel_size to the number of GPUs per node and pipeline_parallel_size to the number of
        nodes", vLLM docs, parallelism_scaling; "multi-node inferencing currently requires Ray", vLLM
        docs, distributed_serving); workers run no vLLM process, only the Ray worker the leader drives."""
        if not leader:
            return []
        return [
            *self.args(plan),
            "--pipeline-parallel-size",
            str(plan.fit.pp),
            "--distributed-executor-backend",
            "ray",
        ]

    def speculative_args(self, method: str, num_tokens: int) -> list[str]:
        config = {
            "method": method,
            "num_speculative_tokens": num_tokens,
            "prompt_lookup_max": 4,
            "prompt_lookup_min": 2,
        }
        return ["--speculative-config", json.dumps(config, separators=(",", ":"))]


#: Our weight-format names where SGLang's --quantization spells them differently.
SGLANG_QUANTIZATION = {"int8": "w8a8_int8", "nvfp4": "modelopt_fp4"}


@dataclass(frozen=True)
class Sglang(EngineAdapter):
    """SGLang's server; the pool is pinned through --mem-fraction-static (weights + KV share)."""

    def engine_args(self, plan: Plan) -> list[str]:
        spec = plan.spec
        # SGLang budgets fraction x (memory free after distributed init) for weights + pool (engine_memory.yaml).
        total = plan.fit.kv_pool_bytes + plan.fit.weights_per_gpu_bytes
        free = (catalog.gpus()[plan.fit.gpu].memory_gib - plan.fit.overhead.non_torch_gib) * GIB
        fraction = int(total / free * 1000 + 1e-6) / 1000
        args = [
            "--model-path",
            self.model_path(plan),
            *_served_on(spec.served_name, self.port),
            "--tp-size",
            str(plan.fit.tp),
            "--context-length",
            str(spec.model.max_context),
            "--mem-fraction-static",
            f"{fraction:.3f}",
            "--enable-metrics",
        ]
        if quant := _served_quantization(plan):
            args += ["--quantization", SGLANG_QUANTIZATION.get(quant, quant)]
        if spec.engine.kv_cache_dtype == "fp8":
            args += ["--kv-cache-dtype", "fp8_e4m3"]
        # SGLang's prefill chunk is what vLLM calls max_num_batched_tokens (--chunked-prefill-size).
        args += _when_set("--chunked-prefill-size", spec.engine.max_num_batched_tokens)
        if not spec.engine.cuda_graphs:
            args.append("--disable-cuda-graph")
        if not spec.engine.prefix_caching:
            args.append("--disable-radix-cache")
        if modules := _lora_modules(plan):
            args += [
                "--enable-lora",
                "--max-loras-per-batch",
                str(len(modules)),
                "--max-lora-rank",
                str(spec.model.lora_max_rank),
                "--lora-paths",
                *modules,
            ]
        return args

    def speculative_args(self, method: str, num_tokens: int) -> list[str]:
        return ["--speculative-algorithm", method.upper(), "--speculative-num-draft-tokens", str(num_tokens)]

    def group_args(self, plan: Plan, leader: bool) -> list[str]:
        """Every node runs the server with TP over the whole replica, the leader's address and port for the
        process group, the node count and its rank (SGLang docs, "Run Multi-Node Inference": `--tp 16
        --dist-init-addr HOST:20000 --nnodes 2 --node-rank R`; LeaderWorkerSet sets LWS_LEADER_ADDRESS and
        LWS_WORKER_INDEX, which Kubernetes expands in `$(NAME)` arguments)."""
        port = multinode.engine_spans()[self.name].port
        rank = "0" if leader else "$(LWS_WORKER_INDEX)"
        return [
            *self.args(plan),
            "--dist-init-addr",
            f"$(LWS_LEADER_ADDRESS):{port}",
            "--nnodes",
            str(plan.fit.nodes),
            "--node-rank",
            rank,
        ]


@dataclass(frozen=True)
class Tgi(EngineAdapter):
    """Hugging Face text-generation-inference launcher. TGI sizes its KV blocks itself after warmup (the plan
    models that sizing); flash-attention models ignore --max-batch-total-tokens with a deprecation warning
    (backends/v3/src/lib.rs, v3.3.7): the planned tokens passed there bind only models without flash attention."""

    def engine_args(self, plan: Plan) -> list[str]:
        spec = plan.spec
        args = [
            "--model-id",
            self.model_path(plan),
            "--hostname",
            "0.0.0.0",
            "--port",
            str(self.port),
            "--num-shard",
            str(plan.fit.tp),
            "--max-total-tokens",
            str(spec.model.max_context),
            "--max-input-tokens",
            str(spec.model.max_context - 1),
            "--max-batch-total-tokens",
            str(plan.fit.kv_tokens),
        ]
        if quant := _served_quantization(plan):
            args += ["--quantize", {"awq": "awq", "gptq": "gptq", "fp8": "fp8", "int8": "eetq"}.get(quant, quant)]
        if spec.engine.kv_cache_dtype == "fp8":
            args += ["--kv-cache-dtype", "fp8_e4m3fn"]
        args += _when_set("--cuda-memory-fraction", spec.engine.gpu_memory_utilization)
        args += _when_set("--max-batch-prefill-tokens", spec.engine.max_num_batched_tokens)
        if not spec.engine.cuda_graphs:
            args += ["--cuda-graphs", "0"]  # "Use \"0\" to disable" (text-generation-launcher --help)
        if spec.model.lora_adapters:
            args += ["--lora-adapters", ",".join(_lora_modules(plan))]
        return args

    def speculative_args(self, method: str, num_tokens: int) -> list[str]:
        # Without Medusa heads in the checkpoint, --speculate drafts from n-grams of the prompt.
        return ["--speculate", str(num_tokens)]


@dataclass(frozen=True)
class TrtLlm(EngineAdapter):
    """NVIDIA TensorRT-LLM's `trtllm-serve` (PyTorch backend). Its KV pool is a fraction of the memory
    left free after the weights and activations load, so the plan's pool is passed as that fraction."""

    def engine_args(self, plan: Plan) -> list[str]:
        spec = plan.spec
        free = catalog.gpus()[plan.fit.gpu].memory_gib * GIB - plan.fit.weights_per_gpu_bytes
        free -= plan.fit.overhead.total_bytes
        # Truncated to 3 decimals (never more than planned); the epsilon absorbs float noise in pool/free.
        fraction = math.floor(max(plan.fit.kv_pool_bytes, 0) / free * 1000 + 1e-9) / 1000 if free > 0 else 0.0
        args = [
            self.model_path(plan),
            "--served_model_name",
            spec.served_name,
            "--host",
            "0.0.0.0",
            "--port",
            str(self.port),
            "--tp_size",
            str(plan.fit.tp),
            "--max_seq_len",
            str(spec.model.max_context),
            "--kv_cache_free_gpu_memory_fraction",
            f"{fraction:.3f}",
        ]
        return args + _when_set("--max_num_tokens", spec.engine.max_num_batched_tokens)


VLLM = Vllm(
    name="vllm",
    image_repository="vllm/vllm-openai",
    image_tag_format="v{version}",
    port=8000,
    probes=Probes(startup="/health", readiness="/v1/models", liveness="/health"),
    # The `vllm` console script's serve subcommand, vLLM's documented entry point; the
    # `python3 -m vllm.entrypoints.openai.api_server` module it replaces is deprecated.
    command=("vllm", "serve"),
    shutdown_seconds=30,
    metrics=Metrics(
        path="/metrics",
        model_label="model_name",
        requests_running="vllm:num_requests_running",
        requests_waiting="vllm:num_requests_waiting",
        kv_cache_usage="vllm:kv_cache_usage_perc",
        ttft_seconds="vllm:time_to_first_token_seconds",
        inter_token_seconds="vllm:inter_token_latency_seconds",
        e2e_seconds="vllm:e2e_request_latency_seconds",
        prompt_tokens="vllm:prompt_tokens_total",
        generation_tokens="vllm:generation_tokens_total",
        preemptions="vllm:num_preemptions_total",
        request_success="vllm:request_success_total",
        # vLLM counts every finished request by finished_reason (stop, length, abort, error, repetition);
        # "error" is a server-side failure, returned as HTTP 500 (vllm/v1/engine FinishReason).
        failure_matcher='finished_reason="error"',
    ),
    scaling_metrics={
        "queue_depth": "vllm:num_requests_waiting",
        "running_requests": "vllm:num_requests_running",
        "kv_cache_usage": "vllm:kv_cache_usage_perc",
    },
)

SGLANG = Sglang(
    name="sglang",
    concurrency_flag="--max-running-requests",
    image_repository="lmsysorg/sglang",
    image_tag_format="v{version}",
    port=30000,
    probes=Probes(startup="/health", readiness="/v1/models", liveness="/health"),
    command=("python3", "-m", "sglang.launch_server"),
    shutdown_seconds=30,
    metrics=Metrics(
        path="/metrics",
        model_label="model_name",
        requests_running="sglang:num_running_reqs",
        requests_waiting="sglang:num_queue_reqs",
        kv_cache_usage="sglang:token_usage",
        ttft_seconds="sglang:time_to_first_token_seconds",
        inter_token_seconds="sglang:inter_token_latency_seconds",
        e2e_seconds="sglang:e2e_request_latency_seconds",
        prompt_tokens="sglang:prompt_tokens_total",
        generation_tokens="sglang:generation_tokens_total",
        preemptions=None,
        request_success="sglang:num_requests_total",
    ),
    scaling_metrics={
        "queue_depth": "sglang:num_queue_reqs",
        "running_requests": "sglang:num_running_reqs",
        "kv_cache_usage": "sglang:token_usage",
    },
)

TGI = Tgi(
    name="tgi",
    concurrency_flag="--max-concurrent-requests",
    image_repository="ghcr.io/huggingface/text-generation-inference",
    image_tag_format="{version}",
    port=8080,
    probes=Probes(startup="/health", readiness="/health", liveness="/health"),
    command=("text-generation-launcher",),
    shutdown_seconds=30,
    metrics=Metrics(
        path="/metrics",
        model_label="job",
        requests_running="tgi_batch_current_size",
        requests_waiting="tgi_queue_size",
        kv_cache_usage=None,
        ttft_seconds=None,
        inter_token_seconds="tgi_request_mean_time_per_token_duration",
        e2e_seconds="tgi_request_duration",
        prompt_tokens=None,
        generation_tokens=None,
        preemptions=None,
        request_success="tgi_request_success",
    ),
    scaling_metrics={"queue_depth": "tgi_queue_size", "running_requests": "tgi_batch_current_size"},
)

TRTLLM = TrtLlm(
    name="trtllm",
    concurrency_flag="--max_batch_size",
    image_repository="nvcr.io/nvidia/tensorrt-llm/release",
    image_tag_format="{version}",
    port=8000,
    probes=Probes(startup="/health", readiness="/health", liveness="/health"),
    command=("trtllm-serve",),
    shutdown_seconds=30,
    metrics=Metrics(
        path="/prometheus/metrics",
        model_label="model_name",
        requests_running=None,
        requests_waiting=None,
        kv_cache_usage=None,
        ttft_seconds="trtllm_time_to_first_token_seconds",
        inter_token_seconds="trtllm_time_per_output_token_seconds",
        e2e_seconds="trtllm_e2e_request_latency_seconds",
        prompt_tokens=None,
        generation_tokens=None,
        preemptions=None,
        request_success="trtllm_request_success_total",
    ),
    scaling_metrics={},
)
