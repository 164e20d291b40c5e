"""The ACM certificate an endpoint's NLB serves (`tls.source: acm`): a public certificate for the endpoint's
host name, validated by DNS. ACM names one CNAME record per domain in `domain_validation_options`; it goes
in the spec's Route 53 hosted zone, and `aws.acm.CertificateValidation` waits until ACM has issued the
certificate, so the Service that names it is created only once it can be served.

A certificate for one name (no subject alternative names) has exactly one validation option, so the record
is read from its first entry without creating resources inside an `apply`. ACM asks for the same CNAME for
the same name in one account, so placements in several regions write the same record: each may overwrite it
(`allow_overwrite`), and the value is the same. Removing one placement must not delete the record the
others' certificates renew with, so the stack leaves it behind when it deletes the resource
(`retain_on_delete`): a CNAME that validates nothing once no certificate names it.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

#: How long resolvers keep the validation record (inferstack's choice; ACM re-reads it at each renewal).
VALIDATION_TTL_SECONDS = 300


def acm_certificate(
    name: str, hostname: str, zone_id: str, provider: pulumi.ProviderResource | None, opts: pulumi.ResourceOptions
) -> pulumi.Output[str]:
    """`<name>-certificate`, its validation record `<name>-validation-record` in `zone_id` and
    `<name>-validation`, made with `provider` (the placement's region: an NLB serves only certificates of
    its own region); the certificate's ARN once validated."""
    opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=provider))
    certificate = aws.acm.Certificate(
        f"{name}-certificate",
        domain_name=hostname,
        validation_method="DNS",
        opts=opts,
    )
    option = certificate.domain_validation_options[0]
    record = aws.route53.Record(
        f"{name}-validation-record",
        zone_id=zone_id,
        name=option.resource_record_name,
        type=option.resource_record_type,
        records=[option.resource_record_value],
        ttl=VALIDATION_TTL_SECONDS,
        allow_overwrite=True,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)),
    )
    validation = aws.acm.CertificateValidation(
        f"{name}-validation",
        certificate_arn=certificate.arn,
        validation_record_fqdns=[record.fqdn],
        opts=opts,
    )
    return validation.certificate_arn
