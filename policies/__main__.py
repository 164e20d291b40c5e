"""CrossGuard policy pack: the inferstack compliance rules, enforced on `pulumi preview/up`.

    pulumi preview --policy-pack policies/ --policy-pack-config policies/config.example.json

Every policy reads the same config (the spec's `compliance` fields); see config.example.json.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from inferstack.policy_pack import policies

PolicyPack(name="inferstack-compliance", enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
