"""inferstack's Pulumi program: deploys the spec(s) named by the stack config `inferstack:spec`.

    pulumi config set inferstack:spec specs/quickstart.yaml   # relative to the project root
    pulumi up

Nothing else is read from config here; everything comes from the spec (cloud credentials and the GCP
project come from the usual `aws:`/`gcp:` settings or environment).
"""

from pathlib import Path

from inferstack.program import main

main(Path(__file__).resolve().parent.parent)  # the project root, where Pulumi.yaml lives
