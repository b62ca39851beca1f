//! The storage conformance suite: what every [`Storage`] backend must do, run against SQLite in
//! `cargo test` and, later, against PostgreSQL. A backend's test calls [`run_all`] with a
//! function that makes a fresh, empty storage. One module per part of the trait:
//! [`documents`], [`accounts`], [`blobs`], [`index`], [`keys`], [`points`], [`businesses`].
//!
//! Storage does not parse Automerge, so the suite uses made-up bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod accounts;
pub mod blobs;
pub mod businesses;
pub mod documents;
pub mod index;
mod join;
pub mod keys;
pub mod points;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;

use super::Storage;
pub use documents::sample_write;

/// Something to keep alive while the storage is used (a temporary directory, a database).
pub type Guard = Box<dyn Any + Send>;

/// Checks run at once. Each has a storage of its own; on PostgreSQL most of a check's time is
/// the server making its schema and tables, so one at a time the suite took 62 s there (4 s on
/// SQLite).
const AT_ONCE: usize = 4;

/// Runs every check, each on a fresh storage from `make`, [`AT_ONCE`] at a time. A failing
/// check fails the run.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = (Guard, Arc<dyn Storage>)>,
{
    macro_rules! check {
        ($($part:ident::$name:ident),* $(,)?) => {
            vec![$(
                Box::pin(async {
                    let (_guard, s) = make().await;
                    tracing::info!(check = stringify!($name), "storage conformance");
                    $part::$name(s.as_ref()).await;
                    s.close().await;
                }) as Pin<Box<dyn Future<Output = ()> + '_>>
            ),*]
        };
    }
    let checks = check!(
        documents::empty_storage,
        documents::create_append_compact,
        documents::conflicts_change_nothing,
        documents::one_failing_write_spares_the_batch,
        documents::seqs_increase_under_concurrency,
        documents::log_pages_skip_an_actor_and_respect_the_budget,
        documents::refusals_are_listed_once_per_document_device_and_code,
        documents::catch_up_pages_documents_in_order,
        documents::catch_up_leaves_out_what_former_rights_read,
        documents::whole_reads_in_order_within_budget,
        documents::audiences_follow_the_writes,
        documents::changes_are_logged_with_their_authors_and_signatures,
        documents::stored_signatures_are_read_back_per_document,
        documents::close_refuses_writes,
        accounts::users_are_added_once_and_changed_in_place,
        accounts::former_scopes_are_kept_newest_first,
        accounts::codes_are_found_by_hash_or_prefix_and_listed_newest_first,
        accounts::an_enrollment_uses_its_code_once,
        accounts::a_code_enrolls_one_device_whoever_races,
        accounts::an_actor_moves_only_to_a_new_device_of_its_user,
        accounts::disabling_a_user_withdraws_their_unused_codes,
        accounts::devices_are_listed_found_and_revoked,
        accounts::a_device_key_is_kept_and_found_with_the_device,
        accounts::the_peer_key_is_kept_once_and_revocations_listed,
        accounts::a_desk_sign_in_uses_its_code_once_and_opens_one_session,
        accounts::a_session_is_touched_forward_only_while_open,
        accounts::idle_sessions_end_with_their_devices,
        accounts::sessions_end_when_revoked_by_id_device_or_user,
        blobs::blob_refs_follow_the_writes,
        blobs::uploads_start_one_per_blob_and_device_within_the_quota,
        blobs::a_quota_holds_against_uploads_started_together,
        blobs::completing_an_upload_records_the_blob_and_its_holder,
        blobs::holders_keep_their_first_proof,
        blobs::thumbnails_are_pending_until_made,
        blobs::the_challenge_key_is_made_once,
        index::rows_round_trip_with_their_seq,
        index::rows_change_column_by_column,
        index::rows_commit_only_with_their_write,
        index::rebuild_replaces_every_row,
        index::reports_filter_by_every_field,
        index::report_counts_agree_with_the_listing,
        index::the_reader_cut_keeps_only_rows_in_scope,
        index::text_search_is_literal_and_finds_chinese,
        index::keyset_pages_are_exact_while_rows_arrive,
        index::patrols_and_cases_filter_and_page,
        index::bulletins_filter_and_page,
        index::visits_filter_page_and_last_visits,
        index::deliberations_filter_and_page,
        index::statistics_equal_figures_computed_by_hand,
        keys::keys_are_added_once_and_found_by_hash,
        keys::a_revoked_key_keeps_its_first_time,
        points::a_report_settles_to_its_target_once,
        points::a_batch_of_reports_settles_each_ones_points,
        points::a_write_whose_points_cannot_settle_fails_alone_in_its_batch,
        points::a_reversal_past_the_balance_is_owed_and_paid_from_the_next_credit,
        points::redemptions_are_idempotent_and_refused_with_reasons,
        points::many_redeemers_at_once_never_overspend_nor_oversell,
        points::a_voucher_is_collected_once,
        businesses::businesses_are_added_once_changed_and_listed_by_scope,
    );
    futures_util::stream::iter(checks).buffer_unordered(AT_ONCE).collect::<()>().await;
}
