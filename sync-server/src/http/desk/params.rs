//! The query string of a desk request, decoded strictly: [`Params`] is axum's `Query` whose
//! refusal (an unknown parameter, a number that is not one) is the desk's typed
//! `400 invalid_request` with a JSON body, not axum's plain-text answer.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::http::error::ServerError;

/// A desk request's query parameters, decoded into `T` (whose fields say which it takes).
#[derive(Debug, Clone)]
pub(crate) struct Params<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(e) => Err(ServerError::InvalidRequest(format!(
                "the query string: {}",
                e.body_text().chars().take(300).collect::<String>()
            ))),
        }
    }
}
