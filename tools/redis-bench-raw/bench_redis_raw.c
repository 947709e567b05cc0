/*
 * bench_redis_raw: the raw rate of a Redis server for the work the redis
 * plugin does, measured with hiredis' blocking API and deep pipelines (a
 * benchmark tool, not plugin code: blocking is fine here).
 *
 *   bench_redis_raw produce PORT STREAM N
 *       XADD STREAM * event <structured CloudEvent>, N entries, pipelined
 *       1000 deep. The events are what `tools/bench redis` feeds the bridge.
 *   bench_redis_raw consume PORT STREAM GROUP N [COUNT]
 *       XGROUP CREATE STREAM GROUP 0, then XREADGROUP COUNT (500) ... >
 *       and one XACK of the batch's ids, the XACK pipelined with the next
 *       XREADGROUP, until N entries are read and acknowledged.
 *   bench_redis_raw pipe PORT STREAM GROUP OUT N [COUNT]
 *       as consume, plus one XADD OUT * <the entry's fields> per entry,
 *       pipelined with the XACK: stream -> stream.
 *
 * Prints one line: "mode=... entries=N seconds=S rate=R" (entries/s, wall).
 * Exit 0, or 1 with a message on stderr.
 */
#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIPELINE 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, redisContext *c, redisReply *r)
{
    fprintf(stderr, "bench_redis_raw: %s: %s\n", what,
            r != NULL && r->type == REDIS_REPLY_ERROR ? r->str
            : c != NULL && c->err ? c->errstr : "unexpected reply");
    return 1;
}

static int get_reply(redisContext *c, redisReply **out, int type, const char *what)
{
    *out = NULL;
    if (redisGetReply(c, (void **)out) != REDIS_OK || *out == NULL ||
        (type >= 0 && (*out)->type != type)) {
        int rc = fail(what, c, *out);
        if (*out != NULL)
            freeReplyObject(*out);
        *out = NULL;
        return rc;
    }
    return 0;
}

static int produce(redisContext *c, const char *stream, long n)
{
    char ev[512];
    long sent = 0, got = 0;
    double t0 = now_s();
    while (got < n) {
        while (sent < n && sent - got < PIPELINE) {
            int len = snprintf(ev, sizeof ev,
                               "{\"specversion\":\"1.0\",\"id\":\"b-%ld\",\"source\":\"/bench\","
                               "\"type\":\"bench.t%ld\",\"subject\":\"s%ld\","
                               "\"time\":\"2024-05-01T12:00:00Z\","
                               "\"datacontenttype\":\"application/json\","
                               "\"data\":{\"i\":%ld,\"msg\":\"hello, world\"}}",
                               sent, sent % 10, sent % 10, sent);
            redisAppendCommand(c, "XADD %s * event %b", stream, ev, (size_t)len);
            sent++;
        }
        redisReply *r;
        if (get_reply(c, &r, REDIS_REPLY_STRING, "XADD") != 0)
            return 1;
        freeReplyObject(r);
        got++;
    }
    double dt = now_s() - t0;
    printf("mode=produce entries=%ld seconds=%.6f rate=%.0f\n", n, dt, (double)n / dt);
    return 0;
}

/* consume (out == NULL) or pipe (out != NULL) */
static int consume(redisContext *c, const char *stream, const char *group, const char *out,
                   long n, long count)
{
    redisReply *r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", stream, group);
    if (r == NULL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0))
        return fail("XGROUP CREATE", c, r);
    freeReplyObject(r);
    const char **argv = malloc((size_t)(count + 3) * sizeof *argv);
    size_t *lens = malloc((size_t)(count + 3) * sizeof *lens);
    if (argv == NULL || lens == NULL)
        return fail("out of memory", NULL, NULL);
    long done = 0;
    long pending_replies = 0;   /* XACK / XADD replies still to read */
    double t0 = now_s();
    redisAppendCommand(c, "XREADGROUP GROUP %s raw COUNT %ld STREAMS %s >", group, count,
                       stream);
    while (done < n) {
        while (pending_replies > 0) {
            if (get_reply(c, &r, -1, out ? "XACK/XADD" : "XACK") != 0)
                return 1;
            if (r->type == REDIS_REPLY_ERROR)
                return fail("XACK/XADD", c, r);
            freeReplyObject(r);
            pending_replies--;
        }
        if (get_reply(c, &r, -1, "XREADGROUP") != 0)
            return 1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            freeReplyObject(r);
            fprintf(stderr, "bench_redis_raw: stream %s ran dry after %ld of %ld entries\n",
                    stream, done, n);
            return 1;
        }
        redisReply *entries = r->element[0]->element[1];
        size_t k = entries->elements;
        argv[0] = "XACK";
        lens[0] = 4;
        argv[1] = stream;
        lens[1] = strlen(stream);
        argv[2] = group;
        lens[2] = strlen(group);
        for (size_t i = 0; i < k; i++) {
            redisReply *e = entries->element[i];
            argv[3 + i] = e->element[0]->str;
            lens[3 + i] = e->element[0]->len;
            if (out != NULL) {
                redisReply *fv = e->element[1];
                const char *xa[3 + 64];
                size_t xl[3 + 64];
                size_t nf = fv->elements < 64 ? fv->elements : 64;
                xa[0] = "XADD";
                xl[0] = 4;
                xa[1] = out;
                xl[1] = strlen(out);
                xa[2] = "*";
                xl[2] = 1;
                for (size_t j = 0; j < nf; j++) {
                    xa[3 + j] = fv->element[j]->str;
                    xl[3 + j] = fv->element[j]->len;
                }
                redisAppendCommandArgv(c, (int)(3 + nf), xa, xl);
                pending_replies++;
            }
        }
        redisAppendCommandArgv(c, (int)(3 + k), argv, lens);
        pending_replies++;
        done += (long)k;
        if (done < n)
            redisAppendCommand(c, "XREADGROUP GROUP %s raw COUNT %ld STREAMS %s >", group,
                               count, stream);
        freeReplyObject(r);
    }
    while (pending_replies > 0) {
        if (get_reply(c, &r, -1, "XACK/XADD") != 0)
            return 1;
        freeReplyObject(r);
        pending_replies--;
    }
    double dt = now_s() - t0;
    printf("mode=%s entries=%ld seconds=%.6f rate=%.0f\n", out ? "pipe" : "consume", done, dt,
           (double)done / dt);
    free(argv);
    free(lens);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_redis_raw produce PORT STREAM N\n"
                        "       bench_redis_raw consume PORT STREAM GROUP N [COUNT]\n"
                        "       bench_redis_raw pipe PORT STREAM GROUP OUT N [COUNT]\n");
        return 2;
    }
    const char *mode = argv[1];
    int port = atoi(argv[2]);
    redisContext *c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err)
        return fail("connect", c, NULL);
    int rc;
    if (strcmp(mode, "produce") == 0) {
        rc = produce(c, argv[3], atol(argv[4]));
    } else if (strcmp(mode, "consume") == 0 && argc >= 6) {
        rc = consume(c, argv[3], argv[4], NULL, atol(argv[5]), argc > 6 ? atol(argv[6]) : 500);
    } else if (strcmp(mode, "pipe") == 0 && argc >= 7) {
        rc = consume(c, argv[3], argv[4], argv[5], atol(argv[6]), argc > 7 ? atol(argv[7]) : 500);
    } else {
        fprintf(stderr, "bench_redis_raw: unknown mode or missing arguments: %s\n", mode);
        rc = 2;
    }
    redisFree(c);
    return rc;
}
