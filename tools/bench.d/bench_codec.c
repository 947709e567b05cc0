/*
 * bench_codec: the raw cost of the JSON event format, the baseline that
 * `tools/bench core` prints cebridge's throughput against.
 *
 *   bench_codec FILE [ROUNDS]
 *
 * Reads FILE (JSON lines, one CloudEvent per line) into memory, then for
 * each line decodes it with ceb_codec_json_decode() and encodes it again
 * with ceb_codec_json_encode() (what a file source and a file sink do per
 * event, without the daemon), ROUNDS times (default 1). Prints one line:
 *
 *   events=N bytes=B seconds=S events_per_s=R ns_per_event=X
 *
 * Exit status 0, or 1 with a message on stderr (unreadable file, a line
 * that does not decode).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cebridge/cebridge.h>

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file in one allocation of its size (growing a buffer by
   doubling costs a copy per step with some allocators, which is not the
   work measured here). */
static char *bench_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long size = ftell(f);
    rewind(f);
    char *p = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (p == NULL || fread(p, 1, (size_t)size, f) != (size_t)size) {
        free(p);
        fclose(f);
        return NULL;
    }
    fclose(f);
    p[size] = '\0';
    *len = (size_t)size;
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s FILE [ROUNDS]\n", argv[0]);
        return 2;
    }
    long rounds = argc == 3 ? strtol(argv[2], NULL, 10) : 1;
    if (rounds < 1)
        rounds = 1;
    size_t len = 0;
    char *text = bench_slurp(argv[1], &len);
    if (text == NULL) {
        fprintf(stderr, "bench_codec: cannot read %s\n", argv[1]);
        return 1;
    }
    ceb_buf out = {0};
    uint64_t events = 0, bytes_out = 0;
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        const char *p = text, *end = text + len;
        uint64_t lineno = 0;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
            lineno++;
            if (n > 0) {
                ceb_event *ev = NULL;
                ceb_diag d;
                ceb_diag_clear(&d);
                ceb_decode_opts opts = { .strict = false };
                int rc = ceb_codec_json_decode(p, n, &opts, &ev, &d);
                if (rc < 0) {
                    fprintf(stderr, "bench_codec: %s:%" PRIu64 ": %s: %s\n", argv[1], lineno,
                            ceb_strerror(rc), d.message);
                    ceb_buf_free(&out);
                    ceb_free(text);
                    return 1;
                }
                ceb_buf_reset(&out);
                rc = ceb_codec_json_encode(ev, &out);
                ceb_event_unref(ev);
                if (rc < 0) {
                    fprintf(stderr, "bench_codec: encode: %s\n", ceb_strerror(rc));
                    ceb_buf_free(&out);
                    ceb_free(text);
                    return 1;
                }
                bytes_out += out.len + 1;
                events++;
            }
            p += n + 1;
        }
    }
    double secs = bench_now() - t0;
    printf("events=%" PRIu64 " bytes=%" PRIu64 " seconds=%.6f events_per_s=%.0f ns_per_event=%.1f\n",
           events, bytes_out, secs, secs > 0 ? (double)events / secs : 0.0,
           events > 0 ? secs * 1e9 / (double)events : 0.0);
    ceb_buf_free(&out);
    ceb_free(text);
    return 0;
}
