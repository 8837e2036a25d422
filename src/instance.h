/* instance — the training instance types: what each ResourceConfig.InstanceType
 * gives a job (vCPUs, memory, GPUs), for the backends that size a job by it
 * (Docker's CPU and memory limits and GPU requests, Slurm's --cpus-per-task,
 * --mem, --gpus).
 *
 * The table (instance.c, one X-macro row per type; docs/INSTANCE_TYPES.md
 * lists it) holds AWS's published figures for the SageMaker training types
 * of botocore's TrainingInstanceType. Trainium types (ml.trn*) have Neuron
 * accelerators, not GPUs: they list 0 GPUs. Types whose figures were not
 * known when the table was written (ml.g7*, ml.g7e*, ml.p6e-gb200.36xlarge)
 * are not in it: instance_lookup() returns NULL and a backend runs such a
 * job with no size of its own (it says so in the job's log). */
#ifndef OPENHPO_INSTANCE_H
#define OPENHPO_INSTANCE_H

#include <stddef.h>

typedef struct {
    const char *name; /* "ml.m5.xlarge" */
    int vcpus;
    long memory_mib;
    int gpus;
} instance_type;

/* The row of `name` (static), or NULL when it is not in the table (or NULL). */
const instance_type *instance_lookup(const char *name);

/* The i-th row (static), or NULL past the last. */
const instance_type *instance_at(size_t i);

#endif
