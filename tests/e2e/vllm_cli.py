"""`vllm serve` as the `vllm` console script runs it (vllm.entrypoints.cli.main:main), with only the
serve subcommand registered.

The image's `vllm` script imports every subcommand module first; on this machine the CPU wheel's
kernels, which the `preload` subcommand's imports load eagerly, need AVX-512 and die with SIGILL on CPUs
without it, before any argument is read. Serving loads what it needs itself. Everything else is main's
own sequence: environment setup, the same parser (FlexibleArgumentParser with the serve subparser made
by ServeSubcommand.subparser_init), the subcommand's validate, then its dispatch.
"""

import sys

from vllm.entrypoints.cli.serve import ServeSubcommand
from vllm.entrypoints.serve.utils.api_utils import cli_env_setup
from vllm.utils.argparse_utils import FlexibleArgumentParser

if __name__ == "__main__":
    cli_env_setup()
    parser = FlexibleArgumentParser(description="vLLM CLI")
    subparsers = parser.add_subparsers(required=False, dest="subparser")
    serve = ServeSubcommand()
    serve.subparser_init(subparsers).set_defaults(dispatch_function=serve.cmd)
    args = parser.parse_args()
    if args.subparser != "serve":
        sys.exit(f"only `vllm serve` is available here, not {sys.argv[1:2]}")
    serve.validate(args)
    args.dispatch_function(args)
