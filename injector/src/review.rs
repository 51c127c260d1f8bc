//! AdmissionReview v1 in and out, with kube-rs's admission types.
//!
//! kube-rs 5 serialises `AdmissionResponse.patch` (a `Vec<u8>`) as a JSON array of numbers
//! (kube-rs issue #1781), while the API server expects the base64 string that Go's `[]byte`
//! marshals to. [`to_wire`] rewrites that one field.

use base64::Engine as _;
use k8s_openapi::api::core::v1::Pod;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use serde_json::Value;

use crate::inject::Decision;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("request body is not an AdmissionReview: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("AdmissionReview has no request")]
    NoRequest,
    #[error("JSONPatch is not a valid RFC 6902 document: {0}")]
    Patch(serde_json::Error),
    #[error("cannot serialise the patch: {0}")]
    SerializePatch(#[from] kube::core::admission::SerializePatchError),
}

pub fn parse(body: &[u8]) -> Result<AdmissionRequest<Pod>, ReviewError> {
    let review: AdmissionReview<Pod> = serde_json::from_slice(body)?;
    review.try_into().map_err(|_| ReviewError::NoRequest)
}

/// Builds the response for `decision`, echoing the request's uid.
pub fn respond(
    req: &AdmissionRequest<Pod>,
    decision: &Decision,
) -> Result<AdmissionResponse, ReviewError> {
    let resp = AdmissionResponse::from(req);
    Ok(match decision {
        Decision::Skip(_) => resp,
        Decision::Deny(message) => resp.deny(message),
        Decision::Patch { patch, warnings } => {
            let patch: json_patch::Patch =
                serde_json::from_value(patch.clone()).map_err(ReviewError::Patch)?;
            let mut resp = resp.with_patch(patch)?;
            if !warnings.is_empty() {
                resp.warnings = Some(warnings.clone());
            }
            resp
        }
    })
}

/// Serialises the AdmissionReview the API server gets back, with `patch` as base64.
pub fn to_wire(resp: AdmissionResponse) -> Result<Vec<u8>, ReviewError> {
    let patch_bytes = resp.patch.clone();
    let mut review = serde_json::to_value(resp.into_review())?;
    if let (Some(bytes), Some(slot)) = (patch_bytes, review.pointer_mut("/response/patch")) {
        *slot = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    Ok(serde_json::to_vec(&review)?)
}

/// The answer when the body cannot be read: no uid to echo, so a plain failure.
pub fn invalid(reason: &str) -> Vec<u8> {
    let review = AdmissionResponse::invalid(reason).into_review();
    // An AdmissionReview with a Status and no patch always serialises.
    serde_json::to_vec(&review).unwrap_or_default()
}
