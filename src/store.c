#include "store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct store {
    sqlite3 *db;
    int depth; /* store_begin() nesting; the loop thread is the only user */
    unsigned char secret[32];
};

/* Schema migrations: migration i takes user_version i to i+1. Append only. */
static const char *const store_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
    "CREATE TABLE tuning_jobs("
    " id INTEGER PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL,"
    " kind TEXT NOT NULL DEFAULT 'tuning',"
    " status TEXT NOT NULL, api INTEGER NOT NULL, request TEXT NOT NULL,"
    " strategy TEXT NOT NULL, seed INTEGER NOT NULL, objective_metric TEXT NOT NULL,"
    " objective_type TEXT NOT NULL, max_jobs INTEGER NOT NULL, max_parallel INTEGER NOT NULL,"
    " max_seconds INTEGER NOT NULL, created REAL NOT NULL, started REAL, ended REAL,"
    " failure_reason TEXT, UNIQUE(account, kind, name));"
    "CREATE TABLE training_jobs("
    " id INTEGER PRIMARY KEY, tuning_id INTEGER, account TEXT NOT NULL, name TEXT NOT NULL,"
    " idx INTEGER NOT NULL, status TEXT NOT NULL, secondary TEXT NOT NULL,"
    " hyperparameters TEXT NOT NULL, tuned TEXT NOT NULL, retried INTEGER NOT NULL DEFAULT 0,"
    " strategy TEXT NOT NULL, seed INTEGER NOT NULL, created REAL NOT NULL, started REAL,"
    " ended REAL, failure_reason TEXT, objective REAL, handle TEXT NOT NULL DEFAULT '',"
    " job_dir TEXT NOT NULL, log_offset INTEGER NOT NULL DEFAULT 0,"
    " stop_requested INTEGER NOT NULL DEFAULT 0, model_artifacts TEXT,"
    " UNIQUE(account, name));"
    "CREATE INDEX training_by_tuning ON training_jobs(tuning_id, idx);"
    "CREATE TABLE metric_points(training_id INTEGER NOT NULL, name TEXT NOT NULL,"
    " ts REAL NOT NULL, value REAL NOT NULL);"
    "CREATE INDEX points_by_job ON metric_points(training_id, name);"
    "CREATE TABLE final_metrics(training_id INTEGER NOT NULL, name TEXT NOT NULL,"
    " value REAL NOT NULL, ts REAL NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(training_id, name));"
    "CREATE TABLE transitions(training_id INTEGER NOT NULL, status TEXT NOT NULL,"
    " start REAL NOT NULL, message TEXT NOT NULL);"
    "CREATE INDEX transitions_by_job ON transitions(training_id);"
    "CREATE TABLE tags(account TEXT NOT NULL, arn TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY(arn, key));",
};

#define NMIGRATIONS (sizeof store_migrations / sizeof *store_migrations)

static int exec(store *s, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store: %s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return ERR_INTERNAL;
    }
    return 0;
}

static sqlite3_stmt *prep(store *s, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error("store: prepare %s: %s", sql, sqlite3_errmsg(s->db));
        return NULL;
    }
    return st;
}

/* Binds arguments by a format string: s=text (NULL ok), i=int64, d=double,
 * n=NULL-if-zero double. */
static int bindv(sqlite3_stmt *st, const char *fmt, va_list ap) {
    int i = 1, rc = SQLITE_OK;
    for (const char *f = fmt; *f && rc == SQLITE_OK; f++, i++) {
        switch (*f) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'd':
            rc = sqlite3_bind_double(st, i, va_arg(ap, double));
            break;
        case 'n': {
            double v = va_arg(ap, double);
            rc = v > 0 ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
            break;
        }
        }
    }
    return rc;
}

/* Runs a statement that returns no rows. */
static int run(store *s, const char *sql, const char *fmt, ...) {
    sqlite3_stmt *st = prep(s, sql);
    int rc = ERR_INTERNAL;
    va_list ap;
    if (!st)
        return ERR_INTERNAL;
    va_start(ap, fmt);
    int b = bindv(st, fmt, ap);
    va_end(ap);
    if (b != SQLITE_OK)
        goto out;
    int r = sqlite3_step(st);
    if (r == SQLITE_CONSTRAINT) {
        rc = ERR_IN_USE;
        goto out;
    }
    if (r != SQLITE_DONE) {
        log_error("store: %s: %s", sql, sqlite3_errmsg(s->db));
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int col) {
    const unsigned char *v = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", v ? (const char *)v : "");
}

static char *dup_col(sqlite3_stmt *st, int col) {
    const unsigned char *v = sqlite3_column_text(st, col);
    return strdup(v ? (const char *)v : "");
}

static int migrate(store *s) {
    sqlite3_stmt *st = prep(s, "PRAGMA user_version");
    int version = 0, rc;
    if (!st)
        return ERR_INTERNAL;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > (int)NMIGRATIONS) {
        log_error("store: database schema %d is newer than this hpod (%zu)", version, NMIGRATIONS);
        return ERR_INTERNAL;
    }
    for (size_t v = (size_t)version; v < NMIGRATIONS; v++) {
        char sql[64];
        if ((rc = exec(s, "BEGIN IMMEDIATE")))
            return rc;
        snprintf(sql, sizeof sql, "PRAGMA user_version=%zu", v + 1);
        if ((rc = exec(s, store_migrations[v])) || (rc = exec(s, sql))) {
            exec(s, "ROLLBACK");
            return rc;
        }
        if ((rc = exec(s, "COMMIT")))
            return rc;
        log_info("store: migrated schema to version %zu", v + 1);
    }
    return 0;
}

static int load_secret(store *s) {
    sqlite3_stmt *st = prep(s, "SELECT value FROM meta WHERE key='secret'");
    int rc = ERR_INTERNAL;
    if (!st)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
        memcpy(s->secret, sqlite3_column_blob(st, 0), 32);
        rc = 0;
    }
    sqlite3_finalize(st);
    if (rc == 0)
        return 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, s->secret, 32) != 32) {
        if (fd >= 0)
            close(fd);
        return ERR_INTERNAL;
    }
    close(fd);
    st = prep(s, "INSERT OR REPLACE INTO meta(key, value) VALUES('secret', ?)");
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_blob(st, 1, s->secret, 32, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ERR_INTERNAL;
    sqlite3_finalize(st);
    return rc;
}

store *store_open(const char *dir, err_t *e) {
    char path[4096];
    store *s = calloc(1, sizeof *s);
    int rc = ERR_INTERNAL;
    if (!s) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/openhpo.db", dir);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        err_set(e, ERR_INTERNAL, "cannot open %s: %s", path,
                s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if ((rc = exec(s, "PRAGMA journal_mode=WAL")) || (rc = exec(s, "PRAGMA synchronous=FULL")) ||
        (rc = exec(s, "PRAGMA foreign_keys=ON")) || (rc = migrate(s)) || (rc = load_secret(s))) {
        err_set(e, ERR_INTERNAL, "cannot initialise the store in %s", path);
        goto out;
    }
    rc = 0;
out:
    if (rc) {
        store_close(s);
        return NULL;
    }
    return s;
}

void store_close(store *s) {
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

int store_begin(store *s) {
    if (s->depth++ > 0)
        return 0;
    int rc = exec(s, "BEGIN IMMEDIATE");
    if (rc)
        s->depth = 0;
    return rc;
}

int store_commit(store *s) {
    if (s->depth == 0 || --s->depth > 0)
        return 0;
    int rc = exec(s, "COMMIT");
    if (rc)
        exec(s, "ROLLBACK");
    return rc;
}

int store_sync(store *s) {
    if (s->depth == 0)
        return 0;
    int rc = exec(s, "COMMIT");
    if (rc)
        exec(s, "ROLLBACK");
    if (!rc)
        rc = exec(s, "BEGIN IMMEDIATE");
    if (rc)
        s->depth = 0;
    return rc;
}

const unsigned char *store_secret(const store *s) {
    return s->secret;
}

void store_tuning_clear(store_tuning *t) {
    if (!t)
        return;
    free(t->request);
    t->request = NULL;
}

void store_training_clear(store_training *t) {
    if (!t)
        return;
    free(t->hyperparameters);
    free(t->tuned);
    t->hyperparameters = t->tuned = NULL;
}

/* ---- tuning jobs ---- */

#define TUNING_COLS                                                                                \
    "id, account, name, arn, kind, status, api, request, strategy, seed, objective_metric,"        \
    " objective_type, max_jobs, max_parallel, max_seconds, created, started, ended,"               \
    " failure_reason"

static void read_tuning(sqlite3_stmt *st, store_tuning *t) {
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    copy_col(t->account, sizeof t->account, st, 1);
    copy_col(t->name, sizeof t->name, st, 2);
    copy_col(t->arn, sizeof t->arn, st, 3);
    copy_col(t->kind, sizeof t->kind, st, 4);
    copy_col(t->status, sizeof t->status, st, 5);
    t->api = sqlite3_column_int(st, 6);
    t->request = dup_col(st, 7);
    copy_col(t->strategy, sizeof t->strategy, st, 8);
    t->seed = (uint64_t)sqlite3_column_int64(st, 9);
    copy_col(t->objective_metric, sizeof t->objective_metric, st, 10);
    copy_col(t->objective_type, sizeof t->objective_type, st, 11);
    t->max_jobs = sqlite3_column_int(st, 12);
    t->max_parallel = sqlite3_column_int(st, 13);
    t->max_seconds = sqlite3_column_int64(st, 14);
    t->created = sqlite3_column_double(st, 15);
    t->started = sqlite3_column_double(st, 16);
    t->ended = sqlite3_column_double(st, 17);
    copy_col(t->failure_reason, sizeof t->failure_reason, st, 18);
}

int store_create_tuning(store *s, store_tuning *t, err_t *e) {
    int rc = run(s,
                 "INSERT INTO tuning_jobs(account, name, arn, kind, status, api, request, strategy,"
                 " seed, objective_metric, objective_type, max_jobs, max_parallel, max_seconds,"
                 " created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 "sssssississiiid", t->account, t->name, t->arn, t->kind[0] ? t->kind : "tuning",
                 t->status, (int64_t)t->api, t->request, t->strategy, (int64_t)t->seed,
                 t->objective_metric, t->objective_type, (int64_t)t->max_jobs,
                 (int64_t)t->max_parallel, t->max_seconds, t->created);
    if (rc == ERR_IN_USE)
        return err_set(e, ERR_IN_USE, "Tuning job %s already exists", t->name);
    if (rc)
        return err_set(e, rc, "cannot store the tuning job");
    t->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* Runs a one-row query (`st` taken, may be NULL after a failed prepare) and
 * reads its row with `read` into `row`: 0, ERR_NOT_FOUND or ERR_INTERNAL. */
static int get_one(sqlite3_stmt *st, void (*read)(sqlite3_stmt *, void *), void *row) {
    int rc = ERR_NOT_FOUND;
    if (!st)
        return ERR_INTERNAL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        read(st, row);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static void read_tuning_row(sqlite3_stmt *st, void *row) {
    read_tuning(st, row);
}

int store_get_tuning(store *s, const char *account, const char *name, store_tuning *t) {
    sqlite3_stmt *st = prep(s, "SELECT " TUNING_COLS
                               " FROM tuning_jobs WHERE account=? AND name=? AND kind='tuning'");
    if (st) {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    }
    return get_one(st, read_tuning_row, t);
}

int store_get_tuning_by_id(store *s, int64_t id, store_tuning *t) {
    sqlite3_stmt *st = prep(s, "SELECT " TUNING_COLS " FROM tuning_jobs WHERE id=?");
    if (st)
        sqlite3_bind_int64(st, 1, id);
    return get_one(st, read_tuning_row, t);
}

int store_set_tuning_status(store *s, int64_t id, const char *status, const char *reason,
                            double started, double ended) {
    return run(s,
               "UPDATE tuning_jobs SET status=?, failure_reason=COALESCE(?, failure_reason),"
               " started=COALESCE(?, started), ended=COALESCE(?, ended) WHERE id=?",
               "ssnni", status, reason, started, ended, id);
}

static int each_tuning(store *s, sqlite3_stmt *st, void (*cb)(void *, const store_tuning *),
                       void *ud) {
    store_tuning t;
    int r;
    if (!st)
        return ERR_INTERNAL;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        read_tuning(st, &t);
        cb(ud, &t);
        store_tuning_clear(&t);
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : ERR_INTERNAL;
}

int store_each_active_tuning(store *s, void (*cb)(void *ud, const store_tuning *t), void *ud) {
    return each_tuning(s,
                       prep(s, "SELECT " TUNING_COLS " FROM tuning_jobs WHERE status IN"
                               " ('Created','Running','Stopping') ORDER BY id"),
                       cb, ud);
}

int store_each_tuning(store *s, const char *account, void (*cb)(void *ud, const store_tuning *t),
                      void *ud) {
    sqlite3_stmt *st =
        prep(s, "SELECT " TUNING_COLS " FROM tuning_jobs WHERE account=? AND kind='tuning'"
                " ORDER BY created DESC, id DESC");
    if (st)
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
    return each_tuning(s, st, cb, ud);
}

int store_tuning_counts(store *s, int64_t tuning_id, double now, store_counts *c) {
    sqlite3_stmt *st = prep(s, "SELECT status, handle, objective IS NOT NULL, started, ended"
                               " FROM training_jobs WHERE tuning_id=?");
    int r;
    memset(c, 0, sizeof *c);
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, tuning_id);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 0);
        const char *handle = (const char *)sqlite3_column_text(st, 1);
        double started = sqlite3_column_double(st, 3), ended = sqlite3_column_double(st, 4);
        c->total++;
        if (!strcmp(status, "Completed")) {
            c->completed++;
            if (sqlite3_column_int(st, 2))
                c->objective_succeeded++;
        } else if (!strcmp(status, "Failed")) {
            c->failed++;
        } else if (!strcmp(status, "Stopped")) {
            c->stopped++;
        } else if (!strcmp(status, "Stopping")) {
            c->stopping++;
        } else if (handle && *handle) {
            c->in_progress++;
        } else {
            c->pending++;
        }
        if (started > 0 && ended > 0)
            c->finished_seconds += ended - started;
        else if (started > 0 && now > started)
            c->inflight_seconds += now - started;
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : ERR_INTERNAL;
}

/* ---- training jobs ---- */

#define TRAINING_COLS                                                                              \
    "id, tuning_id, account, name, idx, status, secondary, hyperparameters, tuned, retried,"       \
    " strategy, seed, created, started, ended, failure_reason, objective, handle, job_dir,"        \
    " log_offset, stop_requested, model_artifacts"

static void read_training(sqlite3_stmt *st, store_training *t) {
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    t->tuning_id = sqlite3_column_int64(st, 1);
    copy_col(t->account, sizeof t->account, st, 2);
    copy_col(t->name, sizeof t->name, st, 3);
    t->idx = sqlite3_column_int(st, 4);
    copy_col(t->status, sizeof t->status, st, 5);
    copy_col(t->secondary, sizeof t->secondary, st, 6);
    t->hyperparameters = dup_col(st, 7);
    t->tuned = dup_col(st, 8);
    t->retried = sqlite3_column_int(st, 9);
    copy_col(t->strategy, sizeof t->strategy, st, 10);
    t->seed = (uint64_t)sqlite3_column_int64(st, 11);
    t->created = sqlite3_column_double(st, 12);
    t->started = sqlite3_column_double(st, 13);
    t->ended = sqlite3_column_double(st, 14);
    copy_col(t->failure_reason, sizeof t->failure_reason, st, 15);
    t->has_objective = sqlite3_column_type(st, 16) != SQLITE_NULL;
    t->objective = sqlite3_column_double(st, 16);
    copy_col(t->handle, sizeof t->handle, st, 17);
    copy_col(t->job_dir, sizeof t->job_dir, st, 18);
    t->log_offset = sqlite3_column_int64(st, 19);
    t->stop_requested = sqlite3_column_int(st, 20);
    copy_col(t->model_artifacts, sizeof t->model_artifacts, st, 21);
}

int store_insert_training(store *s, store_training *t, err_t *e) {
    int rc = run(s,
                 "INSERT INTO training_jobs(tuning_id, account, name, idx, status, secondary,"
                 " hyperparameters, tuned, strategy, seed, created, job_dir)"
                 " VALUES(NULLIF(?,0),?,?,?,?,?,?,?,?,?,?,?)",
                 "ississsssids", t->tuning_id, t->account, t->name, (int64_t)t->idx, t->status,
                 t->secondary, t->hyperparameters, t->tuned ? t->tuned : "{}", t->strategy,
                 (int64_t)t->seed, t->created, t->job_dir);
    if (rc == ERR_IN_USE)
        return err_set(e, ERR_IN_USE, "Training job %s already exists", t->name);
    if (rc)
        return err_set(e, rc, "cannot store the training job");
    t->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static void read_training_row(sqlite3_stmt *st, void *row) {
    read_training(st, row);
}

int store_get_training(store *s, const char *account, const char *name, store_training *t) {
    sqlite3_stmt *st =
        prep(s, "SELECT " TRAINING_COLS " FROM training_jobs WHERE account=? AND name=?");
    if (st) {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    }
    return get_one(st, read_training_row, t);
}

int store_get_training_by_id(store *s, int64_t id, store_training *t) {
    sqlite3_stmt *st = prep(s, "SELECT " TRAINING_COLS " FROM training_jobs WHERE id=?");
    if (st)
        sqlite3_bind_int64(st, 1, id);
    return get_one(st, read_training_row, t);
}

int store_training_launched(store *s, int64_t id, const char *handle, double started) {
    return run(s,
               "UPDATE training_jobs SET handle=?, started=COALESCE(started, ?),"
               " secondary=CASE WHEN status='InProgress' THEN 'Training' ELSE secondary END"
               " WHERE id=?",
               "sdi", handle, started, id);
}

int store_training_status(store *s, int64_t id, const char *status, const char *secondary) {
    return run(s, "UPDATE training_jobs SET status=?, secondary=? WHERE id=?", "ssi", status,
               secondary, id);
}

int store_training_stop_requested(store *s, int64_t id, int why) {
    return run(s,
               "UPDATE training_jobs SET stop_requested=?, status='Stopping',"
               " secondary='Stopping' WHERE id=? AND status IN ('InProgress','Stopping')",
               "ii", (int64_t)why, id);
}

int store_training_retry(store *s, int64_t id) {
    int rc = exec(s, "SAVEPOINT retry");
    if (rc)
        return rc;
    if (run(s,
            "UPDATE training_jobs SET handle='', retried=retried+1, log_offset=0,"
            " secondary='Starting' WHERE id=?",
            "i", id) ||
        run(s, "DELETE FROM metric_points WHERE training_id=?", "i", id) ||
        run(s, "DELETE FROM final_metrics WHERE training_id=?", "i", id)) {
        exec(s, "ROLLBACK TO retry");
        exec(s, "RELEASE retry");
        return ERR_INTERNAL;
    }
    return exec(s, "RELEASE retry");
}

int store_training_finish(store *s, int64_t id, const char *status, const char *secondary,
                          const char *reason, int has_objective, double objective, double ended) {
    sqlite3_stmt *st = prep(s, "UPDATE training_jobs SET status=?, secondary=?,"
                               " failure_reason=?, objective=?, ended=? WHERE id=?");
    int rc = ERR_INTERNAL;
    if (!st)
        return rc;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, secondary, -1, SQLITE_TRANSIENT);
    if (reason)
        sqlite3_bind_text(st, 3, reason, -1, SQLITE_TRANSIENT);
    if (has_objective)
        sqlite3_bind_double(st, 4, objective);
    sqlite3_bind_double(st, 5, ended);
    sqlite3_bind_int64(st, 6, id);
    if (sqlite3_step(st) == SQLITE_DONE)
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}

static int each_training(sqlite3_stmt *st, void (*cb)(void *, const store_training *), void *ud,
                         int limit, int *more) {
    store_training t;
    int r, n = 0;
    if (!st)
        return ERR_INTERNAL;
    if (more)
        *more = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (limit > 0 && n == limit) {
            if (more)
                *more = 1;
            r = SQLITE_DONE;
            break;
        }
        read_training(st, &t);
        cb(ud, &t);
        store_training_clear(&t);
        n++;
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : ERR_INTERNAL;
}

int store_each_training(store *s, int64_t tuning_id, void (*cb)(void *ud, const store_training *t),
                        void *ud) {
    sqlite3_stmt *st =
        prep(s, "SELECT " TRAINING_COLS " FROM training_jobs WHERE tuning_id=? ORDER BY idx");
    if (st)
        sqlite3_bind_int64(st, 1, tuning_id);
    return each_training(st, cb, ud, 0, NULL);
}

int store_list_trainings(store *s, int64_t tuning_id, const store_list_opts *o,
                         void (*cb)(void *ud, const store_training *t), void *ud, int *more) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT " TRAINING_COLS " FROM training_jobs WHERE tuning_id=?1"
             " AND (?2 IS NULL OR status=?2) ORDER BY %s LIMIT ?3 OFFSET ?4",
             o->by_objective ? (o->descending ? "objective IS NULL, objective DESC, idx"
                                              : "objective IS NULL, objective ASC, idx")
                             : (o->descending ? "idx DESC" : "idx ASC"));
    sqlite3_stmt *st = prep(s, sql);
    if (st) {
        sqlite3_bind_int64(st, 1, tuning_id);
        if (o->status)
            sqlite3_bind_text(st, 2, o->status, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, o->limit + 1);
        sqlite3_bind_int64(st, 4, o->offset);
    }
    return each_training(st, cb, ud, o->limit, more);
}

int store_best_training(store *s, int64_t tuning_id, int maximize, store_training *t) {
    sqlite3_stmt *st = prep(s, maximize ? "SELECT " TRAINING_COLS " FROM training_jobs"
                                          " WHERE tuning_id=? AND status='Completed' AND"
                                          " objective IS NOT NULL ORDER BY objective DESC, idx"
                                          " LIMIT 1"
                                        : "SELECT " TRAINING_COLS " FROM training_jobs"
                                          " WHERE tuning_id=? AND status='Completed' AND"
                                          " objective IS NOT NULL ORDER BY objective ASC, idx"
                                          " LIMIT 1");
    if (st)
        sqlite3_bind_int64(st, 1, tuning_id);
    return get_one(st, read_training_row, t);
}

/* ---- metrics ---- */

int store_add_points(store *s, int64_t training_id, const store_point *p, size_t n,
                     int64_t log_offset) {
    int rc = exec(s, "SAVEPOINT points");
    sqlite3_stmt *ins = NULL, *fin = NULL;
    if (rc)
        return rc;
    rc = ERR_INTERNAL;
    ins = prep(s, "INSERT INTO metric_points(training_id, name, ts, value)"
                  " SELECT ?1, ?2, ?3, ?4 WHERE COALESCE((SELECT count FROM final_metrics"
                  " WHERE training_id=?1 AND name=?2), 0) < ?5");
    fin = prep(s, "INSERT INTO final_metrics(training_id, name, value, ts, count)"
                  " VALUES(?1, ?2, ?3, ?4, 1) ON CONFLICT(training_id, name) DO UPDATE SET"
                  " value=excluded.value, ts=excluded.ts, count=count+1");
    if (!ins || !fin)
        goto out;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, training_id);
        sqlite3_bind_text(ins, 2, p[i].name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(ins, 3, p[i].ts);
        sqlite3_bind_double(ins, 4, p[i].value);
        sqlite3_bind_int64(ins, 5, STORE_MAX_POINTS);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto out;
        sqlite3_reset(fin);
        sqlite3_bind_int64(fin, 1, training_id);
        sqlite3_bind_text(fin, 2, p[i].name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(fin, 3, p[i].value);
        sqlite3_bind_double(fin, 4, p[i].ts);
        if (sqlite3_step(fin) != SQLITE_DONE)
            goto out;
    }
    if (run(s, "UPDATE training_jobs SET log_offset=? WHERE id=?", "ii", log_offset, training_id))
        goto out;
    rc = exec(s, "RELEASE points");
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(fin);
    if (rc && exec(s, "ROLLBACK TO points") == 0)
        exec(s, "RELEASE points");
    return rc;
}

int store_final_metric(store *s, int64_t training_id, const char *name, double *value) {
    sqlite3_stmt *st = prep(s, "SELECT value FROM final_metrics WHERE training_id=? AND name=?");
    int rc = ERR_NOT_FOUND;
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, training_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *value = sqlite3_column_double(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int store_each_final_metric(store *s, int64_t training_id,
                            void (*cb)(void *ud, const char *name, double value, double ts),
                            void *ud) {
    sqlite3_stmt *st = prep(s, "SELECT name, value, ts FROM final_metrics WHERE"
                               " training_id=? ORDER BY name");
    int r;
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, training_id);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1),
           sqlite3_column_double(st, 2));
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : ERR_INTERNAL;
}

/* ---- status transitions ---- */

int store_add_transition(store *s, int64_t training_id, const char *status, double start,
                         const char *message) {
    return run(s, "INSERT INTO transitions(training_id, status, start, message) VALUES(?,?,?,?)",
               "isds", training_id, status, start, message ? message : "");
}

int store_each_transition(store *s, int64_t training_id,
                          void (*cb)(void *ud, const char *status, double start,
                                     const char *message),
                          void *ud) {
    sqlite3_stmt *st = prep(s, "SELECT status, start, message FROM transitions"
                               " WHERE training_id=? ORDER BY rowid");
    int r;
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, training_id);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1),
           (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : ERR_INTERNAL;
}

/* ---- tags ---- */

int store_tags_add(store *s, const char *account, const char *arn, const char *key,
                   const char *value) {
    return run(s,
               "INSERT INTO tags(account, arn, key, value) VALUES(?,?,?,?)"
               " ON CONFLICT(arn, key) DO UPDATE SET value=excluded.value",
               "ssss", account, arn, key, value);
}

int store_tags_delete(store *s, const char *arn, const char *key) {
    return run(s, "DELETE FROM tags WHERE arn=? AND key=?", "ss", arn, key);
}

int store_tags_count(store *s, const char *arn, int *n) {
    sqlite3_stmt *st = prep(s, "SELECT count(*) FROM tags WHERE arn=?");
    int rc = ERR_INTERNAL;
    if (!st)
        return rc;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *n = sqlite3_column_int(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int store_each_tag(store *s, const char *arn,
                   void (*cb)(void *ud, const char *key, const char *value), void *ud) {
    sqlite3_stmt *st = prep(s, "SELECT key, value FROM tags WHERE arn=? ORDER BY key");
    int r;
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_text(st, 1, arn, -1, SQLITE_TRANSIENT);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : ERR_INTERNAL;
}

int store_each_training_of_account(store *s, const char *account,
                                   void (*cb)(void *ud, const store_training *t), void *ud) {
    sqlite3_stmt *st = prep(s, "SELECT " TRAINING_COLS " FROM training_jobs WHERE account=?"
                               " ORDER BY created DESC, id DESC");
    if (st)
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
    return each_training(st, cb, ud, 0, NULL);
}

int store_training_artifacts(store *s, int64_t id, const char *uri) {
    return run(s, "UPDATE training_jobs SET model_artifacts=? WHERE id=?", "si", uri, id);
}
