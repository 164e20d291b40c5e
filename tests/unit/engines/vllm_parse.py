"""Runs inside the vLLM virtual environment: parse argument lists with vLLM's own parser.

Reads a JSON list of argument lists on stdin; prints a JSON list of results, each either
{"ok": true, "parsed": {...}} or {"ok": false, "error": "..."}.
"""

import contextlib
import io
import json
import sys

try:
    from vllm.entrypoints.openai.cli_args import make_arg_parser
except ImportError:  # module path moves between vLLM versions
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
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
)

results = []
for args in json.load(sys.stdin):
    parser = make_arg_parser(FlexibleArgumentParser(allow_abbrev=False))
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            parsed = vars(parser.parse_args(args))
        results.append({"ok": True, "parsed": {k: parsed.get(k) for k in FIELDS}})
    except SystemExit:
        results.append({"ok": False, "error": errors.getvalue().strip().splitlines()[-1]})
print(json.dumps(results))
