/* instance — the instance-type table (see instance.h). One row per type:
 * X(name, vCPUs, memory in MiB, GPUs). */
#include "instance.h"

#include <string.h>

#define INSTANCE_TABLE                                                                             \
    X("ml.m4.xlarge", 4, 16384, 0)                                                                 \
    X("ml.m4.2xlarge", 8, 32768, 0)                                                                \
    X("ml.m4.4xlarge", 16, 65536, 0)                                                               \
    X("ml.m4.10xlarge", 40, 163840, 0)                                                             \
    X("ml.m4.16xlarge", 64, 262144, 0)                                                             \
    X("ml.g4dn.xlarge", 4, 16384, 1)                                                               \
    X("ml.g4dn.2xlarge", 8, 32768, 1)                                                              \
    X("ml.g4dn.4xlarge", 16, 65536, 1)                                                             \
    X("ml.g4dn.8xlarge", 32, 131072, 1)                                                            \
    X("ml.g4dn.12xlarge", 48, 196608, 4)                                                           \
    X("ml.g4dn.16xlarge", 64, 262144, 1)                                                           \
    X("ml.m5.large", 2, 8192, 0)                                                                   \
    X("ml.m5.xlarge", 4, 16384, 0)                                                                 \
    X("ml.m5.2xlarge", 8, 32768, 0)                                                                \
    X("ml.m5.4xlarge", 16, 65536, 0)                                                               \
    X("ml.m5.12xlarge", 48, 196608, 0)                                                             \
    X("ml.m5.24xlarge", 96, 393216, 0)                                                             \
    X("ml.c4.xlarge", 4, 7680, 0)                                                                  \
    X("ml.c4.2xlarge", 8, 15360, 0)                                                                \
    X("ml.c4.4xlarge", 16, 30720, 0)                                                               \
    X("ml.c4.8xlarge", 36, 61440, 0)                                                               \
    X("ml.p2.xlarge", 4, 62464, 1)                                                                 \
    X("ml.p2.8xlarge", 32, 499712, 8)                                                              \
    X("ml.p2.16xlarge", 64, 749568, 16)                                                            \
    X("ml.p3.2xlarge", 8, 62464, 1)                                                                \
    X("ml.p3.8xlarge", 32, 249856, 4)                                                              \
    X("ml.p3.16xlarge", 64, 499712, 8)                                                             \
    X("ml.p3dn.24xlarge", 96, 786432, 8)                                                           \
    X("ml.p4d.24xlarge", 96, 1179648, 8)                                                           \
    X("ml.p4de.24xlarge", 96, 1179648, 8)                                                          \
    X("ml.p5.48xlarge", 192, 2097152, 8)                                                           \
    X("ml.p5e.48xlarge", 192, 2097152, 8)                                                          \
    X("ml.p5en.48xlarge", 192, 2097152, 8)                                                         \
    X("ml.c5.xlarge", 4, 8192, 0)                                                                  \
    X("ml.c5.2xlarge", 8, 16384, 0)                                                                \
    X("ml.c5.4xlarge", 16, 32768, 0)                                                               \
    X("ml.c5.9xlarge", 36, 73728, 0)                                                               \
    X("ml.c5.18xlarge", 72, 147456, 0)                                                             \
    X("ml.c5n.xlarge", 4, 10752, 0)                                                                \
    X("ml.c5n.2xlarge", 8, 21504, 0)                                                               \
    X("ml.c5n.4xlarge", 16, 43008, 0)                                                              \
    X("ml.c5n.9xlarge", 36, 98304, 0)                                                              \
    X("ml.c5n.18xlarge", 72, 196608, 0)                                                            \
    X("ml.g5.xlarge", 4, 16384, 1)                                                                 \
    X("ml.g5.2xlarge", 8, 32768, 1)                                                                \
    X("ml.g5.4xlarge", 16, 65536, 1)                                                               \
    X("ml.g5.8xlarge", 32, 131072, 1)                                                              \
    X("ml.g5.16xlarge", 64, 262144, 1)                                                             \
    X("ml.g5.12xlarge", 48, 196608, 4)                                                             \
    X("ml.g5.24xlarge", 96, 393216, 4)                                                             \
    X("ml.g5.48xlarge", 192, 786432, 8)                                                            \
    X("ml.g6.xlarge", 4, 16384, 1)                                                                 \
    X("ml.g6.2xlarge", 8, 32768, 1)                                                                \
    X("ml.g6.4xlarge", 16, 65536, 1)                                                               \
    X("ml.g6.8xlarge", 32, 131072, 1)                                                              \
    X("ml.g6.16xlarge", 64, 262144, 1)                                                             \
    X("ml.g6.12xlarge", 48, 196608, 4)                                                             \
    X("ml.g6.24xlarge", 96, 393216, 4)                                                             \
    X("ml.g6.48xlarge", 192, 786432, 8)                                                            \
    X("ml.g6e.xlarge", 4, 32768, 1)                                                                \
    X("ml.g6e.2xlarge", 8, 65536, 1)                                                               \
    X("ml.g6e.4xlarge", 16, 131072, 1)                                                             \
    X("ml.g6e.8xlarge", 32, 262144, 1)                                                             \
    X("ml.g6e.16xlarge", 64, 524288, 1)                                                            \
    X("ml.g6e.12xlarge", 48, 393216, 4)                                                            \
    X("ml.g6e.24xlarge", 96, 786432, 4)                                                            \
    X("ml.g6e.48xlarge", 192, 1572864, 8)                                                          \
    X("ml.trn1.2xlarge", 8, 32768, 0)                                                              \
    X("ml.trn1.32xlarge", 128, 524288, 0)                                                          \
    X("ml.trn1n.32xlarge", 128, 524288, 0)                                                         \
    X("ml.trn2.48xlarge", 192, 2097152, 0)                                                         \
    X("ml.m6i.large", 2, 8192, 0)                                                                  \
    X("ml.m6i.xlarge", 4, 16384, 0)                                                                \
    X("ml.m6i.2xlarge", 8, 32768, 0)                                                               \
    X("ml.m6i.4xlarge", 16, 65536, 0)                                                              \
    X("ml.m6i.8xlarge", 32, 131072, 0)                                                             \
    X("ml.m6i.12xlarge", 48, 196608, 0)                                                            \
    X("ml.m6i.16xlarge", 64, 262144, 0)                                                            \
    X("ml.m6i.24xlarge", 96, 393216, 0)                                                            \
    X("ml.m6i.32xlarge", 128, 524288, 0)                                                           \
    X("ml.c6i.xlarge", 4, 8192, 0)                                                                 \
    X("ml.c6i.2xlarge", 8, 16384, 0)                                                               \
    X("ml.c6i.8xlarge", 32, 65536, 0)                                                              \
    X("ml.c6i.4xlarge", 16, 32768, 0)                                                              \
    X("ml.c6i.12xlarge", 48, 98304, 0)                                                             \
    X("ml.c6i.16xlarge", 64, 131072, 0)                                                            \
    X("ml.c6i.24xlarge", 96, 196608, 0)                                                            \
    X("ml.c6i.32xlarge", 128, 262144, 0)                                                           \
    X("ml.r5d.large", 2, 16384, 0)                                                                 \
    X("ml.r5d.xlarge", 4, 32768, 0)                                                                \
    X("ml.r5d.2xlarge", 8, 65536, 0)                                                               \
    X("ml.r5d.4xlarge", 16, 131072, 0)                                                             \
    X("ml.r5d.8xlarge", 32, 262144, 0)                                                             \
    X("ml.r5d.12xlarge", 48, 393216, 0)                                                            \
    X("ml.r5d.16xlarge", 64, 524288, 0)                                                            \
    X("ml.r5d.24xlarge", 96, 786432, 0)                                                            \
    X("ml.t3.medium", 2, 4096, 0)                                                                  \
    X("ml.t3.large", 2, 8192, 0)                                                                   \
    X("ml.t3.xlarge", 4, 16384, 0)                                                                 \
    X("ml.t3.2xlarge", 8, 32768, 0)                                                                \
    X("ml.r5.large", 2, 16384, 0)                                                                  \
    X("ml.r5.xlarge", 4, 32768, 0)                                                                 \
    X("ml.r5.2xlarge", 8, 65536, 0)                                                                \
    X("ml.r5.4xlarge", 16, 131072, 0)                                                              \
    X("ml.r5.8xlarge", 32, 262144, 0)                                                              \
    X("ml.r5.12xlarge", 48, 393216, 0)                                                             \
    X("ml.r5.16xlarge", 64, 524288, 0)                                                             \
    X("ml.r5.24xlarge", 96, 786432, 0)                                                             \
    X("ml.p6-b200.48xlarge", 192, 2097152, 8)                                                      \
    X("ml.m7i.large", 2, 8192, 0)                                                                  \
    X("ml.m7i.xlarge", 4, 16384, 0)                                                                \
    X("ml.m7i.2xlarge", 8, 32768, 0)                                                               \
    X("ml.m7i.4xlarge", 16, 65536, 0)                                                              \
    X("ml.m7i.8xlarge", 32, 131072, 0)                                                             \
    X("ml.m7i.12xlarge", 48, 196608, 0)                                                            \
    X("ml.m7i.16xlarge", 64, 262144, 0)                                                            \
    X("ml.m7i.24xlarge", 96, 393216, 0)                                                            \
    X("ml.m7i.48xlarge", 192, 786432, 0)                                                           \
    X("ml.c7i.large", 2, 4096, 0)                                                                  \
    X("ml.c7i.xlarge", 4, 8192, 0)                                                                 \
    X("ml.c7i.2xlarge", 8, 16384, 0)                                                               \
    X("ml.c7i.4xlarge", 16, 32768, 0)                                                              \
    X("ml.c7i.8xlarge", 32, 65536, 0)                                                              \
    X("ml.c7i.12xlarge", 48, 98304, 0)                                                             \
    X("ml.c7i.16xlarge", 64, 131072, 0)                                                            \
    X("ml.c7i.24xlarge", 96, 196608, 0)                                                            \
    X("ml.c7i.48xlarge", 192, 393216, 0)                                                           \
    X("ml.r7i.large", 2, 16384, 0)                                                                 \
    X("ml.r7i.xlarge", 4, 32768, 0)                                                                \
    X("ml.r7i.2xlarge", 8, 65536, 0)                                                               \
    X("ml.r7i.4xlarge", 16, 131072, 0)                                                             \
    X("ml.r7i.8xlarge", 32, 262144, 0)                                                             \
    X("ml.r7i.12xlarge", 48, 393216, 0)                                                            \
    X("ml.r7i.16xlarge", 64, 524288, 0)                                                            \
    X("ml.r7i.24xlarge", 96, 786432, 0)                                                            \
    X("ml.r7i.48xlarge", 192, 1572864, 0)                                                          \
    X("ml.p5.4xlarge", 16, 262144, 1)                                                              \
    X("ml.p6-b300.48xlarge", 192, 4194304, 8)

static const instance_type TABLE[] = {
#define X(name, vcpus, mib, gpus) {name, vcpus, mib, gpus},
    INSTANCE_TABLE
#undef X
};
#define NTYPES (sizeof TABLE / sizeof *TABLE)

const instance_type *instance_lookup(const char *name) {
    if (!name)
        return NULL;
    for (size_t i = 0; i < NTYPES; i++)
        if (!strcmp(TABLE[i].name, name))
            return &TABLE[i];
    return NULL;
}

const instance_type *instance_at(size_t i) {
    return i < NTYPES ? &TABLE[i] : NULL;
}
