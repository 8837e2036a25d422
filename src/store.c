/* store — SQLite-backed durable state: schema and its migrations, the data
 * dir lock, transaction groups (all or nothing, see store.h), and one
 * function per query. Lists are filtered, sorted and paged in SQL; the
 * counters of a tuning job's training jobs are kept by triggers. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util.h"

struct store {
    sqlite3 *db;
    int depth;                /* store_begin() nesting; the loop thread is the only user */
    int poisoned;             /* err code when the current group was lost, else 0 */
    uint64_t commit_failures; /* groups lost since open (store_commit_failures) */
    int lock_fd;              /* DIR/openhpo.lock, flock()ed; -1 when none */
    unsigned char secret[32];
};

/* ---- schema ----
 * Migration i takes user_version i to i+1. Append only. A migration is SQL
 * text or, when it must decide on what it finds, a function. */

/* One training row's share of its tuning job's counters (R is NEW, OLD, or
 * the table's name), as integer expressions. Times in microseconds, exact
 * integers, so that adding and removing a share leaves no residue. */
#define TC_FINAL(R) R ".status IN ('Completed','Failed','Stopped','Stopping')"
#define TC_IS(c) "(CASE WHEN " c " THEN 1 ELSE 0 END)"
#define TC_RUNNING(R) R ".started > 0 AND NOT COALESCE(" R ".ended > 0, 0)"
#define TC_TOTAL(R) "1"
#define TC_COMPLETED(R) TC_IS(R ".status='Completed'")
#define TC_FAILED(R) TC_IS(R ".status='Failed'")
#define TC_STOPPED(R) TC_IS(R ".status='Stopped'")
#define TC_STOPPING(R) TC_IS(R ".status='Stopping'")
#define TC_IN_PROGRESS(R) TC_IS("NOT " TC_FINAL(R) " AND " R ".handle<>''")
#define TC_PENDING(R) TC_IS("NOT " TC_FINAL(R) " AND " R ".handle=''")
/* A training job whose objective the tuning used: Completed with one, or
 * Stopped with one (only an early stop keeps the objective: a user's or
 * the clock's stop clears it). Since schema 4 (before: Completed only). */
#define TC_OBJ_OK(R)                                                                               \
    TC_IS("(" R ".status='Completed' OR " R ".status='Stopped') AND " R ".objective IS NOT NULL")
#define TC_FINISHED_US(R)                                                                          \
    "(CASE WHEN " R ".started > 0 AND " R ".ended > 0 THEN CAST(round((" R ".ended - " R           \
    ".started) * 1e6) AS INTEGER) ELSE 0 END)"
#define TC_RUNNING_N(R) TC_IS(TC_RUNNING(R))
#define TC_RUNNING_US(R)                                                                           \
    "(CASE WHEN " TC_RUNNING(R) " THEN CAST(round(" R ".started * 1e6) AS INTEGER) ELSE 0 END)"
/* X(column, share) */
#define TC_COLUMNS(X, R)                                                                           \
    X("total", TC_TOTAL(R))                                                                        \
    X("completed", TC_COMPLETED(R))                                                                \
    X("failed", TC_FAILED(R))                                                                      \
    X("stopped", TC_STOPPED(R))                                                                    \
    X("stopping", TC_STOPPING(R))                                                                  \
    X("in_progress", TC_IN_PROGRESS(R))                                                            \
    X("pending", TC_PENDING(R))                                                                    \
    X("objective_succeeded", TC_OBJ_OK(R))                                                         \
    X("finished_us", TC_FINISHED_US(R))                                                            \
    X("running_n", TC_RUNNING_N(R))                                                                \
    X("running_started_us", TC_RUNNING_US(R))
#define TC_DECL(col, share) ", " col " INTEGER NOT NULL DEFAULT 0"
#define TC_ADD(col, share) col "=" col "+" share ","
#define TC_SUB(col, share) col "=" col "-" share ","
#define TC_SUM(col, share) ", sum(" share ")"
/* The trailing "tuning_id=tuning_id" closes the list of "col=expr," items
 * (a column assigned twice keeps its last assignment only). */
#define TC_UPDATE(R, X)                                                                            \
    "UPDATE tuning_counts SET " TC_COLUMNS(X, R) " tuning_id=tuning_id WHERE tuning_id=" R         \
                                                 ".tuning_id;"
#define TC_ENSURE(R)                                                                               \
    "INSERT OR IGNORE INTO tuning_counts(tuning_id) SELECT " R ".tuning_id WHERE " R               \
    ".tuning_id IS NOT NULL;"

static const char schema_v1[] =
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
    " value TEXT NOT NULL, PRIMARY KEY(arn, key));";

/* 2: the counters table and its triggers; the list indexes. */
/* clang-format off */
static const char schema_v2[] =
    "CREATE TABLE tuning_counts(tuning_id INTEGER PRIMARY KEY" TC_COLUMNS(TC_DECL, "x") ");"
    "INSERT INTO tuning_counts SELECT tuning_id" TC_COLUMNS(TC_SUM, "training_jobs")
    " FROM training_jobs WHERE tuning_id IS NOT NULL GROUP BY tuning_id;"
    "CREATE TRIGGER tuning_counts_ins AFTER INSERT ON training_jobs BEGIN "
    TC_ENSURE("NEW") TC_UPDATE("NEW", TC_ADD) " END;"
    "CREATE TRIGGER tuning_counts_del AFTER DELETE ON training_jobs BEGIN "
    TC_UPDATE("OLD", TC_SUB) " END;"
    "CREATE TRIGGER tuning_counts_upd AFTER UPDATE OF tuning_id, status, handle, objective,"
    " started, ended ON training_jobs BEGIN "
    TC_UPDATE("OLD", TC_SUB) TC_ENSURE("NEW") TC_UPDATE("NEW", TC_ADD) " END;"
    /* The lists' indexes: one per order, each ending with the columns the
     * filters test (name, status), so that a filter is evaluated in the
     * index, without reading the row, while the index is walked in order.
     * A tuning job's training jobs: */
    "DROP INDEX training_by_tuning;"
    "CREATE INDEX training_tuning_idx ON training_jobs(tuning_id, idx, name, status);"
    "CREATE INDEX training_tuning_name ON training_jobs(tuning_id, name, status);"
    "CREATE INDEX training_tuning_created ON training_jobs(tuning_id, created, id, name, status);"
    "CREATE INDEX training_tuning_status ON training_jobs(tuning_id, status, id, name);"
    "CREATE INDEX training_tuning_objective"
    " ON training_jobs(tuning_id, objective, id, name, status);"
    "CREATE INDEX training_tuning_objective_nl"
    " ON training_jobs(tuning_id, objective IS NULL, objective, id, name, status);"
    /* ... the best one (store_best_training): */
    "CREATE INDEX training_tuning_best ON training_jobs(tuning_id, status, objective, idx);"
    /* An account's training jobs: */
    "CREATE INDEX training_account_created ON training_jobs(account, created, id, name, status);"
    "CREATE INDEX training_account_name ON training_jobs(account, name, status);"
    "CREATE INDEX training_account_status ON training_jobs(account, status, id, name);"
    /* An account's tuning jobs (few: by creation; by name is the UNIQUE). */
    "CREATE INDEX tuning_account_created ON tuning_jobs(account, kind, created, id);";
/* clang-format on */

/* 3: names unique case-insensitively. An old database may hold two names
 * differing in case only: it keeps opening, with a plain index (the check
 * is also made in code before every insert), and a warning. */
static int exec(store *s, const char *sql);
static int migrate_nocase(store *s) {
    static const struct {
        const char *name, *on;
    } idx[] = {{"tuning_name_nocase", "tuning_jobs(account, kind, name COLLATE NOCASE)"},
               {"training_name_nocase", "training_jobs(account, name COLLATE NOCASE)"}};
    for (size_t i = 0; i < sizeof idx / sizeof *idx; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "CREATE UNIQUE INDEX %s ON %s", idx[i].name, idx[i].on);
        int r = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (r == SQLITE_OK)
            continue;
        if ((r & 0xff) != SQLITE_CONSTRAINT) {
            log_error("store: %s: %s", sql, sqlite3_errmsg(s->db));
            return ERR_INTERNAL;
        }
        log_warn("store: names in %s differ only in case; they stay, new ones are checked",
                 idx[i].on);
        snprintf(sql, sizeof sql, "CREATE INDEX %s ON %s", idx[i].name, idx[i].on);
        int rc = exec(s, sql);
        if (rc)
            return rc;
    }
    return 0;
}

/* 4: early-stopped training jobs (Stopped with an objective) count as
 * objective_succeeded: the counters' triggers are made again and the
 * counts recomputed. */
/* clang-format off */
static const char schema_v4[] =
    "DROP TRIGGER tuning_counts_ins; DROP TRIGGER tuning_counts_del;"
    " DROP TRIGGER tuning_counts_upd;"
    "CREATE TRIGGER tuning_counts_ins AFTER INSERT ON training_jobs BEGIN "
    TC_ENSURE("NEW") TC_UPDATE("NEW", TC_ADD) " END;"
    "CREATE TRIGGER tuning_counts_del AFTER DELETE ON training_jobs BEGIN "
    TC_UPDATE("OLD", TC_SUB) " END;"
    "CREATE TRIGGER tuning_counts_upd AFTER UPDATE OF tuning_id, status, handle, objective,"
    " started, ended ON training_jobs BEGIN "
    TC_UPDATE("OLD", TC_SUB) TC_ENSURE("NEW") TC_UPDATE("NEW", TC_ADD) " END;"
    "DELETE FROM tuning_counts;"
    "INSERT INTO tuning_counts SELECT tuning_id" TC_COLUMNS(TC_SUM, "training_jobs")
    " FROM training_jobs WHERE tuning_id IS NOT NULL GROUP BY tuning_id;";
/* clang-format on */

/* 5: a tuning job's completion details (TuningJobCompletionDetails), kept
 * by the engine: the jobs not improving, when convergence was detected. */
static const char schema_v5[] =
    "ALTER TABLE tuning_jobs ADD COLUMN not_improving INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tuning_jobs ADD COLUMN converged REAL;";

/* 6: the training job definition a training job ran (DefinitionName of
 * one of TrainingJobDefinitions; NULL for a tuning job with one). */
static const char schema_v6[] = "ALTER TABLE training_jobs ADD COLUMN definition TEXT;";
/* 7: a tuning job's warm-start parents: their ids, comma-separated
 * (store_tuning.parents). */
static const char schema_v7[] = "ALTER TABLE tuning_jobs ADD COLUMN parents TEXT;";
/* 8: tuning jobs by kind and status, for the metrics' count by status
 * (store_count_by_status) without reading the rows. */
static const char schema_v8[] = "CREATE INDEX tuning_kind_status ON tuning_jobs(kind, status);";

static const struct {
    const char *sql;
    int (*fn)(store *s);
} store_migrations[] = {
    {schema_v1, NULL},      /* 0 -> 1 */
    {schema_v2, NULL},      /* 1 -> 2 */
    {NULL, migrate_nocase}, /* 2 -> 3 */
    {schema_v4, NULL},      /* 3 -> 4 */
    {schema_v5, NULL},      /* 4 -> 5 */
    {schema_v6, NULL},      /* 5 -> 6 */
    {schema_v7, NULL},      /* 6 -> 7 */
    {schema_v8, NULL},      /* 7 -> 8 */
};

#define NMIGRATIONS (sizeof store_migrations / sizeof *store_migrations)

/* ---- errors and transaction groups ---- */

/* The err_code of an SQLite result. */
static int code_of(int r) {
    switch (r & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ERR_UNAVAILABLE;
    case SQLITE_CONSTRAINT:
        return ERR_IN_USE;
    default:
        return ERR_INTERNAL;
    }
}

/* Ends the current group's transaction after a failure: rolled back (by
 * SQLite already, or here), later writes refused until the outermost
 * commit. Counted once per group. */
static void poison(store *s, int code, const char *why) {
    if (s->poisoned)
        return;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->poisoned = code ? code : ERR_INTERNAL;
    s->commit_failures++;
    log_error("store: transaction lost (%s); its writes are discarded", why);
}

/* Called after a statement failed with SQLite result r: a failure of the
 * storage itself inside a group loses the whole group, as does a rollback
 * SQLite made on its own. */
static void note_failure(store *s, int r) {
    if (s->depth == 0 || s->poisoned)
        return;
    int p = r & 0xff;
    if (p == SQLITE_FULL || p == SQLITE_IOERR || p == SQLITE_NOMEM || p == SQLITE_CORRUPT ||
        p == SQLITE_NOTADB || p == SQLITE_CANTOPEN || sqlite3_get_autocommit(s->db))
        poison(s, code_of(r) == ERR_UNAVAILABLE ? ERR_UNAVAILABLE : ERR_INTERNAL,
               sqlite3_errstr(r));
}

static int step(store *s, sqlite3_stmt *st) {
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        note_failure(s, r);
    return r;
}

/* Runs SQL text (no rows) without the poisoned check: transaction control. */
static int exec_raw(store *s, const char *sql) {
    char *msg = NULL;
    int r = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (r != SQLITE_OK) {
        if (code_of(r) != ERR_UNAVAILABLE)
            log_error("store: %s: %s", sql, msg ? msg : sqlite3_errstr(r));
        sqlite3_free(msg);
        return code_of(r) ? code_of(r) : ERR_INTERNAL;
    }
    return 0;
}

/* Runs SQL text that writes (no rows). */
static int exec(store *s, const char *sql) {
    if (s->poisoned)
        return s->poisoned;
    char *msg = NULL;
    int r = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (r != SQLITE_OK) {
        if (code_of(r) != ERR_UNAVAILABLE)
            log_error("store: %s: %s", sql, msg ? msg : sqlite3_errstr(r));
        sqlite3_free(msg);
        note_failure(s, r);
        return code_of(r) ? code_of(r) : ERR_INTERNAL;
    }
    return 0;
}

/* Prepares a statement; NULL on error with *rc set (when rc is not NULL). */
static sqlite3_stmt *prep_rc(store *s, const char *sql, int *rc) {
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (r != SQLITE_OK) {
        if (code_of(r) != ERR_UNAVAILABLE)
            log_error("store: prepare %s: %s", sql, sqlite3_errmsg(s->db));
        if (rc)
            *rc = code_of(r) ? code_of(r) : ERR_INTERNAL;
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static sqlite3_stmt *prep(store *s, const char *sql) {
    return prep_rc(s, sql, NULL);
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

/* Runs a statement that writes and returns no rows: 0, ERR_IN_USE
 * (constraint), ERR_UNAVAILABLE (locked), ERR_INTERNAL, or the group's
 * error when it is poisoned. */
static int run(store *s, const char *sql, const char *fmt, ...) {
    if (s->poisoned)
        return s->poisoned;
    int rc = ERR_INTERNAL;
    sqlite3_stmt *st = prep_rc(s, sql, &rc);
    va_list ap;
    if (!st)
        return rc;
    rc = ERR_INTERNAL;
    va_start(ap, fmt);
    int b = bindv(st, fmt, ap);
    va_end(ap);
    if (b != SQLITE_OK)
        goto out;
    int r = sqlite3_step(st);
    if (r != SQLITE_DONE) {
        rc = code_of(r) ? code_of(r) : ERR_INTERNAL;
        if (rc == ERR_INTERNAL)
            log_error("store: %s: %s", sql, sqlite3_errmsg(s->db));
        note_failure(s, r);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* The end of a loop over rows: 0, or the err_code of r. */
static int done_rc(int r) {
    return r == SQLITE_DONE ? 0 : code_of(r) ? code_of(r) : ERR_INTERNAL;
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
        if ((rc = exec_raw(s, "BEGIN IMMEDIATE")))
            return rc;
        snprintf(sql, sizeof sql, "PRAGMA user_version=%zu", v + 1);
        rc = store_migrations[v].sql ? exec_raw(s, store_migrations[v].sql)
                                     : store_migrations[v].fn(s);
        if (rc || (rc = exec_raw(s, sql))) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if ((rc = exec_raw(s, "COMMIT"))) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
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

/* Takes DIR/openhpo.lock (exclusive, not waiting) and writes our pid in it. */
static int lock_dir(store *s, const char *dir, err_t *e) {
    char path[4096], pid[32] = "";
    snprintf(path, sizeof path, "%s/openhpo.lock", dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0)
        return err_set(e, ERR_INTERNAL, "cannot open %s: %s", path, strerror(errno));
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err != EWOULDBLOCK)
            return err_set(e, ERR_INTERNAL, "cannot lock %s: %s", path, strerror(err));
        ssize_t n = pread(s->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        return err_set(e, ERR_IN_USE, "another hpod (pid %s) is using %s", pid[0] ? pid : "?", dir);
    }
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 ||
        pwrite(s->lock_fd, pid, strlen(pid), 0) != (ssize_t)strlen(pid))
        log_warn("store: cannot write the pid into %s: %s", path, strerror(errno));
    return 0;
}

store *store_open(const char *dir, err_t *e) {
    char path[4096];
    store *s = calloc(1, sizeof *s);
    int rc = ERR_INTERNAL;
    if (!s) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    s->lock_fd = -1;
    if ((rc = lock_dir(s, dir, e)))
        goto out;
    rc = ERR_INTERNAL;
    snprintf(path, sizeof path, "%s/openhpo.db", dir);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        err_set(e, ERR_INTERNAL, "cannot open %s: %s", path,
                s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(s->db, STORE_OPEN_BUSY_TIMEOUT_MS);
    /* Reads through a memory map of the file (the OS's page cache) rather
     * than read() into SQLite's small cache: a list's index walk at 100k
     * rows is several times faster. */
    char mmap[64];
    snprintf(mmap, sizeof mmap, "PRAGMA mmap_size=%lld", (long long)STORE_MMAP_BYTES);
    if ((rc = exec_raw(s, "PRAGMA journal_mode=WAL")) ||
        (rc = exec_raw(s, "PRAGMA synchronous=FULL")) ||
        (rc = exec_raw(s, "PRAGMA foreign_keys=ON")) ||
        /* Statement journals (a statement's undo inside a transaction) in
         * memory, not in a temp file written page by page. */
        (rc = exec_raw(s, "PRAGMA temp_store=MEMORY")) || (rc = exec_raw(s, mmap)) ||
        (rc = migrate(s)) || (rc = load_secret(s))) {
        err_set(e, rc, "cannot initialise the store in %s", path);
        goto out;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
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
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    free(s);
}

int store_begin(store *s) {
    if (s->depth++ > 0)
        return s->poisoned;
    s->poisoned = 0;
    int rc = exec_raw(s, "BEGIN IMMEDIATE");
    if (rc)
        poison(s, rc, rc == ERR_UNAVAILABLE ? "the database is locked" : "cannot begin");
    return rc;
}

int store_commit(store *s) {
    if (s->depth == 0 || --s->depth > 0)
        return 0;
    if (s->poisoned) {
        int rc = s->poisoned;
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->poisoned = 0;
        return rc;
    }
    int r = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (r != SQLITE_OK) {
        int rc = code_of(r) ? code_of(r) : ERR_INTERNAL;
        poison(s, rc, sqlite3_errmsg(s->db));
        s->poisoned = 0;
        return rc;
    }
    return 0;
}

int store_sync(store *s) {
    if (s->depth == 0)
        return 0;
    if (s->poisoned)
        return s->poisoned;
    int r = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (r != SQLITE_OK) {
        int rc = code_of(r) ? code_of(r) : ERR_INTERNAL;
        poison(s, rc, sqlite3_errmsg(s->db));
        return rc;
    }
    int rc = exec_raw(s, "BEGIN IMMEDIATE");
    if (rc)
        poison(s, rc, rc == ERR_UNAVAILABLE ? "the database is locked" : "cannot begin");
    return rc;
}

uint64_t store_commit_failures(const store *s) {
    return s->commit_failures;
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
    " failure_reason, not_improving, converged, parents"

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
    t->not_improving = sqlite3_column_int(st, 19);
    t->converged = sqlite3_column_double(st, 20);
    const char *p = (const char *)sqlite3_column_text(st, 21);
    while (p && *p && t->nparents < STORE_MAX_PARENTS) {
        char *end;
        long long id = strtoll(p, &end, 10);
        if (end == p)
            break;
        t->parents[t->nparents++] = id;
        p = *end == ',' ? end + 1 : end;
    }
}

/* 1 when `sql` (binding account, kind or nothing, name) finds a row, 0 when
 * not, or -err_code. */
static int name_taken(store *s, const char *sql, const char *account, const char *kind,
                      const char *name) {
    int rc = ERR_INTERNAL;
    sqlite3_stmt *st = prep_rc(s, sql, &rc);
    if (!st)
        return -rc;
    int i = 1;
    sqlite3_bind_text(st, i++, account, -1, SQLITE_TRANSIENT);
    if (kind)
        sqlite3_bind_text(st, i++, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, i, name, -1, SQLITE_TRANSIENT);
    int r = step(s, st);
    sqlite3_finalize(st);
    return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -(code_of(r) ? code_of(r) : ERR_INTERNAL);
}

int store_create_tuning(store *s, store_tuning *t, err_t *e) {
    const char *kind = t->kind[0] ? t->kind : "tuning";
    int taken = name_taken(s,
                           "SELECT 1 FROM tuning_jobs WHERE account=? AND kind=? AND"
                           " name=? COLLATE NOCASE",
                           t->account, kind, t->name);
    if (taken < 0)
        return err_set(e, -taken, "cannot store the tuning job");
    if (taken)
        return err_set(e, ERR_IN_USE, "Tuning job %s already exists", t->name);
    char parents[STORE_MAX_PARENTS * 21 + 1] = "";
    for (int i = 0, n = 0; i < t->nparents && i < STORE_MAX_PARENTS; i++)
        n += snprintf(parents + n, sizeof parents - (size_t)n, "%s%lld", i ? "," : "",
                      (long long)t->parents[i]);
    int rc = run(s,
                 "INSERT INTO tuning_jobs(account, name, arn, kind, status, api, request, strategy,"
                 " seed, objective_metric, objective_type, max_jobs, max_parallel, max_seconds,"
                 " created, parents) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                 "sssssississiiids", t->account, t->name, t->arn, kind, t->status, (int64_t)t->api,
                 t->request, t->strategy, (int64_t)t->seed, t->objective_metric, t->objective_type,
                 (int64_t)t->max_jobs, (int64_t)t->max_parallel, t->max_seconds, t->created,
                 t->nparents ? parents : NULL);
    if (rc == ERR_IN_USE)
        return err_set(e, ERR_IN_USE, "Tuning job %s already exists", t->name);
    if (rc)
        return err_set(e, rc,
                       rc == ERR_UNAVAILABLE ? "the store is busy; try again"
                                             : "cannot store the tuning job");
    t->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* Runs a one-row query (`st` taken, may be NULL after a failed prepare) and
 * reads its row with `read` into `row`: 0, ERR_NOT_FOUND or ERR_INTERNAL. */
static int get_one(store *s, sqlite3_stmt *st, void (*read)(sqlite3_stmt *, void *), void *row) {
    int rc = ERR_NOT_FOUND;
    if (!st)
        return ERR_INTERNAL;
    int r = step(s, st);
    if (r == SQLITE_ROW) {
        read(st, row);
        rc = 0;
    } else if (r != SQLITE_DONE) {
        rc = code_of(r) ? code_of(r) : ERR_INTERNAL;
    }
    sqlite3_finalize(st);
    return rc;
}

static void read_tuning_row(sqlite3_stmt *st, void *row) {
    read_tuning(st, row);
}

int store_get_tuning(store *s, const char *account, const char *name, store_tuning *t) {
    sqlite3_stmt *st =
        prep(s, "SELECT " TUNING_COLS " FROM tuning_jobs WHERE account=?1 AND kind='tuning' AND"
                " name=?2 COLLATE NOCASE ORDER BY name=?2 DESC, id LIMIT 1");
    if (st) {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    }
    return get_one(s, st, read_tuning_row, t);
}

int store_get_tuning_by_id(store *s, int64_t id, store_tuning *t) {
    sqlite3_stmt *st = prep(s, "SELECT " TUNING_COLS " FROM tuning_jobs WHERE id=?");
    if (st)
        sqlite3_bind_int64(st, 1, id);
    return get_one(s, st, read_tuning_row, t);
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
    while ((r = step(s, st)) == SQLITE_ROW) {
        read_tuning(st, &t);
        cb(ud, &t);
        store_tuning_clear(&t);
    }
    sqlite3_finalize(st);
    return done_rc(r);
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
    sqlite3_stmt *st = prep(s, "SELECT total, completed, failed, stopped, stopping, in_progress,"
                               " pending, objective_succeeded, finished_us, running_n,"
                               " running_started_us FROM tuning_counts WHERE tuning_id=?");
    memset(c, 0, sizeof *c);
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, tuning_id);
    int r = step(s, st);
    if (r == SQLITE_ROW) {
        c->total = sqlite3_column_int(st, 0);
        c->completed = sqlite3_column_int(st, 1);
        c->failed = sqlite3_column_int(st, 2);
        c->stopped = sqlite3_column_int(st, 3);
        c->stopping = sqlite3_column_int(st, 4);
        c->in_progress = sqlite3_column_int(st, 5);
        c->pending = sqlite3_column_int(st, 6);
        c->objective_succeeded = sqlite3_column_int(st, 7);
        c->finished_seconds = (double)sqlite3_column_int64(st, 8) / 1e6;
        double n = (double)sqlite3_column_int64(st, 9);
        double inflight = n * now - (double)sqlite3_column_int64(st, 10) / 1e6;
        c->inflight_seconds = inflight > 0 ? inflight : 0;
        r = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (done_rc(r) || c->failed == 0)
        return done_rc(r);
    /* The failed ones that failed for the platform's sake (the reason the
     * daemon wrote; a program's own reasons are AlgorithmError/ClientError):
     * the failed rows only, by the (tuning_id, status, ...) index. */
    st = prep(s, "SELECT count(*) FROM training_jobs WHERE tuning_id=? AND status='Failed'"
                 " AND failure_reason LIKE '" STORE_INTERNAL_PREFIX "%'");
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, tuning_id);
    r = step(s, st);
    if (r == SQLITE_ROW) {
        c->failed_internal = sqlite3_column_int(st, 0);
        r = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return done_rc(r);
}

static void undo_savepoint(store *s, const char *name);

int store_set_tuning_completion(store *s, int64_t id, int not_improving, double converged) {
    return run(s,
               "UPDATE tuning_jobs SET not_improving=?, converged=COALESCE(converged, ?)"
               " WHERE id=?",
               "ini", (int64_t)not_improving, converged, id);
}

int store_delete_tuning(store *s, int64_t id) {
    char kind[24];
    int rc = exec(s, "SAVEPOINT del");
    if (rc)
        return rc;
    /* The tombstone: a kind no lookup by name or list asks for, unique per
     * row (so the name is free again for a new job of the same kind). */
    snprintf(kind, sizeof kind, STORE_DELETED_KIND "%lld", (long long)id);
    if ((rc = run(s,
                  "DELETE FROM tags WHERE arn=(SELECT arn FROM tuning_jobs WHERE id=?1"
                  " AND kind='tuning')",
                  "i", id)) ||
        (rc = run(s, "UPDATE tuning_jobs SET kind=? WHERE id=? AND kind='tuning'", "si", kind,
                  id))) {
        undo_savepoint(s, "del");
        return rc;
    }
    if ((rc = exec(s, "RELEASE del")))
        undo_savepoint(s, "del");
    return rc;
}

int store_finish_deletes(store *s, int *n) {
    int64_t ids[64];
    int rc = 0;
    *n = 0;
    for (;;) { /* in batches: the rows change under the query otherwise */
        size_t k = 0;
        sqlite3_stmt *st = prep(s, "SELECT id FROM tuning_jobs WHERE kind='tuning' AND"
                                   " status='Deleting' ORDER BY id LIMIT 64");
        if (!st)
            return ERR_INTERNAL;
        int r;
        while ((r = step(s, st)) == SQLITE_ROW && k < sizeof ids / sizeof *ids)
            ids[k++] = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if ((rc = done_rc(r == SQLITE_ROW ? SQLITE_DONE : r)))
            return rc;
        for (size_t i = 0; i < k; i++) {
            if ((rc = store_delete_tuning(s, ids[i])))
                return rc;
            ++*n;
        }
        if (k < sizeof ids / sizeof *ids)
            return 0;
    }
}

/* ---- training jobs ---- */

#define TRAINING_COLS                                                                              \
    "id, tuning_id, account, name, idx, status, secondary, hyperparameters, tuned, retried,"       \
    " strategy, seed, created, started, ended, failure_reason, objective, handle, job_dir,"        \
    " log_offset, stop_requested, model_artifacts, definition"

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
    copy_col(t->definition, sizeof t->definition, st, 22);
}

int store_insert_training(store *s, store_training *t, err_t *e) {
    int taken =
        name_taken(s, "SELECT 1 FROM training_jobs WHERE account=? AND name=? COLLATE NOCASE",
                   t->account, NULL, t->name);
    if (taken < 0)
        return err_set(e, -taken, "cannot store the training job");
    if (taken)
        return err_set(e, ERR_IN_USE, "Training job %s already exists", t->name);
    int rc = run(s,
                 "INSERT INTO training_jobs(tuning_id, account, name, idx, status, secondary,"
                 " hyperparameters, tuned, strategy, seed, created, job_dir, definition)"
                 " VALUES(NULLIF(?,0),?,?,?,?,?,?,?,?,?,?,?,NULLIF(?,''))",
                 "ississsssidss", t->tuning_id, t->account, t->name, (int64_t)t->idx, t->status,
                 t->secondary, t->hyperparameters, t->tuned ? t->tuned : "{}", t->strategy,
                 (int64_t)t->seed, t->created, t->job_dir, t->definition);
    if (rc == ERR_IN_USE)
        return err_set(e, ERR_IN_USE, "Training job %s already exists", t->name);
    if (rc)
        return err_set(e, rc,
                       rc == ERR_UNAVAILABLE ? "the store is busy; try again"
                                             : "cannot store the training job");
    t->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static void read_training_row(sqlite3_stmt *st, void *row) {
    read_training(st, row);
}

int store_get_training(store *s, const char *account, const char *name, store_training *t) {
    sqlite3_stmt *st = prep(s, "SELECT " TRAINING_COLS " FROM training_jobs WHERE account=?1 AND"
                               " name=?2 COLLATE NOCASE ORDER BY name=?2 DESC, id LIMIT 1");
    if (st) {
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    }
    return get_one(s, st, read_training_row, t);
}

int store_get_training_by_id(store *s, int64_t id, store_training *t) {
    sqlite3_stmt *st = prep(s, "SELECT " TRAINING_COLS " FROM training_jobs WHERE id=?");
    if (st)
        sqlite3_bind_int64(st, 1, id);
    return get_one(s, st, read_training_row, t);
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

/* Undoes savepoint `name` after a failure (unless the group is lost, which
 * undid it already). */
static void undo_savepoint(store *s, const char *name) {
    char sql[64];
    if (s->poisoned || sqlite3_get_autocommit(s->db))
        return;
    snprintf(sql, sizeof sql, "ROLLBACK TO %s", name);
    if (exec_raw(s, sql) == 0) {
        snprintf(sql, sizeof sql, "RELEASE %s", name);
        if (exec_raw(s, sql))
            note_failure(s, SQLITE_ERROR);
    }
}

int store_training_retry(store *s, int64_t id) {
    int rc = exec(s, "SAVEPOINT retry");
    if (rc)
        return rc;
    if ((rc = run(s,
                  "UPDATE training_jobs SET handle='', retried=retried+1, log_offset=0,"
                  " secondary='Starting' WHERE id=?",
                  "i", id)) ||
        (rc = run(s, "DELETE FROM metric_points WHERE training_id=?", "i", id)) ||
        (rc = run(s, "DELETE FROM final_metrics WHERE training_id=?", "i", id))) {
        undo_savepoint(s, "retry");
        return rc;
    }
    if ((rc = exec(s, "RELEASE retry")))
        undo_savepoint(s, "retry");
    return rc;
}

int store_training_finish(store *s, int64_t id, const char *status, const char *secondary,
                          const char *reason, int has_objective, double objective, double ended) {
    if (s->poisoned)
        return s->poisoned;
    int rc = ERR_INTERNAL;
    sqlite3_stmt *st = prep_rc(s,
                               "UPDATE training_jobs SET status=?, secondary=?,"
                               " failure_reason=?, objective=?, ended=? WHERE id=?",
                               &rc);
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
    rc = done_rc(step(s, st));
    sqlite3_finalize(st);
    return rc;
}

static int each_training(store *s, sqlite3_stmt *st, void (*cb)(void *, const store_training *),
                         void *ud, int limit, int *more) {
    store_training t;
    int r, n = 0;
    if (more)
        *more = 0;
    if (!st)
        return ERR_INTERNAL;
    while ((r = step(s, st)) == SQLITE_ROW) {
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
    return done_rc(r);
}

int store_each_training(store *s, int64_t tuning_id, void (*cb)(void *ud, const store_training *t),
                        void *ud) {
    sqlite3_stmt *st =
        prep(s, "SELECT " TRAINING_COLS " FROM training_jobs WHERE tuning_id=? ORDER BY idx");
    if (st)
        sqlite3_bind_int64(st, 1, tuning_id);
    return each_training(s, st, cb, ud, 0, NULL);
}

/* ---- lists ---- */

/* An SQL text under construction, of a fixed capacity. */
#define LIST_SQL_MAX 4096
typedef struct {
    char sql[LIST_SQL_MAX];
    size_t n;
    int overflow;
} sqlbuf;

static void add(sqlbuf *b, const char *text) {
    size_t len = strlen(text);
    if (b->n + len >= sizeof b->sql) {
        b->overflow = 1;
        return;
    }
    memcpy(b->sql + b->n, text, len + 1);
    b->n += len;
}

#define LIST_MODIFIED                                                                              \
    "(CASE WHEN ended > 0 THEN ended WHEN started > 0 THEN started ELSE created END)"

/* The SQL of a list query over `table` (columns `cols`), with its WHERE,
 * ORDER BY and LIMIT; parameters numbered as bind_list() binds them. The
 * filters' columns are compared so that the sort's index can be walked
 * (the planner picks the index of an equality filter on status itself). */
static int list_sql(sqlbuf *b, const store_list_query *q, int training, const char *cols) {
    size_t nst = 0;
    if (q->limit < 1 || q->offset < 0)
        return ERR_VALIDATION;
    if (q->name_contains && strlen(q->name_contains) > STORE_LIST_MAX_CONTAINS)
        return ERR_VALIDATION;
    for (; q->statuses && q->statuses[nst]; nst++)
        if (nst == STORE_LIST_MAX_STATUSES)
            return ERR_VALIDATION;
    add(b, "SELECT ");
    add(b, cols);
    if (!training) {
        add(b, " FROM tuning_jobs WHERE account=?1 AND kind='tuning'");
    } else if (q->tuning_id > 0) {
        add(b, " FROM training_jobs WHERE tuning_id=?2 AND (?1 IS NULL OR account=?1)");
    } else {
        add(b, " FROM training_jobs WHERE account=?1");
    }
    if (q->name_contains)
        add(b, " AND name LIKE ?3 ESCAPE '\\'");
    if (q->created_after > 0)
        add(b, " AND created > ?4");
    if (q->created_before > 0)
        add(b, " AND created < ?5");
    if (q->modified_after > 0)
        add(b, " AND " LIST_MODIFIED " > ?6");
    if (q->modified_before > 0)
        add(b, " AND " LIST_MODIFIED " < ?7");
    if (training && q->with_objective)
        add(b, " AND objective IS NOT NULL");
    if (nst) {
        add(b, " AND status IN (");
        for (size_t i = 0; i < nst; i++) {
            char p[16];
            snprintf(p, sizeof p, "%s?%zu", i ? "," : "", 10 + i);
            add(b, p);
        }
        add(b, ")");
    }
    const char *dir = q->descending ? " DESC" : "";
    const char *key = "created";
    switch (q->sort) {
    case STORE_SORT_CREATED:
        break;
    case STORE_SORT_NAME:
        key = "name";
        break;
    case STORE_SORT_STATUS:
        key = training ? "status" : "(CASE status WHEN 'Created' THEN 'Running' ELSE status END)";
        break;
    case STORE_SORT_OBJECTIVE:
        if (!training)
            break;
        /* NULLs last: naturally so in descending order (NULL is the least). */
        key = q->descending || q->with_objective ? "objective" : "objective IS NULL, objective";
        break;
    case STORE_SORT_INDEX:
        key = training ? "idx" : "created";
        break;
    }
    add(b, " ORDER BY ");
    add(b, key);
    add(b, dir);
    add(b, ", id");
    add(b, dir);
    add(b, " LIMIT ?8 OFFSET ?9");
    return b->overflow ? ERR_VALIDATION : 0;
}

/* `text` as a LIKE pattern matching it anywhere: %text%, with \ escaping. */
static char *like_pattern(const char *text) {
    size_t n = strlen(text);
    char *p = malloc(2 * n + 3), *o = p;
    if (!p)
        return NULL;
    *o++ = '%';
    for (const char *c = text; *c; c++) {
        if (*c == '%' || *c == '_' || *c == '\\')
            *o++ = '\\';
        *o++ = *c;
    }
    *o++ = '%';
    *o = 0;
    return p;
}

static int bind_list(sqlite3_stmt *st, const store_list_query *q) {
    int r = SQLITE_OK;
    if (q->account)
        r |= sqlite3_bind_text(st, 1, q->account, -1, SQLITE_TRANSIENT);
    if (q->tuning_id > 0)
        r |= sqlite3_bind_int64(st, 2, q->tuning_id);
    if (q->name_contains) {
        char *p = like_pattern(q->name_contains);
        if (!p)
            return ERR_INTERNAL;
        r |= sqlite3_bind_text(st, 3, p, -1, free);
    }
    if (q->created_after > 0)
        r |= sqlite3_bind_double(st, 4, q->created_after);
    if (q->created_before > 0)
        r |= sqlite3_bind_double(st, 5, q->created_before);
    if (q->modified_after > 0)
        r |= sqlite3_bind_double(st, 6, q->modified_after);
    if (q->modified_before > 0)
        r |= sqlite3_bind_double(st, 7, q->modified_before);
    r |= sqlite3_bind_int64(st, 8, (int64_t)q->limit + 1);
    r |= sqlite3_bind_int64(st, 9, q->offset);
    for (int i = 0; q->statuses && q->statuses[i]; i++)
        r |= sqlite3_bind_text(st, 10 + i, q->statuses[i], -1, SQLITE_TRANSIENT);
    return r == SQLITE_OK ? 0 : ERR_INTERNAL;
}

/* Prepares and binds the statement of a list query: NULL with *rc set on
 * error. */
static sqlite3_stmt *list_stmt(store *s, const store_list_query *q, int training, const char *cols,
                               int *rc) {
    sqlbuf b = {.n = 0};
    if (!q->account && !(training && q->tuning_id > 0)) {
        *rc = ERR_VALIDATION;
        return NULL;
    }
    if ((*rc = list_sql(&b, q, training, cols)))
        return NULL;
    sqlite3_stmt *st = prep_rc(s, b.sql, rc);
    if (st && (*rc = bind_list(st, q))) {
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

int store_list_tunings(store *s, const store_list_query *q,
                       void (*cb)(void *ud, const store_tuning *t), void *ud, int *more) {
    int rc = 0, r, n = 0;
    *more = 0;
    sqlite3_stmt *st = list_stmt(s, q, 0, TUNING_COLS, &rc);
    if (!st)
        return rc;
    store_tuning t;
    while ((r = step(s, st)) == SQLITE_ROW) {
        if (n == q->limit) {
            *more = 1;
            r = SQLITE_DONE;
            break;
        }
        read_tuning(st, &t);
        cb(ud, &t);
        store_tuning_clear(&t);
        n++;
    }
    sqlite3_finalize(st);
    return done_rc(r);
}

int store_list_trainings_q(store *s, const store_list_query *q,
                           void (*cb)(void *ud, const store_training *t), void *ud, int *more) {
    int rc = 0;
    *more = 0;
    sqlite3_stmt *st = list_stmt(s, q, 1, TRAINING_COLS, &rc);
    if (!st)
        return rc;
    return each_training(s, st, cb, ud, q->limit, more);
}

int store_list_trainings(store *s, int64_t tuning_id, const store_list_opts *o,
                         void (*cb)(void *ud, const store_training *t), void *ud, int *more) {
    const char *statuses[2] = {o->status, NULL};
    store_list_query q = {.tuning_id = tuning_id > 0 ? tuning_id : -1,
                          .statuses = o->status ? statuses : NULL,
                          .sort = o->by_objective ? STORE_SORT_OBJECTIVE : STORE_SORT_INDEX,
                          .descending = o->descending,
                          .offset = o->offset,
                          .limit = o->limit > 0 ? o->limit : 1};
    if (tuning_id <= 0) {
        *more = 0;
        return 0;
    }
    return store_list_trainings_q(s, &q, cb, ud, more);
}

int store_best_training(store *s, int64_t tuning_id, int maximize, store_training *t) {
    sqlite3_stmt *st =
        prep(s, maximize ? "SELECT " TRAINING_COLS " FROM training_jobs WHERE tuning_id=?1 AND"
                           " status IN ('Completed','Stopped') AND objective=(SELECT max(objective)"
                           " FROM training_jobs WHERE tuning_id=?1 AND"
                           " status IN ('Completed','Stopped'))"
                           " ORDER BY idx LIMIT 1"
                         : "SELECT " TRAINING_COLS " FROM training_jobs WHERE tuning_id=?1 AND"
                           " status IN ('Completed','Stopped') AND objective=(SELECT min(objective)"
                           " FROM training_jobs WHERE tuning_id=?1 AND"
                           " status IN ('Completed','Stopped'))"
                           " ORDER BY idx LIMIT 1");
    if (st)
        sqlite3_bind_int64(st, 1, tuning_id);
    return get_one(s, st, read_training_row, t);
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
    int r;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, training_id);
        sqlite3_bind_text(ins, 2, p[i].name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(ins, 3, p[i].ts);
        sqlite3_bind_double(ins, 4, p[i].value);
        sqlite3_bind_int64(ins, 5, STORE_MAX_POINTS);
        if ((r = step(s, ins)) != SQLITE_DONE) {
            rc = done_rc(r);
            goto out;
        }
        sqlite3_reset(fin);
        sqlite3_bind_int64(fin, 1, training_id);
        sqlite3_bind_text(fin, 2, p[i].name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(fin, 3, p[i].value);
        sqlite3_bind_double(fin, 4, p[i].ts);
        if ((r = step(s, fin)) != SQLITE_DONE) {
            rc = done_rc(r);
            goto out;
        }
    }
    if ((rc = run(s, "UPDATE training_jobs SET log_offset=? WHERE id=?", "ii", log_offset,
                  training_id)))
        goto out;
    rc = exec(s, "RELEASE points");
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(fin);
    if (rc)
        undo_savepoint(s, "points");
    return rc;
}

int store_final_metric(store *s, int64_t training_id, const char *name, double *value) {
    sqlite3_stmt *st = prep(s, "SELECT value FROM final_metrics WHERE training_id=? AND name=?");
    int rc = ERR_NOT_FOUND;
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, training_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    int r = step(s, st);
    if (r == SQLITE_ROW) {
        *value = sqlite3_column_double(st, 0);
        rc = 0;
    } else if (r != SQLITE_DONE) {
        rc = done_rc(r);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_metric_count(store *s, int64_t training_id, const char *name, int64_t *count) {
    sqlite3_stmt *st = prep(s, "SELECT count FROM final_metrics WHERE training_id=? AND name=?");
    int rc = 0;
    *count = 0;
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, training_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    int r = step(s, st);
    if (r == SQLITE_ROW)
        *count = sqlite3_column_int64(st, 0);
    else if (r != SQLITE_DONE)
        rc = done_rc(r);
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
    while ((r = step(s, st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1),
           sqlite3_column_double(st, 2));
    sqlite3_finalize(st);
    return done_rc(r);
}

int store_each_point(store *s, int64_t training_id, const char *name,
                     void (*cb)(void *ud, int64_t step, double value), void *ud) {
    sqlite3_stmt *st = prep(s, "SELECT value FROM metric_points WHERE training_id=? AND name=?"
                               " ORDER BY rowid");
    int r;
    int64_t k = 0;
    if (!st)
        return ERR_INTERNAL;
    sqlite3_bind_int64(st, 1, training_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    while ((r = step(s, st)) == SQLITE_ROW)
        cb(ud, ++k, sqlite3_column_double(st, 0));
    sqlite3_finalize(st);
    return done_rc(r);
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
    while ((r = step(s, st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1),
           (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    return done_rc(r);
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
    int r = step(s, st);
    if (r == SQLITE_ROW) {
        *n = sqlite3_column_int(st, 0);
        rc = 0;
    } else {
        rc = done_rc(r);
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
    while ((r = step(s, st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return done_rc(r);
}

int store_each_training_of_account(store *s, const char *account,
                                   void (*cb)(void *ud, const store_training *t), void *ud) {
    sqlite3_stmt *st = prep(s, "SELECT " TRAINING_COLS " FROM training_jobs WHERE account=?"
                               " ORDER BY created DESC, id DESC");
    if (st)
        sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
    return each_training(s, st, cb, ud, 0, NULL);
}

int store_training_artifacts(store *s, int64_t id, const char *uri) {
    return run(s, "UPDATE training_jobs SET model_artifacts=? WHERE id=?", "si", uri, id);
}

int store_count_by_status(store *s,
                          void (*cb)(void *ud, int training, const char *status, int64_t n),
                          void *ud) {
    int r;
    sqlite3_stmt *st = prep(s, "SELECT status, count(*) FROM tuning_jobs WHERE kind='tuning'"
                               " GROUP BY status");
    if (!st)
        return ERR_INTERNAL;
    while ((r = step(s, st)) == SQLITE_ROW)
        cb(ud, 0, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    if (done_rc(r))
        return done_rc(r);
    /* Every training job has a tuning_id (a standalone one, its wrapper's):
     * the counters' table has them all, one narrow row per tuning job. */
    st = prep(s, "SELECT sum(in_progress) + sum(pending), sum(stopping), sum(completed),"
                 " sum(failed), sum(stopped) FROM tuning_counts");
    if (!st)
        return ERR_INTERNAL;
    if ((r = step(s, st)) == SQLITE_ROW) {
        static const char *const status[] = {"InProgress", "Stopping", "Completed", "Failed",
                                             "Stopped"};
        for (int i = 0; i < 5; i++)
            cb(ud, 1, status[i], sqlite3_column_int64(st, i));
        r = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return done_rc(r);
}

int store_size_bytes(store *s, int64_t *bytes) {
    int r;
    sqlite3_stmt *st = prep(s, "SELECT page_count * page_size FROM pragma_page_count(),"
                               " pragma_page_size()");
    *bytes = 0;
    if (!st)
        return ERR_INTERNAL;
    if ((r = step(s, st)) == SQLITE_ROW) {
        *bytes = sqlite3_column_int64(st, 0);
        r = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return done_rc(r);
}
