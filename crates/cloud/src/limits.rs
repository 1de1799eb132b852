//! AWS's API rate limits: token buckets per account and region (EC2: "Request throttling for
//! the Amazon EC2 API",
//! https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html; ELB: "Request
//! throttling for the ELB API",
//! https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html;
//! RDS: "Throttling quotas in Amazon RDS",
//! https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html), and the calls
//! that draw from each. [`AWS_BUCKETS`] are AWS's own figures (the simulated AWS throttles
//! by them); [`AWS_LIMITS`] the share of them strato's client allows itself.

use strato_engine::pace::Limit;

/// AWS's documented buckets (EC2 describe calls burst 100 and refill 20/s, mutating calls
/// 50 and 5/s, `RunInstances` 5 and 2/s, NAT gateway creates and deletes 10 and 1/s;
/// ELBv2 `CreateLoadBalancer` 10 and 0.2/s on top of the shared 40 and 10/s; RDS 300 and
/// 12/s for every call).
pub const AWS_BUCKETS: &[Limit] = &[
    Limit { name: "ec2-describe", burst: 100.0, per_second: 20.0 },
    Limit { name: "ec2-mutating", burst: 50.0, per_second: 5.0 },
    Limit { name: "ec2-run-instances", burst: 5.0, per_second: 2.0 },
    Limit { name: "ec2-nat-gateway", burst: 10.0, per_second: 1.0 },
    Limit { name: "elb-create-load-balancer", burst: 10.0, per_second: 0.2 },
    Limit { name: "elb", burst: 40.0, per_second: 10.0 },
    Limit { name: "rds", burst: 300.0, per_second: 12.0 },
];

/// The share of AWS's buckets strato's client meters itself to: the account's buckets are
/// shared with every other client of the account, and the two clocks drift.
pub const SHARE: f64 = 0.9;

/// AWS's buckets at [`SHARE`] of their burst and refill, floored to whole requests of burst.
pub const AWS_LIMITS: &[Limit] = &[
    Limit { name: "ec2-describe", burst: 90.0, per_second: 18.0 },
    Limit { name: "ec2-mutating", burst: 45.0, per_second: 4.5 },
    Limit { name: "ec2-run-instances", burst: 4.0, per_second: 1.8 },
    Limit { name: "ec2-nat-gateway", burst: 9.0, per_second: 0.9 },
    Limit { name: "elb-create-load-balancer", burst: 9.0, per_second: 0.18 },
    Limit { name: "elb", burst: 36.0, per_second: 9.0 },
    Limit { name: "rds", burst: 270.0, per_second: 10.8 },
];

/// The SDK's service names of the services with buckets.
pub const EC2: &str = "EC2";
pub const ELB: &str = "Elastic Load Balancing v2";
pub const RDS: &str = "RDS";

/// The buckets a call draws from. `service` is the SDK's service name ([`EC2`], [`ELB`],
/// [`RDS`]); services without documented buckets draw from none.
pub fn buckets(service: &str, operation: &str) -> &'static [&'static str] {
    match service {
        EC2 => match operation {
            "RunInstances" => &["ec2-run-instances"],
            "CreateNatGateway" | "DeleteNatGateway" => &["ec2-nat-gateway"],
            op if op.starts_with("Describe") || op.starts_with("Get") => &["ec2-describe"],
            _ => &["ec2-mutating"],
        },
        ELB => match operation {
            "CreateLoadBalancer" => &["elb-create-load-balancer", "elb"],
            _ => &["elb"],
        },
        RDS => &["rds"],
        _ => &[],
    }
}

/// The error codes AWS throttles with ("Retry behavior", AWS SDKs and Tools Reference
/// Guide, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html, lists
/// the codes the SDKs treat as throttling; EC2 answers `RequestLimitExceeded`, ELB and RDS
/// `Throttling`).
pub const THROTTLING_CODES: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestThrottled",
    "SlowDown",
    "EC2ThrottledException",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_draw_from_awss_buckets() {
        assert_eq!(buckets(EC2, "DescribeInstances"), &["ec2-describe"]);
        assert_eq!(buckets(EC2, "CreateSubnet"), &["ec2-mutating"]);
        assert_eq!(buckets(EC2, "DeleteNatGateway"), &["ec2-nat-gateway"]);
        assert_eq!(buckets(ELB, "CreateLoadBalancer"), &["elb-create-load-balancer", "elb"]);
        assert_eq!(buckets(RDS, "DescribeDBInstances"), &["rds"]);
        for (s, o) in [(EC2, "RunInstances"), (EC2, "CreateNatGateway"), (ELB, "X"), (RDS, "X")] {
            for b in buckets(s, o) {
                assert!(AWS_LIMITS.iter().any(|l| l.name == *b), "{b}");
                assert!(AWS_BUCKETS.iter().any(|l| l.name == *b), "{b}");
            }
        }
    }

    #[test]
    fn strato_keeps_to_its_share_of_every_bucket() {
        assert_eq!(AWS_LIMITS.len(), AWS_BUCKETS.len());
        for (mine, aws) in AWS_LIMITS.iter().zip(AWS_BUCKETS) {
            assert_eq!(mine.name, aws.name);
            assert!((mine.per_second - aws.per_second * SHARE).abs() < 1e-9, "{}", mine.name);
            assert_eq!(mine.burst, (aws.burst * SHARE).floor(), "{}", mine.name);
        }
    }
}
