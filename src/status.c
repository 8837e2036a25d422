/* status — the state tables of status.h turned into lookups. */
#include "status.h"

#include <string.h>

typedef struct {
    const char *stored, *n17, *ncur;
    int final, stoppable;
} status_row;

static const status_row tuning_rows[] = {
#define X(code, stored, n17, ncur, final, stoppable) {stored, n17, ncur, final, stoppable},
    TUNING_STATUS_TABLE(X)
#undef X
};

static const status_row training_rows[] = {
#define X(code, stored, n17, ncur, final, stoppable) {stored, n17, ncur, final, stoppable},
    TRAINING_STATUS_TABLE(X)
#undef X
};

static const status_row *tuning_row(tuning_status s) {
    return (unsigned)s < TUNING__COUNT ? &tuning_rows[s] : NULL;
}

static const status_row *training_row(training_status s) {
    return (unsigned)s < TRAINING__COUNT ? &training_rows[s] : NULL;
}

const char *tuning_status_text(tuning_status s) {
    return tuning_row(s) ? tuning_row(s)->stored : "";
}
const char *tuning_status_2017(tuning_status s) {
    return tuning_row(s) ? tuning_row(s)->n17 : "";
}
const char *tuning_status_current(tuning_status s) {
    return tuning_row(s) ? tuning_row(s)->ncur : "";
}
const char *training_status_text(training_status s) {
    return training_row(s) ? training_row(s)->stored : "";
}
const char *training_status_2017(training_status s) {
    return training_row(s) ? training_row(s)->n17 : "";
}
const char *training_status_current(training_status s) {
    return training_row(s) ? training_row(s)->ncur : "";
}

int tuning_status_parse(const char *text, tuning_status *s) {
    for (unsigned i = 0; text && i < TUNING__COUNT; i++)
        if (!strcmp(text, tuning_rows[i].stored)) {
            *s = (tuning_status)i;
            return 0;
        }
    return -1;
}

int training_status_parse(const char *text, training_status *s) {
    for (unsigned i = 0; text && i < TRAINING__COUNT; i++)
        if (!strcmp(text, training_rows[i].stored)) {
            *s = (training_status)i;
            return 0;
        }
    return -1;
}

int tuning_status_final(tuning_status s) {
    return tuning_row(s) && tuning_row(s)->final;
}
int tuning_status_stoppable(tuning_status s) {
    return tuning_row(s) && tuning_row(s)->stoppable;
}
int training_status_final(training_status s) {
    return training_row(s) && training_row(s)->final;
}
int training_status_stoppable(training_status s) {
    return training_row(s) && training_row(s)->stoppable;
}

/* One legal-move lookup for both tables: MOVES(X) expands to its pairs. */
#define STATUS_CAN_MOVE(MOVES, row, from, to)                                                      \
    do {                                                                                           \
        if (!row(from) || !row(to))                                                                \
            return 0;                                                                              \
        if (from == to)                                                                            \
            return 1;                                                                              \
        MOVES(STATUS_MOVE_IS)                                                                      \
        return 0;                                                                                  \
    } while (0)
#define STATUS_MOVE_IS(f, t)                                                                       \
    if (from == f && to == t)                                                                      \
        return 1;

int tuning_status_can_move(tuning_status from, tuning_status to) {
    STATUS_CAN_MOVE(TUNING_MOVES, tuning_row, from, to);
}

int training_status_can_move(training_status from, training_status to) {
    STATUS_CAN_MOVE(TRAINING_MOVES, training_row, from, to);
}

int tuning_status_deletable(tuning_status s) {
    return s != TUNING_DELETING && tuning_status_can_move(s, TUNING_DELETING);
}
