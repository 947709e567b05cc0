/*
 * libFuzzer target for the FastStream envelope and stream-entry decoders
 * (sdk/src/codec_faststream.c). Input bytes are used three ways:
 *   - as a whole payload for ceb_faststream_unwrap + msg_to_event;
 *   - split at NUL bytes into field/value pairs for the stream-entry
 *     layouts (detect, binary decode, fields as JSON);
 *   - round trip: whatever decodes is re-encoded and must decode again.
 * Built with -fsanitize=fuzzer,address,undefined (CEB_BUILD_FUZZ=ON, clang).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cebridge/cebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_envelope(const uint8_t *data, size_t size)
{
    ceb_faststream_msg m = {0};
    ceb_diag d = {0};
    if (ceb_faststream_unwrap(data, size, &m, &d) < 0)
        return;
    ceb_faststream_wrap w = {"fuzz.raw", "fuzz://src", NULL};
    ceb_decode_opts o = {.strict = false, .default_source = "fuzz://src", .default_type = "t"};
    ceb_event *ev = NULL;
    if (ceb_faststream_msg_to_event(&m, &o, &w, &ev, NULL, &d) == 0) {
        ceb_buf b = {0};
        if (ceb_faststream_encode_event(ev, size & 1, &b) == 0) {
            ceb_faststream_msg back = {0};
            if (ceb_faststream_unwrap(b.data, b.len, &back, NULL) != 0)
                abort();   /* what we encode must decode */
            ceb_faststream_msg_free(&back);
        }
        ceb_buf_free(&b);
        ceb_event_unref(ev);
    }
    if (m.kind != CEB_FASTSTREAM_RAW) {
        ceb_buf b = {0};
        if (ceb_faststream_encode_binary(m.body.data, m.body.len, m.headers, m.nheaders, &b) == 0) {
            ceb_faststream_msg back = {0};
            if (ceb_faststream_decode_binary(b.data, b.len, &back, NULL) != 0 ||
                back.body.len != m.body.len || back.nheaders != m.nheaders)
                abort();
            ceb_faststream_msg_free(&back);
        }
        ceb_buf_free(&b);
    }
    ceb_faststream_msg_free(&m);
}

static void fuzz_fields(const uint8_t *data, size_t size)
{
    ceb_stream_field f[32];
    size_t n = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end && n < 32) {
        const char *a = memchr(p, '\0', (size_t)(end - p));
        const char *ae = a ? a : end;
        const char *v = a ? a + 1 : end;
        const char *b = v < end ? memchr(v, '\0', (size_t)(end - v)) : NULL;
        const char *be = b ? b : end;
        f[n].name = p;
        f[n].name_len = (size_t)(ae - p);
        f[n].value = v;
        f[n].value_len = (size_t)(be - v);
        n++;
        p = b ? b + 1 : end;
    }
    (void)ceb_stream_detect(f, n, "event");
    ceb_diag d = {0};
    ceb_event *ev = NULL;
    ceb_decode_opts o = {.strict = size & 2, .default_source = "fuzz://s", .default_type = "t"};
    if (ceb_stream_decode_binary(f, n, &o, &ev, &d) == 0) {
        ceb_stream_entry e = {0};
        if (ceb_stream_encode_binary(ev, &e) == 0 && e.n > 0)
            (void)ceb_stream_entry_at(&e, e.n - 1);
        ceb_stream_entry_free(&e);
        ceb_event_unref(ev);
    }
    ceb_buf j = {0};
    (void)ceb_stream_fields_to_json(f, n, &j, &d);
    ceb_buf_free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_envelope(data, size);
    fuzz_fields(data, size);
    return 0;
}
