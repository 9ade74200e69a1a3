/*
 * run.c - the pipeline loop.
 *
 * One libuv loop owns the replication socket (uv_poll), the target socket,
 * a 100 ms timer for feedback and --until checks, and the signal handlers;
 * it connects, reconnects with backoff, sends status updates and reloads
 * the configuration.  What each message means is dispatch.c's: every
 * CopyData message read is handed there before the next one is read.
 *
 * Position bookkeeping: persisted is the position durably stored in the
 * target (wb_apply_durable_lsn), the only value ever reported to the
 * server as flushed.  Positions that need no target rows (dispatch.h's
 * wb_stream_pos) are stored by a small progress-only batch when
 * progress.h's wb_progress_idle_due says so, and reported once durable.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "apply/apply.h"
#include "dispatch.h"
#include "source/source.h"
#include "check/binary.h"
#include "check/startup.h"
#include "common/clock.h"
#include "common/conn.h"
#include "common/log.h"
#include "compare.h"
#include "progress.h"
#include "resync.h"
#include "run.h"
#include "sync.h"

#define TICK_MS 100
/* While the stream is not read (back-pressure, or the applier or a
 * re-sync holding the loop), the walsender gets a status this often: its
 * keepalive requests go unseen meanwhile.  Well inside any sensible
 * wal_sender_timeout (the tests run with 2 s). */
#define ANSWER_MS       500
#define UNTIL_PING_MS   200
#define STOP_TIMEOUT_MS 5000
#define SLOT_WAIT_MS    15000

typedef struct run_state {
    wb_run_opts opts;
    uv_loop_t loop;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_signal_t sigint, sigterm, sighup;
    bool poll_started;
    bool want_write;
    uv_poll_t apoll; /* the apply connection's socket */
    bool apoll_started;
    int apoll_events; /* what apoll watches now (0: stopped) */
    bool src_paused;  /* back-pressure: not reading the source */

    wb_source *src;
    wb_apply *apply;
    wb_dispatch *disp; /* the messages, the source transaction and the
                          configuration in force */
    wb_resync *resync; /* the online re-sync's jobs (resync.h) */
    bool slot_created; /* this session created the slot (and copied) */

    wb_lsn persisted;
    wb_lsn until; /* --until now target */

    int64_t last_status_ms;
    int64_t last_persist_ms;
    bool store_soon; /* store an idle position at the next tick
                        (`walbridge compare` waits for it) */
    int64_t last_ping_ms;

    bool active;          /* a session (connections + stream) is up */
    bool ever_streamed;   /* some session reached START_REPLICATION */
    bool binary;          /* this session reads binary values */
    bool text_only;       /* binary values failed: text from now on */
    wb_lsn format_lsn;    /* where binary values last failed (WB_EFORMAT) */
    wb_lsn rowmode_until; /* apply row by row up to here (after a failed
                             set-based statement) */
    bool finished;        /* the current session is over */
    bool stop_requested;  /* SIGINT/SIGTERM, or --until reached */
    uv_timer_t backoff;
    uv_timer_t batch_timer; /* closes a batch when its latency bound is up */
    uv_check_t check;       /* after each turn: a re-sync's next slice */
    bool batch_timer_armed;
    bool src_drained;      /* the last drain_source read all the source had */
    char snapshot[64];     /* the new slot's exported snapshot, until the
                              initial copy has read under it (sync.h) */
    bool copy_failed;      /* the initial copy stopped on an error: no
                              retry can go on with it (its snapshot is
                              gone), so walbridge stops */
    int64_t snapshot_time; /* when the slot was created */
    int result;
    wb_error *err;
    wb_run_stats stats;
} run_state;

/* The configuration in force (a reload swaps it between transactions). */
static const wb_config *config(const run_state *st)
{
    return wb_dispatch_config(st->disp);
}

static bool idle(const run_state *st)
{
    return wb_dispatch_idle(st->disp) && !wb_apply_busy(st->apply);
}

static void shutdown_loop(run_state *st);
static bool retryable(int rc, const wb_error *err);

/* Stop with an error; the position stays where it is. */
static void fail(run_state *st, int rc)
{
    if (st->finished)
        return;
    st->result = rc;
    /* Closing the target connection (end_session) rolls back. */
    shutdown_loop(st);
}

static void on_poll(uv_poll_t *h, int status, int events);

static int update_poll(run_state *st)
{
    int events = UV_READABLE | (st->want_write ? UV_WRITABLE : 0);
    return uv_poll_start(&st->poll, events, on_poll) == 0 ? 0 : WB_EIO;
}

static int send_status(run_state *st, bool ping)
{
    int rc = wb_source_send_status(st->src, st->persisted, ping, st->err);
    if (rc < 0)
        return rc;
    st->last_status_ms = wb_clock_ms();
    if (ping)
        st->last_ping_ms = st->last_status_ms;
    if (rc == 1 && !st->want_write) {
        st->want_write = true;
        uv_poll_start(&st->poll, UV_READABLE | UV_WRITABLE, on_poll);
    }
    return 0;
}

static void on_apply_poll(uv_poll_t *h, int status, int events);

static int update_apply_poll(run_state *st)
{
    int events =
        UV_READABLE | (wb_apply_wants_write(st->apply) ? UV_WRITABLE : 0);
    /* Called every round: libuv re-registers the socket with epoll on
     * every uv_poll_start, even for the same events (a profiled 4% of
     * walbridge's time on a backlog of one-row transactions). */
    if (events == st->apoll_events)
        return 0;
    st->apoll_events = events;
    return uv_poll_start(&st->apoll, events, on_apply_poll) == 0 ? 0 : WB_EIO;
}

/* Store the best position that needs no target rows, if it moved. */
static int persist_idle(run_state *st, bool force)
{
    const wb_stream_pos *pos = wb_dispatch_pos(st->disp);
    wb_progress_idle in = {
        pos->pending,        pos->keepalive,
        st->persisted,       wb_clock_ms(),
        st->last_persist_ms, (int64_t)config(st)->source.status_interval_ms};
    wb_lsn cand = wb_progress_idle_due(&in, force || st->store_soon);
    int rc;

    if (!idle(st))
        return 0;
    if (cand == WB_INVALID_LSN) {
        st->store_soon = false; /* nothing newer to store */
        return 0;
    }
    st->store_soon = false;
    /* Durable, and so reported, once the target confirms the commit. */
    rc = wb_apply_store_progress(
        st->apply, cand,
        pos->pending == cand ? pos->pending_time : wb_pgtime_now(), st->err);
    if (rc)
        return rc;
    st->last_persist_ms = in.now_ms;
    return update_apply_poll(st);
}

/* Take the target's durable position. */
static void note_durable(run_state *st)
{
    wb_lsn d = wb_apply_durable_lsn(st->apply);
    if (d > st->persisted)
        st->persisted = d;
}

/* The stop line: where walbridge stopped and what it did, over all its
 * sessions (the current applier's counters included). */
static void log_stopped(run_state *st)
{
    char a[WB_LSN_BUFLEN];
    wb_apply_stats as;
    wb_apply_get_stats(st->apply, &as);
    wb_log(WB_LOG_INFO,
           "stopped at %s: %llu transactions applied, %llu skipped, %llu "
           "changes routed, %llu target operations, %llu rows written, "
           "%llu conflicts, %llu links pending, %llu linked later, %llu "
           "rows by COPY (%llu COPY runs applied again as upserts)",
           wb_lsn_format(st->persisted, a),
           (unsigned long long)st->stats.txns_applied,
           (unsigned long long)st->stats.txns_skipped,
           (unsigned long long)st->stats.changes,
           (unsigned long long)st->stats.ops,
           (unsigned long long)(st->stats.rows_written + as.rows_written),
           (unsigned long long)(st->stats.conflicts + as.conflicts),
           (unsigned long long)(st->stats.links_pending + as.links_pending),
           (unsigned long long)(st->stats.links_resolved + as.links_resolved),
           (unsigned long long)(st->stats.rows_copied + as.rows_copied),
           (unsigned long long)(st->stats.copy_fallbacks + as.copy_fallbacks));
}

static void finish(run_state *st)
{
    int rc;

    if (st->finished)
        return;
    st->stop_requested = true;
    /* A source transaction still arriving is abandoned (the server sends
     * it again): if it queued writes, the whole open batch is rolled back;
     * otherwise the complete transactions in the batch are committed. */
    bool rolled_back =
        wb_dispatch_in_txn(st->disp) && wb_dispatch_txn_wrote(st->disp);
    if (rolled_back)
        rc = wb_apply_rollback_batch(st->apply, st->err);
    else
        rc = wb_apply_close_batch(st->apply, st->err);
    if (rc == 0)
        rc = wb_apply_settle(st->apply, STOP_TIMEOUT_MS, st->err);
    note_durable(st);
    wb_dispatch_abandon(st->disp);
    /* After a rollback, positions seen meanwhile (skipped transactions,
     * echoes of our own earlier batches) may lie past transactions of the
     * rolled-back batch: storing one would skip them at the next start. */
    if (rc == 0 && !rolled_back && (rc = persist_idle(st, true)) == 0 &&
        (rc = wb_apply_settle(st->apply, STOP_TIMEOUT_MS, st->err)) == 0)
        note_durable(st);
    if (rc != 0 && retryable(rc, st->err)) {
        /* The last batch met a deadlock (or the like) on its way out: it
         * was rolled back whole and the stored position is before it, so
         * the next start applies it.  A lost or silent target is another
         * matter: what was sent may still commit after the connection is
         * gone, its position with it, so the next start resumes after
         * it; only whether it did is unknown (and its rows are not in the
         * stop line).  Stopping was asked for; it is done. */
        wb_log_error(WB_LOG_WARNING, st->err);
        if (rc == WB_ECONN)
            wb_log(WB_LOG_INFO,
                   "whether the last batch was committed is unknown; the "
                   "next start resumes from the position stored with it");
        else
            wb_log(WB_LOG_INFO, "the last batch was rolled back; it is "
                                "applied again at the next start");
        wb_error_clear(st->err);
    } else if (rc != 0) {
        st->result = rc;
    } else if ((rc = send_status(st, false)) < 0) {
        st->result = rc;
    } else {
        /* Best effort: stopping cleanly only spares the server a timeout. */
        wb_error serr;
        wb_error_clear(&serr);
        if (wb_source_stop(st->src, STOP_TIMEOUT_MS, &serr) != 0)
            wb_log_error(WB_LOG_WARNING, &serr);
    }
    log_stopped(st);
    shutdown_loop(st);
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

/* End the current session's loop run; the caller tears the session down. */
static void shutdown_loop(run_state *st)
{
    if (st->finished)
        return;
    st->finished = true;
    if (st->poll_started)
        uv_poll_stop(&st->poll);
    if (st->apoll_started)
        uv_poll_stop(&st->apoll);
    st->apoll_events = 0;
    uv_timer_stop(&st->timer);
    uv_timer_stop(&st->batch_timer);
    st->batch_timer_armed = false;
    uv_stop(&st->loop);
}

/* --until now: caught up, and every re-sync running is done (the
 * target then holds every row as of now). */
static bool until_reached(const run_state *st)
{
    return st->opts.until_now && idle(st) &&
           wb_dispatch_pos(st->disp)->recv >= st->until &&
           !wb_resync_busy(st->resync);
}

static void on_batch_timer(uv_timer_t *h);

/* A batch holding complete transactions is committed within
 * target.batch_latency even when nothing else arrives. */
static void arm_batch_timer(run_state *st)
{
    int64_t due = wb_apply_batch_due_in_ms(st->apply);
    if (due < 0 || st->batch_timer_armed)
        return;
    st->batch_timer_armed = true;
    uv_timer_start(&st->batch_timer, on_batch_timer, (uint64_t)due, 0);
}

static void on_batch_timer(uv_timer_t *h)
{
    run_state *st = h->data;
    int rc;

    st->batch_timer_armed = false;
    if (st->finished)
        return;
    if (wb_dispatch_in_txn(st->disp)) {
        /* Mid-transaction: the batch may only end after its commit. */
        st->batch_timer_armed = true;
        uv_timer_start(&st->batch_timer, on_batch_timer, 1, 0);
        return;
    }
    if ((rc = wb_apply_tick(st->apply, st->err)) != 0 ||
        (rc = update_apply_poll(st)) != 0) {
        fail(st, rc);
        return;
    }
    arm_batch_timer(st);
}

/* The source has nothing more to send and the last message was a Commit:
 * the applier may close the batch now (wb_apply_source_idle says when). */
static int close_if_source_idle(run_state *st)
{
    if (!st->src_drained || wb_dispatch_in_txn(st->disp) || st->finished)
        return 0;
    return wb_apply_source_idle(st->apply, st->err);
}

/*
 * Decode and apply everything libpq has buffered from the source: the
 * socket may not become readable again for data that is already here.
 * Stops early, and pauses the source, when the applier is backlogged; the
 * apply side resumes it (back-pressure by not reading the socket).
 */
static void drain_source(run_state *st)
{
    int rc;
    bool consumed = false;
    st->src_drained = false;
    for (;;) {
        char *buf;
        if (wb_apply_backlogged(st->apply)) {
            if (!st->src_paused) {
                if ((rc = wb_apply_kick(st->apply, st->err)) != 0) {
                    fail(st, rc);
                    return;
                }
                /* The kick may have sent everything (the data of a COPY,
                 * which no result follows): then no event of the target
                 * socket would ever resume the source. */
                if (!wb_apply_backlogged(st->apply))
                    continue;
                uv_poll_stop(&st->poll);
                st->src_paused = true;
            }
            break;
        }
        int n = wb_source_read(st->src, &buf, st->err);
        if (n == 0 && !consumed) {
            /* libpq's buffer is empty: read the socket once more (it does
             * not block) to tell "nothing more yet" from "not read yet". */
            consumed = true;
            if ((rc = wb_source_consume(st->src, st->err)) != 0) {
                fail(st, rc);
                return;
            }
            n = wb_source_read(st->src, &buf, st->err);
        }
        if (n == 0) {
            st->src_drained = true;
            break;
        }
        if (n < 0) {
            fail(st, n);
            return;
        }
        bool reply;
        rc = wb_dispatch_copydata(st->disp, buf, (size_t)n, &reply);
        wb_source_freemem(buf);
        if (rc == 0 && reply)
            rc = send_status(st, false);
        if (rc) {
            fail(st, rc);
            return;
        }
    }
    if ((rc = close_if_source_idle(st)) != 0) {
        fail(st, rc);
        return;
    }
    arm_batch_timer(st);
    /* Send what this round queued, then wait for writability if needed. */
    if (wb_apply_flush(st->apply, st->err) < 0 ||
        (rc = update_apply_poll(st)) != 0) {
        fail(st, st->err && st->err->code ? st->err->code : WB_ECONN);
        return;
    }
    if (until_reached(st))
        finish(st);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    run_state *st = h->data;
    int rc;

    if (st->finished)
        return;
    if (status < 0) {
        /* libpq may have closed the socket after a server goodbye. */
        wb_error_set(st->err, WB_ECONN, "could not poll the source socket: %s",
                     uv_strerror(status));
        fail(st, WB_ECONN);
        return;
    }
    if (events & UV_WRITABLE) {
        rc = wb_source_flush(st->src, st->err);
        if (rc < 0) {
            fail(st, rc);
            return;
        }
        if (rc == 0 && st->want_write) {
            st->want_write = false;
            update_poll(st);
        }
    }
    if ((rc = wb_source_consume(st->src, st->err)) != 0) {
        fail(st, rc);
        return;
    }
    drain_source(st);
}

static void on_apply_poll(uv_poll_t *h, int status, int events)
{
    run_state *st = h->data;
    int rc;

    if (st->finished)
        return;
    if (status < 0) {
        /* libpq may have closed the socket after the server's goodbye
         * (a backend terminated during a COPY): its message says why. */
        if (wb_apply_consume(st->apply, st->err) == 0)
            wb_error_set(st->err, WB_ECONN,
                         "lost the target connection: could not poll its "
                         "socket: %s",
                         uv_strerror(status));
        fail(st, WB_ECONN);
        return;
    }
    if ((events & UV_WRITABLE) &&
        (rc = wb_apply_flush(st->apply, st->err)) < 0) {
        fail(st, rc);
        return;
    }
    if ((rc = wb_apply_consume(st->apply, st->err)) != 0) {
        fail(st, rc);
        return;
    }
    note_durable(st);
    if ((rc = close_if_source_idle(st)) != 0 ||
        (rc = update_apply_poll(st)) != 0) {
        fail(st, rc);
        return;
    }
    if (st->src_paused && wb_apply_drained_enough(st->apply)) {
        st->src_paused = false;
        uv_poll_start(&st->poll,
                      UV_READABLE | (st->want_write ? UV_WRITABLE : 0),
                      on_poll);
        drain_source(st);
        return;
    }
    if (until_reached(st))
        finish(st);
}

static void on_timer(uv_timer_t *h)
{
    run_state *st = h->data;
    int64_t now = wb_clock_ms();
    int rc;

    if (st->finished)
        return;
    if (until_reached(st)) {
        finish(st);
        return;
    }
    /* A batch may only end between source transactions: closing it in
     * the middle of one would commit half of it. */
    if ((!wb_dispatch_in_txn(st->disp) &&
         (rc = wb_apply_tick(st->apply, st->err)) != 0) ||
        (rc = persist_idle(st, false)) != 0 ||
        (rc = update_apply_poll(st)) != 0) {
        fail(st, rc);
        return;
    }
    /* An idle stream that passed a blocking re-sync's position. */
    if (st->resync && !wb_dispatch_in_txn(st->disp) &&
        (rc = wb_resync_reached(
             st->resync, wb_dispatch_pos(st->disp)->keepalive, st->err)) != 0) {
        fail(st, rc);
        return;
    }
    /* A paused source is not read: the walsender's keepalive requests go
     * unseen, and its wal_sender_timeout may be below status_interval. */
    if (now - st->last_status_ms >=
            (int64_t)config(st)->source.status_interval_ms ||
        (st->src_paused && now - st->last_status_ms >= ANSWER_MS)) {
        if ((rc = send_status(st, false)) != 0) {
            fail(st, rc);
            return;
        }
    }
    /* --until: ask for keepalives so an idle stream still reports its
     * position. */
    if (st->opts.until_now && idle(st) &&
        now - st->last_ping_ms >= UNTIL_PING_MS) {
        if ((rc = send_status(st, true)) != 0)
            fail(st, rc);
    }
}

static void on_sighup(uv_signal_t *h, int signum)
{
    run_state *st = h->data;
    (void)signum;
    wb_log(WB_LOG_INFO, "received SIGHUP, reloading the configuration%s",
           wb_dispatch_in_txn(st->disp) ? " when the current transaction ends"
                                        : "");
    wb_dispatch_request_reload(st->disp);
}

static void on_signal(uv_signal_t *h, int signum)
{
    run_state *st = h->data;
    wb_log(WB_LOG_INFO, "received %s, stopping",
           signum == SIGINT ? "SIGINT" : "SIGTERM");
    st->stop_requested = true;
    if (st->active)
        finish(st);
    else
        uv_stop(&st->loop); /* waiting to reconnect: nothing is open */
}

/*
 * A walsender that served a previous connection of ours can take a moment
 * to notice it is gone; wait for it (bounded) before calling the slot busy.
 */
static int wait_slot_inactive(run_state *st, wb_lsn stored, wb_slot_info *slot)
{
    for (int i = 0; i < SLOT_WAIT_MS / 250 && slot->active_pid; i++) {
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int rc = wb_source_ensure_slot(st->src, stored, false, slot, st->err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Text or binary values for this session (check/binary.h). */
static int choose_format(run_state *st)
{
    wb_binary_plan plan = {0};
    bool was = st->binary;
    int rc = 0;

    st->binary = false;
    if (!st->text_only &&
        (rc = wb_binary_choose(config(st), &plan, st->err)) != 0) {
        /* Text always works: a catalog that cannot be read only costs
         * speed (a lost connection is retried as any). */
        if (rc == WB_ECONN)
            return rc;
        wb_log_error(WB_LOG_WARNING, st->err);
        wb_error_clear(st->err);
        snprintf(plan.reason, sizeof(plan.reason),
                 "the column types could not be read");
        rc = 0;
    }
    if (plan.binary)
        st->binary = wb_dispatch_set_binary(st->disp, &plan) == 0;
    else
        wb_dispatch_set_binary(st->disp, NULL);
    wb_source_set_binary(st->src, st->binary);
    if (!st->binary && !st->text_only && (was || !st->ever_streamed) &&
        config(st)->source.binary != WB_BINARY_OFF)
        wb_log(WB_LOG_INFO, "values are read as text: %s", plan.reason);
    wb_binary_plan_free(&plan);
    return 0;
}

/* When the slot is still to be created and mappings copy existing rows:
 * refuse before anything is created, as check does, when the source role
 * may not read a table to copy (sync.h). */
static int copy_access(run_state *st)
{
    if (!wb_sync_wanted(config(st)))
        return 0;
    PGconn *c = wb_conn_open(config(st)->source.conninfo, false, "walbridge",
                             "source", st->err);
    if (!c)
        return st->err->code ? st->err->code : WB_ECONN;
    bool exists;
    int rc = wb_sync_slot_exists(config(st), c, &exists, st->err);
    if (rc == 0 && !exists)
        rc = wb_sync_check_access(config(st), c, st->err);
    PQfinish(c);
    return rc;
}

static void hook_answer(void *ud);

/* Connect both sides, check state, work out where to start. */
static int prepare(run_state *st, wb_lsn *startpos)
{
    wb_slot_info slot;
    wb_lsn stored;
    char a[WB_LSN_BUFLEN];
    int rc;

    /* Before anything is written, the start-up checks (check/startup.h)
     * that need no session of the applier's; wb_apply_open runs the rest of the
     * list on its session.  walbridge check runs the whole list. */
    if (!st->ever_streamed &&
        (rc = wb_startup_verify_classes(
             config(st), WB_STARTUP_FILE | WB_STARTUP_CATALOG, st->err)) != 0)
        return rc;
    if (!st->ever_streamed && (rc = copy_access(st)) != 0)
        return rc;
    if ((rc = wb_apply_open(config(st), &st->apply, st->err)) != 0)
        return rc;
    wb_apply_set_rowmode_until(st->apply, st->rowmode_until);
    wb_apply_on_wait(st->apply, hook_answer, st);
    wb_progress *progress = wb_apply_progress(st->apply);
    if ((rc = wb_progress_stored_lsn(progress, &stored, st->err)) != 0)
        return rc;
    if ((rc = wb_source_open(config(st), &st->src, st->err)) != 0)
        return rc;
    if ((rc = choose_format(st)) != 0)
        return rc;
    rc = wb_progress_check_source(progress, wb_source_system_id(st->src),
                                  wb_source_timeline(st->src), st->err);
    if (rc)
        return rc;
    if ((rc = wb_source_ensure_publication(st->src, st->err)) != 0)
        return rc;
    /* A new slot exports its snapshot when mappings copy existing rows:
     * the copy reads under it before the stream starts (sync.h). */
    bool copy = wb_sync_wanted(config(st));
    if ((rc = wb_source_ensure_slot(st->src, stored, copy, &slot, st->err)))
        return rc;
    if (!slot.created && slot.active_pid &&
        (rc = wait_slot_inactive(st, stored, &slot)) != 0)
        return rc;
    wb_progress_slot ps = {slot.created, slot.consistent_point,
                           slot.confirmed_flush, slot.active_pid};
    bool store;
    if ((rc = wb_progress_resume(config(st)->source.slot, stored, &ps, &stored,
                                 &store, st->err)) != 0)
        return rc;
    st->snapshot[0] = '\0';
    st->slot_created = slot.created;
    if (slot.created) {
        /* The mappings' copy states and the starting point, together. */
        st->snapshot_time = wb_pgtime_now();
        if ((rc = wb_sync_start(config(st), st->apply, stored,
                                st->snapshot_time, st->err)) != 0)
            return rc;
        snprintf(st->snapshot, sizeof(st->snapshot), "%s", slot.snapshot);
        store = false;
    } else if (!slot.created) {
        wb_sync_report(config(st), wb_apply_sync_rows(st->apply));
    }
    if (store) {
        /* Store the starting point so that later checks have a base. */
        rc = wb_apply_store_progress(st->apply, stored, wb_pgtime_now(),
                                     st->err);
        if (rc == 0)
            rc = wb_apply_drain(st->apply, STOP_TIMEOUT_MS, st->err);
        if (rc)
            return rc;
    }
    st->persisted = stored;
    st->stats.start_lsn = stored;
    *startpos = stored;
    wb_log(WB_LOG_INFO, "resuming at %s (progress stored in %s)",
           wb_lsn_format(stored, a),
           wb_progress_get_mode(progress) == WB_PROGRESS_ORIGIN
               ? "replication origin"
               : "progress table");
    return 0;
}

/* sync.h: asked between chunks of the initial copy, which runs before
 * the loop does: deliver the signals that arrived meanwhile. */
static bool copy_should_stop(void *ud)
{
    run_state *st = ud;
    uv_run(&st->loop, UV_RUN_NOWAIT);
    return st->stop_requested;
}

/* The slot was just created with a snapshot: copy the existing rows
 * (sync.h), then, with --until now, note where to stop.  Both use the
 * replication connection only once the copy no longer needs its snapshot
 * (any command there ends the export).  1 when a stop was asked for. */
static int before_stream(run_state *st, wb_lsn startpos)
{
    char a[WB_LSN_BUFLEN];
    int rc;

    if (st->snapshot[0]) {
        rc = wb_sync_copy(st->disp, st->apply, st->snapshot, startpos,
                          st->snapshot_time, st->binary, copy_should_stop, st,
                          st->err);
        st->snapshot[0] = '\0';
        st->copy_failed = rc != 0 && rc != WB_ECANCELED;
        if (rc == WB_ECANCELED && st->stop_requested) {
            note_durable(st);
            wb_error_clear(st->err);
            log_stopped(st);
            return 1;
        }
        if (rc)
            return rc;
        note_durable(st);
    }
    if (st->opts.until_now) {
        if ((rc = wb_source_until_marker(st->src, &st->until, st->err)) != 0)
            return rc;
        wb_log(WB_LOG_INFO, "streaming until %s", wb_lsn_format(st->until, a));
    }
    return 0;
}

/*
 * After each turn of the loop (results read, messages handled): a re-sync
 * chunk being applied sends its next slice once the target answered the
 * last, between source transactions.
 */
static void on_check(uv_check_t *h)
{
    run_state *st = h->data;
    int rc;
    if (st->finished || !st->resync || !st->apoll_started)
        return;
    if ((rc = wb_resync_pump(st->resync, st->err)) != 0 ||
        (rc = update_apply_poll(st)) != 0)
        fail(st, rc);
}

static int setup_loop(run_state *st)
{
    if (uv_loop_init(&st->loop) != 0)
        return wb_error_set(st->err, WB_EIO, "could not create the event loop");
    uv_timer_init(&st->loop, &st->timer);
    uv_timer_init(&st->loop, &st->backoff);
    uv_timer_init(&st->loop, &st->batch_timer);
    uv_signal_init(&st->loop, &st->sigint);
    uv_signal_init(&st->loop, &st->sigterm);
    uv_signal_init(&st->loop, &st->sighup);
    st->timer.data = st->backoff.data = st->batch_timer.data = st;
    st->sigint.data = st->sigterm.data = st->sighup.data = st;
    uv_signal_start(&st->sigint, on_signal, SIGINT);
    uv_signal_start(&st->sigterm, on_signal, SIGTERM);
    uv_signal_start(&st->sighup, on_sighup, SIGHUP);
    uv_check_init(&st->loop, &st->check);
    st->check.data = st;
    uv_check_start(&st->check, on_check);
    uv_unref((uv_handle_t *)&st->check);
    return 0;
}

static void teardown_loop(run_state *st)
{
    uv_close((uv_handle_t *)&st->timer, close_cb);
    uv_close((uv_handle_t *)&st->backoff, close_cb);
    uv_close((uv_handle_t *)&st->batch_timer, close_cb);
    uv_close((uv_handle_t *)&st->sigint, close_cb);
    uv_close((uv_handle_t *)&st->sigterm, close_cb);
    uv_close((uv_handle_t *)&st->sighup, close_cb);
    uv_close((uv_handle_t *)&st->check, close_cb);
    uv_run(&st->loop, UV_RUN_DEFAULT);
    uv_loop_close(&st->loop);
}

/* Close both connections and forget everything tied to them. */
static void end_session(run_state *st)
{
    if (st->poll_started) {
        uv_poll_stop(&st->poll);
        uv_close((uv_handle_t *)&st->poll, close_cb);
        st->poll_started = false;
    }
    if (st->apoll_started) {
        uv_poll_stop(&st->apoll);
        uv_close((uv_handle_t *)&st->apoll, close_cb);
        st->apoll_started = false;
        st->apoll_events = 0;
    }
    /* Before the applier goes: the re-sync borrows it. */
    wb_resync_end_session(st->resync);
    uv_run(&st->loop, UV_RUN_NOWAIT);
    uv_timer_stop(&st->timer);
    wb_source_close(st->src);
    if (st->apply) {
        wb_apply_stats as;
        wb_apply_get_stats(st->apply, &as);
        st->stats.rows_written += as.rows_written;
        st->stats.conflicts += as.conflicts;
        st->stats.links_pending += as.links_pending;
        st->stats.links_resolved += as.links_resolved;
        st->stats.rows_copied += as.rows_copied;
        st->stats.copy_fallbacks += as.copy_fallbacks;
    }
    wb_apply_close(st->apply);
    st->src = NULL;
    st->apply = NULL;
    st->active = false;
    st->want_write = false;
    wb_dispatch_end_session(st->disp);
}

/* One connection lifetime: prepare, stream until stopped or failed. */
static int run_session(run_state *st)
{
    wb_lsn startpos = 0;
    int rc;

    st->finished = false;
    st->result = 0;
    st->want_write = false;
    if ((rc = prepare(st, &startpos)) != 0)
        return rc;
    if ((rc = wb_dispatch_start_session(st->disp, st->apply, startpos)) != 0)
        return rc;
    if ((rc = before_stream(st, startpos)) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = wb_source_start(st->src, startpos, st->err)) != 0)
        return rc;
    st->active = true;
    st->ever_streamed = true;
    uv_poll_init(&st->loop, &st->poll, wb_source_socket(st->src));
    st->poll.data = st;
    st->poll_started = true;
    st->last_persist_ms = st->last_status_ms = wb_clock_ms();
    uv_poll_start(&st->poll, UV_READABLE, on_poll);
    uv_poll_init(&st->loop, &st->apoll, wb_apply_socket(st->apply));
    st->apoll.data = st;
    st->apoll_started = true;
    st->apoll_events = UV_READABLE;
    uv_poll_start(&st->apoll, UV_READABLE, on_apply_poll);
    st->src_paused = false;
    uv_timer_start(&st->timer, on_timer, TICK_MS, TICK_MS);
    /* Jobs of the online re-sync: mappings whose copy is unfinished (not
     * when this session's initial copy just wrote their state). */
    if ((rc = wb_resync_start_session(
             st->resync, st->disp, st->apply, st->binary,
             st->slot_created ? NULL : wb_apply_sync_rows(st->apply),
             st->err)) != 0)
        return rc;
    /* A signal that arrived during set-up is delivered here. */
    uv_run(&st->loop, UV_RUN_DEFAULT);
    return st->result;
}

/*
 * Errors worth another attempt: the connection, not the data or state; and
 * a target transaction the server rolled back for concurrency's sake
 * (SQLSTATE class 40: deadlock, serialization failure; 55P03: lock not
 * available), which other writers of the same rows (Heroku Connect, the
 * apps) cause and which is gone on the next try.  The batch was rolled
 * back whole, so it is applied again from the stored position.
 */
static bool retryable(int rc, const wb_error *err)
{
    if (rc == WB_ECONN)
        return true;
    return (rc == WB_EDATA || rc == WB_ESQL) && err &&
           (strncmp(err->sqlstate, "40", 2) == 0 ||
            strcmp(err->sqlstate, "55P03") == 0);
}

static void on_backoff(uv_timer_t *h)
{
    uv_stop(h->loop);
}

/* Capped, jittered exponential backoff: 0.5..1 x min(30 s, 250 ms x 2^n). */
static uint64_t backoff_ms(int attempt)
{
    uint64_t cap = 30000, base = 250;
    uint64_t d = attempt >= 7 ? cap : base << attempt;
    if (d > cap)
        d = cap;
    return d / 2 + (uint64_t)rand() % (d / 2 + 1);
}

/* dispatch.c: a streamed transaction's replay waited for the target. */
static void hook_target_waited(void *ud)
{
    note_durable(ud);
}

/* dispatch.c: the online re-sync watches row changes and its messages. */
static void hook_row_change(void *ud, const wb_change *c, uint32_t xid)
{
    run_state *st = ud;
    if (st->resync)
        wb_resync_row_change(st->resync, c, xid);
}

/* dispatch.c: a transaction is about to be applied; a re-sync of a table
 * without a key may copy it first (the stream is where its snapshot is). */
static int hook_txn_begin(void *ud, wb_lsn commit_lsn, wb_error *err)
{
    run_state *st = ud;
    return st->resync ? wb_resync_reached(st->resync, commit_lsn, err) : 0;
}

/* apply/ and resync.c: the loop is held (the applier waits for a slow
 * target; a re-sync exports a snapshot or copies a table whole): the
 * walsender's wal_sender_timeout counts meanwhile, and its keepalive
 * requests go unseen, so it gets a status whenever one is due.  Called
 * often (about every 100 ms); sends at most every ANSWER_MS. */
static void hook_answer(void *ud)
{
    run_state *st = ud;
    if (st->src && wb_clock_ms() - st->last_status_ms >= ANSWER_MS)
        (void)send_status(st, false);
}

static int hook_message(void *ud, const wb_pgoutput_message *m, wb_error *err)
{
    run_state *st = ud;
    /* `walbridge compare` waits for a position past its message: store
     * one at the next tick instead of lazily. */
    if (strcmp(m->prefix, WB_COMPARE_MESSAGE) == 0 &&
        strcmp(m->content, config(st)->source.slot) == 0)
        st->store_soon = true;
    return st->resync ? wb_resync_message(st->resync, m, err) : 0;
}

/* resync.c: reading a chunk failed. */
static void resync_failed(void *ud, const wb_error *err)
{
    run_state *st = ud;
    *st->err = *err;
    fail(st, err->code ? err->code : WB_EIO);
}

int wb_run(const wb_config *cfg, const wb_run_opts *opts, wb_run_stats *stats,
           wb_error *err)
{
    run_state *st = calloc(1, sizeof(*st));
    wb_error local;
    int rc, attempt = 0;
    bool loop_ready = false;
    wb_dispatch_hooks hooks = {st, hook_target_waited, hook_row_change,
                               hook_message, hook_txn_begin};

    if (!st)
        return wb_error_set(err, WB_ENOMEM, "out of memory");
    if (!err) {
        wb_error_clear(&local);
        err = &local;
    }
    st->opts = opts ? *opts : (wb_run_opts){0};
    st->err = err;
    /* Reports its own errors (a plugin that cannot be loaded or rejects
     * its config is WB_ECONFIG, with the file position). */
    if (!(st->disp = wb_dispatch_create(cfg, &st->stats, &hooks, err))) {
        rc = err->code ? err->code : WB_ENOMEM;
        goto done;
    }
    srand((unsigned)(wb_clock_ms() ^ (int64_t)getpid()));
    /* Signals are caught from the start so a stop during set-up is clean. */
    if ((rc = setup_loop(st)) != 0)
        goto done;
    loop_ready = true;
    if (!(st->resync = wb_resync_create(&st->loop, resync_failed, st, err))) {
        rc = err->code ? err->code : WB_ENOMEM;
        goto done;
    }
    wb_resync_set_ping(st->resync, hook_answer);
    for (;;) {
        uint64_t before = st->stats.txns_applied + st->stats.txns_skipped;
        wb_error_clear(err);
        rc = run_session(st);
        /* A set-based statement failed: apply that stretch again row by
         * row, at once, so that the error names the row (or the failure
         * turns out to be one of set-based apply only). */
        bool rowmode = rc == WB_EDATA && st->apply &&
                       wb_apply_set_failed(st->apply) && !st->stop_requested &&
                       !retryable(rc, err);
        /* Binary values failed: a column changed type, a reload made a
         * router that reads text, or a change could not be applied.  Read
         * the stretch again at once: after a data error, or when binary
         * failed at this very LSN before (the type changed mid-stream),
         * as text, for the rest of the run: the text session applies it,
         * or reports it with its values readable.  Otherwise (a reload)
         * the next session chooses again. */
        bool text =
            st->binary && !st->stop_requested &&
            (rc == WB_EFORMAT || (rc == WB_EDATA && !retryable(rc, err)));
        end_session(st);
        if (st->copy_failed) {
            /* A retry here would not copy again (the snapshot is gone):
             * stop on the error, which needs a person; the next start
             * goes on with the copy as an online re-sync. */
            if (!err->hint[0])
                wb_error_hint(err, "The next start goes on with the copy from "
                                   "its stored cursor while streaming (an "
                                   "online re-sync); walbridge status shows "
                                   "it.");
            break;
        }
        if (text) {
            st->text_only = rc == WB_EDATA || err->lsn == st->format_lsn;
            st->format_lsn = err->lsn;
            wb_log(WB_LOG_INFO, "reading the stream again%s: %s",
                   st->text_only ? " with values as text" : "", err->message);
            continue;
        }
        if (rowmode) {
            st->rowmode_until = err->lsn;
            wb_log_error(WB_LOG_WARNING, err);
            continue;
        }
        if (rc == 0 || st->stop_requested || !retryable(rc, err))
            break;
        /* --until is for scripts: a source that cannot be reached at all
         * is an answer, not something to wait for.  Once streaming, a
         * lost connection is retried in both modes. */
        if (st->opts.until_now && !st->ever_streamed)
            break;
        /* Progress made means the last failure was not a persistent one. */
        if (st->stats.txns_applied + st->stats.txns_skipped > before)
            attempt = 0;
        uint64_t delay = backoff_ms(attempt++);
        wb_log_error(WB_LOG_WARNING, err);
        wb_log(WB_LOG_INFO, "reconnecting in %llu ms (attempt %d)",
               (unsigned long long)delay, attempt);
        /* Count the delay from now, not from the loop's cached time,
         * which the failed attempt left behind. */
        uv_update_time(&st->loop);
        uv_timer_start(&st->backoff, on_backoff, delay, 0);
        uv_run(&st->loop, UV_RUN_DEFAULT);
        uv_timer_stop(&st->backoff);
        if (st->stop_requested) {
            rc = 0; /* stopped while disconnected: nothing was open */
            wb_error_clear(err);
            log_stopped(st);
            break;
        }
    }
done:
    wb_resync_destroy(st->resync);
    if (loop_ready)
        teardown_loop(st);
    st->stats.final_lsn = st->persisted;
    if (stats)
        *stats = st->stats;
    wb_dispatch_destroy(st->disp);
    free(st);
    return rc;
}
