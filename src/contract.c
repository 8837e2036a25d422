/* contract — the job directory and environment of the SageMaker training
 * contract (see contract.h for the layout, its ownership when the job runs
 * as another user, and the environment). */
#include "contract.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack.h"
#include "util.h"

#define CONTRACT_MAX_ENV 512
#define CONTRACT_PW_BUF 16384  /* getpwuid_r's buffer */
#define CONTRACT_TREE_DEPTH 16 /* deepest directory handed over to the job's user */

/* The parts of the layout that are the program's: with run_as, the job's
 * user's (mode 0700); everything else in the job directory is the daemon's. */
static const char *const user_parts[] = {"input", "model", "output", "checkpoints"};

static int write_json(const char *dir, const char *file, const json_t *j, err_t *e) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = 0;
    if (!s || util_write_file(p, s, strlen(s), UTIL_WRITE_PLAIN))
        rc = err_set(e, ERR_INTERNAL, "cannot write %s: %s", p, strerror(errno));
    free(s);
    return rc;
}

static int link_channel(const char *data_dir, const char *name, const char *uri, err_t *e) {
    char dst[4200];
    struct stat st;
    if (!strncmp(uri, "s3://", 5))
        return 0; /* fetched by channels.c after the layout */
    if (strncmp(uri, "file://", 7))
        return err_set(e, ERR_VALIDATION,
                       "channel %s: only file:// data sources are supported yet, not '%s'", name,
                       uri);
    const char *src = uri + 7;
    if (stat(src, &st))
        return err_set(e, ERR_VALIDATION, "channel %s: %s: %s", name, src, strerror(errno));
    snprintf(dst, sizeof dst, "%s/%s", data_dir, name);
    unlink(dst);
    if (S_ISDIR(st.st_mode)) {
        if (symlink(src, dst) && errno != EEXIST)
            return err_set(e, ERR_INTERNAL, "channel %s: link: %s", name, strerror(errno));
        return 0;
    }
    if (util_mkdir_p(dst, 0))
        return err_set(e, ERR_INTERNAL, "channel %s: mkdir: %s", name, strerror(errno));
    const char *base = strrchr(src, '/');
    char f[4400];
    snprintf(f, sizeof f, "%s/%s", dst, base ? base + 1 : src);
    if (symlink(src, f) && errno != EEXIST)
        return err_set(e, ERR_INTERNAL, "channel %s: link: %s", name, strerror(errno));
    return 0;
}

/* Gives NAME (in dirfd) and, when it is a directory, everything in it to
 * uid:gid, directories mode 0700. Never follows a symlink: a link (a
 * channel's data) changes owner itself (lchown), its target never. The tree
 * is the one contract_prepare() has just made as the daemon, which the job's
 * user cannot reach before this hands it over: nothing can change under it. */
static int chown_tree(int dirfd, const char *name, uid_t uid, gid_t gid, int depth, err_t *e) {
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
        return err_set(e, ERR_INTERNAL, "cannot stat %s: %s", name, strerror(errno));
    if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW))
        return err_set(e, ERR_INTERNAL, "cannot give %s to uid %u: %s", name, (unsigned)uid,
                       strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (depth >= CONTRACT_TREE_DEPTH)
        return err_set(e, ERR_INTERNAL, "%s: nested too deep", name);
    if (fchmodat(dirfd, name, 0700, 0))
        return err_set(e, ERR_INTERNAL, "cannot chmod %s: %s", name, strerror(errno));
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return err_set(e, ERR_INTERNAL, "cannot open %s: %s", name, strerror(saved));
    }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            rc = chown_tree(fd, de->d_name, uid, gid, depth + 1, e);
    closedir(d);
    return rc;
}

/* run_as: the job directory is the daemon's, 0711 (the job's user may pass
 * through it, not list it, nor add or replace an entry), and holds no
 * part of the layout yet (a relaunch removed the old one): each part is
 * made fresh, so nothing the user left behind is written through. */
static int prepare_top(const contract_job *j, err_t *e) {
    char p[4200];
    struct stat st;
    if (util_mkdir_p(j->job_dir, 0))
        return err_set(e, ERR_INTERNAL, "cannot create %s: %s", j->job_dir, strerror(errno));
    if (lstat(j->job_dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return err_set(e, ERR_INTERNAL, "%s is not a directory of uid %u", j->job_dir,
                       (unsigned)geteuid());
    if (chmod(j->job_dir, 0711))
        return err_set(e, ERR_INTERNAL, "cannot chmod %s: %s", j->job_dir, strerror(errno));
    for (size_t i = 0; i < sizeof user_parts / sizeof *user_parts; i++) {
        snprintf(p, sizeof p, "%s/%s", j->job_dir, user_parts[i]);
        if (mkdir(p, 0700))
            return err_set(e, ERR_INTERNAL, "cannot create %s: %s", p,
                           errno == EEXIST ? "it exists already (the job directory is not clean)"
                                           : strerror(errno));
    }
    return 0;
}

/* run_as: hands the program's parts of the layout to the job's user. */
static int hand_over(const contract_job *j, err_t *e) {
    int dfd = open(j->job_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;
    if (dfd < 0)
        return err_set(e, ERR_INTERNAL, "cannot open %s: %s", j->job_dir, strerror(errno));
    for (size_t i = 0; !rc && i < sizeof user_parts / sizeof *user_parts; i++)
        rc = chown_tree(dfd, user_parts[i], j->uid, j->gid, 0, e);
    close(dfd);
    return rc;
}

int contract_prepare(const contract_job *j, err_t *e) {
    char p[4200];
    int rc = 0;
    json_t *rcfg = NULL, *icfg = NULL;
    static const char *const dirs[] = {"input/config", "input/data", "model", "output/data",
                                       "checkpoints"};
    if (j->run_as && (rc = prepare_top(j, e)))
        return rc;
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(p, sizeof p, "%s/%s", j->job_dir, dirs[i]);
        if (util_mkdir_p(p, 0))
            return err_set(e, ERR_INTERNAL, "cannot create %s: %s", p, strerror(errno));
    }
    snprintf(p, sizeof p, "%s/input/config", j->job_dir);
    if ((rc = write_json(p, "hyperparameters.json", j->hyperparameters, e)))
        goto out;
    rcfg = json_pack("{s:s, s:[s], s:s}", "current_host", "algo-1", "hosts", "algo-1",
                     "network_interface_name", "eth0");
    icfg = json_object();
    if (!rcfg || !icfg) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = write_json(p, "resourceconfig.json", rcfg, e)))
        goto out;
    for (size_t i = 0; i < j->def->nchannels; i++) {
        const req_channel *ch = &j->def->channels[i];
        const char *name = ch->name, *uri = ch->uri, *ct = ch->content_type;
        const char *dist = ch->distribution, *rw = ch->record_wrapper;
        const char *mode = ch->input_mode       ? ch->input_mode
                           : j->def->input_mode ? j->def->input_mode
                                                : "File";
        if (!name || !uri)
            continue;
        json_t *c =
            json_pack("{s:s, s:s, s:s}", "TrainingInputMode", mode, "S3DistributionType",
                      dist ? dist : "FullyReplicated", "RecordWrapperType", rw ? rw : "None");
        if (c && ct)
            json_object_set_new(c, "ContentType", json_string(ct));
        if (!c || json_object_set_new(icfg, name, c)) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
        char data[4200];
        snprintf(data, sizeof data, "%s/input/data", j->job_dir);
        if ((rc = link_channel(data, name, uri, e)))
            goto out;
    }
    if ((rc = write_json(p, "inputdataconfig.json", icfg, e)))
        goto out;
    if (j->run_as)
        rc = hand_over(j, e);
out:
    json_decref(rcfg);
    json_decref(icfg);
    return rc;
}

typedef struct {
    char **v;
    size_t n;
    int oom;
} envb;

/* Sets k=val: a key set before is replaced (the last setting wins, one
 * entry per key, whatever a program's getenv does with duplicates). */
static void env_add(envb *b, const char *k, const char *val) {
    if (b->oom)
        return;
    size_t kn = strlen(k), vn = strlen(val), i;
    for (i = 0; i < b->n; i++)
        if (!strncmp(b->v[i], k, kn) && b->v[i][kn] == '=')
            break;
    if (i == b->n && b->n + 1 >= CONTRACT_MAX_ENV)
        return;
    char *s = malloc(kn + vn + 2);
    if (!s) {
        b->oom = 1;
        return;
    }
    memcpy(s, k, kn);
    s[kn] = '=';
    memcpy(s + kn + 1, val, vn + 1);
    if (i < b->n)
        free(b->v[i]);
    else
        b->n++;
    b->v[i] = s;
}

static void env_addf(envb *b, const char *k, const char *root, const char *sub) {
    char v[4200];
    snprintf(v, sizeof v, "%s/%s", root, sub);
    env_add(b, k, v);
}

/* SM_HP_<NAME> / SM_CHANNEL_<NAME>: upper case, non-alphanumerics as '_'. */
static void env_key(char *out, size_t n, const char *prefix, const char *name) {
    size_t i = (size_t)snprintf(out, n, "%s", prefix);
    for (; *name && i + 1 < n; name++)
        out[i++] = isalnum((unsigned char)*name) ? (char)toupper((unsigned char)*name) : '_';
    out[i] = 0;
}

void contract_training_arn(const char *region, const char *account, const char *name, char *out,
                           size_t n) {
    snprintf(out, n, "arn:aws:sagemaker:%s:%s:training-job/%s", region, account, name);
}

void contract_hp_var(const char *name, char *out, size_t n) {
    env_key(out, n, "SM_HP_", name);
}

char **contract_env(const contract_job *j, const char *root) {
    envb b = {calloc(CONTRACT_MAX_ENV, sizeof(char *)), 0, 0};
    json_t *channels = json_array(), *hosts = json_pack("[s]", "algo-1"), *tenv = NULL;
    json_t *dirs = json_object(); /* channel -> directory, for SM_TRAINING_ENV */
    char *s = NULL, key[300], nproc[16];
    if (!b.v || !channels || !hosts || !dirs)
        goto fail;
    /* A clean slate: nothing of the daemon's own environment. */
    env_add(&b, "PATH", CONTRACT_DEFAULT_PATH);
    env_add(&b, "HOME", j->home && j->home[0] ? j->home : root);
    env_add(&b, "LANG", CONTRACT_DEFAULT_LANG);
    env_add(&b, "TZ", CONTRACT_DEFAULT_TZ);
    {
        struct passwd pw, *pwp = NULL;
        char *pwbuf = malloc(CONTRACT_PW_BUF);
        if (!pwbuf)
            goto fail;
        if (getpwuid_r(j->run_as ? j->uid : geteuid(), &pw, pwbuf, CONTRACT_PW_BUF, &pwp) == 0 &&
            pwp) {
            env_add(&b, "USER", pw.pw_name);
            env_add(&b, "LOGNAME", pw.pw_name);
        }
        free(pwbuf);
    }
    env_add(&b, "TRAINING_JOB_NAME", j->job_name);
    if (j->job_arn && j->job_arn[0])
        env_add(&b, "TRAINING_JOB_ARN", j->job_arn);
    env_add(&b, "PYTHONUNBUFFERED", "1");
    env_add(&b, "SM_CURRENT_HOST", "algo-1");
    env_add(&b, "SM_NUM_GPUS", "0");
    snprintf(nproc, sizeof nproc, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    env_add(&b, "SM_NUM_CPUS", nproc);
    env_addf(&b, "SM_MODEL_DIR", root, "model");
    env_addf(&b, "SM_INPUT_DIR", root, "input");
    env_addf(&b, "SM_INPUT_CONFIG_DIR", root, "input/config");
    env_addf(&b, "SM_OUTPUT_DIR", root, "output");
    env_addf(&b, "SM_OUTPUT_DATA_DIR", root, "output/data");
    env_addf(&b, "SM_OUTPUT_INTERMEDIATE_DIR", root, "output/intermediate");
    env_add(&b, "OPENHPO_JOB_DIR", root);
    for (size_t i = 0; i < j->def->nchannels; i++) {
        const char *name = j->def->channels[i].name;
        char sub[300];
        if (!name)
            continue;
        json_array_append_new(channels, json_string(name));
        env_key(key, sizeof key, "SM_CHANNEL_", name);
        snprintf(sub, sizeof sub, "input/data/%s", name);
        env_addf(&b, key, root, sub);
        char dir[4600];
        snprintf(dir, sizeof dir, "%s/%s", root, sub);
        json_object_set_new(dirs, name, json_string(dir));
    }
    if (!(s = json_dumps(channels, JSON_COMPACT)))
        goto fail;
    env_add(&b, "SM_CHANNELS", s);
    free(s);
    if (!(s = json_dumps(hosts, JSON_COMPACT)))
        goto fail;
    env_add(&b, "SM_HOSTS", s);
    free(s);
    if (!(s = json_dumps(j->hyperparameters, JSON_COMPACT | JSON_SORT_KEYS)))
        goto fail;
    env_add(&b, "SM_HPS", s);
    free(s);
    s = NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j->hyperparameters, k, v) {
        env_key(key, sizeof key, "SM_HP_", k);
        env_add(&b, key, json_string_value(v) ? json_string_value(v) : "");
    }
    char md[4200], od[4200], id[4200];
    snprintf(md, sizeof md, "%s/model", root);
    snprintf(od, sizeof od, "%s/output/data", root);
    snprintf(id, sizeof id, "%s/input/config", root);
    tenv = json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:s, s:s, s:s, s:i, s:i}", "job_name",
                     j->job_name, "current_host", "algo-1", "hosts", hosts, "channel_input_dirs",
                     dirs, "channels", channels, "hyperparameters", j->hyperparameters, "model_dir",
                     md, "output_data_dir", od, "input_config_dir", id, "num_cpus", atoi(nproc),
                     "num_gpus", 0);
    if (!tenv || !(s = json_dumps(tenv, JSON_COMPACT | JSON_SORT_KEYS)))
        goto fail;
    env_add(&b, "SM_TRAINING_ENV", s);
    free(s);
    for (size_t i = 0; i < j->def->nenv; i++)
        if (j->def->env[i].key && j->def->env[i].value)
            env_add(&b, j->def->env[i].key, j->def->env[i].value);
    if (b.oom)
        goto fail;
    json_decref(channels);
    json_decref(hosts);
    json_decref(dirs);
    json_decref(tenv);
    return b.v;
fail:
    json_decref(channels);
    json_decref(hosts);
    json_decref(dirs);
    json_decref(tenv);
    contract_env_free(b.v);
    return NULL;
}

void contract_env_free(char **env) {
    if (!env)
        return;
    for (char **p = env; *p; p++)
        free(*p);
    free(env);
}

int contract_pack_model(const char *job_dir, const char *job_name, const char *s3_output_path,
                        char *uri, size_t n, err_t *e) {
    return pack_model(job_dir, job_name, s3_output_path, uri, n, e);
}

int contract_read_failure(const char *job_dir, char *out, size_t n) {
    char p[1100], buf[CONTRACT_FAILURE_MAX + 1];
    size_t len = 0, cap = n - 1 < CONTRACT_FAILURE_MAX ? n - 1 : CONTRACT_FAILURE_MAX;
    struct stat st;
    out[0] = 0;
    snprintf(p, sizeof p, "%s/output/failure", job_dir);
    /* The program's file, read by the daemon: never through a symlink, a
     * hard link (another name of a file the program could not read) or a
     * FIFO (which would block). */
    int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        close(fd);
        return 0;
    }
    while (len < cap) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        buf[--len] = 0;
    snprintf(out, n, "%s", buf);
    return len > 0;
}

/* The last non-empty line of buf[0, len) into out. */
static void last_line(const char *buf, size_t len, char *out, size_t n) {
    out[0] = 0;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    size_t start = len;
    while (start && buf[start - 1] != '\n')
        start--;
    size_t m = len - start < n - 1 ? len - start : n - 1;
    memcpy(out, buf + start, m);
    out[m] = 0;
}

void contract_failure_reason(const char *failure, const char *tail, size_t tail_len,
                             const backend_result *r, char *out, size_t n) {
    char line[CONTRACT_TAIL_MAX + 1];
    if (failure && failure[0]) {
        snprintf(out, n, "%s", failure);
        return;
    }
    if (r->error[0]) {
        snprintf(out, n, "AlgorithmError: %s", r->error);
        return;
    }
    last_line(tail ? tail : "", tail ? tail_len : 0, line, sizeof line);
    if (r->exited)
        snprintf(out, n, "AlgorithmError: training program exited with code %d%s%s", r->code,
                 line[0] ? ": " : "", line);
    else
        snprintf(out, n, "AlgorithmError: training program was killed by signal %d%s%s", r->signal,
                 line[0] ? ": " : "", line);
}
