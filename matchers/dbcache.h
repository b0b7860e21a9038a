/*
 * dbcache.h - compiled databases on disk: the file `iocstream compile -o`
 * writes and `scan --db` reads, and the cache that makes a second start
 * with the same IOCs take milliseconds.
 *
 * A database file holds everything a scan needs, so loading one parses no
 * feed: the IOC set (every IOC with its metadata and `also` chain), the
 * pattern table, and Hyperscan's serialized database. Format version 5,
 * integers little-endian (the file is for hosts like the one that built it:
 * Hyperscan's bytes are CPU-specific anyway):
 *
 *   header, 192 bytes
 *     0   8  magic "IOCSTRDB"
 *     8   4  format version (IOCS_DBFILE_VERSION)
 *     12  4  header size (192)
 *     16  64 hs_version(), NUL-padded
 *     80  8  CPU features of hs_populate_platform() (HS_CPU_FEATURES_*)
 *     88  4  tuning (HS_TUNE_FAMILY_*)     92  4  zero
 *     96  8  set hash (iocs_dbcache_set_hash())
 *     104 8  IOC count     112 8  pattern count     120 8  overlap
 *     128 8  set section bytes   136 8  pattern section bytes
 *     144 8  Hyperscan section bytes
 *     152 8  Hyperscan binding: a hash, seeded with the set hash, of the
 *            pattern section and of the first and last 64 bytes of the
 *            Hyperscan section (a Hyperscan database is only loaded with
 *            the pattern table it was compiled with)
 *     160 8  record count (IOCs and their `also` records)
 *     168 16 iocs_db_id(), 16 hex digits
 *     184 8  prefix set section bytes (0: none stored)
 *   set section: per IOC, u32 record count (1 + its `also` chain), then
 *     per record: u8 type, i32 severity, i32 confidence, i64 expires,
 *     u32 hs_flags, u16 port, u8 word, then value, feed, provider,
 *     description, reference, source, tags, rule_id, each as u32 length
 *     (0xffffffff: NULL), the bytes and a NUL
 *   pattern section: per pattern u32 ioc, u16 len, u8 kind, left, right
 *   prefix set section: the CIDR prefix set as built (cidr.h,
 *     iocs__cidrset_save()), when the set has CIDR or IPv6 IOCs
 *   Hyperscan section: hs_serialize_database() bytes
 *   trailer: 8-byte checksum of the header and the pattern and prefix set
 *     sections
 *
 * Loading maps the file (MAP_PRIVATE, read-only) and uses it in place: the
 * set's strings point into the set section (they are stored with their
 * NUL), its records are one array, the pattern table and the prefix set are
 * decoded, and
 * hs_deserialize_database() copies the Hyperscan section into its own
 * aligned allocation; the pages of the pattern and Hyperscan sections are
 * then dropped from the mapping (MADV_DONTNEED), which stays, with the set
 * section, until the database is freed. What a file is in the meantime:
 *   - a cache file is ours (owner, mode, a 0700 directory) and is only ever
 *     replaced by rename, so the inode mapped stays as it was: it is used
 *     in place;
 *   - any other file (iocs_dbfile_read(): `scan --db`, a cluster database)
 *     may be cut or rewritten in place while it is used (`cp` over it), and
 *     a file cut in place raises SIGBUS on every page past its end, even
 *     pages of a private mapping already copied on write. Its header, set
 *     and pattern sections are therefore read (pread) into anonymous memory
 *     at their place in the mapping before anything is checked: what was
 *     checked is what is used, and nothing after the load depends on the
 *     file. The Hyperscan section is read from the mapping, once, by
 *     hs_deserialize_database(): a file cut during that copy (tens of
 *     milliseconds) still raises SIGBUS.
 *
 * Nothing in a file is trusted, and every byte is under one checksum: the
 * magic, version, sizes, Hyperscan version and CPU features are checked;
 * the trailer covers the header, the pattern and prefix set sections, the
 * set hash
 * (recomputed over the set section and compared with the header's) covers
 * the set section, and Hyperscan's own CRC32C (in its section's header,
 * checked by hs_deserialize_database() on its copy) covers its bytecode,
 * whose header and unchecked padding the binding covers. These are
 * checksums against damage, not a defence against someone who can write
 * the file. Every record is bounds- and range-checked (every string ends
 * in a NUL inside the section; a value has no NUL inside; a chain's
 * records repeat their IOC's type and value; the counts fit the section
 * sizes); every pattern is range-checked; every index of the prefix set
 * is checked (iocs__cidrset_load()); the scanner still checks every
 * pattern id Hyperscan reports against the pattern count. Only a regular
 * file of at most IOCS_DBFILE_MAX bytes is read. Not checked again: that
 * the values are distinct (the writer's set was, and the set hash says
 * this is its set) and that the stored id is the one iocs_db_compile()
 * would compute (it only names the set in events), and that the prefix
 * set holds the set's ranges (a tree of 1M IOCs' ranges takes ~50 ms to
 * build; a file without the section has it rebuilt). Older versions are
 * -ESTALE: the cache rebuilds them.
 *
 * The cache lives in $XDG_CACHE_HOME/iocstream (else ~/.cache/iocstream):
 *   <set hash>.db    a database file, keyed by iocs_dbcache_set_hash(): a
 *                    hash of the serialized IOC set (values, types and all
 *                    metadata that reaches events), the Hyperscan version and
 *                    the CPU features it was built for
 *   in-<key>.idx     a 32-byte index: key = hash of the input files' paths,
 *                    devices, inodes, sizes, mtimes and ctimes (ns) and of a
 *                    salt (options that shape the set, the built-in pack);
 *                    it names the set hash, so unchanged feeds are not even
 *                    parsed again
 * Files are written to a temporary name and renamed (iocs_write_replace()),
 * so a reader never sees half a file; a bad or mismatched cache file is
 * rebuilt and overwritten. Trust: the directory (created 0700) and its
 * files are used only when they are owned by the running user and not
 * writable by group or others, as ssh does for ~/.ssh; otherwise the cache
 * is not used (res->warn says why) and the set is compiled. Any problem
 * with the cache (a bad, foreign, special or huge file, out of memory while
 * reading it) falls back to compiling. Size: after each store, entries
 * are removed least recently used first (a hit refreshes an entry's
 * mtime) until the cache holds at most max_bytes (IOCS_DBCACHE_MAX by
 * default); temporary files of ours older than IOCS_DBCACHE_STALE_S (left
 * by a killed writer) are removed. Config-time only; nothing is printed.
 */
#ifndef IOCS_DBCACHE_H
#define IOCS_DBCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matchers/db.h"
#include "matchers/ioc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2: port and word per record; 3: IPv6 IOCs have a token trigger; 4: the
 * Hyperscan section bound to the set and pattern table (header 152); 5:
 * loaded in place: record count and id in the header, checksums per
 * section (above) */
#define IOCS_DBFILE_VERSION 5

/* The largest database file read (--db or the cache). */
#define IOCS_DBFILE_MAX (UINT64_C(4) << 30) /* 4 GiB */

/* The default size limit of the cache directory. */
#define IOCS_DBCACHE_MAX (UINT64_C(1) << 30) /* 1 GiB */

/* A temporary file of the cache older than this is a killed writer's. */
#define IOCS_DBCACHE_STALE_S 600

/* The key of a set: 64 bits over its serialized form (every IOC and its
 * metadata, in order), hs_version() and this CPU's Hyperscan features.
 * Returns 0, or -ENOMEM. */
int iocs_dbcache_set_hash(const struct iocs_iocset *set, uint64_t *out);

/*
 * Write db and its set to path, atomically (a temporary file in the same
 * directory, then rename). Returns 0, a negative errno from the file
 * system, or -ENOMEM; errbuf says what failed.
 */
int iocs_dbfile_write(const struct iocs_db *db, const char *path, char *errbuf,
                      size_t errlen);

/*
 * Load the database file at path into *out; the database owns the set it
 * carries and the memory its strings point into (released by
 * iocs_db_free()); nothing of it depends on the file afterwards (see
 * above). want, when non-zero, is the set hash the file must have.
 * Returns 0, a negative errno from open/read, -ENOMEM, or with errbuf
 * saying why:
 *   -EINVAL  not a database file, truncated or corrupt
 *   -ESTALE  a good file made for something else: another format version,
 *            Hyperscan version or CPU, or another set than want
 */
int iocs_dbfile_read(struct iocs_db **out, const char *path, uint64_t want,
                     char *errbuf, size_t errlen);

/* The cache directory: $XDG_CACHE_HOME/iocstream, else
 * $HOME/.cache/iocstream, into buf. Returns 0, or -ENOENT when neither
 * variable is set, or -ENAMETOOLONG. */
int iocs_dbcache_dir(char *buf, size_t cap);

/* Called with done false just before a set of niocs IOCs is compiled and
 * with done true just after (a compile can take minutes: the caller may
 * show progress). */
typedef void (*iocs_compile_fn)(void *ctx, size_t niocs, bool done);

struct iocs_dbcache_opts {
    const char *dir;           /* cache directory */
    const char *const *inputs; /* feed, rule and allowlist files */
    size_t ninputs;
    uint64_t salt;       /* everything else that shapes the set */
    uint64_t max_bytes;  /* the cache's size limit; 0: IOCS_DBCACHE_MAX */
    uint64_t inputs_key; /* iocs_dbcache_inputs_key() taken before the
                            inputs were parsed; 0: none taken */
    iocs_compile_fn on_compile; /* or NULL */
    void *compile_ctx;
};

/*
 * The identity of the inputs now: a hash of the salt and each input's
 * path, device, inode, size, mtime and ctime. Take it before parsing and
 * pass it as o->inputs_key: iocs_dbcache_get() takes it again and caches
 * nothing when an input changed meanwhile. Returns 0 or a negative errno
 * from stat(2).
 */
int iocs_dbcache_inputs_key(const struct iocs_dbcache_opts *o, uint64_t *out);

/* How iocs_dbcache_get() found its database. */
enum iocs_dbcache_how {
    IOCS_DBCACHE_BUILT,   /* compiled; nothing usable was cached */
    IOCS_DBCACHE_REBUILT, /* compiled; the cached file was bad (why says) */
    IOCS_DBCACHE_SET,     /* loaded by set hash (feeds parsed) */
    IOCS_DBCACHE_INPUTS,  /* loaded by the inputs index (nothing parsed) */
};

struct iocs_dbcache_result {
    enum iocs_dbcache_how how;
    int store_err;       /* 0, or why the cache could not be written */
    bool inputs_changed; /* an input changed while parsed: not cached */
    char why[256];       /* why a cached file was not used; "" when none */
    char warn[256];      /* the cache is not trusted (owner, mode): always worth
                            printing; "" when none */
};

/*
 * The fast path: when the inputs index names a set whose file is good,
 * load it into *out (the database owns its set). Returns 0 on a hit,
 * -ENOENT on a miss (a missing, bad or stale index or file; res->why may
 * say which), or -ENOMEM. res may be NULL.
 */
int iocs_dbcache_find(const struct iocs_dbcache_opts *o, struct iocs_db **out,
                      struct iocs_dbcache_result *res);

/*
 * The slow path, once the inputs have been parsed into set: load
 * <set hash>.db when it is good, else compile set and store it (a store
 * failure is only noted in res->store_err); then record the inputs index
 * (when o->ninputs or o->salt say what the inputs are). On success the
 * database owns set (a set the cache did not need is freed). Returns 0, or
 * a negative errno with set still the caller's: what iocs_db_compile()
 * returns (errbuf says why), or -ENOMEM.
 */
int iocs_dbcache_get(const struct iocs_dbcache_opts *o, struct iocs_iocset *set,
                     struct iocs_db **out, struct iocs_dbcache_result *res,
                     char *errbuf, size_t errlen);

/* For fuzzing and tests: iocs_dbfile_read() over bytes in memory. */
int iocs__dbfile_parse(struct iocs_db **out, const void *p, size_t n,
                       uint64_t want, char *errbuf, size_t errlen);

/* For fuzzing and tests: recompute the set hash, the Hyperscan binding
 * (when bind) and the checksum of the file p[0..n) when its header's sizes
 * add up to n, so that changed bytes reach the checks behind them. */
void iocs__dbfile_fixup(void *p, size_t n, bool bind);

/* For fuzzing: a well-formed 32-byte inputs index for key naming hash. */
void iocs__dbcache_index_make(unsigned char *idx, uint64_t key, uint64_t hash);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_DBCACHE_H */
