//! `GET /api/v1/grids`: the grid outlines the board's map draws, as a GeoJSON
//! `FeatureCollection` of `MultiPolygon`s with `name` and `scope` properties, cut to the
//! signed-in user's scopes (`grids::GridOutlines::for_reader`); empty when the operator gave
//! the server no outlines file (`--grid-outlines`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::extract::Desk;
use super::json;
use crate::http::App;
use crate::http::error::ServerError;

/// `GET /api/v1/grids`.
pub(crate) async fn grids(
    State(app): State<Arc<App>>,
    Desk(session): Desk,
) -> Result<Response, ServerError> {
    let features: Vec<serde_json::Value> = app
        .grid_outlines
        .for_reader(&session.profile)
        .into_iter()
        .map(|o| {
            json!({
                "type": "Feature",
                "properties": { "name": o.name, "scope": o.scope },
                "geometry": { "type": "MultiPolygon", "coordinates": o.polygons },
            })
        })
        .collect();
    json::answer(StatusCode::OK, &json!({ "type": "FeatureCollection", "features": features }))
}
