/*
 * linetime.c - the first timestamp of a line, and the syslog header's host.
 *
 * One pass over the line: a byte that can start a form (a digit, a
 * capital letter, 'a' of "audit(") is tried against the forms that start
 * with it, and the first that parses and is a valid date wins. Civil
 * times become UTC with days_from_civil() (no timegm(), no locale, no
 * allocation); only a zone-less time in an IANA zone asks the C library,
 * through localtime_r() under the TZ set at startup.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/linetime.h"

/* A broken-down time as written in the line. */
struct civil {
    int y, mo, d, h, mi, s;
    long nsec;
    int has_zone;
    int32_t off; /* seconds east of UTC, when has_zone */
};

enum form {
    F_NONE,
    F_ISO,   /* RFC 5424 / ISO 8601 / FortiGate */
    F_3164,  /* no year */
    F_CISCO, /* Mmm dd yyyy hh:mm:ss, and ctime's Mmm dd hh:mm:ss yyyy */
    F_CLF,   /* dd/Mmm/yyyy:hh:mm:ss +hhmm */
    F_EPOCH, /* auditd: seconds since the epoch */
};

struct match {
    enum form form;
    size_t start, end; /* the timestamp is line[start..end) */
    int iso_t;         /* an ISO time with 'T' (rsyslog's file format) */
    struct civil c;
    struct timespec epoch; /* F_EPOCH */
};

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int isdig(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int isalpha_(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* The n-digit number at p (p[0..n) inside the line), or -1. */
static int num(const unsigned char *p, const unsigned char *end, int n)
{
    int v = 0;

    if (end - p < n)
        return -1;
    for (int i = 0; i < n; i++) {
        if (!isdig(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* 1..12 for the month name at p, or 0. */
static int month(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 3)
        return 0;
    for (int i = 0; i < 12; i++)
        if (p[0] == (unsigned char)months[i][0] &&
            p[1] == (unsigned char)months[i][1] &&
            p[2] == (unsigned char)months[i][2])
            return i + 1;
    return 0;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The year of a UTC time (for the RFC 3164 rule). */
static int year_of(time_t t)
{
    int64_t z = (int64_t)(t >= 0 ? t / 86400 : (t - 86399) / 86400) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    return (int)(yoe + era * 400 + (mp >= 10));
}

/* Seconds 60 (a leap second) is accepted and lands on the next minute. */
static int valid_time(const struct civil *c)
{
    return c->h >= 0 && c->h <= 23 && c->mi >= 0 && c->mi <= 59 && c->s >= 0 &&
           c->s <= 60;
}

static int valid_date(const struct civil *c)
{
    return c->y >= 1 && c->y <= 9999 && c->mo >= 1 && c->mo <= 12 &&
           c->d >= 1 && c->d <= days_in_month(c->y, c->mo);
}

/* wall (a civil time counted as if it were UTC) in the TZ zone, as UTC. */
static time_t from_local(time_t wall)
{
    time_t t = wall;
    struct tm tm;

    /* Two rounds settle the offset, also next to a DST change (a time in
     * the gap or the overlap gets one of the two offsets around it). */
    for (int i = 0; i < 2; i++) {
        if (!localtime_r(&t, &tm))
            return wall;
        t = wall - tm.tm_gmtoff;
    }
    return t;
}

static struct timespec to_utc(const struct iocs_linetime_zone *z,
                              const struct civil *c)
{
    time_t wall = (time_t)(days_from_civil(c->y, c->mo, c->d) * 86400 +
                           c->h * 3600 + c->mi * 60 + c->s);
    struct timespec ts = {.tv_nsec = c->nsec};

    if (c->has_zone)
        ts.tv_sec = wall - c->off;
    else if (z->kind == IOCS_LINETIME_FIXED)
        ts.tv_sec = wall - z->offset;
    else if (z->kind == IOCS_LINETIME_LOCAL)
        ts.tv_sec = from_local(wall);
    else
        ts.tv_sec = wall;
    return ts;
}

/* hh:mm:ss at p into c; returns the bytes read (8) or 0. */
static size_t hms(const unsigned char *p, const unsigned char *end,
                  struct civil *c)
{
    if (end - p < 8 || p[2] != ':' || p[5] != ':')
        return 0;
    c->h = num(p, end, 2);
    c->mi = num(p + 3, end, 2);
    c->s = num(p + 6, end, 2);
    if (c->h < 0 || c->mi < 0 || c->s < 0)
        return 0;
    if (end - p > 8 && isdig(p[8]))
        return 0; /* hh:mm:sss is not a time */
    return valid_time(c) ? 8 : 0;
}

/* An optional fraction (`.` or `,` then digits, 9 kept) at p; its
 * length, 0 when there is none (*nsec is then 0). */
static size_t fraction(const unsigned char *p, const unsigned char *end,
                       long *nsec)
{
    size_t n = 1;
    long v = 0;
    int kept = 0;

    *nsec = 0;
    if (end - p < 2 || (p[0] != '.' && p[0] != ',') || !isdig(p[1]))
        return 0;
    for (; p + n < end && isdig(p[n]); n++)
        if (kept < 9) {
            v = v * 10 + (p[n] - '0');
            kept++;
        }
    /* A comma is also a field separator (PAN-OS, CSV exports): it starts
     * a fraction only for 1-9 digits not followed by another field. */
    if (p[0] == ',' && (n > 10 || (p + n < end && p[n] == ',')))
        return 0;
    for (; kept < 9; kept++)
        v *= 10;
    *nsec = v;
    return n;
}

/* A zone offset `+hh:mm`, `+hhmm` or `+hh` at p; returns its length. */
static size_t offset(const unsigned char *p, const unsigned char *end,
                     int32_t *off)
{
    int h, m = 0;
    size_t n;

    if (end - p < 3 || (p[0] != '+' && p[0] != '-'))
        return 0;
    h = num(p + 1, end, 2);
    if (h < 0)
        return 0;
    n = 3;
    if (end - p >= 6 && p[3] == ':' && (m = num(p + 4, end, 2)) >= 0)
        n = 6;
    else if ((m = num(p + 3, end, 2)) >= 0)
        n = 5;
    else
        m = 0;
    if (p + n < end && isdig(p[n]))
        return 0;
    if (h > 23 || m > 59)
        return 0;
    *off = (h * 3600 + m * 60) * (p[0] == '-' ? -1 : 1);
    return n;
}

/* FortiGate's zone: `tz="-0700"` (or unquoted) after the time. */
static void forti_tz(const unsigned char *p, const unsigned char *end,
                     struct civil *c)
{
    const unsigned char *q = memmem(p, (size_t)(end - p), "tz=", 3);

    if (!q || (q > p && q[-1] != ' '))
        return;
    q += 3;
    if (q < end && *q == '"')
        q++;
    if (offset(q, end, &c->off))
        c->has_zone = 1;
}

/* YYYY-MM-DD[T ]hh:mm:ss[.frac][zone] or FortiGate's date= time=. */
static size_t iso(const unsigned char *p, const unsigned char *end,
                  struct match *m)
{
    struct civil *c = &m->c;
    const unsigned char *q = p + 11;
    int forti = 0;
    size_t n;

    /* YYYY/MM/DD as Go's log package, xrdp and PAN-OS write it, too. */
    if (end - p < 19 || (p[4] != '-' && p[4] != '/') || p[7] != p[4])
        return 0;
    c->y = num(p, end, 4);
    c->mo = num(p + 5, end, 2);
    c->d = num(p + 8, end, 2);
    if (c->y < 0 || c->mo < 0 || c->d < 0 || !valid_date(c))
        return 0;
    if (p[4] == '-' && end - p >= 24 && !memcmp(p + 10, " time=", 6)) {
        forti = 1;
        q = p + 16;
    } else if (p[10] != 'T' && p[10] != 't' && p[10] != ' ') {
        return 0;
    }
    n = hms(q, end, c);
    if (!n)
        return 0;
    q += n;
    q += fraction(q, end, &c->nsec);
    m->iso_t = p[10] == 'T' || p[10] == 't';
    if (forti) {
        forti_tz(q, end, c);
    } else if (q < end && (*q == 'Z' || *q == 'z')) {
        c->has_zone = 1;
        c->off = 0;
        q++;
    } else if ((n = offset(q, end, &c->off))) {
        c->has_zone = 1;
        q += n;
    } else if (end - q > 1 && *q == ' ' && (n = offset(q + 1, end, &c->off)) &&
               n != 3) {
        /* `2025-05-07 14:27:57.047 +02:00` (Cisco ISE and others). */
        c->has_zone = 1;
        q += 1 + n;
    }
    return (size_t)(q - p);
}

/* dd/Mmm/yyyy:hh:mm:ss [+hhmm] (Apache, NCSA common log format). */
static size_t clf(const unsigned char *p, const unsigned char *end,
                  struct match *m)
{
    struct civil *c = &m->c;
    const unsigned char *q;
    size_t n;

    if (end - p < 20 || p[2] != '/' || p[6] != '/' || p[11] != ':')
        return 0;
    c->d = num(p, end, 2);
    c->mo = month(p + 3, end);
    c->y = num(p + 7, end, 4);
    if (c->d < 0 || !c->mo || c->y < 0 || !valid_date(c))
        return 0;
    n = hms(p + 12, end, c);
    if (!n)
        return 0;
    q = p + 12 + n;
    q += fraction(q, end, &c->nsec);
    if (end - q > 1 && *q == ' ' && (n = offset(q + 1, end, &c->off))) {
        c->has_zone = 1;
        q += 1 + n;
    }
    return (size_t)(q - p);
}

/* Mmm dd hh:mm:ss, Mmm dd yyyy hh:mm:ss, Mmm dd hh:mm:ss yyyy. */
static size_t bsd(const unsigned char *p, const unsigned char *end,
                  struct match *m)
{
    struct civil *c = &m->c;
    const unsigned char *q = p + 4;
    size_t n;
    int y;

    c->mo = month(p, end);
    if (!c->mo || end - p < 15 || p[3] != ' ')
        return 0;
    /* The day: " 5", "05" or "5". */
    if (q[0] == ' ' && isdig(q[1]) && q[2] == ' ') {
        c->d = q[1] - '0';
        q += 3;
    } else if (isdig(q[0]) && isdig(q[1]) && q[2] == ' ') {
        c->d = (q[0] - '0') * 10 + (q[1] - '0');
        q += 3;
    } else if (isdig(q[0]) && q[1] == ' ') {
        c->d = q[0] - '0';
        q += 2;
    } else {
        return 0;
    }
    m->form = F_3164;
    if (end - q >= 5 && (y = num(q, end, 4)) >= 0 && q[4] == ' ') {
        c->y = y;
        m->form = F_CISCO;
        q += 5;
    }
    n = hms(q, end, c);
    if (!n)
        return 0;
    q += n;
    q += fraction(q, end, &c->nsec);
    if (m->form == F_3164 && end - q >= 5 && q[0] == ' ' &&
        (y = num(q + 1, end, 4)) >= 1970 && y <= 2200 &&
        (end - q == 5 || !isdig(q[5]))) {
        /* ctime, as in Apache's error log: [Sun Dec 04 04:47:44 2005]. */
        c->y = y;
        m->form = F_CISCO;
        q += 5;
    }
    if (m->form == F_CISCO && !valid_date(c))
        return 0;
    if (m->form == F_3164 && (c->d < 1 || c->d > days_in_month(2000, c->mo)))
        return 0; /* Feb 29 may fit some year: checked with the year */
    return (size_t)(q - p);
}

/* audit(1733368455.123:456) */
static size_t audit(const unsigned char *p, const unsigned char *end,
                    struct match *m)
{
    const unsigned char *q = p + 6;
    int64_t s = 0;
    int digits = 0;
    long nsec = 0;

    if (end - p < 8 || memcmp(p, "audit(", 6))
        return 0;
    for (; q < end && isdig(*q) && digits < 12; q++, digits++)
        s = s * 10 + (*q - '0');
    if (!digits || (q < end && isdig(*q)))
        return 0;
    q += fraction(q, end, &nsec);
    if (q >= end || *q != ':')
        return 0;
    m->epoch.tv_sec = (time_t)s;
    m->epoch.tv_nsec = nsec;
    return (size_t)(q - p);
}

/* The first timestamp of line[from..len) into *m; 1 found, 0 none. */
static int first_time(const unsigned char *l, size_t len, size_t from,
                      struct match *m)
{
    const unsigned char *end = l + len;

    /*
     * Every byte is looked at, so *m is cleared only for a candidate that
     * passes the cheap test each form begins with (iso: a '-' or '/'
     * after 4 digits; clf: a '/' after 2; bsd: a space after the month;
     * audit: its '('): clearing it at every byte made a line without a
     * time cost about 20 ns a byte.
     */
    for (size_t i = from; i < len; i++) {
        unsigned char ch = l[i], prev = i ? l[i - 1] : ' ';
        size_t n = 0;

        if (isdig(ch)) {
            if (isdig(prev))
                continue; /* inside a longer number */
            if (!(len - i > 4 && (l[i + 4] == '-' || l[i + 4] == '/')) &&
                !(len - i > 2 && l[i + 2] == '/'))
                continue;
            memset(m, 0, sizeof(*m));
            if ((n = iso(l + i, end, m)))
                m->form = F_ISO;
            else if ((n = clf(l + i, end, m)))
                m->form = F_CLF;
        } else if (ch >= 'A' && ch <= 'Z') {
            if (isalpha_(prev))
                continue; /* inside a word */
            if (len - i <= 3 || l[i + 3] != ' ')
                continue;
            memset(m, 0, sizeof(*m));
            n = bsd(l + i, end, m);
        } else if (ch == 'a') {
            if (len - i <= 5 || l[i + 5] != '(')
                continue;
            memset(m, 0, sizeof(*m));
            if ((n = audit(l + i, end, m)))
                m->form = F_EPOCH;
        }
        if (n) {
            m->start = i;
            m->end = i + n;
            return 1;
        }
    }
    return 0;
}

/*
 * RFC 3164: the latest year that puts the time no more than one day after
 * ref. Feb 29 goes back to a leap year (at most 8 years back).
 */
static int year_3164(const struct iocs_linetime_ctx *ctx, struct civil *c,
                     struct timespec *ts)
{
    int y0 = year_of(ctx->ref) + 1;

    for (int y = y0; y > y0 - 9; y--) {
        c->y = y;
        if (!valid_date(c))
            continue;
        *ts = to_utc(&ctx->zone, c);
        if (ts->tv_sec <= ctx->ref + 86400)
            return 1;
    }
    return 0;
}

/* A host token at p: up to the next space; its length, or 0. */
static size_t token(const unsigned char *p, const unsigned char *end)
{
    size_t n = 0;

    while (p + n < end && p[n] != ' ' && p[n] != '\t')
        n++;
    return n;
}

/* The host after a 3164/Cisco/rsyslog header's time at line[at..). */
static void header_host(const unsigned char *l, size_t len, size_t at,
                        int iso_form, struct iocs_linetime *out)
{
    const unsigned char *end = l + len, *p = l + at, *tag;
    size_t n, t;

    if (end - p < 2 || p[0] != ' ')
        return;
    p++;
    n = token(p, end);
    if (!n || p[n - 1] == ':' || memchr(p, '[', n))
        return; /* a tag: this header has no host */
    if (iso_form) {
        /* rsyslog's `TIME HOST TAG:`: without the tag's colon, the token
         * after an ISO time is as likely data (an address, a word). */
        tag = p + n;
        if (end - tag < 3 || tag[0] != ' ')
            return;
        t = token(tag + 1, end);
        if (!t || tag[t] != ':')
            return;
    }
    out->host = (const char *)p;
    out->host_len = n;
}

/* `<PRI>` at the start of the line: its length, or 0. */
static size_t pri(const unsigned char *l, size_t len)
{
    size_t i = 1;

    if (len < 3 || l[0] != '<')
        return 0;
    while (i < len && i <= 3 && isdig(l[i]))
        i++;
    return i > 1 && i < len && l[i] == '>' ? i + 1 : 0;
}

/* RFC 5424: `<PRI>1 TIMESTAMP HOST ...`. 1 when the line is one. */
static int rfc5424(const struct iocs_linetime_ctx *ctx, const unsigned char *l,
                   size_t len, size_t at, struct iocs_linetime *out)
{
    const unsigned char *end = l + len, *p = l + at;
    struct match m = {0};
    size_t n;

    if (end - p < 4 || !isdig(p[0]))
        return 0;
    while (p < end && isdig(*p) && p - (l + at) < 3)
        p++;
    if (p >= end || *p != ' ')
        return 0;
    p++;
    if (end - p >= 2 && p[0] == '-' && p[1] == ' ') {
        n = 1; /* the nil timestamp */
    } else {
        n = iso(p, end, &m);
        if (!n)
            return 0;
        out->ts = to_utc(&ctx->zone, &m.c);
        out->has_time = 1;
    }
    p += n;
    if (end - p >= 2 && p[0] == ' ') {
        size_t h = token(p + 1, end);

        if (h && !(h == 1 && p[1] == '-')) {
            out->host = (const char *)p + 1;
            out->host_len = h;
        }
    }
    return 1;
}

int iocs_linetime_parse(const struct iocs_linetime_ctx *ctx, const char *line,
                        size_t len, struct iocs_linetime *out)
{
    const unsigned char *l = (const unsigned char *)line;
    size_t head = pri(l, len), from = 0;
    struct match m;

    memset(out, 0, sizeof(*out));
    if (head && rfc5424(ctx, l, len, head, out)) {
        if (out->has_time)
            return 1;
        from = head; /* a nil timestamp: a later one may still be found */
    }
    while (first_time(l, len, from, &m)) {
        switch (m.form) {
        case F_EPOCH:
            out->ts = m.epoch;
            break;
        case F_3164:
            if (!year_3164(ctx, &m.c, &out->ts)) {
                from = m.start + 1; /* Feb 29 with no fitting year */
                continue;
            }
            break;
        default:
            out->ts = to_utc(&ctx->zone, &m.c);
            break;
        }
        out->has_time = 1;
        /* A header: the time opens the line (after <PRI>). */
        if (m.start == head && !out->host &&
            (m.form == F_3164 || m.form == F_CISCO ||
             (m.form == F_ISO && m.iso_t)))
            header_host(l, len, m.end, m.form == F_ISO, out);
        return 1;
    }
    return 0;
}

int iocs_linetime_parse_arg(const struct iocs_linetime_zone *z, const char *s,
                            struct timespec *out)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    struct match m = {0};
    size_t n;

    if (end - p == 10) {
        /* A date: its midnight in zone z. */
        m.c.y = num(p, end, 4);
        m.c.mo = num(p + 5, end, 2);
        m.c.d = num(p + 8, end, 2);
        if (p[4] != '-' || p[7] != '-' || m.c.y < 0 || m.c.mo < 0 ||
            m.c.d < 0 || !valid_date(&m.c))
            return -EINVAL;
        *out = to_utc(z, &m.c);
        return 0;
    }
    n = iso(p, end, &m);
    if (!n || p + n != end || !memcmp(p + 10, " time=", 6))
        return -EINVAL;
    *out = to_utc(z, &m.c);
    return 0;
}

int iocs_linetime_zone_init(struct iocs_linetime_zone *z, const char *zone)
{
    const unsigned char *p = (const unsigned char *)zone;
    const char *dir = getenv("TZDIR");
    char path[PATH_MAX];
    int32_t off;
    size_t n;

    if (!*zone || !strcmp(zone, "UTC") || !strcmp(zone, "Z") ||
        !strcmp(zone, "GMT")) {
        *z = (struct iocs_linetime_zone){.kind = IOCS_LINETIME_UTC};
        return 0;
    }
    n = strlen(zone);
    if (offset(p, p + n, &off) == n) {
        *z = (struct iocs_linetime_zone){.kind = IOCS_LINETIME_FIXED,
                                         .offset = off};
        return 0;
    }
    /* An IANA name: glibc falls back to UTC silently on a name it does
     * not know, so check that the zone file is there first. */
    if (zone[0] == '/' || strstr(zone, "..") || strchr(zone, ','))
        return -EINVAL;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s",
                         dir && *dir ? dir : "/usr/share/zoneinfo",
                         zone) >= sizeof(path) ||
        access(path, R_OK) != 0)
        return -EINVAL;
    if (setenv("TZ", zone, 1) != 0)
        return -errno;
    tzset();
    *z = (struct iocs_linetime_zone){.kind = IOCS_LINETIME_LOCAL};
    return 0;
}
