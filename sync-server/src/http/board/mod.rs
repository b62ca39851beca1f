//! The command centre's web board (可视化管理), served at `/` on the API's own listener: a
//! server-rendered HTML shell (`shell`) and the page's own JavaScript modules, CSS and language
//! files, compiled into the binary (`assets`, from `sync-server/web/`). The page uses nothing
//! but the desk API under `/api/v1` (`docs/board.md`); every answer here carries the board's
//! Content-Security-Policy and the headers that keep it from being framed or sniffed
//! (`headers`).

mod assets;
mod headers;
mod shell;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;

use super::App;

/// Where the board's assets are served from.
pub(crate) const ASSETS_PREFIX: &str = "/board/";

/// The board's routes: the shell at `/`, its assets under `/board/`.
pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(shell::page))
        .route("/board/{*file}", get(assets::asset))
        .route_layer(middleware::from_fn(headers::secure))
}
