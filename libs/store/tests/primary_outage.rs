//! The primary going away or being busy, against the real primary (5432): a
//! connection the server terminates is a transient failure (HTTP 503,
//! consumers retry), and readiness does not wait behind a saturated pool.

mod common;

use common::*;
use suite_store::db::is_transient;
use suite_store::Db;

#[tokio::test]
async fn a_connection_terminated_by_the_server_is_transient_and_a_bad_statement_is_not(
) -> anyhow::Result<()> {
    let env = env().await?;
    let mut settings = db_settings(&env, &[]);
    settings.max_connections = 2;
    let db = Db::connect(&settings, None).await?;

    let mut victim = db.primary().acquire().await?;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *victim)
        .await?;
    // What a fast shutdown or an operator does to every session.
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(db.primary())
        .await?;
    assert!(terminated, "backend {pid} was not terminated");
    let err = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&mut *victim)
        .await
        .expect_err("a query on a terminated connection must fail");
    assert!(is_transient(&err), "not transient: {err:?}");
    drop(victim);

    let err = sqlx::query("SELECT * FROM no_such_table_anywhere")
        .execute(db.primary())
        .await
        .expect_err("an unknown table must fail");
    assert!(!is_transient(&err), "transient: {err:?}");
    Ok(())
}

#[tokio::test]
async fn readiness_answers_while_every_pooled_connection_is_busy() -> anyhow::Result<()> {
    let env = env().await?;
    let mut settings = db_settings(&env, &[]);
    settings.max_connections = 2;
    settings.acquire_timeout_secs = 1;
    let db = Db::connect(&settings, None).await?;

    let first = db.primary().acquire().await?;
    let second = db.primary().acquire().await?;
    let third = db.primary().acquire().await;
    assert!(third.is_err(), "the pool should be exhausted");
    db.ping().await?;
    assert!(db.is_healthy().await);
    drop((first, second));
    Ok(())
}
