/* request — one typed request under both APIs.
 *
 * A tuning job (CreateTuningJob of the 2017 API, CreateHyperParameterTuningJob
 * of the current one) and a standalone training job (CreateTrainingJob, run
 * as a one-trial tuning job of kind REQ_KIND_TRAINING) are parsed into one C
 * struct, req_tuning. Each API has a parser (wire JSON that has passed
 * validate_request -> struct; every message names the field by that API's own
 * path, from the start) and an emitter (struct -> that API's Describe shapes).
 * The semantic rules are written once, against the struct (request_check):
 * ranges in one place, MaxParallel <= MaxNumber once. Every default and cap
 * of a request is named below.
 *
 * The store keeps the columns it queries plus the original request text and
 * its API; the engine re-parses that text with request_parse() on restart
 * and takes the struct (it never reads wire JSON).
 *
 * Strings in the struct are owned by it (heap, NUL-terminated) and freed by
 * request_free(). */
#ifndef OPENHPO_REQUEST_H
#define OPENHPO_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "space.h"

/* ---- defaults (what a request may leave out) ---- */
#define REQ_DEFAULT_MAX_JOBS 10    /* MaxNumberOfTrainingJobs */
#define REQ_DEFAULT_MAX_PARALLEL 1 /* MaxParallelTrainingJobs (2017 API) */
#define REQ_DEFAULT_STRATEGY REQ_STRATEGY_BAYESIAN
#define REQ_DEFAULT_MAXIMIZE 1 /* TuningJobObjective.Type (2017 API) */
#define REQ_DEFAULT_INSTANCE_COUNT 1
#define REQ_DEFAULT_MAX_RUNTIME 86400 /* StoppingCondition.MaxRuntimeInSeconds */

/* ---- caps (the shape models enforce the API's; these bound the struct) ---- */
#define REQ_MAX_RANGES 30      /* parameter ranges, all lists together */
#define REQ_MAX_VALUES 30      /* values of a categorical range */
#define REQ_MAX_METRICS 40     /* MetricDefinitions */
#define REQ_MAX_CHANNELS 20    /* InputDataConfig */
#define REQ_MAX_STATIC_HP 100  /* StaticHyperParameters / HyperParameters */
#define REQ_MAX_ENV 100        /* Environment */
#define REQ_MAX_TAGS 50        /* Tags */
#define REQ_MAX_DEFINITIONS 10 /* TrainingJobDefinitions */
#define REQ_MAX_PARENTS 5      /* WarmStartConfig.ParentHyperParameterTuningJobs */

/* clang-format off */
/*  code                    API name      */
#define REQ_STRATEGY_TABLE(X)                 \
    X(REQ_STRATEGY_BAYESIAN,  "Bayesian")     \
    X(REQ_STRATEGY_RANDOM,    "Random")       \
    X(REQ_STRATEGY_HYPERBAND, "Hyperband")    \
    X(REQ_STRATEGY_GRID,      "Grid")
/* clang-format on */
typedef enum {
#define X(code, name) code,
    REQ_STRATEGY_TABLE(X)
#undef X
        REQ_STRATEGY__COUNT
} req_strategy;

/* API name of a strategy ("" when out of range); parse: 0 or -1. */
const char *request_strategy_name(req_strategy s);
int request_strategy_parse(const char *name, req_strategy *s);

typedef enum { REQ_KIND_TUNING, REQ_KIND_TRAINING } req_kind;
typedef enum { REQ_EARLY_STOPPING_OFF, REQ_EARLY_STOPPING_AUTO } req_early_stopping;
typedef enum { REQ_WARM_START_NONE, REQ_WARM_START_IDENTICAL, REQ_WARM_START_TRANSFER } req_warm;

typedef struct {
    char *key, *value;
} req_kv;

typedef struct {
    char *name;
    param_kind kind;
    param_scale scale; /* SCALE_AUTO when the request gives none (space resolves it) */
    int scale_given;   /* ScalingType was in the request */
    double lo, hi;     /* Continuous/Integer */
    char *lo_text;     /* MinValue / MaxValue as given (echoed by Describe) */
    char *hi_text;
    char **values; /* Categorical */
    size_t nvalues;
} req_range;

typedef struct {
    char *name, *regex;
} req_metric;

typedef struct {
    char *name;           /* ChannelName */
    char *uri;            /* DataSource.S3DataSource.S3Uri */
    char *data_type;      /* S3DataType (NULL = not given) */
    char *distribution;   /* S3DataDistributionType */
    char *content_type;   /* ContentType */
    char *compression;    /* CompressionType */
    char *record_wrapper; /* RecordWrapperType */
    char *input_mode;     /* InputMode */
} req_channel;

/* One training job definition: the TrainingJobDefinition of a tuning job,
 * an element of TrainingJobDefinitions, or the body of CreateTrainingJob. */
typedef struct {
    char *definition_name; /* DefinitionName, or NULL */
    char *image;           /* AlgorithmSpecification.TrainingImage */
    char *input_mode;      /* AlgorithmSpecification.TrainingInputMode */
    req_metric *metrics;
    size_t nmetrics;
    req_kv *static_hp; /* StaticHyperParameters (HyperParameters for CreateTrainingJob) */
    size_t nstatic;
    req_kv *env; /* Environment */
    size_t nenv;
    req_channel *channels;
    size_t nchannels;
    char *output_path;      /* OutputDataConfig.S3OutputPath */
    char *kms_key;          /* OutputDataConfig.KmsKeyId, or NULL */
    char *checkpoint_uri;   /* CheckpointConfig.S3Uri (s3://), or NULL */
    char *checkpoint_local; /* CheckpointConfig.LocalPath (under /opt/ml/), or NULL */
    char *role_arn;         /* RoleArn */
    char *instance_type;
    int instance_count;
    int volume_gb;
    long max_runtime;   /* StoppingCondition.MaxRuntimeInSeconds (seconds) */
    int retry_attempts; /* RetryStrategy.MaximumRetryAttempts; 0 = none */
    /* Per-definition search (TrainingJobDefinitions); empty for the single
     * definition, whose ranges and objective are the tuning job's. */
    req_range *ranges;
    size_t nranges;
    char *objective_metric; /* TuningObjective.MetricName, or NULL */
    int maximize;
} req_training_def;

typedef struct req_tuning {
    api_flavor api; /* the API that created it */
    req_kind kind;
    char account[16];
    char *name; /* TuningJobName / HyperParameterTuningJobName / TrainingJobName */

    req_strategy strategy;
    long hb_min_resource, hb_max_resource; /* HyperbandStrategyConfig; 0 = not given */
    int has_strategy_config;               /* StrategyConfig was in the request */

    req_range *ranges; /* ParameterRanges, in the order Continuous, Integer, Categorical */
    size_t nranges;
    char *objective_metric; /* objective MetricName (after defaults) */
    int maximize;           /* objective Type Maximize */

    int max_jobs;            /* MaxNumberOfTrainingJobs (after defaults) */
    int max_jobs_given;      /* it was in the request */
    int max_parallel;        /* MaxParallelTrainingJobs (after defaults) */
    long max_clock_hours;    /* 2017 API ResourceLimits.MaxClockTimeInHours; 0 = none */
    long max_tuning_seconds; /* current API ResourceLimits.MaxRuntimeInSeconds; 0 = none */
    req_early_stopping early_stopping; /* TrainingJobEarlyStoppingType */

    /* TuningJobCompletionCriteria */
    int has_target;
    double target_value;       /* TargetObjectiveMetricValue */
    int best_not_improving;    /* BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving; 0 =
                                  none */
    int convergence_detection; /* ConvergenceDetected.CompleteOnConvergence Enabled */
    int convergence_given;     /* ConvergenceDetected.CompleteOnConvergence given (Describe
                                  echoes Disabled too) */

    /* WarmStartConfig */
    req_warm warm_start;
    char **parents; /* parent tuning job names */
    size_t nparents;

    req_kv *tags;
    size_t ntags;

    int seed_given;
    uint64_t seed; /* RandomSeed; a random one is drawn by the api layer when not given */

    req_training_def *defs; /* at least one */
    size_t ndefs;
    int multi_defs; /* given as TrainingJobDefinitions (current API), not TrainingJobDefinition */
} req_tuning;

/* Parses the body of `op` of API `api` into a new struct, applies the
 * defaults, and runs request_check(). `op` is "CreateTuningJob" (API_2017),
 * "CreateHyperParameterTuningJob" or "CreateTrainingJob" (API_CURRENT).
 * `body` (borrowed) has passed validate_request(); `account` is the caller's
 * (for the 2017 API, body.AwsAccountId has been checked against it).
 * Returns 0 with *out set (caller frees with request_free()), or an err_code
 * with e->msg naming the field in that API's path, and *out NULL. */
int request_parse(api_flavor api, const char *op, const json_t *body, const char *account,
                  req_tuning **out, err_t *e);

/* Refuses (ERR_VALIDATION naming it) a member of a 2017 CreateTuningJob
 * body that only the current API has (TuningJobCompletionCriteria,
 * RandomSeed, ResourceLimits.MaxRuntimeInSeconds, RetryStrategy,
 * TrainingJobDefinitions, WarmStartConfig). Called on
 * new requests only, not on stored ones. */
int request_refuse_2017(const json_t *body, err_t *e);

/* The same from stored request text (the engine's restart path). */
int request_parse_text(api_flavor api, const char *op, const char *text, const char *account,
                       req_tuning **out, err_t *e);

/* The semantic rules, once for both APIs (messages in r->api's field paths):
 * finite bounds with MinValue <= MaxValue (and a width that is finite in
 * double precision), scaling fits its range, distinct categorical values,
 * no parameter named twice (across ranges and static hyperparameters), no
 * two names mapping to the same SM_HP_ variable, at least one range (tuning
 * jobs), metric regexes compile with a capture group and have distinct
 * names, the objective names a metric, the strategy's own rules (Grid:
 * categorical ranges only, MaxNumber = the combinations; Hyperband: a
 * MaxResource, early stopping Off), MaxParallel <= MaxNumber, distinct
 * channel names with supported URIs, a supported output path. With
 * TrainingJobDefinitions: distinct DefinitionNames, one objective Type for
 * every definition, no Hyperband, early stopping or warm start; Grid runs
 * each definition's combinations (MaxNumber = their sum). */
int request_check(const req_tuning *r, err_t *e);

void request_free(req_tuning *r);

/* The space of definition `def` (0 for a single definition): its ranges, or
 * the tuning job's. Ranges without ScalingType are Linear in the 2017 API,
 * Auto in the current one. Caller frees with space_free(). NULL with e set. */
space *request_space(const req_tuning *r, size_t def, err_t *e);

/* Hyperband's MaxResource: HyperbandStrategyConfig.MaxResource when given,
 * else the first of the static hyperparameters epochs, numepochs,
 * n-epochs, n_epochs, num_epochs (its name in *from, when from is not
 * NULL); 0 when neither is there, -1 when that hyperparameter is not a
 * whole number >= 1. */
long request_hb_max_resource(const req_tuning *r, const char **from);

/* The objective of definition `def`: metric name (borrowed) and direction. */
const char *request_objective(const req_tuning *r, size_t def, int *maximize);

/* The path of `member` of definition `def` in r->api's own words, written to
 * buf (returned), for messages of checks made outside request.c (the
 * engine's image resolution, say): member "AlgorithmSpecification.TrainingImage"
 * gives "TrainingJobDefinition.AlgorithmSpecification.TrainingImage" (a
 * tuning job), "TrainingJobDefinitions[1].AlgorithmSpecification.TrainingImage"
 * (several definitions) or "AlgorithmSpecification.TrainingImage"
 * (CreateTrainingJob). */
const char *request_def_path(const req_tuning *r, size_t def, const char *member, char *buf,
                             size_t n);

/* The index of the definition whose DefinitionName is `name` (a training
 * job row's definition); a NULL or "" name is definition 0 of a request
 * with one definition. -1 when no definition has that name. */
int request_def_index(const req_tuning *r, const char *name);

/* ---- emitters (struct -> wire JSON; each returns a new reference, NULL
 * when out of memory) ---- */

/* ParameterRanges of definition `def` in API `fl`'s shape (the 2017 API's
 * ranges carry Type); MinValue/MaxValue as given, ScalingType when given. */
json_t *request_ranges_json(const req_tuning *r, size_t def, api_flavor fl);
/* MetricDefinitions [{Name, Regex}], a string map, InputDataConfig. */
json_t *request_metrics_json(const req_training_def *d);
json_t *request_kv_json(const req_kv *kv, size_t n);
json_t *request_channels_json(const req_training_def *d);

/* The request echo of the 2017 API's DescribeTuningJob:
 * {"ParameterRanges", "MetricDefinitions", "ResourceLimits"} (limits after
 * defaults; the caller puts ResourceLimits under ResourcesStats). */
json_t *request_describe_2017(const req_tuning *r);

/* The request echo of the current API's DescribeHyperParameterTuningJob:
 * {"HyperParameterTuningJobConfig", "TrainingJobDefinition"} (the latter
 * with StaticHyperParameters), or, for a request given with
 * TrainingJobDefinitions, {"HyperParameterTuningJobConfig" (without
 * HyperParameterTuningJobObjective and ParameterRanges),
 * "TrainingJobDefinitions" (each with DefinitionName, TuningObjective,
 * HyperParameterRanges, StaticHyperParameters)}. */
json_t *request_describe_current(const req_tuning *r);

/* Definition `def` as DescribeTrainingJob shows it: AlgorithmSpecification,
 * RoleArn, InputDataConfig, OutputDataConfig, ResourceConfig,
 * StoppingCondition, Environment (when given). */
json_t *request_definition_json(const req_tuning *r, size_t def);

#endif
