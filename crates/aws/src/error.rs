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
    /// The name is taken by an object that is not this deployment's (its tags say whose):
    /// never adopted, never deleted.
    Foreign,
    Throttled,
    /// Something else still uses the object (`DependencyViolation`, `...InUse`).
    InUse,
    /// Credentials missing, wrong or not allowed.
    Auth,
    /// No answer: connection refused or dropped, DNS, timeout. The call may or may not
    /// have been carried out.
    Unreachable,
    /// AWS answered with a server error (HTTP 5xx: `InternalError`, `ServiceUnavailable`).
    /// Transient, and like [`Class::Unreachable`] it says nothing about whether the call
    /// was carried out.
    ServerError,
    /// The endpoint does not implement the API: HTTP 501 Not Implemented ("the server does
    /// not support the functionality required to fulfill the request", RFC 9110 §15.6.2).
    /// An emulator that lacks a service answers so (LocalStack's free build for RDS, EFS
    /// and ELBv2: `InternalFailure`, status 501); AWS itself uses 501 only for S3's
    /// `NotImplemented` (a header asking for functionality S3 lacks). Either way nothing was
    /// carried out, and asking again changes nothing: neither transient nor ambiguous.
    Unsupported,
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

    /// This error, naming what holds the object (`; held by eni-1, eni-2`) when AWS's
    /// refusal did not say.
    pub fn naming(self, holds: &str, holders: &[String]) -> AwsError {
        if holders.is_empty() {
            return self;
        }
        let message = format!("{}; {holds} {}", self.message, holders.join(", "));
        AwsError { message, ..self }
    }

    /// Worth asking again later: throttled, unanswered, or a server error.
    pub fn is_transient(&self) -> bool {
        matches!(self.class, Class::Throttled | Class::Unreachable | Class::ServerError)
    }

    /// The call may have been carried out although no answer said so: a create without an
    /// idempotency token must look for its object before it is sent again.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self.class, Class::Unreachable | Class::ServerError)
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
        c if c.contains("NotFound") || c == "NoSuchEntity" || c == "NoSuchResourceException" => Class::NotFound,
        "DeleteConflict" => Class::InUse,
        c if c.ends_with(".Duplicate")
            || c.starts_with("Duplicate")
            || c.contains("AlreadyExists")
            || c == "RouteAlreadyExists" =>
        {
            Class::AlreadyExists
        }
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" | "TooManyRequestsException" => Class::Throttled,
        "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "InternalServerErrorException"
        | "InternalServiceError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "Unavailable" => Class::ServerError,
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
pub fn from_sdk<E>(call: &str, err: SdkError<E>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(e) => {
            let code = err.code().map(str::to_string);
            let message = err.message().unwrap_or("no message").to_string();
            let server_error = e.raw().status().is_server_error();
            let status = e.raw().status().as_u16();
            let class = match code.as_deref().map(classify_code) {
                // Whatever code comes with it (LocalStack says `InternalFailure`).
                _ if status == 501 => Class::Unsupported,
                Some(class) if class != Class::Fatal => class,
                _ if server_error => Class::ServerError,
                // An answer AWS refused to give without naming why: who is asking.
                _ if status == 401 || status == 403 => Class::Auth,
                Some(class) => class,
                None => Class::Fatal,
            };
            AwsError { call: call.to_string(), code, message, class }
        }
        // The answer was cut off or unreadable: as good as no answer.
        SdkError::ResponseError(_) => AwsError {
            call: call.to_string(),
            code: None,
            message: format!("no complete answer ({})", source_chain(&err)),
            class: Class::Unreachable,
        },
        SdkError::DispatchFailure(d) => {
            let message = if d.is_timeout() {
                "the request timed out".to_string()
            } else if d.is_io() {
                format!("cannot reach the AWS endpoint ({})", source_chain(&err))
            } else {
                source_chain(&err)
            };
            // The request was never sent because no credentials could be loaded.
            let class = if message.contains("credential") { Class::Auth } else { Class::Unreachable };
            AwsError { call: call.to_string(), code: None, message, class }
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
        assert_eq!(classify_code("NoSuchEntity"), Class::NotFound);
        assert_eq!(classify_code("EntityAlreadyExists"), Class::AlreadyExists);
        assert_eq!(classify_code("InvalidPermission.Duplicate"), Class::AlreadyExists);
        assert_eq!(classify_code("DuplicateTargetGroupName"), Class::AlreadyExists);
        assert_eq!(classify_code("RequestLimitExceeded"), Class::Throttled);
        assert_eq!(classify_code("DependencyViolation"), Class::InUse);
        assert_eq!(classify_code("InvalidIPAddress.InUse"), Class::InUse);
        assert_eq!(classify_code("AuthFailure"), Class::Auth);
        assert_eq!(classify_code("InvalidParameterValue"), Class::InvalidInput);
        assert_eq!(classify_code("InternalError"), Class::ServerError);
        assert_eq!(classify_code("ServiceUnavailable"), Class::ServerError);
        assert_eq!(classify_code("SomethingElse"), Class::Fatal);
    }

    /// An answer with `code` and HTTP `status`, as the SDK hands it over.
    fn answered(code: &str, status: u16) -> AwsError {
        use aws_sdk_ec2::error::ErrorMetadata;
        use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError;
        use aws_smithy_runtime_api::http::{Response, StatusCode};
        let err = DescribeVpcsError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let raw = Response::new(StatusCode::try_from(status).unwrap(), aws_smithy_types::body::SdkBody::empty());
        from_sdk("DescribeVpcs", SdkError::service_error(err, raw))
    }

    #[test]
    fn an_api_the_endpoint_does_not_implement_is_unsupported_whatever_its_code() {
        let e = answered("InternalFailure", 501);
        assert_eq!(e.class, Class::Unsupported);
        assert!(!e.is_transient() && !e.is_ambiguous(), "nothing was done, and asking again changes nothing");
        assert_eq!(e.to_string(), "DescribeVpcs failed: InternalFailure: m", "the code is kept");
        // The same code with a 500 is a server error, as before.
        assert_eq!(answered("InternalFailure", 500).class, Class::ServerError);
        assert_eq!(answered("NotImplemented", 501).class, Class::Unsupported);
    }
}
