/*
 * fuzz_evtx.c - libFuzzer target for pipeline/codec_evtx.h.
 *
 * Any bytes go, as XML, to the renderer (iocs__evtx_render), whose every
 * line must be JSON that jansson reads. Bytes that start with the .evtx
 * magic are also written to a memfd and read as a file through
 * iocs_evtx_open() (libevtx opens by name: /proc/self/fd/N), every record
 * and recovered record rendered: a damaged file must give warnings, never
 * a crash. Seeds: corpus .evtx files (run with -max_len=1200000) and
 * evtxexport's XML of single records.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include "pipeline/codec_evtx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct iocs_evtx *renderer;

static void check_json(const char *line, size_t len)
{
    json_t *j = json_loadb(line, len, 0, NULL);

    if (!j || memchr(line, '\n', len) || strlen(line) != len)
        abort(); /* the contract: one line of JSON */
    json_decref(j);
}

static void on_warn(void *ctx, int64_t chunk, const char *msg)
{
    (void)chunk;
    if (!msg || !*msg)
        abort();
    (*(unsigned *)ctx)++;
}

static void as_file(const uint8_t *data, size_t size)
{
    struct iocs_evtx *r;
    struct iocs_evtx_record rec;
    char path[64], errbuf[256];
    unsigned warnings = 0;
    size_t done = 0;
    int fd = memfd_create("fuzz_evtx", MFD_CLOEXEC), rc;

    if (fd < 0)
        return;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);

        if (w <= 0)
            goto out;
        done += (size_t)w;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (iocs_evtx_open(&r, path, on_warn, &warnings, errbuf, sizeof(errbuf)) !=
        0)
        goto out;
    while ((rc = iocs_evtx_next(r, &rec)) == 1)
        check_json(rec.line, rec.len);
    if (rc != 0 && rc != -ENOMEM)
        abort();
    iocs_evtx_free(r);
out:
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line;
    size_t len;
    char *xml;

    if (!renderer && iocs__evtx_new_renderer(&renderer) != 0)
        return 0;
    xml = malloc(size + 1);
    if (!xml)
        return 0;
    memcpy(xml, data, size);
    xml[size] = '\0';
    if (iocs__evtx_render(renderer, xml, size, &line, &len) == 0)
        check_json(line, len);
    free(xml);
    if (iocs_evtx_is_evtx(data, size))
        as_file(data, size);
    return 0;
}
