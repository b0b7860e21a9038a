/*
 * main.c - the iocstream command line: parses arguments and hands them to
 * the subcommands (cmd.h). Nothing else happens here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/cmd.h"
#include "pipeline/linetime.h"
#include "pipeline/reader.h"
#include "pipeline/scanner.h"

#define VERSION "0.1.0"

static const char usage_text[] =
    "usage: iocstream scan [options] [PATH...]\n"
    "       iocstream compile -i FEED... [--rules F] [--allow F] -o FILE\n"
    "       iocstream iocs --explain -i FEED... [--rules F] [--allow F]\n"
    "       iocstream iocs --builtin\n"
    "       iocstream decode [FILE]\n"
    "       iocstream summary [--format json|table] [EVENTS...]\n"
    "       iocstream help | --help | --version\n"
    "\n"
    "scan: find indicators of compromise in logs; one event per (line, IOC).\n"
    "  PATH              a file, a directory (walked recursively, sorted), or\n"
    "                    '-' for stdin; none: stdin\n"
    "  -i, --iocs FILE   IOC feed, repeatable; the format is read from the\n"
    "                    content: plain list (one value per line, '#'\n"
    "                    comments, 'value;description'), CSV/TSV with a\n"
    "                    header, Zeek intel, MISP JSON, STIX 2.x bundle.\n"
    "                    Values are refanged and typed (a stated type\n"
    "                    wins); expired ones are skipped. A bad line is\n"
    "                    reported as file:line: why and skipped (see\n"
    "                    --strict).\n"
    "      --rules FILE  regex rule file, repeatable; one rule per line:\n"
    "                    ID SEVERITY /EXPRESSION/FLAGS DESCRIPTION (flags i,\n"
    "                    s, m; Hyperscan syntax; '#' comments)\n"
    "      --builtin     also use the built-in pack. Without -i and --rules\n"
    "                    the pack is used anyway: BeyondTrust incident\n"
    "                    addresses and exploit patterns, edge-device campaign\n"
    "                    indicators (list them with `iocstream iocs\n"
    "                    --builtin`)\n"
    "      --allow FILE  allowlist, repeatable (plain list or MISP "
    "warninglist):\n"
    "                    IOCs it covers are dropped, and addresses it covers\n"
    "                    never alert for a CIDR IOC\n"
    "      --strict      a rejected IOC, rule or allowlist line is an error:\n"
    "                    nothing is scanned\n"
    "      --all-attributes  MISP: take attributes whose to_ids is false too\n"
    "      --strings FILE  text IOCs (>= 6 bytes), one per line: TEXT, or\n"
    "                    'word:TEXT' for whole words\n"
    "      --allow-wide  load CIDRs wider than /8 (IPv4) or /32 (IPv6)\n"
    "      --db FILE     use a database made by `iocstream compile` (no -i,\n"
    "                    --rules or --builtin then; --allow still applies)\n"
    "      --no-cache    neither read nor write the database cache. Without\n"
    "                    it the compiled database is cached in\n"
    "                    $XDG_CACHE_HOME/iocstream (else ~/.cache/iocstream),\n"
    "                    keyed by the IOC set, the Hyperscan version and the\n"
    "                    CPU; unchanged feeds are not parsed again\n"
    "  -o, --output DEST write events to DEST (default: stdout; see\n"
    "                    destinations below); a file name ending in\n"
    "                    .json or .jsonl means --format json\n"
    "      --format F    msgpack (default) or json (one object per line;\n"
    "                    the default when stdout is a terminal and no -o)\n"
    "      --max-line N  cap event.original at N bytes (default 4096)\n"
    "      --slab-size N bytes per read (default 1M; K/M/G suffixes)\n"
    "      --depth N     reads in flight (default 4)\n"
    "      --pack-max N  files of at most N bytes are read whole, several\n"
    "                    at once, into shared slabs and scanned as one job\n"
    "                    (default: a quarter of the slab size; 0: off)\n"
    "  -j, --jobs N      scanning threads (default: the number of cores),\n"
    "                    fed by the thread that reads; events still leave\n"
    "                    in input order. -j 0: scan on the reading thread\n"
    "      --no-uring    read with read(2) instead of io_uring\n"
    "      --direct      O_DIRECT reads for logs not in the page cache\n"
    "                    (replays of cold history); the slab size must be\n"
    "                    a multiple of 4K; files whose file system refuses\n"
    "                    it are read normally\n"
    "  -L, --follow-symlinks  follow symbolic links met while walking\n";

/* scan's time, summary and progress options, and the rest. */
static const char usage_scan_more[] =
    "      --mmap MODE   auto (default), on or off: map regular plain\n"
    "                    files read-only and scan them in place instead\n"
    "                    of copying them; auto maps from -j 8 (where the\n"
    "                    copy would hold the workers back); -j 0 copies\n"
    "      --no-mmap     --mmap off\n"
    "      --tokens M    auto (default), on or off: match the IOCs that are\n"
    "                    whole tokens (addresses, CIDRs, hashes, domains,\n"
    "                    e-mail) with a token index beside Hyperscan; auto:\n"
    "                    from 100k such IOCs (also $IOCSTREAM_TOKENS)\n"
    "      --tz ZONE     the zone of line times that carry none: UTC\n"
    "                    (default), +05:30, -0800 or an IANA name\n"
    "      --since T     only lines whose own time is at or after T\n"
    "      --until T     only lines whose own time is before T (T: RFC 3339\n"
    "                    or a date, 2024-12-01, its midnight in --tz);\n"
    "                    lines with no time of their own are kept\n"
    "      --summary     at the end, one row per IOC (as `iocstream\n"
    "                    summary`) on stdout; with -o FILE the events go to\n"
    "                    FILE, without -o only the summary is written\n"
    "      --follow [--state FILE]  tail -F the PATHs; resume from FILE\n"
    "      --progress, --no-progress  force the status line on stderr on\n"
    "                    or off (default: on when stderr is a terminal)\n"
    "      --stats       print how the database was got, then bytes, lines,\n"
    "                    matches, events, GB/s to stderr\n";

/* scan, continued (C17 only promises string literals of 4095). */
static const char usage_scan[] =
    "      --raw         msgpack only: event.original as bin, the line's\n"
    "                    exact bytes (without it every string is UTF-8, an\n"
    "                    invalid byte written as U+FFFD)\n"
    "  -q, --quiet       print nothing; exit 0 at the first hit\n"
    "  -l, --files-with-matches  print each input with a hit, one a line\n"
    "  -c, --count       print PATH:EVENTS for every input (EVENTS alone\n"
    "                    for one file); -q, -l, -c take no -o or --format\n"
    "  counts (-j, --depth) are plain numbers; sizes take K, M or G.\n"
    "  Long options are spelled out in full (no abbreviations).\n"
    "  SIGINT, SIGTERM: stop reading, write the events found (the output\n"
    "  ends on a whole event), print how far the scan got; exit\n"
    "  128+signal. A live input's events go out within 200 ms of it going\n"
    "  quiet.\n"
    "  exit status (as grep): 0 a hit, 1 no hit, 2 an error (it wins,\n"
    "  except with -q and a hit); 141 when the output pipe closed\n";

/* Where events go (C17 only promises string literals of 4095). */
static const char usage_dest[] =
    "\n"
    "destinations (-o DEST):\n"
    "  FILE, -           msgpack, or JSON lines for a .json/.jsonl name\n"
    "  forward://HOST:PORT, forward+tls://HOST:PORT, unix:///PATH\n"
    "                    Fluent Forward (Fluent Bit, Fluentd, Vector):\n"
    "                    at least once; e.g. -o forward://127.0.0.1:24224\n"
    "  nats://[USER:PASS@]HOST:PORT/SUBJECT, nats+tls://...\n"
    "                    NATS JetStream, one message per event with\n"
    "                    Nats-Msg-Id = event.id: effectively once; a\n"
    "                    stream must capture SUBJECT; e.g.\n"
    "                    -o nats://127.0.0.1:4222/iocs.events\n"
    "      --tag TAG     Forward tag (default iocstream.hit)\n"
    "      --forward-compress  gzip each Forward chunk\n"
    "      --forward-shared-key KEY  Forward shared-key handshake (the key\n"
    "                    shows in ps: prefer the next option)\n"
    "      --forward-shared-key-file F  the key, from F's first line\n"
    "      --tls-ca F    CA bundle to verify the receiver (forward+tls://,\n"
    "                    nats+tls://); default: the system's\n"
    "      --tls-cert F, --tls-key F  client certificate and key\n"
    "      --nats-creds F  NATS credentials file (JWT and NKey seed)\n"
    "      --ack-timeout T  resend what is not acknowledged within T\n"
    "                    (default 10s; T is N, Nms, Ns or Nm)\n"
    "      --drain-timeout T  how long the end of the scan waits for acks\n"
    "                    (default 30s); then the events not acknowledged\n"
    "                    are counted and the exit status is 2\n"
    "  A destination that is slow or away slows the scan (memory stays\n"
    "  bounded); it is reconnected with backoff and what it did not\n"
    "  acknowledge is sent again.\n";

/* The other subcommands (C17 only promises string literals of 4095). */
static const char usage_more[] =
    "\n"
    "compile: validate the IOC inputs (-i, --rules, --allow, --builtin,\n"
    "  --strict, --all-attributes, --tokens as for scan) and write a\n"
    "  database FILE (-o, required) for `scan --db`; prints counts per type\n"
    "  and per feed. The file keeps the --tokens choice.\n"
    "\n"
    "iocs: --explain lists how every entry of the -i feeds and --rules files\n"
    "  was read (reference, type, normalised value, feed, or why it was\n"
    "  skipped; exit 1 when one was skipped); --builtin lists the built-in\n"
    "  pack with the source of every entry.\n"
    "\n"
    "decode: turn a msgpack event stream (FILE or stdin) into JSON lines.\n"
    "\n"
    "summary: one row per IOC of msgpack or JSON event files (or stdin):\n"
    "  indicator, type, feeds, events, first_seen, last_seen, hosts,\n"
    "  files; sorted by first_seen. --format json: one JSON object per line\n"
    "  (the default when stdout is not a terminal); table: aligned text.\n"
    "\n"
    "cluster: one scan over many hosts through NATS JetStream:\n"
    "  iocstream cluster submit --nats URL --job NAME [-i FEED]... [--rules "
    "F]\n"
    "                           [--allow F] [--since T --until T]\n"
    "                           [--unit-size N (256M)] PATH...\n"
    "  iocstream cluster worker --nats URL [-j N]\n"
    "  iocstream cluster status --nats URL [NAME] [--wait]\n"
    "  iocstream cluster events --nats URL NAME [-o FILE]\n"
    "  (README.md, \"Cluster\").\n";

/* Limits and what is refused (README.md, "Safety"). */
static const char usage_safety[] =
    "\n"
    "limits: feeds, rule files and allowlists are read only when they are\n"
    "  regular files of at most 1 GiB; database files (--db, the cache) of\n"
    "  at most 4 GiB. The cache is used only when it is owned by you and\n"
    "  not writable by group or others (made 0700), and is kept under 1 GiB,\n"
    "  least recently used entries removed first. `compile -o` and the\n"
    "  cache replace only a regular file (or make a new one); a scan output\n"
    "  that is also an input is refused (exit 2). Compiling regex rules grows "
    "faster than their\n"
    "  number (about 5 s for 1k rules, 80 s for 4k): precompile them with\n"
    "  `iocstream compile` and scan with --db; progress is shown on a\n"
    "  terminal.\n";

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void usage(FILE *f)
{
    fputs(usage_text, f);
    fputs(usage_scan_more, f);
    fputs(usage_scan, f);
    fputs(usage_dest, f);
    fputs(usage_more, f);
    fputs(usage_safety, f);
}

/* Parse a byte count with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, size_t *out)
{
    unsigned long long v;
    char *end;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -EINVAL;
    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10, end++;
        break;
    case 'm':
    case 'M':
        v <<= 20, end++;
        break;
    case 'g':
    case 'G':
        v <<= 30, end++;
        break;
    default:
        break;
    }
    if (*end != '\0' || v == 0 || v > (1ull << 30))
        return -EINVAL;
    *out = (size_t)v;
    return 0;
}

/* Parse a count: plain decimal digits, no suffix, at most max. */
static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (*s == '\0')
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)
            return -ERANGE;
    }
    *out = v;
    return 0;
}

/*
 * getopt_long(), but a long option must be spelled out: getopt takes any
 * unambiguous prefix (`--follow-sym` for `--follow-symlinks`), which turns a
 * mistyped or missing option into another one. Says which and returns
 * '?' then.
 */
static int getopt_exact(int argc, char **argv, const char *shortopts,
                        const struct option *longopts)
{
    int idx = -1;
    int c = getopt_long(argc, argv, shortopts, longopts, &idx);
    const char *typed;
    size_t n;

    if (c == -1 || c == '?' || idx < 0)
        return c;
    /* The option is the last element read, or the one before when its
     * argument was a separate element. */
    typed = argv[optind - 1];
    if (optarg && optarg == argv[optind - 1] && optind >= 2)
        typed = argv[optind - 2];
    if (strncmp(typed, "--", 2) != 0)
        return c;
    n = strcspn(typed + 2, "=");
    if (n == strlen(longopts[idx].name))
        return c;
    fprintf(stderr,
            "iocstream: unrecognized option '%.*s' (long options are "
            "spelled out: did you mean '--%s'?)\n",
            (int)(n + 2), typed, longopts[idx].name);
    return '?';
}

/* Parse a duration: N or Ns seconds, Nms, Nm minutes; 1 ms to 24 h. */
static int parse_ms(const char *s, int *out)
{
    unsigned long long v;
    char *end;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-' || v > 86400000ull)
        return -EINVAL;
    if (strcmp(end, "ms") == 0)
        ;
    else if (*end == '\0' || strcmp(end, "s") == 0)
        v *= 1000;
    else if (strcmp(end, "m") == 0)
        v *= 60000;
    else
        return -EINVAL;
    if (v == 0 || v > 86400000ull)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

/* Long options without a short form, for every subcommand. */
enum {
    OPT_RULES = 256,
    OPT_ALLOW,
    OPT_BUILTIN,
    OPT_STRICT,
    OPT_ALL_ATTRIBUTES,
    OPT_STRINGS,
    OPT_ALLOW_WIDE,
    OPT_EXPLAIN,
    OPT_FORMAT,
    OPT_MAX_LINE,
    OPT_SLAB,
    OPT_DEPTH,
    OPT_PACK_MAX,
    OPT_NO_URING,
    OPT_DIRECT,
    OPT_NO_MMAP,
    OPT_MMAP,
    OPT_STATS,
    OPT_FOLLOW,
    OPT_STATE,
    OPT_DB,
    OPT_NO_CACHE,
    OPT_TZ,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_SUMMARY,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_TAG,
    OPT_TLS_CA,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_SHARED_KEY,
    OPT_SHARED_KEY_FILE,
    OPT_COMPRESS,
    OPT_NATS_CREDS,
    OPT_ACK_TIMEOUT,
    OPT_DRAIN_TIMEOUT,
    OPT_RAW,
    OPT_TOKENS,
};

/* --tokens or $IOCSTREAM_TOKENS: how IOCs that are whole tokens are
 * matched, for every compile of this process (db.h). Returns 0, or -1
 * after saying what is wrong. */
static int tokens_option(const char *what, const char *arg)
{
    enum iocs_db_tokens mode;

    if (iocs_db_tokens_parse(arg, &mode) < 0) {
        fprintf(stderr, "iocstream: %s: '%s' is not auto, on or off\n", what,
                arg);
        return -1;
    }
    iocs_db_set_tokens_mode(mode);
    return 0;
}

/* The IOC input options that scan, compile and iocs share: the feeds, rule
 * files and allowlists go to the arrays (each as long as argc). Returns
 * whether c was one of them. */
static bool ioc_option(int c, const char *arg, struct iocs_scan_opts *o,
                       const char **feeds, const char **rules,
                       const char **allows)
{
    /* --strings files: a fourth array after allows, each argc long. */
    const char **strings = allows + (rules - feeds);

    switch (c) {
    case 'i':
        feeds[o->nfeeds++] = arg;
        return true;
    case OPT_RULES:
        rules[o->nrules++] = arg;
        return true;
    case OPT_ALLOW:
        allows[o->nallows++] = arg;
        return true;
    case OPT_BUILTIN:
        o->builtin = true;
        return true;
    case OPT_STRICT:
        o->strict = true;
        return true;
    case OPT_ALL_ATTRIBUTES:
        o->all_attributes = true;
        return true;
    case OPT_STRINGS:
        strings[o->nstrings++] = arg;
        o->strings = strings;
        return true;
    case OPT_ALLOW_WIDE:
        o->allow_wide = true;
        return true;
    case OPT_TOKENS:
        return tokens_option("--tokens", arg) == 0;
    default:
        return false;
    }
}

/* The defaults of the reading and scanning options (scan, cluster). */
static void scan_defaults(struct iocs_scan_opts *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    o->max_line = IOCS_MAX_LINE_DEFAULT;
    o->slab_size = IOCS_READER_SLAB_DEFAULT;
    o->pack_max = (size_t)-1;
    o->format = IOCS_FORMAT_MSGPACK;
    o->threads = ncpu > 1 ? (unsigned)ncpu : 0; /* one core: no pool */
}

/*
 * The reading and scanning options that scan and cluster share: returns 1
 * when c was one of them (set in o), 0 when it was not, -1 after saying
 * what was wrong with its argument.
 */
static int scan_option(int c, const char *arg, struct iocs_scan_opts *o)
{
    unsigned long n;

    switch (c) {
    case OPT_NO_CACHE:
        o->no_cache = true;
        return 1;
    case OPT_MAX_LINE:
        if (parse_size(arg, &o->max_line) < 0) {
            fprintf(stderr, "iocstream: --max-line: bad size '%s'\n", arg);
            return -1;
        }
        return 1;
    case OPT_SLAB:
        if (parse_size(arg, &o->slab_size) < 0) {
            fprintf(stderr, "iocstream: --slab-size: bad size '%s' (1 to 1G)\n",
                    arg);
            return -1;
        }
        return 1;
    case OPT_NO_URING:
        o->no_uring = true;
        return 1;
    case 'L':
        o->follow_symlinks = true;
        return 1;
    case 'j':
        /* A count, not a size: "1K" is not 1024 threads. 0: scan on the
         * reading thread. */
        if (parse_count(arg, 1024, &n) < 0) {
            fprintf(stderr, "iocstream: -j: '%s' is not 0..1024\n", arg);
            return -1;
        }
        o->threads = (unsigned)n;
        return 1;
    default:
        return 0;
    }
}

static int parse_scan(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"iocs", required_argument, NULL, 'i'},
        {"rules", required_argument, NULL, OPT_RULES},
        {"allow", required_argument, NULL, OPT_ALLOW},
        {"builtin", no_argument, NULL, OPT_BUILTIN},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"all-attributes", no_argument, NULL, OPT_ALL_ATTRIBUTES},
        {"strings", required_argument, NULL, OPT_STRINGS},
        {"allow-wide", no_argument, NULL, OPT_ALLOW_WIDE},
        {"tokens", required_argument, NULL, OPT_TOKENS},
        {"db", required_argument, NULL, OPT_DB},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"raw", no_argument, NULL, OPT_RAW},
        {"max-line", required_argument, NULL, OPT_MAX_LINE},
        {"slab-size", required_argument, NULL, OPT_SLAB},
        {"depth", required_argument, NULL, OPT_DEPTH},
        {"pack-max", required_argument, NULL, OPT_PACK_MAX},
        {"no-uring", no_argument, NULL, OPT_NO_URING},
        {"direct", no_argument, NULL, OPT_DIRECT},
        {"no-mmap", no_argument, NULL, OPT_NO_MMAP},
        {"mmap", required_argument, NULL, OPT_MMAP},
        {"follow-symlinks", no_argument, NULL, 'L'},
        {"stats", no_argument, NULL, OPT_STATS},
        {"follow", no_argument, NULL, OPT_FOLLOW},
        {"state", required_argument, NULL, OPT_STATE},
        {"jobs", required_argument, NULL, 'j'},
        {"tz", required_argument, NULL, OPT_TZ},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"summary", no_argument, NULL, OPT_SUMMARY},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"silent", no_argument, NULL, 'q'},
        {"files-with-matches", no_argument, NULL, 'l'},
        {"count", no_argument, NULL, 'c'},
        {"tag", required_argument, NULL, OPT_TAG},
        {"tls-ca", required_argument, NULL, OPT_TLS_CA},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"forward-shared-key", required_argument, NULL, OPT_SHARED_KEY},
        {"forward-shared-key-file", required_argument, NULL,
         OPT_SHARED_KEY_FILE},
        {"forward-compress", no_argument, NULL, OPT_COMPRESS},
        {"nats-creds", required_argument, NULL, OPT_NATS_CREDS},
        {"ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT},
        {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct iocs_scan_opts o = {0};
    const char **feeds, **rules, **allows;
    const char *since = NULL, *until = NULL;
    bool format_set = false;
    unsigned long n;
    int c, status;

    feeds = calloc(4 * (size_t)argc, sizeof(*feeds));
    if (!feeds) {
        fputs("iocstream: out of memory\n", stderr);
        return 2;
    }
    rules = feeds + argc;
    allows = rules + argc;
    scan_defaults(&o);
    o.progress = -1;
    optind = 1;
    while ((c = getopt_exact(argc, argv, "i:o:j:Lqlch", longopts)) != -1) {
        if (ioc_option(c, optarg, &o, feeds, rules, allows))
            continue;
        switch (scan_option(c, optarg, &o)) {
        case 1:
            continue;
        case -1:
            goto bad;
        default:
            break;
        }
        switch (c) {
        case OPT_DB:
            o.db = optarg;
            break;
        case 'o':
            o.output = optarg;
            break;
        case OPT_FORMAT:
            format_set = true;
            if (strcmp(optarg, "msgpack") == 0) {
                o.format = IOCS_FORMAT_MSGPACK;
            } else if (strcmp(optarg, "json") == 0) {
                o.format = IOCS_FORMAT_JSON;
            } else {
                fprintf(stderr,
                        "iocstream: --format: '%s' is not msgpack "
                        "or json\n",
                        optarg);
                goto bad;
            }
            break;
        case OPT_RAW:
            o.raw = true;
            break;
        case OPT_DEPTH:
            if (parse_count(optarg, IOCS_READER_NSLABS_DEFAULT, &n) < 0 ||
                n == 0) {
                fprintf(stderr, "iocstream: --depth: '%s' is not 1..%d\n",
                        optarg, IOCS_READER_NSLABS_DEFAULT);
                goto bad;
            }
            o.depth = (unsigned)n;
            break;
        case OPT_PACK_MAX:
            if (strcmp(optarg, "0") == 0)
                o.pack_max = 0; /* off */
            else if (parse_size(optarg, &o.pack_max) < 0) {
                fprintf(stderr, "iocstream: --pack-max: bad size '%s'\n",
                        optarg);
                goto bad;
            }
            break;
        case OPT_DIRECT:
            o.direct = true;
            break;
        case OPT_NO_MMAP:
            o.mmap = IOCS_MMAP_OFF;
            break;
        case OPT_MMAP:
            if (!strcmp(optarg, "auto"))
                o.mmap = IOCS_MMAP_AUTO;
            else if (!strcmp(optarg, "on"))
                o.mmap = IOCS_MMAP_ON;
            else if (!strcmp(optarg, "off"))
                o.mmap = IOCS_MMAP_OFF;
            else {
                fprintf(stderr,
                        "iocstream: --mmap: '%s' is not auto, on or off\n",
                        optarg);
                goto bad;
            }
            break;
        case 'q':
            o.report = IOCS_REPORT_QUIET;
            break;
        case 'l':
            o.report = IOCS_REPORT_LIST;
            break;
        case 'c':
            o.report = IOCS_REPORT_COUNT;
            break;
        case OPT_STATS:
            o.stats = true;
            break;
        case OPT_FOLLOW:
            o.follow = true;
            break;
        case OPT_STATE:
            o.state = optarg;
            break;
        case OPT_TZ:
            /* Sets TZ for an IANA zone: here, before any thread starts. */
            if (iocs_linetime_zone_init(&o.time.zone, optarg) < 0) {
                fprintf(stderr, "iocstream: --tz: unknown zone '%s'\n", optarg);
                goto bad;
            }
            break;
        case OPT_SINCE:
            since = optarg;
            break;
        case OPT_UNTIL:
            until = optarg;
            break;
        case OPT_SUMMARY:
            o.summary = true;
            break;
        case OPT_PROGRESS:
            o.progress = 1;
            break;
        case OPT_NO_PROGRESS:
            o.progress = 0;
            break;
        case OPT_TAG:
            o.tag = optarg;
            break;
        case OPT_TLS_CA:
            o.tls_ca = optarg;
            break;
        case OPT_TLS_CERT:
            o.tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            o.tls_key = optarg;
            break;
        case OPT_SHARED_KEY:
            o.shared_key = optarg;
            break;
        case OPT_SHARED_KEY_FILE:
            o.shared_key_file = optarg;
            break;
        case OPT_COMPRESS:
            o.compress = true;
            break;
        case OPT_NATS_CREDS:
            o.nats_creds = optarg;
            break;
        case OPT_ACK_TIMEOUT:
        case OPT_DRAIN_TIMEOUT:
            if (parse_ms(optarg, c == OPT_ACK_TIMEOUT ? &o.ack_timeout_ms
                                                      : &o.drain_timeout_ms)) {
                fprintf(stderr,
                        "iocstream: --%s: bad duration '%s' (N, Nms, Ns "
                        "or Nm)\n",
                        c == OPT_ACK_TIMEOUT ? "ack-timeout" : "drain-timeout",
                        optarg);
                goto bad;
            }
            break;
        case 'h':
            usage(stdout);
            free(feeds);
            return 0;
        default:
            goto bad;
        }
    }
    if (o.direct && o.slab_size % 4096) {
        fprintf(stderr, "iocstream: --direct needs a --slab-size that is a "
                        "multiple of 4K\n");
        goto bad;
    }
    if (o.shared_key && o.shared_key_file) {
        fputs("iocstream: --forward-shared-key and "
              "--forward-shared-key-file exclude each other\n",
              stderr);
        goto bad;
    }
    if (o.db && (o.nfeeds || o.nrules || o.nstrings || o.builtin)) {
        fputs("iocstream: --db cannot be combined with -i, --rules, "
              "--strings or --builtin\n",
              stderr);
        goto bad;
    }
    if (o.state && !o.follow) {
        fputs("iocstream: --state needs --follow\n", stderr);
        goto bad;
    }
    if (o.follow && (o.report != IOCS_REPORT_EVENTS || o.summary)) {
        fputs("iocstream: --follow writes events until stopped: no -q, -l, "
              "-c or --summary\n",
              stderr);
        goto bad;
    }
    /* After every option: a zone-less --since is in the --tz zone. */
    if (since &&
        iocs_linetime_parse_arg(&o.time.zone, since, &o.time.since) < 0) {
        fprintf(stderr,
                "iocstream: --since: '%s' is not a date or an RFC "
                "3339 time\n",
                since);
        goto bad;
    }
    if (until &&
        iocs_linetime_parse_arg(&o.time.zone, until, &o.time.until) < 0) {
        fprintf(stderr,
                "iocstream: --until: '%s' is not a date or an RFC "
                "3339 time\n",
                until);
        goto bad;
    }
    o.time.has_since = since != NULL;
    o.time.has_until = until != NULL;
    if (o.report != IOCS_REPORT_EVENTS && o.summary) {
        fputs("iocstream: -q, -l and -c print no summary: no --summary "
              "with them\n",
              stderr);
        goto bad;
    }
    if (o.report != IOCS_REPORT_EVENTS && (o.output || format_set)) {
        fputs("iocstream: -q, -l and -c print no events: no -o or --format "
              "with them\n",
              stderr);
        goto bad;
    }
    if (!format_set && o.output && strcmp(o.output, "-") != 0 &&
        (ends_with(o.output, ".json") || ends_with(o.output, ".jsonl")))
        o.format = IOCS_FORMAT_JSON; /* the name says JSON */
    if (!format_set && (!o.output || strcmp(o.output, "-") == 0) &&
        isatty(STDOUT_FILENO))
        o.format = IOCS_FORMAT_JSON;
    if (o.raw && o.format == IOCS_FORMAT_JSON) {
        fputs("iocstream: --raw keeps event.original as msgpack bin: JSON "
              "text cannot hold the raw bytes (use --format msgpack)\n",
              stderr);
        goto bad;
    }
    o.feeds = feeds;
    o.rules = rules;
    o.allows = allows;
    o.paths = (const char *const *)argv + optind;
    o.npaths = (size_t)(argc - optind);
    status = iocs_cmd_scan(&o);
    free(feeds);
    return status;

bad:
    fputs("Try 'iocstream --help'.\n", stderr);
    free(feeds);
    return 2;
}

/* compile and iocs: the IOC options only. */
static int parse_iocs_like(int argc, char **argv, bool compile)
{
    static const struct option longopts[] = {
        {"iocs", required_argument, NULL, 'i'},
        {"rules", required_argument, NULL, OPT_RULES},
        {"allow", required_argument, NULL, OPT_ALLOW},
        {"builtin", no_argument, NULL, OPT_BUILTIN},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"all-attributes", no_argument, NULL, OPT_ALL_ATTRIBUTES},
        {"strings", required_argument, NULL, OPT_STRINGS},
        {"allow-wide", no_argument, NULL, OPT_ALLOW_WIDE},
        {"tokens", required_argument, NULL, OPT_TOKENS},
        {"explain", no_argument, NULL, OPT_EXPLAIN},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct iocs_scan_opts o = {0};
    const char **feeds, **rules, **allows, *out = NULL;
    bool explain = false;
    int c, status = 2;

    feeds = calloc(4 * (size_t)argc, sizeof(*feeds));
    if (!feeds) {
        fputs("iocstream: out of memory\n", stderr);
        return 2;
    }
    rules = feeds + argc;
    allows = rules + argc;
    optind = 1;
    while ((c = getopt_exact(argc, argv, "i:o:h", longopts)) != -1) {
        if (ioc_option(c, optarg, &o, feeds, rules, allows))
            continue;
        switch (c) {
        case OPT_EXPLAIN:
            explain = true;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto done;
        default:
            goto bad;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "iocstream: unexpected argument '%s'\n", argv[optind]);
        goto bad;
    }
    o.feeds = feeds;
    o.rules = rules;
    o.allows = allows;
    if (compile) {
        if (!out || explain) {
            fputs("iocstream: compile needs -o FILE\n", stderr);
            goto bad;
        }
        status = iocs_cmd_compile(&o, out);
    } else {
        if (out || (!explain && !o.builtin) ||
            (explain && o.nfeeds + o.nrules + o.nstrings == 0)) {
            fputs("iocstream: iocs needs --explain -i FEED... or --builtin\n",
                  stderr);
            goto bad;
        }
        status = iocs_cmd_iocs(&o, explain, o.builtin);
    }
done:
    free(feeds);
    return status;

bad:
    fputs("Try 'iocstream --help'.\n", stderr);
    free(feeds);
    return 2;
}

static int parse_summary(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = !isatty(STDOUT_FILENO);
    int c;

    optind = 1;
    while ((c = getopt_exact(argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case OPT_FORMAT:
            if (strcmp(optarg, "json") == 0) {
                json = true;
            } else if (strcmp(optarg, "table") == 0) {
                json = false;
            } else {
                fprintf(stderr,
                        "iocstream: --format: '%s' is not json or table\n",
                        optarg);
                goto bad;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            goto bad;
        }
    }
    return iocs_cmd_summary((const char *const *)argv + optind,
                            (size_t)(argc - optind), json);
bad:
    fputs("Try 'iocstream --help'.\n", stderr);
    return 2;
}

/* Started with fd 0, 1 or 2 closed, the first file opened would take its
 * number: warnings would land in the -o file. Put /dev/null there. */
static void reopen_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        int nfd;

        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd < 0)
            _exit(2); /* nowhere to say it */
        if (nfd != fd) {
            /* A lower one was closed too and is now /dev/null. */
            if (dup2(nfd, fd) < 0)
                _exit(2);
            close(nfd);
        }
    }
}

/* cluster submit|worker|status: the IOC options (submit), -j and the
 * reader's options (worker), and the cluster's own. */
static int parse_cluster(int argc, char **argv)
{
    enum {
        OPT_C_NATS = 512,
        OPT_C_JOB,
        OPT_C_SINCE,
        OPT_C_UNTIL,
        OPT_C_UNIT_SIZE,
        OPT_C_ACK_WAIT,
        OPT_C_WAIT,
        OPT_C_NO_DB_STORE,
        OPT_C_TEST_DELAY,
    };
    static const struct option longopts[] = {
        {"nats", required_argument, NULL, OPT_C_NATS},
        {"job", required_argument, NULL, OPT_C_JOB},
        {"since", required_argument, NULL, OPT_C_SINCE},
        {"until", required_argument, NULL, OPT_C_UNTIL},
        {"unit-size", required_argument, NULL, OPT_C_UNIT_SIZE},
        {"ack-wait", required_argument, NULL, OPT_C_ACK_WAIT},
        {"wait", no_argument, NULL, OPT_C_WAIT},
        {"no-db-store", no_argument, NULL, OPT_C_NO_DB_STORE},
        {"test-delay", required_argument, NULL, OPT_C_TEST_DELAY},
        {"iocs", required_argument, NULL, 'i'},
        {"rules", required_argument, NULL, OPT_RULES},
        {"allow", required_argument, NULL, OPT_ALLOW},
        {"builtin", no_argument, NULL, OPT_BUILTIN},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"all-attributes", no_argument, NULL, OPT_ALL_ATTRIBUTES},
        {"tokens", required_argument, NULL, OPT_TOKENS},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"max-line", required_argument, NULL, OPT_MAX_LINE},
        {"slab-size", required_argument, NULL, OPT_SLAB},
        {"no-uring", no_argument, NULL, OPT_NO_URING},
        {"follow-symlinks", no_argument, NULL, 'L'},
        {"jobs", required_argument, NULL, 'j'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    struct iocs_cluster_opts co = {.unit_size = 256u << 20,
                                   .ack_wait_ms = 60000};
    struct iocs_scan_opts o = {0};
    const char **feeds, **rules, **allows, *verb;
    unsigned long n;
    size_t v;
    int c, status = 2;

    if (argc < 2) {
        fputs("iocstream: cluster needs submit, worker or status\n", stderr);
        return 2;
    }
    verb = argv[1];
    argc--;
    argv++;
    feeds = calloc(4 * (size_t)argc, sizeof(*feeds));
    if (!feeds) {
        fputs("iocstream: out of memory\n", stderr);
        return 2;
    }
    rules = feeds + argc;
    allows = rules + argc;
    scan_defaults(&o);
    optind = 1;
    while ((c = getopt_exact(argc, argv, "i:j:o:Lh", longopts)) != -1) {
        if (ioc_option(c, optarg, &o, feeds, rules, allows))
            continue;
        switch (scan_option(c, optarg, &o)) {
        case 1:
            continue;
        case -1:
            goto bad;
        default:
            break;
        }
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case OPT_C_NATS:
            co.nats = optarg;
            break;
        case OPT_C_JOB:
            co.job = optarg;
            break;
        case OPT_C_SINCE:
            co.since = optarg;
            break;
        case OPT_C_UNTIL:
            co.until = optarg;
            break;
        case OPT_C_UNIT_SIZE:
            if (parse_size(optarg, &v) < 0) {
                fprintf(stderr, "iocstream: --unit-size: bad size '%s'\n",
                        optarg);
                goto bad;
            }
            co.unit_size = v;
            break;
        case OPT_C_ACK_WAIT:
            if (parse_count(optarg, 3600, &n) < 0 || n == 0) {
                fprintf(stderr,
                        "iocstream: --ack-wait: '%s' is not 1..3600 "
                        "seconds\n",
                        optarg);
                goto bad;
            }
            co.ack_wait_ms = (int)n * 1000;
            break;
        case OPT_C_WAIT:
            co.wait = true;
            break;
        case OPT_C_NO_DB_STORE:
            co.no_db_store = true;
            break;
        case OPT_C_TEST_DELAY:
            if (parse_count(optarg, 600000, &n) < 0) {
                fprintf(stderr, "iocstream: --test-delay: bad '%s'\n", optarg);
                goto bad;
            }
            co.test_delay_ms = (int)n;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto done;
        default:
            goto bad;
        }
    }
    if (!co.nats) {
        fprintf(stderr, "iocstream: cluster %s needs --nats URL\n", verb);
        goto bad;
    }
    o.feeds = feeds;
    o.rules = rules;
    o.allows = allows;
    o.paths = (const char *const *)argv + optind;
    o.npaths = (size_t)(argc - optind);
    if (strcmp(verb, "submit") == 0) {
        if (!co.job) {
            fputs("iocstream: cluster submit needs --job NAME\n", stderr);
            goto bad;
        }
        status = iocs_cmd_cluster_submit(&o, &co);
    } else if (strcmp(verb, "worker") == 0) {
        if (o.npaths) {
            fprintf(stderr, "iocstream: unexpected argument '%s'\n",
                    argv[optind]);
            goto bad;
        }
        status = iocs_cmd_cluster_worker(&o, &co);
    } else if (strcmp(verb, "status") == 0 || strcmp(verb, "events") == 0) {
        if (o.npaths > 1) {
            fprintf(stderr, "iocstream: unexpected argument '%s'\n",
                    argv[optind + 1]);
            goto bad;
        }
        if (o.npaths == 1)
            co.job = o.paths[0];
        if (verb[0] == 'e')
            status = iocs_cmd_cluster_events(&co, output);
        else
            status = iocs_cmd_cluster_status(&co);
    } else {
        fprintf(stderr,
                "iocstream: cluster: '%s' is not submit, worker, status "
                "or events\n",
                verb);
        goto bad;
    }
done:
    free(feeds);
    return status;

bad:
    fputs("Try 'iocstream --help'.\n", stderr);
    free(feeds);
    return 2;
}

int main(int argc, char **argv)
{
    const char *tokens = getenv("IOCSTREAM_TOKENS");

    reopen_std_fds();
    if (tokens && tokens[0] && tokens_option("IOCSTREAM_TOKENS", tokens) < 0)
        return 2;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "scan") == 0)
        return parse_scan(argc - 1, argv + 1);
    if (strcmp(argv[1], "compile") == 0)
        return parse_iocs_like(argc - 1, argv + 1, true);
    if (strcmp(argv[1], "iocs") == 0)
        return parse_iocs_like(argc - 1, argv + 1, false);
    if (strcmp(argv[1], "cluster") == 0)
        return parse_cluster(argc - 1, argv + 1);
    if (strcmp(argv[1], "summary") == 0)
        return parse_summary(argc - 1, argv + 1);
    if (strcmp(argv[1], "decode") == 0) {
        if (argc > 3 || (argc == 3 && strcmp(argv[2], "--help") == 0)) {
            usage(argc > 3 ? stderr : stdout);
            return argc > 3 ? 2 : 0;
        }
        return iocs_cmd_decode(argc == 3 ? argv[2] : NULL);
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("iocstream %s\n", VERSION);
        return 0;
    }
    fprintf(stderr, "iocstream: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
