"""The inferstack Pulumi component package: `ModelDeployment` for every Pulumi language.

    pulumi package add ./components          # from another Pulumi project (generates a local SDK)

The schema (type token `inferstack:index:ModelDeployment`) is inferred from the type annotations of
`inferstack.deployment.ModelDeploymentArgs` and the component's annotated outputs.
"""

import pulumi
from pulumi.provider.experimental import component_provider_host

from inferstack import __version__
from inferstack.deployment import ModelDeployment

COMPONENTS: list[type[pulumi.ComponentResource]] = [ModelDeployment]

if __name__ == "__main__":
    component_provider_host(name="inferstack", components=COMPONENTS, version=__version__)
