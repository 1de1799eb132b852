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
}
