//! AWS errors, classified by their code, never by their message text.
//!
//! Every failure keeps what was being done (the call), to which object (the address), and
//! the AWS error code, so the operator reads "subnet.app-a: CreateSubnet failed:
//! InvalidVpcID.NotFound: ..." and a script can act on the class.

use std::fmt;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    NotFound,
    AlreadyExists,
    Throttled,
    /// Something else still uses the object (`DependencyViolation`, `...InUse`).
    InUse,
    /// Credentials missing, wrong or not allowed.
    Auth,
    /// The endpoint did not answer (connection refused, DNS, timeout).
    Unreachable,
    InvalidInput,
    /// The object is `failed`, a wait ran out of time, or anything else.
    Fatal,
}

#[derive(Clone, Debug)]
pub struct AwsError {
    /// The API call (`CreateSubnet`), or the condition waited for.
    pub call: String,
    /// The AWS error code (`InvalidVpcID.NotFound`), when AWS gave one.
    pub code: Option<String>,
    pub message: String,
    pub class: Class,
}

impl AwsError {
    pub fn new(call: impl Into<String>, class: Class, message: impl Into<String>) -> AwsError {
        AwsError { call: call.into(), code: None, message: message.into(), class }
    }

    pub fn is(&self, class: Class) -> bool {
        self.class == class
    }

    pub fn code_is(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {code}: {}", self.call, self.message),
            None => write!(f, "{} failed: {}", self.call, self.message),
        }
    }
}

/// The class of an AWS error code.
pub fn classify_code(code: &str) -> Class {
    match code {
        c if c.contains("NotFound") => Class::NotFound,
        c if c.ends_with(".Duplicate") || c.contains("AlreadyExists") || c == "RouteAlreadyExists" => {
            Class::AlreadyExists
        }
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" | "TooManyRequestsException" => Class::Throttled,
        c if c == "DependencyViolation"
            || c.ends_with("InUse")
            || c.contains("InUse")
            || c == "ResourceInUseException" =>
        {
            Class::InUse
        }
        "AuthFailure"
        | "UnauthorizedOperation"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "AccessDenied"
        | "AccessDeniedException"
        | "ExpiredToken"
        | "UnrecognizedClientException"
        | "OptInRequired" => Class::Auth,
        c if c.starts_with("Invalid") || c.starts_with("Missing") || c == "ValidationError" => Class::InvalidInput,
        _ => Class::Fatal,
    }
}

/// Turns an SDK error into an [`AwsError`] for `call`.
pub fn from_sdk<E, R>(call: &str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + 'static,
{
    match &err {
        SdkError::ServiceError(_) => {
            let code = err.code().map(str::to_string);
            let message = err.message().unwrap_or("no message").to_string();
            let class = code.as_deref().map_or(Class::Fatal, classify_code);
            AwsError { call: call.to_string(), code, message, class }
        }
        SdkError::DispatchFailure(d) => {
            let message = if d.is_timeout() {
                "the request timed out".to_string()
            } else if d.is_io() {
                format!("cannot reach the AWS endpoint ({})", source_chain(&err))
            } else {
                source_chain(&err)
            };
            AwsError { call: call.to_string(), code: None, message, class: Class::Unreachable }
        }
        SdkError::TimeoutError(_) => AwsError {
            call: call.to_string(),
            code: None,
            message: "the request timed out".into(),
            class: Class::Unreachable,
        },
        SdkError::ConstructionFailure(_) => {
            let message = source_chain(&err);
            let class = if message.contains("credentials") { Class::Auth } else { Class::Fatal };
            AwsError { call: call.to_string(), code: None, message, class }
        }
        _ => {
            let code = err.code().map(str::to_string);
            let class = code.as_deref().map_or(Class::Fatal, classify_code);
            AwsError { call: call.to_string(), code, message: source_chain(&err), class }
        }
    }
}

/// The error and its causes, innermost last: SDK errors keep the useful part in sources.
fn source_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        assert_eq!(classify_code("InvalidVpcID.NotFound"), Class::NotFound);
        assert_eq!(classify_code("NatGatewayNotFound"), Class::NotFound);
        assert_eq!(classify_code("InvalidPermission.Duplicate"), Class::AlreadyExists);
        assert_eq!(classify_code("RequestLimitExceeded"), Class::Throttled);
        assert_eq!(classify_code("DependencyViolation"), Class::InUse);
        assert_eq!(classify_code("InvalidIPAddress.InUse"), Class::InUse);
        assert_eq!(classify_code("AuthFailure"), Class::Auth);
        assert_eq!(classify_code("InvalidParameterValue"), Class::InvalidInput);
        assert_eq!(classify_code("InternalError"), Class::Fatal);
    }
}
