"""Runs inside the vLLM virtual environment: parse command lines with vLLM's own `vllm` CLI parser.

Reads a JSON list of argument lists on stdin, each what follows the `vllm` executable (`serve <model>
...`); builds the top-level parser as `vllm.entrypoints.cli.main` does, with the serve subcommand,
parses and validates each like `vllm serve` would. Prints a JSON list of results, each either
{"ok": true, "parsed": {...}} or {"ok": false, "error": "..."}. `model` is the served model: the
positional model tag, as the serve command resolves it.
"""

import contextlib
import io
import json
import sys

from vllm.entrypoints.cli.serve import ServeSubcommand
from vllm.utils.argparse_utils import FlexibleArgumentParser

FIELDS = (
    "model",
    "served_model_name",
    "tensor_parallel_size",
    "max_model_len",
    "kv_cache_memory_bytes",
    "quantization",
    "kv_cache_dtype",
    "enable_prefix_caching",
    "host",
    "port",
    "max_num_seqs",
    "max_lora_rank",
    "max_loras",
    "speculative_config",
    "gpu_memory_utilization",
    "max_num_batched_tokens",
    "enforce_eager",
    "pipeline_parallel_size",
    "distributed_executor_backend",
)

results = []
for argv in json.load(sys.stdin):
    parser = FlexibleArgumentParser(description="vLLM CLI")
    subparsers = parser.add_subparsers(required=False, dest="subparser")
    serve = ServeSubcommand()
    serve.subparser_init(subparsers).set_defaults(dispatch_function=serve.cmd)
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            namespace = parser.parse_args(argv)
            if namespace.subparser != "serve":
                raise ValueError(f"not the serve subcommand: {argv[:1]}")
            serve.validate(namespace)
        parsed = vars(namespace)
        parsed["model"] = parsed.get("model_tag") or parsed.get("model")
        results.append({"ok": True, "parsed": {k: parsed.get(k) for k in FIELDS}})
    except SystemExit:
        results.append({"ok": False, "error": errors.getvalue().strip().splitlines()[-1]})
    except Exception as exc:  # vLLM's own validation errors, reported by message
        results.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
print(json.dumps(results))
