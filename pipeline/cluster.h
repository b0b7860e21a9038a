/*
 * cluster.h - the pieces of `iocstream cluster` that do not talk to NATS:
 * how a job is cut into work units, how a byte range is owned, and the
 * records that travel through JetStream (a work unit, a unit's status, a
 * job's metadata, a stored database's manifest).
 *
 * Sits around the pipeline: cmd_cluster.c plans units with these, publishes
 * the records, and a worker parses them back and scans each unit with
 * iocs_pipeline_run() over one source record (source.h) whose
 * start_offset, end_offset and start_line come from the unit.
 *
 * Units. A compressed or evtx file (codec.h's magic bytes) is never cut,
 * and neither is a plain file of at most unit_size bytes: such whole files
 * share a unit up to unit_size bytes and IOCS_CLUSTER_UNIT_FILES files (the
 * submitter groups them). A larger plain file is cut
 * into ranges of about unit_size bytes; iocs_cluster_plan() reads it once,
 * counting newlines (iocs_count_newlines, a memchr pass), and cuts right
 * after a '\n', so every range starts at a line start and carries the
 * 1-based number of that line: events of a range keep the file's own
 * offsets and line numbers, as a local scan gives them. The worker owns the
 * lines that START in its range [start, end): iocs_cluster_range_own()
 * moves a start that is not at a line start past the partial line, and an
 * end that is not at a line start past the end of its line (the file
 * changed since the plan, or a unit made by another tool); a moved start
 * loses its line number, which the worker then counts itself.
 *
 * Records are text, one "key=value" per line after a first line naming the
 * record and its version; values are percent-escaped (bytes below 0x21,
 * '%', '=', ',' and bytes >= 0x7f as %XX), so a path may hold any byte
 * but NUL. A unit's file is one field "fN=codec,size,path".
 * Unknown keys are ignored (a newer submitter's extra fields); a missing
 * required key, a malformed number or escape, a duplicate key or a record
 * over IOCS_CLUSTER_REC_MAX bytes is -EINVAL. Parsers take untrusted bytes
 * (anything may publish to the stream) and never read past len.
 *
 * Names: a job name is 1..64 of [A-Za-z0-9_-] (it becomes a subject token
 * and a KV key), a database id is 16 lowercase hex digits (iocs_db_id()).
 *
 * Config-time only; nothing is printed here. Thread-safe (no state).
 */
#ifndef IOCS_CLUSTER_H
#define IOCS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IOCS_CLUSTER_UNIT_DEFAULT (256ull << 20) /* bytes per range unit */
#define IOCS_CLUSTER_REC_MAX 65536               /* bytes in one record */
#define IOCS_CLUSTER_JOB_MAX 64                  /* bytes in a job name */
#define IOCS_CLUSTER_PATH_MAX 4096
#define IOCS_CLUSTER_ERR_MAX 512        /* bytes of a status's error text */
#define IOCS_CLUSTER_CHUNK (512u << 10) /* database bytes per KV value */

/* A cut of a plan: a range starts at offset, whose line is `line`. */
struct iocs_cluster_cut {
    uint64_t offset;
    uint64_t line;
};

/*
 * Plan the ranges of the plain file fd of size bytes: cut after the first
 * '\n' at or past every multiple of unit_size from the previous cut. On
 * success *out is a malloc'ed array of *n cuts (free() it), the first
 * {0, 1}; range i is [cut[i].offset, cut[i+1].offset), the last one runs
 * to the end of the file. *lines gets the file's newline count (may be
 * NULL). Reads with pread(2) in 1 MiB blocks. Returns 0, -EINVAL
 * (unit_size 0), -ENOMEM, or a negative errno of pread(2); a file that
 * shrank below size is planned as far as it goes.
 */
int iocs_cluster_plan(int fd, uint64_t size, uint64_t unit_size,
                      struct iocs_cluster_cut **out, size_t *n,
                      uint64_t *lines);

/*
 * The range a worker owns of [*start, *end) in fd of size bytes (end 0:
 * to the end of the file): a start that is not 0 and not right after a
 * '\n' moves past the next '\n' (to size when there is none), an end
 * likewise; then *end is never 0. Returns 1 when the start moved (its line
 * number must be counted again), 0 when not, or a negative errno of
 * pread(2).
 */
int iocs_cluster_range_own(int fd, uint64_t size, uint64_t *start,
                           uint64_t *end);

/* The number of '\n' bytes in fd's [0, upto), into *out. Returns 0 or a
 * negative errno of pread(2) (-EIO when the file is shorter). */
int iocs_cluster_count_lines(int fd, uint64_t upto, uint64_t *out);

/* Whether name is a valid job name (see above). */
bool iocs_cluster_job_ok(const char *name);

/* Whether id is 16 lowercase hex digits. */
bool iocs_cluster_dbid_ok(const char *id);

/*
 * One work unit: whole files (nfiles >= 1; small files share a unit up to
 * unit_size bytes and IOCS_CLUSTER_UNIT_FILES files, so 100k small files
 * are not 100k units), or a byte range of one plain file (nfiles 1, start
 * or end not 0). Paths are stored NUL-terminated, back to back, in
 * paths[]; iocs_cluster_unit_path() finds the i-th.
 */
#define IOCS_CLUSTER_UNIT_FILES 256
struct iocs_cluster_file {
    enum iocs_codec codec;
    uint64_t size; /* when planned */
    uint32_t path; /* offset of its path in paths[] */
};

struct iocs_cluster_unit {
    char job[IOCS_CLUSTER_JOB_MAX + 1];
    uint64_t unit;       /* 0-based index in the job */
    char db[17];         /* database id */
    uint64_t start, end; /* a range: bytes; end 0: to the end of the file */
    uint64_t line;       /* number of the line at start; 0: unknown */
    uint32_t nfiles;
    struct iocs_cluster_file files[IOCS_CLUSTER_UNIT_FILES];
    uint32_t paths_len;
    uint32_t rec_len; /* the record's length, at most (for _add) */
    char paths[IOCS_CLUSTER_REC_MAX / 2]; /* absolute, as the submitter saw
                                             them */
};

/* The i-th file's path (i < u->nfiles). */
static inline const char *
iocs_cluster_unit_path(const struct iocs_cluster_unit *u, uint32_t i)
{
    return u->paths + u->files[i].path;
}

/*
 * Add a whole file to u (its start, end and line stay 0, 0, 1 unless the
 * caller makes it a range). Returns 0, or -ENOSPC when u holds
 * IOCS_CLUSTER_UNIT_FILES files or its paths would not fit in a record
 * (a path escaped may take three times its bytes), or -EINVAL (an empty
 * or too long path).
 */
int iocs_cluster_unit_add(struct iocs_cluster_unit *u, const char *path,
                          enum iocs_codec codec, uint64_t size);

/* Write u into buf as a record. Returns its length, or -ENOSPC (cap too
 * small) or -EINVAL (a field out of range: a bad job name or db id). */
int iocs_cluster_unit_format(const struct iocs_cluster_unit *u, char *buf,
                             size_t cap);

/* Parse a unit record; *u is written only on success (it is large:
 * allocate it). Returns 0, -EINVAL or -ENOMEM. */
int iocs_cluster_unit_parse(struct iocs_cluster_unit *u, const void *p,
                            size_t len);

enum iocs_cluster_state {
    IOCS_CLUSTER_PENDING, /* not in the status bucket: not started */
    IOCS_CLUSTER_RUNNING,
    IOCS_CLUSTER_DONE,
    IOCS_CLUSTER_FAILED,
};

/* "pending", "running", "done", "failed". */
const char *iocs_cluster_state_name(enum iocs_cluster_state s);

/* A unit's status record (bucket IOCSTREAM_STATUS, key JOB.UNIT). */
struct iocs_cluster_status {
    enum iocs_cluster_state state;
    uint64_t events, bytes;
    char worker[128];                 /* host:pid */
    char error[IOCS_CLUSTER_ERR_MAX]; /* failed: why; "" otherwise */
};

int iocs_cluster_status_format(const struct iocs_cluster_status *s, char *buf,
                               size_t cap);
int iocs_cluster_status_parse(struct iocs_cluster_status *s, const void *p,
                              size_t len);

/* A job's metadata (bucket IOCSTREAM_JOBS, key JOB). */
struct iocs_cluster_job {
    uint64_t units;  /* work units published */
    uint64_t bytes;  /* bytes of every source when planned */
    char db[17];     /* database id */
    uint64_t allows; /* allowlist files stored (keys JOB.allow.N) */
    char since[64];  /* --since, "" when none */
    char until[64];  /* --until, "" when none */
    int64_t created; /* submit time, seconds since the epoch */
};

int iocs_cluster_job_format(const struct iocs_cluster_job *j, char *buf,
                            size_t cap);
int iocs_cluster_job_parse(struct iocs_cluster_job *j, const void *p,
                           size_t len);

/* A stored database (bucket IOCSTREAM_DB, key ID.manifest; chunk i at key
 * ID.i, each IOCS_CLUSTER_CHUNK bytes but the last). */
struct iocs_cluster_manifest {
    uint64_t size;   /* bytes of the database file */
    uint64_t chunks; /* (size + CHUNK - 1) / CHUNK, at least 1 */
    uint64_t sum;    /* iocs_source_hash-style FNV-1a 64 of every byte */
};

int iocs_cluster_manifest_format(const struct iocs_cluster_manifest *m,
                                 char *buf, size_t cap);
/* Also checks chunks against size: -EINVAL when they disagree. */
int iocs_cluster_manifest_parse(struct iocs_cluster_manifest *m, const void *p,
                                size_t len);

/* FNV-1a 64 of p[0..n), continuing from h (start with
 * IOCS_CLUSTER_SUM_INIT). */
#define IOCS_CLUSTER_SUM_INIT 0xcbf29ce484222325ull
uint64_t iocs_cluster_sum(uint64_t h, const void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_CLUSTER_H */
