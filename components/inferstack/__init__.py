"""inferstack: one compliance-aware model spec in; GPU capacity, cached weights, hardened LLM serving
and monitoring out, on AWS, GCP or any Kubernetes cluster, with Pulumi."""

__version__ = "0.1.0"
