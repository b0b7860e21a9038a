/*
 * fuzz_cluster.c - libFuzzer target for the records of pipeline/cluster.h:
 * work units, unit statuses, job metadata and database manifests all come
 * from a NATS server, so from anyone who may publish there.
 *
 * The input goes to every parser. Whatever it holds, no parser may crash or
 * read past it; a record that parses must format again, and the formatted
 * record must parse back to the same struct (a round trip: what a worker
 * accepts, a submitter can write).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[IOCS_CLUSTER_REC_MAX + 1];
    static struct iocs_cluster_unit u, u2;
    struct iocs_cluster_status s, s2;
    struct iocs_cluster_job j, j2;
    struct iocs_cluster_manifest m, m2;
    int n;

    if (iocs_cluster_unit_parse(&u, data, size) == 0) {
        n = iocs_cluster_unit_format(&u, buf, sizeof(buf));
        assert(n > 0);
        assert(iocs_cluster_unit_parse(&u2, buf, (size_t)n) == 0);
        assert(strcmp(u.job, u2.job) == 0 && u.unit == u2.unit &&
               u.start == u2.start && u.end == u2.end && u.line == u2.line &&
               strcmp(u.db, u2.db) == 0 && u.nfiles == u2.nfiles);
        for (uint32_t i = 0; i < u.nfiles; i++)
            assert(strcmp(iocs_cluster_unit_path(&u, i),
                          iocs_cluster_unit_path(&u2, i)) == 0 &&
                   u.files[i].codec == u2.files[i].codec &&
                   u.files[i].size == u2.files[i].size);
    }
    memset(&s, 0, sizeof(s));
    if (iocs_cluster_status_parse(&s, data, size) == 0) {
        n = iocs_cluster_status_format(&s, buf, sizeof(buf));
        assert(n > 0);
        memset(&s2, 0, sizeof(s2));
        assert(iocs_cluster_status_parse(&s2, buf, (size_t)n) == 0);
        assert(s.state == s2.state && s.events == s2.events &&
               s.bytes == s2.bytes && strcmp(s.worker, s2.worker) == 0 &&
               strcmp(s.error, s2.error) == 0);
    }
    if (iocs_cluster_job_parse(&j, data, size) == 0) {
        n = iocs_cluster_job_format(&j, buf, sizeof(buf));
        assert(n > 0);
        assert(iocs_cluster_job_parse(&j2, buf, (size_t)n) == 0);
        assert(j.units == j2.units && j.bytes == j2.bytes &&
               j.allows == j2.allows && j.created == j2.created &&
               strcmp(j.db, j2.db) == 0 && strcmp(j.since, j2.since) == 0 &&
               strcmp(j.until, j2.until) == 0);
    }
    if (iocs_cluster_manifest_parse(&m, data, size) == 0) {
        n = iocs_cluster_manifest_format(&m, buf, sizeof(buf));
        assert(n > 0);
        assert(iocs_cluster_manifest_parse(&m2, buf, (size_t)n) == 0);
        assert(m.size == m2.size && m.chunks == m2.chunks && m.sum == m2.sum);
    }
    return 0;
}
