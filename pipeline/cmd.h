/*
 * cmd.h - the subcommands, one cmd_<name>.c each: main.c parses the
 * command line into struct iocs_scan_opts and calls one of these, which
 * prints its diagnostics on stderr and returns the exit status (0, 1 or 2;
 * see each). cmd_load.c holds the IOC-loading glue they share: the
 * loader's options from the command line's, and the printing of what the
 * loader (matchers/load.h, which prints nothing) rejected or failed on.
 */
#ifndef IOCS_CMD_H
#define IOCS_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "matchers/allow.h"
#include "matchers/db.h"
#include "matchers/dbcache.h"
#include "matchers/feed.h"
#include "matchers/load.h"
#include "pipeline/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* `iocstream scan`. Returns, as grep: 0 a hit, 1 no hit, 2 an error
 * (reported; it wins over hits, except with -q and a hit); 128 + the
 * signal after SIGINT or SIGTERM (what was found is written), 128 +
 * SIGPIPE when the output pipe closed (nothing said). */
int iocs_cmd_scan(const struct iocs_scan_opts *o);

/* `iocstream compile`: the IOC options of o into the database file out;
 * prints counts per type and per feed to stdout. Returns 0, or 2. */
int iocs_cmd_compile(const struct iocs_scan_opts *o, const char *out);

/* `iocstream iocs`: with explain, how every entry of the feeds and rule
 * files of o was read; with builtin, the built-in pack. Returns 0, 1 when
 * an entry was skipped (explain), or 2 on error. */
int iocs_cmd_iocs(const struct iocs_scan_opts *o, bool explain, bool builtin);

/* `iocstream decode [FILE]` (NULL or "-": stdin) to stdout. Returns 0, or
 * 2 on error. */
int iocs_cmd_decode(const char *path);

/* `iocstream summary`: one row per IOC of the event files paths[0..n)
 * (none: stdin), as JSON lines or a table. Returns 0, or 2 when a file
 * could not be read or held no events (the others are summarised). */
int iocs_cmd_summary(const char *const *paths, size_t npaths, bool json);

/* cmd_load.c: print "file:line: why" for a rejected line. */
void iocs__cmd_on_reject(void *ctx, const char *file, size_t line,
                         const char *why);

/* The loader's options from the command line's (reject: printed). */
struct iocs_load_opts iocs__cmd_load_opts(const struct iocs_scan_opts *o);

/* A feed's hygiene, one "# path: ..." line to f: loaded per type, skipped
 * per reason, the widest CIDRs (`iocs --explain` and `compile`). */
void iocs__cmd_print_hygiene(FILE *f, const char *path,
                             const struct iocs_feed_report *r);

/* Say why a load failed: "iocstream: [file: ]why" (nothing when the
 * rejected lines were the message). */
void iocs__cmd_print_load_err(int err, const struct iocs_load_err *e);

/* The feeds are read: say what was skipped before the allowlists speak. */
void iocs__cmd_on_feeds_read(void *ctx, const struct iocs_load_report *lr);

/* The database: --db, else the cache (unless --no-cache), else compiled;
 * it owns its set. Returns 0, or 2 after reporting what went wrong. */
int iocs__cmd_get_db(const struct iocs_scan_opts *o, struct iocs_db **out,
                     struct iocs_dbcache_result *res);

/* The allowlists again, for a scan (CIDR IOCs check addresses against
 * them). Returns 0, or 2 after reporting what went wrong. */
int iocs__cmd_load_allow(const struct iocs_scan_opts *o,
                         struct iocs_allow **out);

/* --stats: how the database was got, and cache trouble. */
void iocs__cmd_print_cache(const struct iocs_scan_opts *o,
                           const struct iocs_dbcache_result *r, double secs);

/* `iocstream cluster ...` options besides the scan's. */
struct iocs_cluster_opts {
    const char *nats;   /* --nats URL */
    const char *job;    /* submit: --job NAME; status: NAME or NULL */
    const char *since;  /* submit: --since T (recorded for the job) */
    const char *until;  /* submit: --until T */
    uint64_t unit_size; /* submit: --unit-size (hidden): bytes per range */
    int ack_wait_ms;    /* worker: --ack-wait (hidden): the consumer's */
    bool wait;          /* status: --wait */
    bool no_db_store;   /* submit: --no-db-store (hidden, tests) */
    int test_delay_ms;  /* worker: --test-delay MS (hidden, tests): wait
                           this long between a unit's flush and its ack */
};

/* `cluster submit`: plan the units of o->paths, store the database and the
 * allowlists, record the job, publish the units; prints "job NAME: N
 * units, ...". Returns 0, or 2 (reported; nothing is published when the
 * plan or the database fails). */
int iocs_cmd_cluster_submit(const struct iocs_scan_opts *o,
                            const struct iocs_cluster_opts *co);

/* `cluster worker`: scan units (o: -j and the reader's options) until
 * SIGTERM or SIGINT. Returns 0 after a signal, 2 on an error (reported). */
int iocs_cmd_cluster_worker(const struct iocs_scan_opts *o,
                            const struct iocs_cluster_opts *co);

/* `cluster status [NAME] [--wait]`: one line per job. Returns 0; with
 * --wait, once every unit is done or failed: 0, or 2 when a unit failed;
 * 2 on an error (reported). */
int iocs_cmd_cluster_status(const struct iocs_cluster_opts *co);

/* `cluster events --nats URL NAME [-o FILE]`: every event the job's
 * subject holds, as stored (msgpack, one after another), to FILE or
 * stdout. Returns 0, or 2 on an error (reported). */
int iocs_cmd_cluster_events(const struct iocs_cluster_opts *co,
                            const char *out);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_CMD_H */
