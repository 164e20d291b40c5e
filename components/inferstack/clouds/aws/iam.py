"""IAM helpers: trust policies and roles with AWS-managed policies attached (IAM is global: no region)."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

MANAGED = "arn:aws:iam::aws:policy/"


def trust(service: str, *actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": list(actions) or ["sts:AssumeRole"],
                }
            ],
        }
    )


def pod_identity_addon(
    name: str,
    *,
    addon: str,
    policy: str,
    service_account: str,
    cluster_name: pulumi.Input[str],
    region: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource | None = None,
    depends_on: list[pulumi.Resource] | None = None,
) -> aws.eks.Addon:
    """An EKS add-on whose controller (`service_account`) gets the AWS-managed `policy` through EKS Pod
    Identity: the role and the add-on's own association, no IRSA or node-role permissions."""
    controller = role(
        name,
        "pods.eks.amazonaws.com",
        {addon.split("-")[1]: policy},
        tags,
        parent,
        actions=("sts:AssumeRole", "sts:TagSession"),
        provider=provider,
    )
    return aws.eks.Addon(
        name,
        cluster_name=cluster_name,
        addon_name=addon,
        region=region,
        pod_identity_associations=[
            aws.eks.AddonPodIdentityAssociationArgs(role_arn=controller.arn, service_account=service_account)
        ],
        resolve_conflicts_on_create="OVERWRITE",
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on or []),
    )


def role(
    name: str,
    service: str,
    policies: dict[str, str],
    tags: dict[str, str],
    parent: pulumi.Resource,
    actions: tuple[str, ...] = ("sts:AssumeRole",),
    inline: dict[str, str] | None = None,
    provider: pulumi.ProviderResource | None = None,
) -> aws.iam.Role:
    """A role `service` may assume, with managed `policies` ({suffix: policy name}) attached."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    created = aws.iam.Role(
        name,
        assume_role_policy=trust(service, *actions),
        tags=tags,
        inline_policies=[aws.iam.RoleInlinePolicyArgs(name=k, policy=v) for k, v in (inline or {}).items()] or None,
        opts=opts,
    )
    for suffix, policy in policies.items():
        aws.iam.RolePolicyAttachment(f"{name}-{suffix}", role=created.name, policy_arn=MANAGED + policy, opts=opts)
    return created
