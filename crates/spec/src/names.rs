//! The names strato gives objects in AWS.
//!
//! An object is named `<deployment>-<name>` in AWS. Where AWS limits a name's length (load
//! balancers and target groups 32 characters, RDS identifiers 63, IAM roles 64), a name
//! that would not fit is shortened, and six hex digits of a hash of the whole name are
//! appended, so that any deployment name of up to [`DEPLOYMENT_MAX`] characters fits and two
//! shortened names still differ. The result is stable: the same deployment and name give the
//! same AWS name on every run and every machine.

/// The longest deployment name strato accepts.
pub const DEPLOYMENT_MAX: usize = 32;

/// Load balancer and target group names: at most 32 characters (Elastic Load Balancing API
/// reference, `CreateLoadBalancer` and `CreateTargetGroup` `Name`).
pub const ELB_MAX: usize = 32;

/// RDS DB instance identifiers: at most 63 characters (RDS API reference, `CreateDBInstance`
/// `DBInstanceIdentifier`).
pub const RDS_MAX: usize = 63;

/// IAM role names: at most 64 characters of letters, digits and `+=,.@_-` (IAM API reference,
/// `CreateRole` `RoleName`); the instance profile, which shares the name, allows 128.
pub const IAM_ROLE_MAX: usize = 64;

/// For kinds whose names AWS does not limit in practice (tags, key pairs, DB subnet groups of
/// up to 255 characters): `<deployment>-<name>` as it is.
pub const NO_LIMIT: usize = usize::MAX;

/// How many characters the hash of a shortened name takes, with its hyphen.
const HASH_LEN: usize = 7;

/// `<deployment>-<name>`, or when that is longer than `limit`, its first `limit - 7`
/// characters (without a trailing hyphen) and `-` and a six-digit hash of the whole.
pub fn aws_name(deployment: &str, name: &str, limit: usize) -> String {
    let full = format!("{deployment}-{name}");
    if full.len() <= limit || limit <= HASH_LEN {
        return full;
    }
    let keep: String = full.chars().take(limit - HASH_LEN).collect();
    format!("{}-{:06x}", keep.trim_end_matches('-'), fnv1a(&full) & 0xff_ffff)
}

/// The SSM Parameter Store SecureString that holds a deployment's Puppet CSR autosigning
/// challenge, which instances read at boot through their role (`ssm:GetParameter`).
pub fn csr_challenge_parameter(deployment: &str) -> String {
    format!("/strato/{deployment}/csr-challenge")
}

/// Why `name` cannot be the name of a load balancer (`load_balancer`) or a target group, if it
/// cannot: "a maximum of 32 characters, must contain only alphanumeric characters or
/// hyphens, must not begin or end with a hyphen", and for load balancers "must not begin
/// with `internal-`" (Elastic Load Balancing API reference, `CreateLoadBalancer` and
/// `CreateTargetGroup` `Name`).
pub fn elb_name_problem(name: &str, load_balancer: bool) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > ELB_MAX {
        return Some(format!("it has {} characters, more than ELB's {ELB_MAX}", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '-') {
        return Some(format!("it contains `{c}`; ELB allows letters, digits and hyphens"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("it starts or ends with a hyphen, which ELB refuses".into());
    }
    if load_balancer && name.to_ascii_lowercase().starts_with("internal-") {
        return Some("it starts with `internal-`, which ELB reserves".into());
    }
    None
}

/// Why `ident` cannot be an RDS DB instance identifier, if it cannot: "from 1 to 63 letters,
/// numbers, or hyphens. First character must be a letter. Can't end with a hyphen or contain
/// two consecutive hyphens" (RDS API reference, `CreateDBInstance` `DBInstanceIdentifier`).
pub fn rds_identifier_problem(ident: &str) -> Option<String> {
    if ident.is_empty() {
        return Some("it is empty".into());
    }
    if ident.len() > RDS_MAX {
        return Some(format!("it has {} characters, more than RDS's {RDS_MAX}", ident.len()));
    }
    if let Some(c) = ident.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '-') {
        return Some(format!("it contains `{c}`; RDS allows letters, digits and hyphens"));
    }
    if !ident.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("it does not start with a letter, as RDS identifiers must".into());
    }
    if ident.ends_with('-') {
        return Some("it ends with a hyphen, which RDS refuses".into());
    }
    if ident.contains("--") {
        return Some("it has two hyphens in a row, which RDS refuses".into());
    }
    None
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike `std`'s hasher.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_fit_are_left_alone() {
        assert_eq!(aws_name("wso2", "apim-analytics-dashboard", 32), "wso2-apim-analytics-dashboard");
    }

    #[test]
    fn long_names_are_shortened_stably_and_stay_distinct() {
        let d = "wso2-staging-eu-west-1-team-blue";
        assert_eq!(d.len(), DEPLOYMENT_MAX);
        let a = aws_name(d, "apim-analytics-dashboard", 32);
        let b = aws_name(d, "ei-analytics-dashboard", 32);
        assert_eq!(a.len(), 32);
        assert!(b.len() <= 32);
        assert_ne!(a, b);
        assert_eq!(a, aws_name(d, "apim-analytics-dashboard", 32), "stable");
        assert!(a.starts_with("wso2-staging-eu-west-1-t"), "{a}");
        // Never a hyphen before the hyphen of the hash.
        let c = aws_name("wso2-stg", "x".repeat(40).as_str(), 32);
        assert!(!c.contains("--"), "{c}");
    }

    #[test]
    fn derived_names_fit_every_limit_and_pass_aws_rules() {
        let d = "a".repeat(DEPLOYMENT_MAX);
        for name in ["x", "apim-analytics-dashboard", &"y".repeat(63)] {
            let lb = aws_name(&d, name, ELB_MAX);
            assert!(lb.len() <= ELB_MAX && elb_name_problem(&lb, true).is_none(), "{lb}");
            let db = aws_name(&d, name, RDS_MAX);
            assert!(db.len() <= RDS_MAX && rds_identifier_problem(&db).is_none(), "{db}");
            let role = aws_name(&d, &format!("{name}-ap-southeast-4"), IAM_ROLE_MAX);
            assert!(role.len() <= IAM_ROLE_MAX, "{role}");
        }
        assert_eq!(aws_name("wso2", "route[0.0.0.0/0]", NO_LIMIT), "wso2-route[0.0.0.0/0]");
    }

    #[test]
    fn elb_names_follow_elb_rules() {
        assert_eq!(elb_name_problem("wso2-public", true), None);
        assert_eq!(elb_name_problem("Wso2-Public-1", true), None);
        assert!(elb_name_problem("", true).is_some());
        assert!(elb_name_problem(&"a".repeat(33), true).unwrap().contains("33 characters"));
        assert_eq!(elb_name_problem(&"a".repeat(32), true), None);
        assert!(elb_name_problem("web_1", true).unwrap().contains("`_`"));
        assert!(elb_name_problem("-web", false).is_some());
        assert!(elb_name_problem("web-", false).is_some());
        assert!(elb_name_problem("internal-web", true).unwrap().contains("internal-"));
        // Only load balancers have the reserved prefix.
        assert_eq!(elb_name_problem("internal-web", false), None);
    }

    #[test]
    fn rds_identifiers_follow_rds_rules() {
        assert_eq!(rds_identifier_problem("wso2-apim-db"), None);
        assert_eq!(rds_identifier_problem(&format!("a{}", "1".repeat(62))), None);
        assert!(rds_identifier_problem(&format!("a{}", "1".repeat(63))).is_some());
        assert!(rds_identifier_problem("").is_some());
        assert!(rds_identifier_problem("9db").unwrap().contains("letter"));
        assert!(rds_identifier_problem("db-").unwrap().contains("ends with"));
        assert!(rds_identifier_problem("a--b").unwrap().contains("two hyphens"));
        assert!(rds_identifier_problem("a.b").unwrap().contains("`.`"));
    }

    #[test]
    fn the_challenge_parameter_is_per_deployment() {
        assert_eq!(csr_challenge_parameter("wso2"), "/strato/wso2/csr-challenge");
    }
}
