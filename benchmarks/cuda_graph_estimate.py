"""The planner's CUDA-graph term for vLLM >= 0.21 against the engine's own 'Estimated CUDA graph memory' lines.

Run: python benchmarks/cuda_graph_estimate.py
Prints, per logged estimate: the graphs vLLM captures at the log's settings, the planner's estimate (the
cuda_graph terms of the 0.21.0 row of catalog/data/engine_memory.yaml) and the constant 0.84 GiB it
replaced, each with its error. The logs are vLLM 0.19.0 runs with the same estimator 0.21.0 switched on;
no vLLM >= 0.21 log of a catalog model on a catalog GPU was found (benchmarks/reference_points.yaml).
The costs are fitted on the Llama-3.1-8B log alone. The others are checks, not held-back points in the corpus
sense: all four totals were seen while choosing the model's form, and gemma-3-27b's decomposition (12 MiB
per PIECEWISE graph at 62 layers against Llama's 6 MiB at 32) is what made the PIECEWISE cost per layer.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inferstack import catalog
from inferstack.plan.cuda_graphs import graph_counts
from inferstack.plan.memory import cuda_graph_gib, engine_settings, memory_row

#: What the constant of the 0.21.0 and 0.32.0 rows was before this estimate replaced it.
CONSTANT_GIB = 0.84
#: llm-d-incubation/llm-d-planner accuracy/results/v0.19.0/logs/@d3121e059da88662db39a926a3ead964be97359b
#: (1 or 2 x H100, max_num_seqs 1024 and max_num_batched_tokens 8192 by default).
LOGS = "llm-d-planner accuracy/results/v0.19.0/logs/"
#: (what, model, GPU, logged 'Estimated CUDA graph memory' GiB, split, source)
POINTS = (
    ("Llama-3.1-8B 1xH100", "meta-llama/Llama-3.1-8B-Instruct", "H100", 0.84, "fitted",
     LOGS + "meta-llama-llama-3-1-8b--h100-80gb--tp1pp1dp1--16384.log"),
    ("gemma-3-27b 1xH100", "google/gemma-3-27b-it", "H100", 1.05, "checked",
     LOGS + "google-gemma-3-27b-it--h100-80gb--tp1pp1dp1--8192.log"),
    ("gpt-oss-20b 2xH100", "openai/gpt-oss-20b", "H100", 1.09, "checked",
     LOGS + "openai-gpt-oss-20b--h100-80gb--tp2pp1dp1--8192.log (as quoted in engine_memory.yaml before this change)"),
    ("Llama-3.3-70B FP8 2xH100", "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic", "H100", 1.82, "checked",
     "tests/unit/plan/logs/vllm-v1-019-tp2-llama70b-fp8.log"),
)  # fmt: skip


def main() -> int:
    row = memory_row("vllm", "0.21.0")
    print(f"{'log':<26} {'split':<10} {'graphs':>7} {'logged':>7} {'model':>7} {'err':>7} {'0.84':>7} {'err':>7}")
    errors: dict[str, list[float]] = {"model": [], "constant": []}
    for what, hf_id, gpu, logged, split, _source in POINTS:
        arch = catalog.architecture_for_hf_id(hf_id)
        assert arch is not None, hf_id
        settings = engine_settings("vllm", "0.21.0", catalog.gpus()[gpu])
        counts = graph_counts(
            row.cuda_graph, arch.family, gpu, settings.max_num_seqs or 0, settings.max_num_batched_tokens or 0
        )
        model = cuda_graph_gib(row, arch, settings)
        model_error, constant_error = model / logged - 1, CONSTANT_GIB / logged - 1
        if split == "checked":
            errors["model"].append(abs(model_error))
            errors["constant"].append(abs(constant_error))
        print(
            f"{what:<26} {split:<10} {counts[0]:>3}+{counts[1]:<3} {logged:>7.2f} {model:>7.2f} {model_error:>+7.1%}"
            f" {CONSTANT_GIB:>7.2f} {constant_error:>+7.1%}"
        )
    for name, values in errors.items():
        print(f"checked, mean |error| of the {name}: {sum(values) / len(values):.1%} over {len(values)} logs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
