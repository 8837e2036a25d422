#include "throttle.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define THROTTLE_MAX_KEYS_LIMIT ((size_t)1 << 24)
#define NIL UINT32_MAX

/* One tracked key: its bucket, its place in the LRU list and in its hash
 * chain. Nodes live in one array allocated by throttle_new(). */
typedef struct {
    char key[THROTTLE_KEY_MAX + 1];
    uint64_t hash;
    double tokens, last;
    uint32_t prev, next; /* LRU list: head = most recently used */
    uint32_t chain;      /* next node in the same hash bucket */
} tnode;

struct throttle {
    pthread_mutex_t lock;
    double rate, burst;
    size_t max, used;
    tnode *nodes;
    uint32_t *buckets; /* heads of the hash chains */
    size_t nbuckets;   /* a power of two >= 2 * max */
    uint32_t head, tail;
};

static uint64_t key_hash(const char *k, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    return h;
}

throttle *throttle_new_capped(double rate, double burst, size_t max_keys) {
    throttle *t = NULL;
    if (!isfinite(rate) || rate <= 0 || !isfinite(burst) || burst < 1 || max_keys < 1 ||
        max_keys > THROTTLE_MAX_KEYS_LIMIT)
        goto out;
    t = calloc(1, sizeof *t);
    if (!t)
        goto out;
    t->rate = rate;
    t->burst = burst;
    t->max = max_keys;
    t->nbuckets = 1;
    while (t->nbuckets < 2 * max_keys)
        t->nbuckets <<= 1;
    t->nodes = calloc(max_keys, sizeof *t->nodes);
    t->buckets = malloc(t->nbuckets * sizeof *t->buckets);
    if (!t->nodes || !t->buckets || pthread_mutex_init(&t->lock, NULL)) {
        free(t->nodes);
        free(t->buckets);
        free(t);
        t = NULL;
        goto out;
    }
    for (size_t i = 0; i < t->nbuckets; i++)
        t->buckets[i] = NIL;
    t->head = t->tail = NIL;
out:
    return t;
}

throttle *throttle_new(double rate, double burst) {
    return throttle_new_capped(rate, burst, THROTTLE_DEFAULT_MAX_KEYS);
}

static void lru_unlink(throttle *t, uint32_t i) {
    tnode *n = &t->nodes[i];
    if (n->prev != NIL)
        t->nodes[n->prev].next = n->next;
    else
        t->head = n->next;
    if (n->next != NIL)
        t->nodes[n->next].prev = n->prev;
    else
        t->tail = n->prev;
    n->prev = n->next = NIL;
}

static void lru_push_front(throttle *t, uint32_t i) {
    tnode *n = &t->nodes[i];
    n->prev = NIL;
    n->next = t->head;
    if (t->head != NIL)
        t->nodes[t->head].prev = i;
    t->head = i;
    if (t->tail == NIL)
        t->tail = i;
}

static void chain_remove(throttle *t, uint32_t i) {
    uint32_t *p = &t->buckets[t->nodes[i].hash & (t->nbuckets - 1)];
    while (*p != NIL && *p != i)
        p = &t->nodes[*p].chain;
    if (*p == i)
        *p = t->nodes[i].chain;
}

/* The node of `key`, made (with a full bucket, evicting the least recently
 * used key if all are taken) when absent, and moved to the LRU head. */
static tnode *find_or_add(throttle *t, const char *key, double now) {
    size_t n = strnlen(key, THROTTLE_KEY_MAX);
    uint64_t h = key_hash(key, n);
    uint32_t *head = &t->buckets[h & (t->nbuckets - 1)];
    uint32_t i;
    for (i = *head; i != NIL; i = t->nodes[i].chain)
        if (t->nodes[i].hash == h && !strncmp(t->nodes[i].key, key, n) &&
            t->nodes[i].key[n] == '\0')
            break;
    if (i == NIL) {
        if (t->used < t->max) {
            i = (uint32_t)t->used++;
        } else {
            i = t->tail;
            lru_unlink(t, i);
            chain_remove(t, i);
        }
        tnode *nd = &t->nodes[i];
        memcpy(nd->key, key, n);
        nd->key[n] = '\0';
        nd->hash = h;
        nd->tokens = t->burst;
        nd->last = isfinite(now) ? now : 0;
        nd->chain = *head;
        *head = i;
    } else {
        lru_unlink(t, i);
    }
    lru_push_front(t, i);
    return &t->nodes[i];
}

/* Adds what the bucket earned since its last refill. */
static void refill(throttle *t, tnode *nd, double now) {
    if (!isfinite(now) || now <= nd->last)
        return;
    nd->tokens = fmin(t->burst, nd->tokens + (now - nd->last) * t->rate);
    nd->last = now;
}

err_code throttle_take(throttle *t, const char *key, double now) {
    err_code rc = ERR_THROTTLING;
    if (!t)
        return rc;
    pthread_mutex_lock(&t->lock);
    tnode *nd = find_or_add(t, key ? key : "", now);
    refill(t, nd, now);
    if (nd->tokens >= 1) {
        nd->tokens -= 1;
        rc = ERR_OK;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

double throttle_wait(throttle *t, const char *key, double now) {
    double w = 0;
    if (!t)
        return w;
    pthread_mutex_lock(&t->lock);
    tnode *nd = find_or_add(t, key ? key : "", now);
    refill(t, nd, now);
    if (nd->tokens < 1)
        w = (1 - nd->tokens) / t->rate;
    pthread_mutex_unlock(&t->lock);
    return w;
}

size_t throttle_size(throttle *t) {
    size_t n = 0;
    if (!t)
        return n;
    pthread_mutex_lock(&t->lock);
    n = t->used;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void throttle_free(throttle *t) {
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->nodes);
    free(t->buckets);
    free(t);
}
