/*
 * main.c - the iocstream command line: parses arguments and hands them to
 * pipeline.c. Nothing else happens here.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/pipeline.h"
#include "pipeline/reader.h"
#include "pipeline/scanner.h"

#define VERSION "0.1.0"

static const char usage_text[] =
    "usage: iocstream scan [options] [PATH...]\n"
    "       iocstream decode [FILE]\n"
    "       iocstream help | --help | --version\n"
    "\n"
    "scan: find indicators of compromise in logs; one event per (line, IOC).\n"
    "  PATH              a file, a directory (walked recursively, sorted), or\n"
    "                    '-' for stdin; none: stdin\n"
    "  -i, --iocs FILE   IOC feed (plain list: one value per line, '#'\n"
    "                    comments, defanged values refanged, types detected);\n"
    "                    repeatable. None: the built-in pack (BeyondTrust\n"
    "                    incident addresses). A bad IOC line is reported as\n"
    "                    file:line: why and nothing is scanned.\n"
    "  -o, --output FILE write events to FILE (default: stdout)\n"
    "      --format F    msgpack (default) or json (one object per line;\n"
    "                    the default when stdout is a terminal and no -o)\n"
    "      --max-line N  cap event.original at N bytes (default 4096)\n"
    "      --slab-size N bytes per read (default 1M; K/M/G suffixes)\n"
    "      --depth N     reads in flight (default 4)\n"
    "  -j, --jobs N      scanning threads (default: the number of cores);\n"
    "                    events still leave in input order\n"
    "      --no-uring    read with read(2) instead of io_uring\n"
    "  -L, --follow-symlinks  follow symbolic links met while walking\n"
    "      --stats       print bytes, lines, matches, events, GB/s to stderr\n"
    "  exit status: 0 no hits, 1 hits, 2 error (as grep)\n"
    "\n"
    "decode: turn a msgpack event stream (FILE or stdin) into JSON lines.\n";

static void usage(FILE *f)
{
    fputs(usage_text, f);
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

static int cmd_scan(int argc, char **argv)
{
    enum {
        OPT_FORMAT = 256,
        OPT_MAX_LINE,
        OPT_SLAB,
        OPT_DEPTH,
        OPT_NO_URING,
        OPT_STATS,
    };
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    static const struct option longopts[] = {
        {"iocs", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"max-line", required_argument, NULL, OPT_MAX_LINE},
        {"slab-size", required_argument, NULL, OPT_SLAB},
        {"depth", required_argument, NULL, OPT_DEPTH},
        {"no-uring", no_argument, NULL, OPT_NO_URING},
        {"follow-symlinks", no_argument, NULL, 'L'},
        {"stats", no_argument, NULL, OPT_STATS},
        {"jobs", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct iocs_scan_opts o = {0};
    const char **feeds;
    bool format_set = false;
    size_t v;
    int c, status;

    feeds = calloc((size_t)argc, sizeof(*feeds));
    if (!feeds) {
        fputs("iocstream: out of memory\n", stderr);
        return 2;
    }
    o.max_line = IOCS_MAX_LINE_DEFAULT;
    o.slab_size = IOCS_READER_SLAB_DEFAULT;
    o.format = IOCS_FORMAT_MSGPACK;
    o.threads = ncpu > 0 ? (unsigned)ncpu : 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:o:j:Lh", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            feeds[o.nfeeds++] = optarg;
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
        case OPT_MAX_LINE:
            if (parse_size(optarg, &o.max_line) < 0) {
                fprintf(stderr, "iocstream: --max-line: bad size '%s'\n",
                        optarg);
                goto bad;
            }
            break;
        case OPT_SLAB:
            if (parse_size(optarg, &o.slab_size) < 0) {
                fprintf(stderr,
                        "iocstream: --slab-size: bad size '%s' "
                        "(1 to 1G)\n",
                        optarg);
                goto bad;
            }
            break;
        case OPT_DEPTH:
            if (parse_size(optarg, &v) < 0 || v > IOCS_READER_NSLABS_DEFAULT) {
                fprintf(stderr, "iocstream: --depth: '%s' is not 1..%d\n",
                        optarg, IOCS_READER_NSLABS_DEFAULT);
                goto bad;
            }
            o.depth = (unsigned)v;
            break;
        case OPT_NO_URING:
            o.no_uring = true;
            break;
        case 'L':
            o.follow_symlinks = true;
            break;
        case 'j':
            if (parse_size(optarg, &v) < 0 || v > 1024) {
                fprintf(stderr, "iocstream: -j: '%s' is not 1..1024\n", optarg);
                goto bad;
            }
            o.threads = (unsigned)v;
            break;
        case OPT_STATS:
            o.stats = true;
            break;
        case 'h':
            usage(stdout);
            free(feeds);
            return 0;
        default:
            goto bad;
        }
    }
    if (!format_set && !o.output && isatty(STDOUT_FILENO))
        o.format = IOCS_FORMAT_JSON;
    o.feeds = feeds;
    o.paths = (const char *const *)argv + optind;
    o.npaths = (size_t)(argc - optind);
    status = iocs_pipeline_scan(&o);
    free(feeds);
    return status;

bad:
    fputs("Try 'iocstream --help'.\n", stderr);
    free(feeds);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "scan") == 0)
        return cmd_scan(argc - 1, argv + 1);
    if (strcmp(argv[1], "decode") == 0) {
        if (argc > 3 || (argc == 3 && strcmp(argv[2], "--help") == 0)) {
            usage(argc > 3 ? stderr : stdout);
            return argc > 3 ? 2 : 0;
        }
        return iocs_pipeline_decode(argc == 3 ? argv[2] : NULL);
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
