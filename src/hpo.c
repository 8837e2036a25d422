/* hpo — the openhpo command-line client.
 *
 *   hpo [global options] COMMAND [ARGS...]
 *
 * One subcommand per operation of both APIs (the 2017 HPO API and the
 * current SageMaker API), plus: watch (live progress), logs (a training
 * job's output), tune (create + watch + best, starting an embedded hpod when
 * no endpoint is configured), test-metrics (what each MetricDefinition regex
 * extracts from a sample log), daemon (status/stop of the embedded hpod) and
 * resolve-images (an image catalog with absolute paths).
 *
 * Output is JSON by default, a table with --output table. Exit codes:
 *   0   success
 *   1   the service answered with an error (its code and message are printed)
 *   2   usage error or bad local input (options, files, JSON)
 *   3   the service could not be reached (or the embedded hpod did not start)
 *   4   the tuning job ended Failed or Stopped (watch, tune), or
 *       test-metrics found no value for the objective metric
 *   130 interrupted (Ctrl-C)
 *
 * Uses only client-side modules: client (HTTP), watch (progress view),
 * metrics (regexes, for test-metrics), sigv4 (through client), err, util. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "metrics.h"
#include "util.h"
#include "watch.h"

#define HPO_DEFAULT_ACCOUNT "123456789012"
#define HPO_DEFAULT_REGION "us-east-1"
#define HPO_MAX_FILE (8 << 20) /* bytes of a job file / log read by the CLI */
#define HPO_MAX_PAGES 1000     /* pages followed by auto-pagination */
#define HPO_START_TIMEOUT_S 30 /* for the embedded hpod to answer /health */
#define HPO_COL_MAX 48         /* widest table column */
#define HPO_NAME_MAX 32        /* TuningJobName */

enum {
    EXIT_OK = 0,
    EXIT_SERVICE = 1,
    EXIT_USAGE = 2,
    EXIT_CONN = 3,
    EXIT_UNSUCCESSFUL = 4,
    EXIT_INTERRUPTED = 130,
};

/* ---------- options ---------- */

typedef struct {
    const char *endpoint; /* --endpoint-url / HPO_ENDPOINT; NULL: embedded hpod */
    const char *account;  /* --account / HPO_ACCOUNT */
    int account_given;    /* --account or HPO_ACCOUNT was set */
    const char *region;   /* --region / AWS_REGION / AWS_DEFAULT_REGION */
    const char *profile;  /* --profile (NULL: env / AWS_PROFILE / default) */
    int table;            /* --output table */
    int output_given;
    const char *data_dir; /* --data-dir / HPO_DATA_DIR / XDG */
    const char *hpod;     /* --hpod / HPO_HPOD */
    const char *images;   /* --images / HPO_IMAGES */
    const char *self;     /* argv[0] */
} globals;

/* The embedded daemon, when one is used. */
typedef struct {
    char dir[PATH_MAX];
    char url[64];
    pid_t pid;
    int started; /* this process started it */
    int keep;    /* leave it running on exit */
} embedded;

typedef struct {
    globals g;
    client *c;
    embedded emb;
    int use_embedded;
    int sigfd; /* signalfd for SIGINT (tune/watch/logs --follow), -1 */
} ctx;

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errorf(const char *fmt, ...) {
    va_list ap;
    fputs("hpo: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int print_client_error(const client_error *ce, int rc) {
    if (rc == CLIENT_ESERVICE)
        errorf("error: %s (HTTP %d): %s", ce->code, ce->http_status, ce->message);
    else
        errorf("%s: %s", ce->code[0] ? ce->code : "error", ce->message);
    return rc;
}

/* ---------- operations of both APIs ---------- */

enum { T_STR, T_INT, T_NUM, T_STRLIST, T_TAGS, T_PARENTS };

/* `field` is a member of the body, or a dotted path into it (the members
 * on the way are made as needed; the option overrides the file's value). */
typedef struct {
    const char *flag, *field;
    int type;
    const char *help;
} opt_spec;

#define OPT_MAX 10
typedef struct {
    const char *name;
    api_flavor fl;
    const char *op;
    const char *positional; /* body field filled from the NAME argument, or NULL */
    const char *list_key;   /* array of a List answer (auto-paginated), or NULL */
    int needs_input;        /* --cli-input-json required */
    const char *summary;
    opt_spec opts[OPT_MAX];
} op_spec;

#define O_SORTBY(vals)                                                                             \
    { "--sort-by", "SortBy", T_STR, vals }
#define O_ORDER                                                                                    \
    { "--sort-order", "SortOrder", T_STR, "Ascending|Descending" }
#define O_MAXR                                                                                     \
    { "--max-results", "MaxResults", T_INT, "one page of at most N (default: all pages)" }
#define O_TOKEN                                                                                    \
    { "--next-token", "NextToken", T_STR, "continue a previous page" }

static const op_spec ops[] = {
    /* the 2017 HPO API */
    {"create-tuning-job",
     API_2017,
     "CreateTuningJob",
     NULL,
     NULL,
     1,
     "create a tuning job (2017 API) from --cli-input-json file://job.json",
     {{"--tuning-job-name", "TuningJobName", T_STR, "override the job file's name"}}},
    {"describe-tuning-job",
     API_2017,
     "DescribeTuningJob",
     "TuningJobName",
     NULL,
     0,
     "describe a tuning job: status, counts, best training job (2017 API)",
     {{0}}},
    {"list-training-jobs-for-tuning-job",
     API_2017,
     "ListTrainingJobsForTuningJob",
     "TuningJobName",
     "TrainingJobSummaries",
     0,
     "list a tuning job's training jobs (2017 API; also `list-training-jobs NAME`)",
     {O_SORTBY("Name|CreationTime|Status|FinalObjectiveMetricValue"),
      O_ORDER,
      {"--status-equals", "TrainingJobStatusEquals", T_STR,
       "InProgress|Completed|Failed|Stopping|Stopped"},
      O_MAXR,
      O_TOKEN}},
    {"stop-tuning-job",
     API_2017,
     "StopTuningJob",
     "TuningJobName",
     NULL,
     0,
     "stop a tuning job and its running training jobs (2017 API)",
     {{0}}},
    /* the current SageMaker API */
    {"create-hyper-parameter-tuning-job",
     API_CURRENT,
     "CreateHyperParameterTuningJob",
     NULL,
     NULL,
     1,
     "create a tuning job (current API) from --cli-input-json",
     {{"--hyper-parameter-tuning-job-name", "HyperParameterTuningJobName", T_STR,
       "override the file's name"},
      {"--target-objective-metric-value",
       "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.TargetObjectiveMetricValue",
       T_NUM, "complete when the best objective reaches V"},
      {"--max-jobs-not-improving",
       "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.BestObjectiveNotImproving."
       "MaxNumberOfTrainingJobsNotImproving",
       T_INT, "complete after N jobs (>= 3) that improve the best by < 1%"},
      {"--complete-on-convergence",
       "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.ConvergenceDetected."
       "CompleteOnConvergence",
       T_STR, "Enabled|Disabled: complete when the search has converged"},
      {"--max-runtime-in-seconds",
       "HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds", T_INT,
       "wall clock limit of the tuning job"},
      {"--maximum-retry-attempts", "TrainingJobDefinition.RetryStrategy.MaximumRetryAttempts",
       T_INT, "relaunches (1..30) of a training job after infrastructure failures"},
      {"--random-seed", "HyperParameterTuningJobConfig.RandomSeed", T_INT,
       "the same seed and request propose the same configurations"},
      {"--warm-start-parents", "WarmStartConfig.ParentHyperParameterTuningJobs", T_PARENTS,
       "NAME ...: warm start from these (1..5) finished tuning jobs"},
      {"--warm-start-type", "WarmStartConfig.WarmStartType", T_STR,
       "IdenticalDataAndAlgorithm|TransferLearning"}}},
    {"describe-hyper-parameter-tuning-job",
     API_CURRENT,
     "DescribeHyperParameterTuningJob",
     "HyperParameterTuningJobName",
     NULL,
     0,
     "describe a tuning job (current API)",
     {{0}}},
    {"list-hyper-parameter-tuning-jobs",
     API_CURRENT,
     "ListHyperParameterTuningJobs",
     NULL,
     "HyperParameterTuningJobSummaries",
     0,
     "list tuning jobs (current API; alias list-tuning-jobs)",
     {O_SORTBY("Name|Status|CreationTime"),
      O_ORDER,
      {"--name-contains", "NameContains", T_STR, "substring of the name"},
      {"--status-equals", "StatusEquals", T_STR, "Completed|InProgress|Failed|Stopped|Stopping"},
      O_MAXR,
      O_TOKEN}},
    {"list-training-jobs-for-hyper-parameter-tuning-job",
     API_CURRENT,
     "ListTrainingJobsForHyperParameterTuningJob",
     "HyperParameterTuningJobName",
     "TrainingJobSummaries",
     0,
     "list a tuning job's training jobs (current API)",
     {O_SORTBY("Name|CreationTime|Status|FinalObjectiveMetricValue"),
      O_ORDER,
      {"--status-equals", "StatusEquals", T_STR, "InProgress|Completed|Failed|Stopping|Stopped"},
      O_MAXR,
      O_TOKEN}},
    {"stop-hyper-parameter-tuning-job",
     API_CURRENT,
     "StopHyperParameterTuningJob",
     "HyperParameterTuningJobName",
     NULL,
     0,
     "stop a tuning job (current API)",
     {{0}}},
    {"delete-hyper-parameter-tuning-job",
     API_CURRENT,
     "DeleteHyperParameterTuningJob",
     "HyperParameterTuningJobName",
     NULL,
     0,
     "delete a final tuning job; its training jobs stay (current API; alias delete)",
     {{0}}},
    {"create-training-job",
     API_CURRENT,
     "CreateTrainingJob",
     NULL,
     NULL,
     1,
     "create a single training job (current API) from --cli-input-json",
     {{"--training-job-name", "TrainingJobName", T_STR, "override the file's name"}}},
    {"describe-training-job",
     API_CURRENT,
     "DescribeTrainingJob",
     "TrainingJobName",
     NULL,
     0,
     "describe a training job: status, hyperparameters, metrics (current API)",
     {{0}}},
    {"list-training-jobs",
     API_CURRENT,
     "ListTrainingJobs",
     NULL,
     "TrainingJobSummaries",
     0,
     "list training jobs (current API); with a tuning job NAME: its training jobs (2017 API)",
     {O_SORTBY("Name|CreationTime|Status"),
      O_ORDER,
      {"--name-contains", "NameContains", T_STR, "substring of the name"},
      {"--status-equals", "StatusEquals", T_STR, "InProgress|Completed|Failed|Stopping|Stopped"},
      O_MAXR,
      O_TOKEN}},
    {"stop-training-job",
     API_CURRENT,
     "StopTrainingJob",
     "TrainingJobName",
     NULL,
     0,
     "stop one training job (current API)",
     {{0}}},
    {"add-tags",
     API_CURRENT,
     "AddTags",
     NULL,
     NULL,
     0,
     "tag a resource (current API)",
     {{"--resource-arn", "ResourceArn", T_STR, "the resource's ARN"},
      {"--tags", "Tags", T_TAGS, "Key=k,Value=v ..."}}},
    {"list-tags",
     API_CURRENT,
     "ListTags",
     NULL,
     "Tags",
     0,
     "list a resource's tags (current API)",
     {{"--resource-arn", "ResourceArn", T_STR, "the resource's ARN"}, O_MAXR, O_TOKEN}},
    {"delete-tags",
     API_CURRENT,
     "DeleteTags",
     NULL,
     NULL,
     0,
     "remove tags (current API)",
     {{"--resource-arn", "ResourceArn", T_STR, "the resource's ARN"},
      {"--tag-keys", "TagKeys", T_STRLIST, "k1 k2 ..."}}},
};
#define NOPS (sizeof ops / sizeof *ops)

static const struct {
    const char *alias, *name;
} aliases[] = {
    {"list-tuning-jobs", "list-hyper-parameter-tuning-jobs"},
    {"delete", "delete-hyper-parameter-tuning-job"},
};

static const struct {
    const char *name, *args, *summary;
} specials[] = {
    {"tune", "JOB.json [--name NAME] [--interval S]",
     "create a tuning job, show its progress, print the best training job"},
    {"watch", "NAME [--interval S]", "live progress of a tuning job until it ends"},
    {"logs", "TRAINING_JOB [--follow]", "print a training job's output (stdout and stderr)"},
    {"test-metrics", "JOB.json LOGFILE [--all] [--definition NAME]",
     "show what each MetricDefinition regex extracts from a sample log"},
    {"daemon", "status|stop", "the embedded hpod that hpo starts when no endpoint is set"},
    {"resolve-images", "CATALOG.json",
     "print an image catalog with its relative paths made absolute (for hpod --images)"},
};

static void usage_main(FILE *f) {
    fprintf(f, "usage: hpo [global options] COMMAND [ARGS...]   (hpo COMMAND --help for more)\n\n"
               "Getting results:\n");
    for (size_t i = 0; i < sizeof specials / sizeof *specials; i++)
        fprintf(f, "  %-20s %s\n", specials[i].name, specials[i].summary);
    fprintf(f, "\nOperations (JSON output; --output table for a table):\n");
    for (size_t i = 0; i < NOPS; i++)
        fprintf(f, "  %s\n      %s\n", ops[i].name, ops[i].summary);
    fprintf(
        f,
        "\nGlobal options (anywhere on the line):\n"
        "  --endpoint-url URL  the service (env HPO_ENDPOINT); without one, hpo starts its own\n"
        "                      hpod on its data dir and uses it\n"
        "  --account ID        the 2017 API's AwsAccountId (env HPO_ACCOUNT; default %s)\n"
        "  --region R          region for SigV4 (env AWS_REGION; default %s)\n"
        "  --profile P         credentials profile of ~/.aws/credentials (env AWS_PROFILE);\n"
        "                      AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are used when set;\n"
        "                      without credentials requests are not signed\n"
        "  --output json|table\n"
        "  --data-dir DIR      the embedded hpod's data (env HPO_DATA_DIR; default\n"
        "                      $XDG_DATA_HOME/openhpo or ~/.local/share/openhpo)\n"
        "  --images FILE       image catalog for the embedded hpod (env HPO_IMAGES; default:\n"
        "                      images.json next to the job file or in a parent directory)\n"
        "  --hpod PATH         hpod binary (env HPO_HPOD; default: next to hpo, then PATH)\n"
        "\nExit codes: 0 ok, 1 service error, 2 usage or bad input, 3 cannot reach the\n"
        "service, 4 tuning job Failed/Stopped (watch, tune) or no objective value\n"
        "(test-metrics), 130 interrupted.\n",
        HPO_DEFAULT_ACCOUNT, HPO_DEFAULT_REGION);
}

static void usage_op(FILE *f, const op_spec *o) {
    fprintf(f, "usage: hpo %s%s%s\n  %s\n", o->name, o->positional ? " NAME" : "",
            o->needs_input ? " --cli-input-json file://FILE.json" : " [--cli-input-json JSON]",
            o->summary);
    fprintf(f, "  %s operation %s%s%s\n", o->fl == API_2017 ? "2017 HPO API" : "SageMaker API",
            o->op, o->positional ? "; NAME is " : "", o->positional ? o->positional : "");
    fprintf(f,
            "options:\n  --cli-input-json JSON|file://F  the request body (options override it)\n");
    for (int i = 0; i < OPT_MAX && o->opts[i].flag; i++)
        fprintf(f, "  %-34s %s\n", o->opts[i].flag, o->opts[i].help);
    if (!strcmp(o->name, "list-training-jobs"))
        fprintf(f,
                "  with NAME: hpo list-training-jobs NAME [--sort-by FinalObjectiveMetricValue]\n"
                "  lists the training jobs of tuning job NAME (2017 API).\n");
}

/* ---------- small helpers ---------- */

/* Reads a whole file (at most HPO_MAX_FILE bytes). Caller frees. */
static char *read_all(const char *path, size_t *len) {
    if (!strcmp(path, "-")) {
        size_t cap = 65536, n = 0;
        char *b = malloc(cap + 1);
        ssize_t r;
        while (b && (r = read(0, b + n, cap - n)) > 0) {
            n += (size_t)r;
            if (n == cap) {
                if (cap >= HPO_MAX_FILE) {
                    free(b);
                    return NULL;
                }
                cap *= 2;
                char *nb = realloc(b, cap + 1);
                if (!nb) {
                    free(b);
                    return NULL;
                }
                b = nb;
            }
        }
        if (b) {
            b[n] = 0;
            if (len)
                *len = n;
        }
        return b;
    }
    return util_read_file(path, HPO_MAX_FILE, len);
}

/* Loads a JSON object from "file://PATH", a path, "-" (stdin) or literal
 * JSON text. Caller decrefs. NULL after printing why. */
static json_t *load_json_arg(const char *arg) {
    json_error_t je;
    json_t *js = NULL;
    const char *path = !strncmp(arg, "file://", 7) ? arg + 7 : NULL;
    if (!path && arg[0] != '{' && arg[0] != '[')
        path = arg;
    if (path) {
        size_t len = 0;
        char *text = read_all(path, &len);
        if (!text) {
            errorf("cannot read %s: %s", path, strerror(errno));
            return NULL;
        }
        js = json_loadb(text, len, 0, &je);
        free(text);
        if (!js)
            errorf("%s:%d:%d: not valid JSON: %s", path, je.line, je.column, je.text);
    } else {
        js = json_loads(arg, 0, &je);
        if (!js)
            errorf("--cli-input-json: not valid JSON: %s (column %d)", je.text, je.column);
    }
    if (js && !json_is_object(js)) {
        errorf("%s: expected a JSON object", path ? path : "--cli-input-json");
        json_decref(js);
        js = NULL;
    }
    return js;
}

static int is_tty(int fd) {
    return isatty(fd) == 1;
}

static int term_width(void) {
    struct winsize ws;
    if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    return 100;
}

/* Waits up to `ms` for SIGINT (through the signalfd, when there is one).
 * Returns 1 when SIGINT came. */
static int wait_or_interrupt(ctx *x, int ms) {
    if (x->sigfd < 0) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        return 0;
    }
    struct pollfd p = {x->sigfd, POLLIN, 0};
    int r = poll(&p, 1, ms);
    if (r > 0 && (p.revents & POLLIN)) {
        struct signalfd_siginfo si;
        while (read(x->sigfd, &si, sizeof si) == sizeof si) {
        }
        return 1;
    }
    return 0;
}

/* ---------- output: JSON and tables ---------- */

static void print_json(const json_t *js) {
    if (json_is_object(js) && json_object_size(js) == 0)
        return; /* as the AWS CLI: an empty answer prints nothing */
    char *s = json_dumps(js, JSON_INDENT(4));
    if (s) {
        puts(s);
        free(s);
    }
}

/* One cell's text. Times (numbers under a key ending in "Time") are shown
 * as UTC dates. */
static void cell(const char *key, const json_t *v, char *out, size_t cap) {
    out[0] = 0;
    if (json_is_string(v)) {
        snprintf(out, cap, "%s", json_string_value(v));
    } else if (json_is_number(v)) {
        size_t kl = key ? strlen(key) : 0;
        if (kl > 4 && !strcmp(key + kl - 4, "Time") && json_number_value(v) > 1e8) {
            time_t t = (time_t)json_number_value(v);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
        } else if (json_is_integer(v)) {
            snprintf(out, cap, "%lld", (long long)json_integer_value(v));
        } else {
            snprintf(out, cap, "%.6g", json_real_value(v));
        }
    } else if (json_is_boolean(v)) {
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_object(v)) {
        const json_t *val = json_object_get(v, "Value");
        if (val && !json_is_object(val)) {
            cell(NULL, val, out, cap);
            return;
        }
        size_t off = 0;
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            char sub[256];
            cell(k, m, sub, sizeof sub);
            int n = snprintf(out + off, cap - off, "%s%s=%s", off ? " " : "", k, sub);
            if (n < 0 || (size_t)n >= cap - off)
                break;
            off += (size_t)n;
        }
    } else if (json_is_array(v)) {
        size_t off = 0, i;
        json_t *m;
        json_array_foreach(v, i, m) {
            char sub[256];
            cell(NULL, m, sub, sizeof sub);
            int n = snprintf(out + off, cap - off, "%s%s", off ? "," : "", sub);
            if (n < 0 || (size_t)n >= cap - off)
                break;
            off += (size_t)n;
        }
    }
}

/* Prints an array of objects as columns (union of keys, in first-seen order). */
static void print_rows(const json_t *arr) {
    const char *cols[64];
    int ncols = 0, width[64];
    size_t i;
    json_t *row;
    char buf[1024];
    json_array_foreach(arr, i, row) {
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v) {
            int found = 0;
            for (int c = 0; c < ncols; c++)
                found |= !strcmp(cols[c], k);
            if (!found && ncols < 64) {
                cols[ncols] = k;
                width[ncols] = (int)strlen(k);
                ncols++;
            }
        }
    }
    json_array_foreach(arr, i, row) {
        for (int c = 0; c < ncols; c++) {
            cell(cols[c], json_object_get(row, cols[c]), buf, sizeof buf);
            int w = (int)strlen(buf);
            if (w > width[c])
                width[c] = w > HPO_COL_MAX ? HPO_COL_MAX : w;
        }
    }
    for (int c = 0; c < ncols; c++)
        printf("%-*.*s%s", width[c], width[c], cols[c], c + 1 < ncols ? "  " : "\n");
    for (int c = 0; c < ncols; c++) {
        for (int k = 0; k < width[c]; k++)
            putchar('-');
        fputs(c + 1 < ncols ? "  " : "\n", stdout);
    }
    json_array_foreach(arr, i, row) {
        for (int c = 0; c < ncols; c++) {
            cell(cols[c], json_object_get(row, cols[c]), buf, sizeof buf);
            if ((int)strlen(buf) > width[c] && width[c] > 3)
                snprintf(buf + width[c] - 3, 4, "...");
            printf("%-*.*s%s", width[c], width[c], buf, c + 1 < ncols ? "  " : "\n");
        }
    }
}

/* Prints an object as "path  value" rows, nested objects and arrays of
 * objects flattened into dotted paths. */
static void print_kv(const char *prefix, const json_t *o, int pad) {
    const char *k;
    json_t *v;
    char path[512], buf[1024];
    json_object_foreach((json_t *)o, k, v) {
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", k);
        if (json_is_object(v) && json_object_size(v) > 0 && !json_object_get(v, "Value")) {
            print_kv(path, v, pad);
        } else if (json_is_array(v) && json_is_object(json_array_get(v, 0))) {
            size_t i;
            json_t *m;
            json_array_foreach(v, i, m) {
                char p2[600];
                snprintf(p2, sizeof p2, "%s[%zu]", path, i);
                print_kv(p2, m, pad);
            }
        } else {
            cell(k, v, buf, sizeof buf);
            printf("%-*s  %s\n", pad, path, buf);
        }
    }
}

static void print_table(const json_t *js, const char *list_key) {
    const json_t *arr = list_key ? json_object_get(js, list_key) : NULL;
    if (json_is_array(arr)) {
        if (json_array_size(arr) == 0)
            printf("(none)\n");
        else
            print_rows(arr);
        if (json_object_get(js, "NextToken"))
            printf("NextToken: %s\n", json_string_value(json_object_get(js, "NextToken")));
        return;
    }
    print_kv("", js, 40);
}

static void print_result(const ctx *x, const json_t *js, const char *list_key) {
    if (x->g.table)
        print_table(js, list_key);
    else
        print_json(js);
}

/* ---------- the embedded hpod ---------- */

static int default_data_dir(const globals *g, char *out, size_t cap) {
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (g->data_dir)
        snprintf(out, cap, "%s", g->data_dir);
    else if (xdg && xdg[0] == '/')
        snprintf(out, cap, "%s/openhpo", xdg);
    else if (home && *home)
        snprintf(out, cap, "%s/.local/share/openhpo", home);
    else
        return -1;
    return 0;
}

/* The hpod binary: --hpod, next to this hpo, or "hpod" on PATH. */
static void find_hpod(const globals *g, char *out, size_t cap) {
    if (g->hpod) {
        snprintf(out, cap, "%s", g->hpod);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 8);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            snprintf(slash + 1, sizeof self - (size_t)(slash + 1 - self), "hpod");
            if (access(self, X_OK) == 0) {
                snprintf(out, cap, "%s", self);
                return;
            }
        }
    }
    snprintf(out, cap, "hpod");
}

/* Resolves the relative program paths of a catalog against `base` (the
 * catalog's directory): an element that is not absolute, does not start with
 * '-', and names an existing file under base becomes absolute. Returns a new
 * object (caller decrefs) or NULL after printing why. */
static json_t *resolve_catalog(const json_t *cat, const char *base, const char *origin) {
    json_t *out = json_object();
    const char *k;
    json_t *v;
    char p[PATH_MAX], real[PATH_MAX];
    json_object_foreach((json_t *)cat, k, v) {
        /* {"backend": NAME, "command": ...} (image.h): its command is resolved. */
        const json_t *be = json_is_object(v) ? json_object_get(v, "backend") : NULL;
        const json_t *cmd = json_is_object(v) ? json_object_get(v, "command") : v;
        json_t *argv = json_is_string(cmd) ? json_pack("[O]", cmd) : json_deep_copy(cmd);
        if (!json_is_array(argv) || json_array_size(argv) == 0) {
            errorf("%s: entry %s: expected a program path, an argument list or "
                   "{\"backend\": NAME, \"command\": [...]}",
                   origin, k);
            json_decref(argv);
            json_decref(out);
            return NULL;
        }
        size_t i;
        json_t *a;
        json_array_foreach(argv, i, a) {
            const char *s = json_string_value(a);
            if (!s) {
                errorf("%s: entry %s: arguments must be strings", origin, k);
                json_decref(argv);
                json_decref(out);
                return NULL;
            }
            if (s[0] == '/' || s[0] == '-')
                continue;
            snprintf(p, sizeof p, "%s/%s", base, s);
            if (access(p, F_OK) == 0 && realpath(p, real))
                json_array_set_new(argv, i, json_string(real));
        }
        if (json_is_object(v)) {
            json_t *entry = json_pack("{s:o}", "command", argv);
            if (entry && be)
                json_object_set(entry, "backend", (json_t *)be);
            argv = entry;
        }
        json_object_set_new(out, k, argv);
    }
    return out;
}

/* Loads and resolves the catalog at `path`. */
static json_t *load_catalog(const char *path) {
    char dir[PATH_MAX], real[PATH_MAX];
    json_error_t je;
    json_t *cat = json_load_file(path, 0, &je), *out = NULL;
    if (!json_is_object(cat)) {
        errorf("image catalog %s: %s", path, cat ? "not a JSON object" : je.text);
        goto out;
    }
    if (!realpath(path, real)) {
        errorf("image catalog %s: %s", path, strerror(errno));
        goto out;
    }
    snprintf(dir, sizeof dir, "%s", real);
    *strrchr(dir, '/') = 0;
    out = resolve_catalog(cat, dir[0] ? dir : "/", path);
out:
    json_decref(cat);
    return out;
}

/* The catalog to give the embedded hpod: --images, else images.json in the
 * job file's directory or up to three parents. NULL path when none. */
static void find_catalog(const globals *g, const char *job_file, char *out, size_t cap) {
    out[0] = 0;
    if (g->images) {
        snprintf(out, cap, "%s", g->images);
        return;
    }
    if (!job_file || !strcmp(job_file, "-"))
        return;
    char dir[PATH_MAX], p[PATH_MAX + 16];
    if (!realpath(job_file, dir))
        return;
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            return;
        *slash = 0;
        snprintf(p, sizeof p, "%s/images.json", dir[0] ? dir : "");
        if (access(p, R_OK) == 0) {
            snprintf(out, cap, "%s", p);
            return;
        }
    }
}

static int read_pid_port(const char *dir, pid_t *pid, int *port) {
    char p[PATH_MAX + 32];
    char *s;
    *pid = 0;
    *port = 0;
    snprintf(p, sizeof p, "%s/hpod.pid", dir);
    if ((s = util_read_file(p, 64, NULL))) {
        *pid = (pid_t)atoi(s);
        free(s);
    }
    snprintf(p, sizeof p, "%s/hpod.port", dir);
    if ((s = util_read_file(p, 64, NULL))) {
        *port = atoi(s);
        free(s);
    }
    return *pid > 0 && *port > 0 ? 0 : -1;
}

static int health_ok(const char *url) {
    client_config cc = {.endpoint = url, .timeout_ms = 2000};
    client_error ce;
    client_response r = {0};
    client *c = client_new(&cc, &ce);
    int ok = 0;
    if (c && client_get(c, "/health", NULL, &r, &ce) == CLIENT_OK)
        ok = 1;
    client_response_clear(&r);
    client_free(c);
    return ok;
}

/* Sends SIGTERM to the embedded hpod and waits for it (up to 20 s). */
static void stop_hpod(pid_t pid, int is_child) {
    if (pid <= 0 || kill(pid, SIGTERM))
        return;
    for (int i = 0; i < 200; i++) {
        if (is_child) {
            if (waitpid(pid, NULL, WNOHANG) == pid)
                return;
        } else if (kill(pid, 0)) {
            return;
        }
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
}

/* Whether `pid` is an hpod (not a reused pid). */
static int is_hpod(pid_t pid) {
    char p[64], exe[PATH_MAX];
    snprintf(p, sizeof p, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(p, exe, sizeof exe - 1);
    if (n <= 0)
        return kill(pid, 0) == 0; /* not ours to read: trust the pid file */
    exe[n] = 0;
    const char *base = strrchr(exe, '/');
    return base && !strncmp(base + 1, "hpod", 4);
}

/* Makes sure an hpod serves the data dir, with at least the images of
 * `catalog_path` (may be ""), and points x->emb at it. Returns an exit code. */
static int embedded_up(ctx *x, const char *catalog_path) {
    embedded *em = &x->emb;
    char lockp[PATH_MAX + 32], imgp[PATH_MAX + 32], logp[PATH_MAX + 32], portp[PATH_MAX + 32];
    char pidp[PATH_MAX + 32], hpod[PATH_MAX], buf[32];
    json_t *cat = NULL, *merged = NULL, *old = NULL;
    int lock = -1, rc = EXIT_CONN, port = 0;
    pid_t pid = 0;
    if (default_data_dir(&x->g, em->dir, sizeof em->dir)) {
        errorf("no data dir: set HOME, HPO_DATA_DIR or --data-dir, or give --endpoint-url");
        return EXIT_USAGE;
    }
    if (util_mkdir_p(em->dir, 1)) {
        errorf("cannot create %s: %s", em->dir, strerror(errno));
        return EXIT_USAGE;
    }
    snprintf(lockp, sizeof lockp, "%s/hpo.lock", em->dir);
    snprintf(imgp, sizeof imgp, "%s/images.json", em->dir);
    snprintf(logp, sizeof logp, "%s/hpod.log", em->dir);
    snprintf(portp, sizeof portp, "%s/hpod.port", em->dir);
    snprintf(pidp, sizeof pidp, "%s/hpod.pid", em->dir);
    if ((lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(lock, LOCK_EX)) {
        errorf("cannot lock %s: %s", lockp, strerror(errno));
        rc = EXIT_USAGE;
        goto out;
    }
    /* The catalog: what the running daemon has, plus what this job needs. */
    old = json_load_file(imgp, 0, NULL);
    merged = json_is_object(old) ? json_deep_copy(old) : json_object();
    int changed = 0;
    if (catalog_path && catalog_path[0]) {
        if (!(cat = load_catalog(catalog_path))) {
            rc = EXIT_USAGE;
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(cat, k, v) {
            if (!json_equal(json_object_get(merged, k), v)) {
                json_object_set(merged, k, v);
                changed = 1;
            }
        }
    }
    int alive = read_pid_port(em->dir, &pid, &port) == 0 && is_hpod(pid);
    if (alive) {
        snprintf(em->url, sizeof em->url, "http://127.0.0.1:%d", port);
        alive = health_ok(em->url);
    }
    if (alive && !changed) {
        em->pid = pid;
        rc = EXIT_OK;
        goto out;
    }
    if (alive) { /* restart with the bigger catalog: training jobs keep running */
        fprintf(stderr, "hpo: restarting the embedded hpod (pid %d) with new images\n", (int)pid);
        stop_hpod(pid, 0);
    }
    char *text = json_dumps(merged, JSON_INDENT(2));
    if (!text || util_write_file(imgp, text, strlen(text), 0)) {
        free(text);
        errorf("cannot write %s", imgp);
        rc = EXIT_USAGE;
        goto out;
    }
    free(text);
    find_hpod(&x->g, hpod, sizeof hpod);
    unlink(portp);
    pid = fork();
    if (pid < 0) {
        errorf("fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        int in = open("/dev/null", O_RDONLY), lg = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in >= 0)
            dup2(in, 0);
        if (lg >= 0) {
            dup2(lg, 1);
            dup2(lg, 2);
        }
        execlp(hpod, hpod, "--listen", "127.0.0.1:0", "--data-dir", em->dir, "--port-file", portp,
               "--images", imgp, (char *)NULL);
        dprintf(2, "hpo: cannot execute %s: %s\n", hpod, strerror(errno));
        _exit(127);
    }
    em->pid = pid;
    em->started = 1;
    int n = snprintf(buf, sizeof buf, "%d\n", (int)pid);
    util_write_file(pidp, buf, (size_t)n, 0);
    for (int i = 0; i < HPO_START_TIMEOUT_S * 20; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            char *lg = util_read_file(logp, 1 << 20, NULL);
            const char *tail = lg ? lg + (strlen(lg) > 2000 ? strlen(lg) - 2000 : 0) : "";
            errorf("the embedded hpod (%s) exited at start; its log (%s) ends:\n%s", hpod, logp,
                   tail);
            free(lg);
            em->pid = 0;
            em->started = 0;
            goto out;
        }
        char *s = util_read_file(portp, 64, NULL);
        if (s && atoi(s) > 0) {
            snprintf(em->url, sizeof em->url, "http://127.0.0.1:%d", atoi(s));
            if (health_ok(em->url)) {
                free(s);
                rc = EXIT_OK;
                goto out;
            }
        }
        free(s);
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
    }
    errorf("the embedded hpod did not answer within %d s; see %s", HPO_START_TIMEOUT_S, logp);
    stop_hpod(pid, 1);
    em->pid = 0;
    em->started = 0;
out:
    if (lock >= 0)
        close(lock);
    json_decref(cat);
    json_decref(merged);
    json_decref(old);
    return rc;
}

/* Connects x->c: to the endpoint, or to the embedded hpod (starting it). */
static int connect_service(ctx *x, const char *catalog_path) {
    client_credentials cr;
    client_error ce = {0};
    const char *url = x->g.endpoint;
    int rc;
    if (!url) {
        if ((rc = embedded_up(x, catalog_path)))
            return rc;
        x->use_embedded = 1;
        url = x->emb.url;
    }
    int found = client_credentials_find(x->g.profile, &cr, &ce);
    if (found < 0) {
        errorf("%s", ce.message);
        return EXIT_USAGE;
    }
    client_config cc = {.endpoint = url, .region = x->g.region, .cr = found ? &cr : NULL};
    x->c = client_new(&cc, &ce);
    explicit_bzero(&cr, sizeof cr);
    if (!x->c) {
        errorf("%s", ce.message);
        return ce.code[0] == 'U' ? EXIT_USAGE : EXIT_CONN;
    }
    return EXIT_OK;
}

/* On exit: stops an embedded hpod this process started, unless kept. */
static void embedded_down(ctx *x) {
    if (x->emb.started && !x->emb.keep && x->emb.pid > 0) {
        stop_hpod(x->emb.pid, 1);
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/hpod.port", x->emb.dir);
        unlink(p);
    }
}

/* ---------- generic operation commands ---------- */

static const op_spec *find_op(const char *name) {
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!strcmp(name, aliases[i].alias))
            name = aliases[i].name;
    for (size_t i = 0; i < NOPS; i++)
        if (!strcmp(ops[i].name, name))
            return &ops[i];
    return NULL;
}

/* Parses "Key=k,Value=v" into a Tag object. */
static json_t *parse_tag(const char *s) {
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof buf, "%s", s);
    json_t *t = json_object();
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq || (strncmp(kv, "Key=", 4) && strncmp(kv, "Value=", 6))) {
            json_decref(t);
            return NULL;
        }
        *eq = 0;
        json_object_set_new(t, kv, json_string(eq + 1));
    }
    if (!json_object_get(t, "Key")) {
        json_decref(t);
        return NULL;
    }
    return t;
}

/* Sets the member at dotted `path` of `root` to `v` (a new reference is
 * taken), making the objects on the way. -1 when a member on the way is not
 * an object. */
static int set_path(json_t *root, const char *path, json_t *v) {
    char seg[128];
    const char *dot;
    while ((dot = strchr(path, '.'))) {
        size_t n = (size_t)(dot - path);
        if (n >= sizeof seg)
            return -1;
        memcpy(seg, path, n);
        seg[n] = 0;
        json_t *next = json_object_get(root, seg);
        if (!next) {
            next = json_object();
            if (!next || json_object_set_new(root, seg, next))
                return -1;
        }
        if (!json_is_object(next))
            return -1;
        root = next;
        path = dot + 1;
    }
    return json_object_set(root, path, v) ? -1 : 0;
}

static int run_op(ctx *x, const op_spec *o, int argc, char **argv) {
    json_t *body = NULL, *out = NULL, *page = NULL;
    const char *name = NULL, *input = NULL;
    client_error ce = {0};
    int rc = EXIT_USAGE, paged = 0;
    json_t *opts = json_object();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_op(stdout, o);
            rc = EXIT_OK;
            goto out;
        }
        if (strncmp(a, "--", 2)) {
            if (name || !o->positional) {
                errorf("%s: unexpected argument %s", o->name, a);
                goto usage;
            }
            name = a;
            continue;
        }
        if (!strcmp(a, "--cli-input-json")) {
            if (i + 1 >= argc) {
                errorf("%s needs a value", a);
                goto usage;
            }
            input = argv[++i];
            continue;
        }
        const opt_spec *s = NULL;
        for (int k = 0; k < OPT_MAX && o->opts[k].flag; k++)
            if (!strcmp(o->opts[k].flag, a))
                s = &o->opts[k];
        if (!s) {
            errorf("%s: unknown option %s", o->name, a);
            goto usage;
        }
        if (i + 1 >= argc) {
            errorf("%s needs a value", a);
            goto usage;
        }
        if (s->type == T_STR) {
            json_object_set_new(opts, s->field, json_string(argv[++i]));
        } else if (s->type == T_INT) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i]) {
                errorf("%s: %s is not an integer", a, argv[i]);
                goto usage;
            }
            json_object_set_new(opts, s->field, json_integer(v));
        } else if (s->type == T_NUM) {
            char *end;
            double v = strtod(argv[++i], &end);
            if (*end || end == argv[i] || !isfinite(v)) {
                errorf("%s: %s is not a number", a, argv[i]);
                goto usage;
            }
            json_object_set_new(opts, s->field, json_real(v));
        } else {
            json_t *arr = json_array();
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2)) {
                const char *v = argv[++i];
                json_t *item = s->type == T_TAGS ? parse_tag(v)
                               : s->type == T_PARENTS
                                   ? json_pack("{s:s}", "HyperParameterTuningJobName", v)
                                   : json_string(v);
                if (!item) {
                    errorf("%s: %s is not Key=k,Value=v", a, v);
                    json_decref(arr);
                    goto usage;
                }
                json_array_append_new(arr, item);
            }
            json_object_set_new(opts, s->field, arr);
        }
    }
    if (o->positional && !name) {
        errorf("%s: missing NAME", o->name);
        goto usage;
    }
    if (o->needs_input && !input) {
        errorf("%s: --cli-input-json is required", o->name);
        goto usage;
    }
    if (input) {
        if (!(body = load_json_arg(input)))
            goto out;
    } else {
        body = json_object();
    }
    const char *path;
    json_t *v;
    json_object_foreach(opts, path, v) {
        if (set_path(body, path, v)) {
            errorf("%s: the request has no object where %s goes", o->name, path);
            goto out;
        }
    }
    if (name)
        json_object_set_new(body, o->positional, json_string(name));
    if (o->fl == API_2017 && (x->g.account_given || !json_object_get(body, "AwsAccountId")))
        json_object_set_new(body, "AwsAccountId", json_string(x->g.account));
    char catalog[PATH_MAX];
    const char *input_file = NULL;
    if (input && input[0] != '{')
        input_file = strncmp(input, "file://", 7) ? input : input + 7;
    find_catalog(&x->g, input_file, catalog, sizeof catalog);
    if ((rc = connect_service(x, catalog)))
        goto out;
    if (!strncmp(o->name, "create-", 7))
        x->emb.keep = 1; /* the new job needs its daemon */
    paged =
        o->list_key && !json_object_get(body, "MaxResults") && !json_object_get(body, "NextToken");
    for (int pages = 0;; pages++) {
        if ((rc = client_call(x->c, o->fl, o->op, body, &page, &ce))) {
            print_client_error(&ce, rc);
            goto out;
        }
        if (!out) {
            out = page;
        } else {
            json_array_extend(json_object_get(out, o->list_key),
                              json_object_get(page, o->list_key));
            json_decref(page);
        }
        page = NULL;
        const char *tok = json_string_value(json_object_get(out, "NextToken"));
        if (!paged || !tok || pages >= HPO_MAX_PAGES)
            break;
        json_object_set_new(body, "NextToken", json_string(tok));
        json_object_del(out, "NextToken");
    }
    print_result(x, out, o->list_key);
    rc = EXIT_OK;
    goto out;
usage:
    fprintf(stderr, "(hpo %s --help for usage)\n", o->name);
    rc = EXIT_USAGE;
out:
    json_decref(opts);
    json_decref(body);
    json_decref(out);
    json_decref(page);
    return rc;
}

/* ---------- watch ---------- */

static client_status describe(ctx *x, const char *name, json_t **out, client_error *ce) {
    json_t *b = json_pack("{s:s, s:s}", "AwsAccountId", x->g.account, "TuningJobName", name);
    client_status rc = client_call(x->c, API_2017, "DescribeTuningJob", b, out, ce);
    json_decref(b);
    return rc;
}

/* The early-stopped training jobs of tuning job `name`: its Stopped ones,
 * listed (at most HPO_MAX_PAGES pages), those with an objective. -1 when
 * the list fails (the view then shows no figure). */
static int early_stopped(ctx *x, const char *name) {
    json_t *b = json_pack("{s:s, s:s, s:s, s:i}", "AwsAccountId", x->g.account, "TuningJobName",
                          name, "TrainingJobStatusEquals", "Stopped", "MaxResults", 100);
    int n = 0;
    for (int pages = 0; b && pages < HPO_MAX_PAGES; pages++) {
        json_t *out = NULL;
        client_error ce = {0};
        if (client_call(x->c, API_2017, "ListTrainingJobsForTuningJob", b, &out, &ce)) {
            n = -1;
            break;
        }
        n += watch_count_early_stopped(json_object_get(out, "TrainingJobSummaries"));
        const char *tok = json_string_value(json_object_get(out, "NextToken"));
        if (tok)
            json_object_set_new(b, "NextToken", json_string(tok));
        json_decref(out);
        if (!tok)
            break;
    }
    json_decref(b);
    return n;
}

/* Follows a tuning job until it ends. *interrupted set when Ctrl-C came
 * (the view is left as it was). *last (NULL or an earlier answer, which is
 * released) gets the latest answer (caller decrefs). Returns an exit code. */
static int watch_loop(ctx *x, const char *name, double interval, int *interrupted, json_t **last) {
    int tty = is_tty(1), lines = 0, rc = EXIT_OK, first = 1;
    watch_state prev = {0}, s;
    client_error ce = {0};
    char text[4096];
    *interrupted = 0;
    json_decref(*last);
    *last = NULL;
    for (;;) {
        json_t *d = NULL;
        if ((rc = describe(x, name, &d, &ce))) {
            if (lines)
                putchar('\n');
            print_client_error(&ce, rc);
            return rc;
        }
        watch_state_from(d, util_now(), &s);
        s.early_stopped = early_stopped(x, name);
        json_decref(*last);
        *last = d;
        if (tty) {
            if (lines)
                printf("\033[%dA\r\033[J", lines);
            lines = watch_render_tty(&s, term_width() - 1, text, sizeof text);
            fputs(text, stdout);
        } else if (first || watch_changed(&prev, &s) || s.final) {
            watch_render_line(&s, text, sizeof text);
            fputs(text, stdout);
        }
        fflush(stdout);
        first = 0;
        prev = s;
        if (s.final)
            break;
        if (wait_or_interrupt(x, (int)(interval * 1000))) {
            *interrupted = 1;
            return EXIT_INTERRUPTED;
        }
    }
    return strcmp(s.status, "Completed") ? EXIT_UNSUCCESSFUL : EXIT_OK;
}

static int parse_interval(const char *v, double *out) {
    char *end;
    double d = strtod(v, &end);
    if (*end || !(d >= 0.05 && d <= 3600)) {
        errorf("--interval: seconds between 0.05 and 3600");
        return -1;
    }
    *out = d;
    return 0;
}

static int cmd_watch(ctx *x, int argc, char **argv) {
    const char *name = NULL;
    double interval = 1;
    json_t *last = NULL;
    int interrupted = 0, rc;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: hpo watch NAME [--interval SECONDS]\n"
                   "  Shows a tuning job's progress until it ends: training jobs completed,\n"
                   "  failed and running of the limit, a progress bar, the best objective so\n"
                   "  far and its hyperparameters, elapsed time and an estimate of what is left.\n"
                   "  Redrawn in place on a terminal; one line per change otherwise.\n"
                   "  Exit 0 when the job Completed, 4 when it Failed or was Stopped.\n");
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
            if (parse_interval(argv[++i], &interval))
                return EXIT_USAGE;
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            errorf("watch: unexpected argument %s (hpo watch --help)", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!name) {
        errorf("watch: missing NAME (hpo watch --help)");
        return EXIT_USAGE;
    }
    if ((rc = connect_service(x, NULL)))
        return rc;
    rc = watch_loop(x, name, interval, &interrupted, &last);
    json_decref(last);
    return rc;
}

/* ---------- tune ---------- */

/* Prints the outcome: the best training job and its hyperparameters. */
static void print_best(ctx *x, const json_t *d) {
    const json_t *best = json_object_get(d, "BestTrainingJob");
    const json_t *m = json_object_get(best, "FinalTuningJobObjectiveMetric");
    const json_t *jobs = json_object_get(
        json_object_get(json_object_get(d, "ResourcesStats"), "ConsumedResources"), "Jobs");
    if (x->g.output_given && !x->g.table) {
        print_json(d);
        return;
    }
    printf("\nTuning job %s: %s (%d completed, %d failed)\n",
           json_string_value(json_object_get(d, "TuningJobName")),
           json_string_value(json_object_get(d, "TuningJobStatus")),
           (int)json_integer_value(json_object_get(jobs, "Completed")),
           (int)json_integer_value(json_object_get(jobs, "Failed")));
    if (json_object_get(d, "FailureReason"))
        printf("Reason: %s\n", json_string_value(json_object_get(d, "FailureReason")));
    if (!m) {
        printf("No training job reported the objective metric.\n"
               "Check the regexes with: hpo test-metrics JOB.json LOGFILE\n");
        return;
    }
    printf("Best training job: %s\n", json_string_value(json_object_get(best, "TrainingJobName")));
    printf("  %s = %.6g (%s)\n", json_string_value(json_object_get(m, "MetricName")),
           json_number_value(json_object_get(m, "Value")),
           json_string_value(json_object_get(m, "Type")));
    printf("  hyperparameters:\n");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(best, "HyperParameters"), k, v)
        printf("    %-24s %s\n", k, json_string_value(v));
    printf("Logs: hpo logs %s\n", json_string_value(json_object_get(best, "TrainingJobName")));
}

/* A name for a job file without one: its directory's name. */
static void name_from_file(const char *path, char *out, size_t cap) {
    char real[PATH_MAX];
    const char *base = "tuning";
    if (realpath(path, real)) {
        char *slash = strrchr(real, '/');
        if (slash && slash != real) {
            *slash = 0;
            slash = strrchr(real, '/');
            base = slash ? slash + 1 : real;
        }
    }
    size_t o = 0;
    for (const char *p = base; *p && o + 1 < cap && o < 20; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            (*p == '-' && o > 0))
            out[o++] = *p;
    if (!o)
        o = (size_t)snprintf(out, cap, "tuning");
    out[o] = 0;
}

/* Asks whether to stop; returns 1 for yes. Without a terminal: yes. */
static int ask_stop(const char *name) {
    char line[64];
    if (!is_tty(0))
        return 1;
    fprintf(stderr, "\nStop tuning job %s? Its running training jobs are stopped too. [y/N] ",
            name);
    fflush(stderr);
    if (!fgets(line, sizeof line, stdin))
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

static int cmd_tune(ctx *x, int argc, char **argv) {
    const char *file = NULL, *given_name = NULL;
    double interval = 1;
    json_t *body = NULL, *resp = NULL, *last = NULL;
    client_error ce = {0};
    char name[HPO_NAME_MAX + 1], catalog[PATH_MAX];
    int rc = EXIT_USAGE, interrupted = 0, stopped_by_user = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: hpo tune JOB.json [--name NAME] [--interval SECONDS]\n"
                   "  Creates the tuning job of JOB.json (a CreateTuningJob request; AwsAccountId\n"
                   "  and TuningJobName may be left out), shows its progress until it ends and\n"
                   "  prints the best training job with its hyperparameters.\n"
                   "  Without --endpoint-url / HPO_ENDPOINT it starts an hpod of its own on the\n"
                   "  data dir (see hpo --help), with the image catalog images.json found next to\n"
                   "  JOB.json or in a parent directory (or --images), and stops it at the end.\n"
                   "  The name is --name, else the file's TuningJobName, else the directory's\n"
                   "  name; when that name is taken, a -MMDDhhmmss suffix is added.\n"
                   "  Ctrl-C asks whether to stop the tuning job (without a terminal on stdin it\n"
                   "  stops it); if not, the job (and the embedded hpod) keep running.\n"
                   "  Exit 0 when the job Completed, 4 when Failed or Stopped, 130 on Ctrl-C.\n");
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
            if (parse_interval(argv[++i], &interval))
                return EXIT_USAGE;
        } else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
            given_name = argv[++i];
        } else if (argv[i][0] != '-' && !file) {
            file = argv[i];
        } else {
            errorf("tune: unexpected argument %s (hpo tune --help)", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!file) {
        errorf("tune: missing JOB.json (hpo tune --help)");
        return EXIT_USAGE;
    }
    if (!(body = load_json_arg(!strncmp(file, "file://", 7) ? file + 7 : file)))
        goto out;
    if (given_name)
        snprintf(name, sizeof name, "%s", given_name);
    else if (json_string_value(json_object_get(body, "TuningJobName")))
        snprintf(name, sizeof name, "%s",
                 json_string_value(json_object_get(body, "TuningJobName")));
    else
        name_from_file(file, name, sizeof name);
    if (x->g.account_given || !json_object_get(body, "AwsAccountId"))
        json_object_set_new(body, "AwsAccountId", json_string(x->g.account));
    find_catalog(&x->g, file, catalog, sizeof catalog);
    if ((rc = connect_service(x, catalog)))
        goto out;
    for (int attempt = 0;; attempt++) {
        json_object_set_new(body, "TuningJobName", json_string(name));
        rc = client_call(x->c, API_2017, "CreateTuningJob", body, &resp, &ce);
        if (rc == CLIENT_ESERVICE && !strcmp(ce.code, "ResourceInUse") && !given_name &&
            attempt == 0) {
            char suffix[16], base[HPO_NAME_MAX + 1];
            time_t now = time(NULL);
            struct tm tm;
            localtime_r(&now, &tm);
            strftime(suffix, sizeof suffix, "-%m%d%H%M%S", &tm);
            snprintf(base, sizeof base, "%.*s", HPO_NAME_MAX - (int)strlen(suffix), name);
            snprintf(name, sizeof name, "%s%s", base, suffix);
            continue;
        }
        break;
    }
    if (rc) {
        print_client_error(&ce, rc);
        goto out;
    }
    fprintf(stderr, "Created tuning job %s on %s%s\n", name, client_endpoint(x->c),
            x->use_embedded ? " (embedded hpod)" : "");
    if (x->use_embedded)
        fprintf(stderr, "  data dir: %s\n", x->emb.dir);
    for (;;) {
        rc = watch_loop(x, name, interval, &interrupted, &last);
        if (!interrupted)
            break;
        if (ask_stop(name)) {
            json_t *b =
                       json_pack("{s:s, s:s}", "AwsAccountId", x->g.account, "TuningJobName", name),
                   *r = NULL;
            fprintf(stderr, "Stopping tuning job %s...\n", name);
            int src = client_call(x->c, API_2017, "StopTuningJob", b, &r, &ce);
            json_decref(b);
            json_decref(r);
            if (src && strcmp(ce.code, "ValidationError")) { /* final already: fine */
                rc = print_client_error(&ce, src);
                goto out;
            }
            stopped_by_user = 1;
            continue; /* watch it wind down */
        }
        x->emb.keep = 1;
        fprintf(stderr,
                "\nTuning job %s keeps running%s. Follow it with: hpo watch %s\n"
                "Stop it with: hpo stop-tuning-job %s\n",
                name, x->use_embedded ? " (so does the embedded hpod)" : "", name, name);
        rc = EXIT_INTERRUPTED;
        goto out;
    }
    if (last && (rc == EXIT_OK || rc == EXIT_UNSUCCESSFUL))
        print_best(x, last);
    if (stopped_by_user && rc == EXIT_UNSUCCESSFUL)
        rc = EXIT_INTERRUPTED;
out:
    json_decref(body);
    json_decref(resp);
    json_decref(last);
    return rc;
}

/* ---------- logs ---------- */

static int cmd_logs(ctx *x, int argc, char **argv) {
    const char *job = NULL;
    int follow = 0, rc;
    long long offset = 0;
    char acct[64], jobq[256], path[512];
    client_error ce = {0};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: hpo logs TRAINING_JOB [--follow]\n"
                   "  Prints what the training program wrote (stdout and stderr, as scanned\n"
                   "  for metrics). --follow (-f) keeps printing until the job ends.\n"
                   "  Uses hpod's GET /openhpo/logs/<account>/<job>/<offset> extension.\n");
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f"))
            follow = 1;
        else if (argv[i][0] != '-' && !job)
            job = argv[i];
        else {
            errorf("logs: unexpected argument %s (hpo logs --help)", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!job) {
        errorf("logs: missing TRAINING_JOB (hpo logs --help)");
        return EXIT_USAGE;
    }
    if (client_query_escape(x->g.account, acct, sizeof acct) ||
        client_query_escape(job, jobq, sizeof jobq)) {
        errorf("logs: account or job name too long");
        return EXIT_USAGE;
    }
    if ((rc = connect_service(x, NULL)))
        return rc;
    for (;;) {
        client_response r = {0};
        snprintf(path, sizeof path, "/openhpo/logs/%s/%s/%lld", acct, jobq, offset);
        if ((rc = client_get(x->c, path, NULL, &r, &ce))) {
            if (rc == CLIENT_ESERVICE && ce.http_status == 404 &&
                strcmp(ce.code, "ResourceNotFound"))
                snprintf(
                    ce.message, sizeof ce.message,
                    "this endpoint does not serve logs (an hpod with /openhpo/logs is needed)");
            return print_client_error(&ce, rc);
        }
        fwrite(r.body, 1, r.len, stdout);
        fflush(stdout);
        const char *next = client_response_header(&r, "x-openhpo-next-offset");
        const char *size = client_response_header(&r, "x-openhpo-log-size");
        const char *st = client_response_header(&r, "x-openhpo-job-status");
        long long nx = next ? atoll(next) : offset, sz = size ? atoll(size) : 0;
        int final = st && strcmp(st, "InProgress") && strcmp(st, "Stopping");
        client_response_clear(&r);
        int progressed = nx > offset;
        offset = nx;
        if (offset < sz && progressed)
            continue; /* more already there */
        if (!follow || (final && offset >= sz))
            break;
        if (wait_or_interrupt(x, 500))
            return EXIT_INTERRUPTED;
    }
    return EXIT_OK;
}

/* ---------- test-metrics ---------- */

typedef struct {
    metrics_set *ms;
    int objective; /* index of the objective metric, or -1 */
    long line;
    int all;
    int json;
    json_t *lines; /* JSON output */
    long *matches;
    double *last;
    /* per line */
    char found[1024];
    size_t found_len;
    json_t *line_metrics;
} tm_ctx;

static void tm_point(void *ud, size_t index, double value) {
    tm_ctx *t = ud;
    t->matches[index]++;
    t->last[index] = value;
    if (t->json) {
        json_object_set_new(t->line_metrics, metrics_name(t->ms, index), json_real(value));
        return;
    }
    if (t->found_len < sizeof t->found) {
        int n = snprintf(t->found + t->found_len, sizeof t->found - t->found_len,
                         "      -> %s = %.10g%s\n", metrics_name(t->ms, index), value,
                         (int)index == t->objective ? "   (objective)" : "");
        if (n > 0)
            t->found_len += (size_t)n;
    }
}

static void tm_line(void *ud, const char *line, size_t len) {
    tm_ctx *t = ud;
    t->line++;
    t->found_len = 0;
    t->found[0] = 0;
    if (t->json)
        t->line_metrics = json_object();
    int n = metrics_scan_line(t->ms, line, len, tm_point, t);
    if (t->json) {
        if (n > 0 || t->all)
            json_array_append_new(t->lines,
                                  json_pack("{s:I, s:s%, s:O}", "Line", (json_int_t)t->line, "Text",
                                            line, len, "Metrics", t->line_metrics));
        json_decref(t->line_metrics);
        t->line_metrics = NULL;
        return;
    }
    if (n > 0 || t->all) {
        printf("%5ld| %.*s\n", t->line, (int)(len > 200 ? 200 : len), line);
        if (n > 0)
            fputs(t->found, stdout);
    }
}

static int cmd_test_metrics(ctx *x, int argc, char **argv) {
    const char *file = NULL, *log = NULL, *defname = NULL;
    int all = 0, rc = EXIT_USAGE;
    json_t *job = NULL, *out = NULL;
    metrics_set *ms = NULL;
    FILE *f = NULL;
    err_t e = {0};
    tm_ctx t = {0};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf(
                "usage: hpo test-metrics JOB.json LOGFILE [--all] [--definition NAME]\n"
                "  Runs the job file's MetricDefinitions over LOGFILE (\"-\": stdin) exactly as\n"
                "  hpod does, and shows line by line what each regex extracts, then each\n"
                "  metric's number of matches and final value. --all shows every line.\n"
                "  With TrainingJobDefinitions, --definition names the one to use (default:\n"
                "  the first); its TuningObjective, if any, names the objective.\n"
                "  Exit 0 when the objective metric got a value, 4 when not, 2 for a bad\n"
                "  regex or file. Needs no service.\n");
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--all"))
            all = 1;
        else if (!strcmp(argv[i], "--definition")) {
            if (++i == argc) {
                errorf("test-metrics: --definition needs a DefinitionName");
                return EXIT_USAGE;
            }
            defname = argv[i];
        } else if (argv[i][0] != '-' || !strcmp(argv[i], "-")) {
            if (!file)
                file = argv[i];
            else if (!log)
                log = argv[i];
            else {
                errorf("test-metrics: unexpected argument %s", argv[i]);
                return EXIT_USAGE;
            }
        } else {
            errorf("test-metrics: unknown option %s (hpo test-metrics --help)", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!file || !log) {
        errorf("test-metrics: needs JOB.json and LOGFILE (hpo test-metrics --help)");
        return EXIT_USAGE;
    }
    if (!(job = load_json_arg(!strncmp(file, "file://", 7) ? file + 7 : file)))
        goto out;
    /* The 2017 request, the current CreateHyperParameterTuningJob (one
     * TrainingJobDefinition or several TrainingJobDefinitions), or
     * CreateTrainingJob. */
    const json_t *tjd = json_object_get(job, "TrainingJobDefinition");
    const json_t *tjds = json_object_get(job, "TrainingJobDefinitions");
    if (!tjd && json_is_array(tjds) && json_array_size(tjds)) {
        size_t i;
        const json_t *d;
        json_array_foreach(tjds, i, d) {
            const char *dn = json_string_value(json_object_get(d, "DefinitionName"));
            if (!defname || (dn && !strcmp(dn, defname))) {
                tjd = d;
                break;
            }
        }
        if (!tjd) {
            errorf("%s: no TrainingJobDefinitions entry has DefinitionName %s", file, defname);
            goto out;
        }
    } else if (defname) {
        errorf("%s: --definition needs a file with TrainingJobDefinitions", file);
        goto out;
    }
    const json_t *alg = json_object_get(tjd ? tjd : job, "AlgorithmSpecification");
    const json_t *defs = json_object_get(alg, "MetricDefinitions");
    const json_t *cfg = json_object_get(job, "TuningJobConfig");
    const json_t *obj = json_object_get(cfg, "TuningJobObjective");
    if (!cfg)
        obj = json_object_get(json_object_get(job, "HyperParameterTuningJobConfig"),
                              "HyperParameterTuningJobObjective");
    if (json_object_get(tjd, "TuningObjective"))
        obj = json_object_get(tjd, "TuningObjective"); /* a definition's own objective */
    if (!json_is_array(defs) || json_array_size(defs) == 0) {
        errorf("%s: no AlgorithmSpecification.MetricDefinitions", file);
        goto out;
    }
    if (!(ms = metrics_compile(defs, &e))) {
        errorf("%s: %s", file, e.msg);
        goto out;
    }
    const char *objective = json_string_value(json_object_get(obj, "MetricName"));
    if (!objective && cfg)
        objective = metrics_name(ms, 0); /* the 2017 API's default */
    size_t n = metrics_count(ms);
    t.ms = ms;
    t.objective = -1;
    t.all = all;
    t.json = x->g.output_given && !x->g.table;
    for (size_t i = 0; i < n; i++)
        if (objective && !strcmp(metrics_name(ms, i), objective))
            t.objective = (int)i;
    if (objective && t.objective < 0) {
        errorf("%s: the objective metric %s is not among the MetricDefinitions", file, objective);
        goto out;
    }
    t.matches = calloc(n, sizeof *t.matches);
    t.last = calloc(n, sizeof *t.last);
    t.lines = json_array();
    if (!t.matches || !t.last) {
        errorf("out of memory");
        goto out;
    }
    f = strcmp(log, "-") ? fopen(log, "rb") : stdin;
    if (!f) {
        errorf("cannot read %s: %s", log, strerror(errno));
        goto out;
    }
    metrics_lines *ls = calloc(1, sizeof *ls);
    if (!ls) {
        errorf("out of memory");
        goto out;
    }
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        metrics_lines_feed(ls, buf, got, tm_line, &t);
    if (ls->len)
        tm_line(&t, ls->buf, ls->len); /* a last line without a newline */
    free(ls);
    int ok = t.objective >= 0 ? t.matches[t.objective] > 0 : 1;
    if (t.json) {
        json_t *mets = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_pack("{s:s, s:O, s:I, s:b}", "Name", metrics_name(ms, i), "Regex",
                                  json_object_get(json_array_get(defs, i), "Regex"), "Matches",
                                  (json_int_t)t.matches[i], "Objective", (int)i == t.objective);
            if (t.matches[i])
                json_object_set_new(m, "FinalValue", json_real(t.last[i]));
            json_array_append_new(mets, m);
        }
        out = json_pack("{s:O, s:o, s:I, s:b}", "Lines", t.lines, "Metrics", mets, "LinesRead",
                        (json_int_t)t.line, "ObjectiveFound", ok);
        print_json(out);
    } else {
        printf("\n%ld lines read from %s\n%-24s %-8s %-14s %s\n", t.line, log, "metric", "matches",
               "final value", "regex");
        for (size_t i = 0; i < n; i++) {
            char v[32] = "-";
            if (t.matches[i])
                snprintf(v, sizeof v, "%.8g", t.last[i]);
            printf("%-24s %-8ld %-14s %s%s\n", metrics_name(ms, i), t.matches[i], v,
                   json_string_value(json_object_get(json_array_get(defs, i), "Regex")),
                   (int)i == t.objective ? "   <- objective" : "");
        }
        if (!ok)
            printf("\nThe objective metric %s matched no line: every training job printing "
                   "this log would count as failed.\n",
                   objective);
    }
    rc = ok ? EXIT_OK : EXIT_UNSUCCESSFUL;
out:
    if (f && f != stdin)
        fclose(f);
    metrics_free(ms);
    json_decref(job);
    json_decref(out);
    json_decref(t.lines);
    free(t.matches);
    free(t.last);
    return rc;
}

/* ---------- daemon, resolve-images ---------- */

static int cmd_daemon(ctx *x, int argc, char **argv) {
    char dir[PATH_MAX];
    pid_t pid;
    int port;
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf("usage: hpo daemon status|stop\n"
               "  The hpod that hpo starts on its data dir when no endpoint is configured\n"
               "  (hpo tune stops it at the end; other commands leave it running).\n"
               "  status prints its endpoint, pid and data dir (exit 3 when not running);\n"
               "  stop stops it (running training jobs carry on and are adopted next time).\n");
        return argc < 1 ? EXIT_USAGE : EXIT_OK;
    }
    if (default_data_dir(&x->g, dir, sizeof dir)) {
        errorf("no data dir: set HOME, HPO_DATA_DIR or --data-dir");
        return EXIT_USAGE;
    }
    int alive = read_pid_port(dir, &pid, &port) == 0 && is_hpod(pid) && kill(pid, 0) == 0;
    if (!strcmp(argv[0], "status")) {
        if (!alive) {
            printf("not running (data dir %s)\n", dir);
            return EXIT_CONN;
        }
        printf("running: http://127.0.0.1:%d pid %d data dir %s\n", port, (int)pid, dir);
        return EXIT_OK;
    }
    if (!strcmp(argv[0], "stop")) {
        if (alive) {
            stop_hpod(pid, 0);
            printf("stopped hpod pid %d\n", (int)pid);
        } else {
            printf("not running (data dir %s)\n", dir);
        }
        return EXIT_OK;
    }
    errorf("daemon: unknown action %s (status or stop)", argv[0]);
    return EXIT_USAGE;
}

static int cmd_resolve_images(ctx *x, int argc, char **argv) {
    if (argc != 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        printf("usage: hpo resolve-images CATALOG.json > resolved.json\n"
               "  Prints the catalog with every relative program path (an argument that\n"
               "  names an existing file relative to the catalog's directory) made\n"
               "  absolute, ready for hpod --images.\n");
        return argc == 1 ? EXIT_OK : EXIT_USAGE;
    }
    json_t *cat = load_catalog(argv[0]);
    if (!cat)
        return EXIT_USAGE;
    print_json(cat);
    json_decref(cat);
    return EXIT_OK;
}

/* ---------- main ---------- */

/* Takes the global options out of argv (anywhere), leaving the rest in
 * order. Returns -1 on a usage error. */
static int parse_globals(int *argc, char **argv, globals *g) {
    int out = 1;
    const char *e;
    g->self = argv[0];
    g->endpoint = (e = getenv("HPO_ENDPOINT")) && *e ? e : NULL;
    g->account = (e = getenv("HPO_ACCOUNT")) && *e ? e : HPO_DEFAULT_ACCOUNT;
    g->account_given = (e = getenv("HPO_ACCOUNT")) && *e;
    g->region = (e = getenv("AWS_REGION")) && *e           ? e
                : (e = getenv("AWS_DEFAULT_REGION")) && *e ? e
                                                           : HPO_DEFAULT_REGION;
    g->data_dir = (e = getenv("HPO_DATA_DIR")) && *e ? e : NULL;
    g->hpod = (e = getenv("HPO_HPOD")) && *e ? e : NULL;
    g->images = (e = getenv("HPO_IMAGES")) && *e ? e : NULL;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        static const char *const flags[] = {"--endpoint-url", "--account",  "--region", "--profile",
                                            "--output",       "--data-dir", "--hpod",   "--images"};
        int k = -1;
        for (int j = 0; j < (int)(sizeof flags / sizeof *flags); j++)
            if (!strcmp(a, flags[j]))
                k = j;
        if (k < 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            errorf("%s needs a value", a);
            return -1;
        }
        const char *v = argv[++i];
        switch (k) {
        case 0:
            g->endpoint = v;
            break;
        case 1:
            g->account = v;
            g->account_given = 1;
            break;
        case 2:
            g->region = v;
            break;
        case 3:
            g->profile = v;
            break;
        case 4:
            if (strcmp(v, "json") && strcmp(v, "table")) {
                errorf("--output: json or table");
                return -1;
            }
            g->table = !strcmp(v, "table");
            g->output_given = 1;
            break;
        case 5:
            g->data_dir = v;
            break;
        case 6:
            g->hpod = v;
            break;
        case 7:
            g->images = v;
            break;
        }
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

int main(int argc, char **argv) {
    ctx x = {.sigfd = -1};
    int rc = EXIT_USAGE;
    sigset_t mask;
    signal(SIGPIPE, SIG_IGN);
    if (parse_globals(&argc, argv, &x.g))
        return EXIT_USAGE;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        if (argc >= 3 && find_op(argv[2])) {
            usage_op(stdout, find_op(argv[2]));
            return EXIT_OK;
        }
        usage_main(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *cmd = argv[1];
    int sargc = argc - 2;
    char **sargv = argv + 2;
    /* Ctrl-C is read through a signalfd where it matters (no handler state). */
    if (!strcmp(cmd, "tune") || !strcmp(cmd, "watch") || !strcmp(cmd, "logs")) {
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        x.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    }
    /* `list-training-jobs NAME`: the training jobs of tuning job NAME. */
    if (!strcmp(cmd, "list-training-jobs")) {
        for (int i = 0; i < sargc; i++) {
            if (!strncmp(sargv[i], "--", 2)) {
                const op_spec *o = find_op("list-training-jobs");
                int takes = 0;
                for (int k = 0; k < OPT_MAX && o->opts[k].flag; k++)
                    takes |= !strcmp(o->opts[k].flag, sargv[i]);
                if (takes || !strcmp(sargv[i], "--cli-input-json"))
                    i++;
                continue;
            }
            cmd = "list-training-jobs-for-tuning-job";
            break;
        }
    }
    const op_spec *o = find_op(cmd);
    if (o)
        rc = run_op(&x, o, sargc, sargv);
    else if (!strcmp(cmd, "tune"))
        rc = cmd_tune(&x, sargc, sargv);
    else if (!strcmp(cmd, "watch"))
        rc = cmd_watch(&x, sargc, sargv);
    else if (!strcmp(cmd, "logs"))
        rc = cmd_logs(&x, sargc, sargv);
    else if (!strcmp(cmd, "test-metrics"))
        rc = cmd_test_metrics(&x, sargc, sargv);
    else if (!strcmp(cmd, "daemon"))
        rc = cmd_daemon(&x, sargc, sargv);
    else if (!strcmp(cmd, "resolve-images"))
        rc = cmd_resolve_images(&x, sargc, sargv);
    else {
        errorf("unknown command %s (hpo --help lists them)", cmd);
        rc = EXIT_USAGE;
    }
    client_free(x.c);
    embedded_down(&x);
    if (x.sigfd >= 0)
        close(x.sigfd);
    return rc;
}
