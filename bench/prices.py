"""Every AWS price the cost model uses, public on-demand list prices for us-east-1 (USD), each with its source.

`read` is the date the figure was read. Several official pricing pages render their rate tables in the browser,
so their text carries no number; where that is so, the figure comes from the page named in `source` and is
marked `secondary`, and `assumption` marks a figure no page gave us (a modelling choice, stated as such).
Re-check these against the official pages before quoting a bill: prices change.
"""

from __future__ import annotations

from dataclasses import dataclass

READ = "2026-11-24"
HOURS_PER_MONTH = 730  # AWS pricing pages use 730 hours for a month


@dataclass(frozen=True)
class Price:
    value: float
    unit: str
    source: str
    read: str = READ
    note: str = ""
    secondary: bool = False  # taken from a page other than AWS's own, because AWS's page renders it client-side
    assumption: bool = False  # no page states it; a modelling choice


FARGATE_PAGE = "https://aws.amazon.com/fargate/pricing/"
FARGATE_FIGURES = "https://www.vantage.sh/blog/fargate-pricing (us-east-1 table)"

# -- compute -------------------------------------------------------------------------------------------------------

FARGATE_VCPU_HOUR_ARM = Price(
    0.03238,
    "per vCPU-hour, Linux/ARM",
    f"{FARGATE_PAGE}; figure from {FARGATE_FIGURES}",
    secondary=True,
    note="AWS's page states the dimensions (vCPU, memory, OS, architecture; per second, 1-minute minimum) "
    "but renders the rates client-side.",
)
FARGATE_GB_HOUR_ARM = Price(
    0.00356, "per GB-hour, Linux/ARM", f"{FARGATE_PAGE}; figure from {FARGATE_FIGURES}", secondary=True
)
FARGATE_VCPU_HOUR_X86 = Price(
    0.04048,
    "per vCPU-hour, Linux/x86",
    f"{FARGATE_PAGE}; figure from {FARGATE_FIGURES}",
    secondary=True,
    note="Cross-checked: the ECS pricing page's worked example quotes $0.000011244 per vCPU-second "
    "(= $0.04048 per hour).",
)
FARGATE_GB_HOUR_X86 = Price(
    0.004445, "per GB-hour, Linux/x86", f"{FARGATE_PAGE}; figure from {FARGATE_FIGURES}", secondary=True
)

# -- load balancing ------------------------------------------------------------------------------------------------

ELB_PAGE = "https://aws.amazon.com/elasticloadbalancing/pricing/"
ALB_HOUR = Price(0.0225, "per ALB-hour", f"{ELB_PAGE} (US East worked example: '$0.0225 hourly charge')")
ALB_LCU_HOUR = Price(
    0.008,
    "per LCU-hour",
    f"{ELB_PAGE} (US East worked example: '$0.008 per LCU')",
    note="An LCU is the highest of: 25 new connections/s, 3,000 active connections/min, 1 GB/h to targets, "
    "1,000 rule evaluations/s. Idle load balancers consume ~0 LCU; traffic costs the same per GB in both designs.",
)
NLB_HOUR = Price(
    0.0225,
    "per NLB-hour",
    f"{ELB_PAGE}; figure from https://clustercost.com/blog/network-load-balancer-pricing-2025",
    secondary=True,
)
NLB_NLCU_HOUR = Price(0.006, "per NLCU-hour", f"{ELB_PAGE} (US East worked example: '$0.006 per NLCU')")

# -- API Gateway private integration -------------------------------------------------------------------------------

VPC_LINK_HOUR = Price(
    0.0,
    "per VPC link-hour (V1 and V2)",
    "https://aws.amazon.com/api-gateway/pricing/ (charges listed: API calls, data transfer out, caching; "
    "no VPC link line); https://docs.aws.amazon.com/whitepapers/latest/"
    "best-practices-api-gateway-private-apis-integration/cost-optimization.html",
    note="The whitepaper: a REST private integration through a V1 link needs an NLB, and 'the NLB cost is billed "
    "per hour, so while a VPC link remains active, you pay for the NLB'. So a V1 link's hourly bill is its NLB; "
    "a V2 link to an ALB (REST support announced Nov 2025) adds no hourly line of its own. Modelled as $0 with the "
    "NLB counted separately.",
)
REST_API_MILLION_REQUESTS = Price(
    3.50,
    "per million REST API calls (first 333M/month)",
    "https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/"
    "cost-optimization.html (Table 4)",
    note="The same in both designs (every MCP call crosses API Gateway once); shown for scale only.",
)

# -- the router's data plane: discovery, keys, images ---------------------------------------------------------------

ROUTE53_HOSTED_ZONE_MONTH = Price(
    0.50,
    "per hosted zone per month (first 25); the Cloud Map private namespace is one",
    "https://aws.amazon.com/route53/pricing/; figure transcribed from that page by "
    "https://raw.githubusercontent.com/api-evangelist/amazon-route53-resolver/refs/heads/main/plans/"
    "amazon-route53-resolver-plans-pricing.yml",
    secondary=True,
)
ROUTE53_MILLION_QUERIES = Price(
    0.40,
    "per million standard queries (first billion per month)",
    "https://aws.amazon.com/route53/pricing/ (same transcription as ROUTE53_HOSTED_ZONE_MONTH)",
    secondary=True,
    note="Traffic-driven: the router resolves a server's name at most once per DNS_TTL_SECONDS per task, and only "
    "while the server is called; excluded from the monthly table like the other per-request charges.",
)
CLOUD_MAP_INSTANCE_MONTH = Price(
    0.10,
    "per registered service instance per month (each running server task)",
    "https://aws.amazon.com/cloud-map/pricing/ (renders client-side; the figure as commonly quoted)",
    assumption=True,
    note="Counted for every task although instances ECS registers may not be billed: the model errs high.",
)
SECRETS_MANAGER_SECRET_MONTH = Price(
    0.40,
    "per secret per month (every server's requestState key, the router's sealing key)",
    "https://aws.amazon.com/secrets-manager/pricing/",
    secondary=True,
    note="Plus $0.05 per 10,000 API calls: ECS reads a secret when a task starts, so a few calls a month.",
)
ECR_GB_MONTH = Price(
    0.10,
    "per GB-month of ECR private storage (the stdio base and router images)",
    "https://aws.amazon.com/ecr/pricing/",
    secondary=True,
    note="Pulls from the same region cost no data transfer (through a NAT gateway they pay its per-GB charge).",
)

# -- control plane -------------------------------------------------------------------------------------------------

LAMBDA_MILLION_REQUESTS = Price(
    0.20,
    "per million Lambda requests",
    "https://aws.amazon.com/lambda/pricing/; figure from "
    "https://git.mcrn.ar/mariano/lambda_local_runner (docs/lambdas-md/lambda-13-cost.md) and "
    "https://cloudchipr.com/blog/aws-lambda-pricing",
    secondary=True,
)
LAMBDA_GB_SECOND_ARM = Price(
    0.0000133334,
    "per GB-second, arm64 (first 7.5 billion GB-s/month)",
    "https://aws.amazon.com/lambda/pricing/; tiers from https://aws.amazon.com/blogs/compute/"
    "introducing-tiered-pricing-for-aws-lambda/; figure from https://cloudchipr.com/blog/aws-lambda-pricing",
    secondary=True,
)
LAMBDA_GB_SECOND_X86 = Price(
    0.0000166667,
    "per GB-second, x86_64 (first 6 billion GB-s/month)",
    "https://aws.amazon.com/lambda/pricing/; figure from https://cloudchipr.com/blog/aws-lambda-pricing",
    secondary=True,
)
DYNAMODB_MILLION_WRU = Price(
    0.625,
    "per million write request units, on-demand",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/ (units: 1 WRU = one standard write up to 1 KB, a "
    "transactional write takes 2); figure from https://airbyte.com/data-engineering-resources/dynamodb-pricing",
    secondary=True,
)
DYNAMODB_MILLION_RRU = Price(
    0.125,
    "per million read request units, on-demand",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/; figure from "
    "https://airbyte.com/data-engineering-resources/dynamodb-pricing",
    secondary=True,
)
DYNAMODB_GB_MONTH = Price(
    0.25,
    "per GB-month stored, Standard table class (each item counts 100 bytes of overhead)",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/; figure from "
    "https://airbyte.com/data-engineering-resources/dynamodb-pricing",
    secondary=True,
)
FIREHOSE_GB_INGESTED = Price(
    0.029,
    "per GB ingested, Direct PUT, first 500 TB/month (each record rounded up to the next 5 KB)",
    "https://aws.amazon.com/firehose/pricing/",
    secondary=True,
    note="The alternative considered for the call audit trail (Firehose to S3).",
)
STEP_FUNCTIONS_THOUSAND_TRANSITIONS = Price(
    0.025,
    "per 1,000 state transitions, Standard workflows (4,000 free per month)",
    "https://aws.amazon.com/step-functions/pricing/ (US East (N. Virginia) $0.0250 per 1,000)",
    note="Retries count as transitions.",
)
CLOUDFORMATION_AWS_RESOURCE_OPERATION = Price(
    0.0,
    "per handler operation on AWS::* / Custom::* resources",
    "https://aws.amazon.com/cloudformation/pricing/ ('no additional charge ... AWS::*, Alexa::*, and Custom::*')",
)
CLOUDFORMATION_THIRD_PARTY_OPERATION = Price(
    0.0009,
    "per handler operation on third-party resource types (1,000 free per month)",
    "https://aws.amazon.com/cloudformation/pricing/ (also https://aws.amazon.com/tw/cloudformation/pricing/)",
    note="Not used by either design: both stacks hold AWS::* resources only.",
)
EVENTBRIDGE_MILLION_CUSTOM_EVENTS = Price(
    1.00,
    "per million custom events published (64 KB chunks)",
    "https://aws.amazon.com/eventbridge/pricing/ (AWS management events: $0); figure from "
    "https://blog.awsfundamentals.com/aws-eventbridge-pricing-guide",
    secondary=True,
    note="CloudFormation's own Stack Status Change events are AWS management events: free on the default bus.",
)
CLOUDWATCH_LOGS_GB_INGESTED = Price(
    0.50,
    "per GB ingested, Standard log class",
    "https://aws.amazon.com/cloudwatch/pricing/; figure from https://c3x.dev/blog/cloudwatch-logs-cost-optimization",
    secondary=True,
)
CLOUDWATCH_LOGS_GB_MONTH_STORED = Price(
    0.03,
    "per GB-month stored",
    "https://aws.amazon.com/cloudwatch/pricing/; figure from https://c3x.dev/blog/cloudwatch-logs-cost-optimization",
    secondary=True,
)

# -- modelling assumptions (no page states these) ------------------------------------------------------------------

ASSUMED_RECONCILE_SECONDS = Price(
    1.0,
    "seconds per scheduled reconcile sweep (512 MB arm64), which runs every 5 minutes (template.yaml default)",
    "assumption",
    assumption=True,
)
ASSUMED_ROUTER_LOG_GB_MONTH = Price(
    1.0,
    "GB of logs the router writes per month (warnings and errors only; no access log)",
    "assumption",
    assumption=True,
)
ASSUMED_IMAGES_GB = Price(
    0.5,
    "GB the two images we own take in ECR (stdio base ~0.4 GB with Python and Node, router ~0.1 GB, compressed)",
    "assumption",
    assumption=True,
)
ASSUMED_AUTHORIZER_MS = Price(
    20.0,
    "billed milliseconds per warm data-plane authorizer invocation (1024 MB arm64: a JWT check and two reads)",
    "assumption",
    assumption=True,
)
ASSUMED_LOG_GB_PER_SERVER_MONTH = Price(
    0.5,
    "GB of logs per hosted server per month (the same in both designs)",
    "assumption",
    assumption=True,
)


def all_prices() -> dict[str, Price]:
    """Every constant above, by name, for the printed sources table."""
    return {name: value for name, value in globals().items() if isinstance(value, Price)}
