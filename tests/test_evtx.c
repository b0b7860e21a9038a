/*
 * test_evtx.c - the .evtx reader (pipeline/codec_evtx.h): the renderer on
 * table-driven XML, then every corpus file against evtxexport (libevtx's
 * own tool), then damaged copies (cut short, bytes flipped in a chunk).
 *
 * The corpus is <shared>/corpus/logs/windows-evtx/; the tests that need it
 * or evtxexport skip (77) when either is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include "tests/helpers.h"

#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <time.h>

#include "pipeline/codec_evtx.h"

#define CORPUS_SUB "corpus/logs/windows-evtx"

static char corpus[PATH_MAX - 64];
static int have_corpus;

/* ---- the renderer, table-driven ----------------------------------------- */

struct render_case {
    const char *xml;
    int err;
    const char *json;
};

static const struct render_case render_cases[] = {
    /* The shape: System numbers, attributes as members, named Data. */
    {"<Event xmlns=\"http://x\">\n  <System>\n    <Provider Name=\"P\" "
     "Guid=\"{1}\"/>\n    <EventID Qualifiers=\"16384\">7045</EventID>\n    "
     "<Level>4</Level>\n    <TimeCreated SystemTime=\"2019-03-18T14:23:22."
     "134722400Z\"/>\n    <EventRecordID>12</EventRecordID>\n    "
     "<Correlation/>\n    <Execution ProcessID=\"536\" ThreadID=\"556\"/>\n"
     "    <Channel>Security</Channel>\n  </System>\n  <EventData>\n    "
     "<Data Name=\"Image\">C:\\Windows\\System32\\x.exe</Data>\n    "
     "<Data Name=\"Empty\"/>\n  </EventData>\n</Event>",
     0,
     "{\"Event\":{\"System\":{\"Provider\":{\"Name\":\"P\",\"Guid\":\"{1}\"},"
     "\"EventID\":{\"Qualifiers\":16384,\"#text\":7045},\"Level\":4,"
     "\"TimeCreated\":{\"SystemTime\":\"2019-03-18T14:23:22.134722400Z\"},"
     "\"EventRecordID\":12,\"Correlation\":null,\"Execution\":{\"ProcessID\":"
     "536,\"ThreadID\":556},\"Channel\":\"Security\"},\"EventData\":{"
     "\"Image\":\"C:\\\\Windows\\\\System32\\\\x.exe\",\"Empty\":\"\"}}}"},
    /* Entities, a newline and a tab inside a value, EventData numbers stay
     * strings, unnamed Data are param1.., repeated elements an array. */
    {"<Event><EventData><Data>a&amp;b &lt;c&gt; &quot;&#65;&#x42;</Data>"
     "<Data>1\n\t2</Data><Binary>00FF</Binary></EventData><UserData><X>"
     "<Y>1</Y><Y>2</Y><Z>07</Z></X></UserData></Event>",
     0,
     "{\"Event\":{\"EventData\":{\"param1\":\"a&b <c> \\\"AB\",\"param2\":"
     "\"1\\n\\t2\",\"Binary\":\"00FF\"},\"UserData\":{\"X\":{\"Y\":[\"1\","
     "\"2\"],\"Z\":\"07\"}}}}"},
    /* A control byte and a byte that is not UTF-8. */
    {"<E>a\x01z\xff\xc3\xa9</E>", 0, "{\"E\":\"a\\u0001z\\ufffd\xc3\xa9\"}"},
    /* Unknown entities are kept, not dropped. */
    {"<E>&nbsp; & x</E>", 0, "{\"E\":\"&nbsp; & x\"}"},
    /* Not XML this renderer accepts. */
    {"", -EBADMSG, NULL},
    {"text", -EBADMSG, NULL},
    {"<A><B></A></B>", -EBADMSG, NULL},
    {"<A x=1/>", -EBADMSG, NULL},
    {"<A/><B/>", -EBADMSG, NULL},
    {"<A>", -EBADMSG, NULL},
};

/* Each case renders to its exact line, or fails as it should; every
 * rendered line is JSON that jansson reads. */
static void test_evtx_render_table(void **state)
{
    struct iocs_evtx *r;

    (void)state;
    assert_int_equal(iocs__evtx_new_renderer(&r), 0);
    for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]);
         i++) {
        const struct render_case *c = &render_cases[i];
        char *xml = strdup(c->xml);
        const char *line = NULL;
        size_t len = 0;
        int err = iocs__evtx_render(r, xml, strlen(xml), &line, &len);

        if (err != c->err)
            fail_msg("case %zu: %d, want %d", i, err, c->err);
        if (!err) {
            json_error_t je;
            json_t *j = json_loadb(line, len, 0, &je);

            if (strcmp(line, c->json) != 0)
                fail_msg("case %zu:\n got %s\nwant %s", i, line, c->json);
            if (!j)
                fail_msg("case %zu: not JSON: %s", i, je.text);
            json_decref(j);
        }
        free(xml);
    }
    iocs_evtx_free(r);
}

/* Nesting past the depth cap is refused, not a stack overflow. */
static void test_evtx_render_depth_capped(void **state)
{
    struct iocs_evtx *r;
    char xml[4096] = "";
    const char *line;
    size_t len;

    (void)state;
    for (int i = 0; i < 200; i++)
        strcat(xml, "<a>");
    for (int i = 0; i < 200; i++)
        strcat(xml, "</a>");
    assert_int_equal(iocs__evtx_new_renderer(&r), 0);
    assert_int_equal(iocs__evtx_render(r, xml, strlen(xml), &line, &len),
                     -E2BIG);
    iocs_evtx_free(r);
}

/* ---- the corpus against evtxexport -------------------------------------- */

/* One record as evtxexport -f xml shows it. */
struct truth {
    uint64_t record_id;
    uint32_t event_id;
    char channel[256], computer[256], provider[256], time[64];
    /* The <Data> elements of EventData: name (or "") and value, decoded. */
    size_t ndata;
    char *dname[256], *dval[256];
};

static void truth_fini(struct truth *t)
{
    for (size_t i = 0; i < t->ndata; i++) {
        free(t->dname[i]);
        free(t->dval[i]);
    }
    memset(t, 0, sizeof(*t));
}

/* The five XML entities of s[0..n) decoded into a new string. */
static char *unxml(const char *s, size_t n)
{
    char *o = malloc(n + 1), *w = o;

    assert_non_null(o);
    for (size_t i = 0; i < n;) {
        static const char *ent[] = {"&amp;", "&lt;", "&gt;", "&quot;",
                                    "&apos;"};
        static const char chr[] = "&<>\"'";
        size_t k;

        for (k = 0; k < 5; k++)
            if (!strncmp(s + i, ent[k], strlen(ent[k])))
                break;
        if (k < 5) {
            *w++ = chr[k];
            i += strlen(ent[k]);
        } else {
            *w++ = s[i++];
        }
    }
    *w = '\0';
    return o;
}

/* Text between "<tag>" (or "<tag ...>") and "</tag>" in ev into out. */
static void elem_text(const char *ev, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    const char *s, *e;

    out[0] = '\0';
    snprintf(open, sizeof(open), "<%s", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    s = strstr(ev, open);
    if (!s || !(s = strchr(s, '>')) || s[-1] == '/')
        return;
    s++;
    e = strstr(s, close);
    if (!e)
        return;
    snprintf(out, cap, "%.*s", (int)(e - s), s);
}

static void attr_text(const char *ev, const char *tag, const char *attr,
                      char *out, size_t cap)
{
    char open[64], a[64];
    const char *s, *e, *v;

    out[0] = '\0';
    snprintf(open, sizeof(open), "<%s ", tag);
    snprintf(a, sizeof(a), " %s=\"", attr);
    s = strstr(ev, open);
    if (!s || !(e = strchr(s, '>')))
        return;
    v = strstr(s, a);
    if (!v || v > e)
        return;
    v += strlen(a);
    snprintf(out, cap, "%.*s", (int)(strchr(v, '"') - v), v);
}

/* Parse one <Event>...</Event> of evtxexport's output. */
static void parse_truth(const char *ev, struct truth *t)
{
    char buf[64];
    const char *ed, *ed_end, *p;

    memset(t, 0, sizeof(*t));
    elem_text(ev, "EventRecordID", buf, sizeof(buf));
    t->record_id = strtoull(buf, NULL, 10);
    elem_text(ev, "EventID", buf, sizeof(buf));
    t->event_id = (uint32_t)strtoul(buf, NULL, 10);
    elem_text(ev, "Channel", t->channel, sizeof(t->channel));
    elem_text(ev, "Computer", t->computer, sizeof(t->computer));
    attr_text(ev, "Provider", "Name", t->provider, sizeof(t->provider));
    attr_text(ev, "TimeCreated", "SystemTime", t->time, sizeof(t->time));
    ed = strstr(ev, "<EventData>");
    ed_end = ed ? strstr(ed, "</EventData>") : NULL;
    for (p = ed;
         p && (p = strstr(p, "<Data")) && p < ed_end && t->ndata < 256;) {
        const char *gt = strchr(p, '>'), *name = strstr(p, " Name=\"");
        const char *vs, *ve;

        if (!gt)
            break;
        if (name && name < gt) {
            name += 7;
            t->dname[t->ndata] =
                unxml(name, (size_t)(strchr(name, '"') - name));
        } else {
            t->dname[t->ndata] = strdup("");
        }
        if (gt[-1] == '/') {
            vs = ve = gt;
        } else {
            vs = gt + 1;
            ve = strstr(vs, "</Data>");
            if (!ve)
                break;
        }
        t->dval[t->ndata++] = unxml(vs, (size_t)(ve - vs));
        p = ve;
    }
}

/* Seconds and nanoseconds of "YYYY-MM-DDTHH:MM:SS.fffffffffZ". */
static struct timespec parse_systime(const char *s)
{
    struct tm tm = {0};
    struct timespec ts = {0};
    const char *dot;
    long scale = 100000000;

    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M:%S", &tm));
    ts.tv_sec = timegm(&tm);
    dot = strchr(s, '.');
    for (const char *d = dot ? dot + 1 : ""; *d >= '0' && *d <= '9'; d++) {
        ts.tv_nsec += (*d - '0') * scale;
        scale /= 10;
    }
    return ts;
}

/* evtxexport -f xml path, whole, or NULL. */
static char *evtxexport(const char *path)
{
    char cmd[PATH_MAX + 512], *out = NULL;
    size_t n = 0, cap = 0;
    FILE *f;

    snprintf(cmd, sizeof(cmd), "evtxexport -f xml '%s' 2>/dev/null", path);
    f = popen(cmd, "r");
    if (!f)
        return NULL;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        size_t r = fread(out + n, 1, cap - n - 1, f);

        n += r;
        if (r == 0)
            break;
    }
    out[n] = '\0';
    if (pclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* The value of EventData[name] in the rendered line (first one if many). */
static const char *json_data(json_t *ed, const char *name, size_t k)
{
    char key[32];
    json_t *v;

    if (!*name) {
        snprintf(key, sizeof(key), "param%zu", k);
        name = key;
    }
    v = json_object_get(ed, name);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    return json_string_value(v);
}

static void check_file(const char *path, size_t *nfiles, size_t *nrecords)
{
    struct iocs_evtx *r;
    struct iocs_evtx_record rec;
    char errbuf[256], *xml = evtxexport(path), *ev;
    size_t n = 0;
    int rc;

    if (!xml)
        fail_msg("evtxexport failed on %s", path);
    assert_int_equal(
        iocs_evtx_open(&r, path, NULL, NULL, errbuf, sizeof(errbuf)), 0);
    ev = strstr(xml, "<Event ");
    while ((rc = iocs_evtx_next(r, &rec)) == 1 && !rec.recovered) {
        struct truth t;
        struct timespec want;
        json_error_t je;
        json_t *j, *ed;
        unsigned k = 0;
        char *block;
        const char *end;

        if (!ev)
            fail_msg("%s: more records than evtxexport shows (%zu)", path, n);
        end = strstr(ev, "</Event>");
        assert_non_null(end);
        block = strndup(ev, (size_t)(end - ev)); /* one record's XML only */
        assert_non_null(block);
        parse_truth(block, &t);
        free(block);
        n++;
        assert_int_equal(rec.ordinal, n);
        if (rec.record_id != t.record_id || rec.event_id != t.event_id ||
            strcmp(rec.channel, t.channel) ||
            strcmp(rec.computer_name, t.computer) ||
            strcmp(rec.provider_name, t.provider))
            fail_msg("%s record %zu: %" PRIu64 "/%u/%s/%s/%s, evtxexport "
                     "%" PRIu64 "/%u/%s/%s/%s",
                     path, n, rec.record_id, rec.event_id, rec.channel,
                     rec.computer_name, rec.provider_name, t.record_id,
                     t.event_id, t.channel, t.computer, t.provider);
        want = parse_systime(t.time);
        assert_true(rec.has_time);
        assert_int_equal(rec.time_created.tv_sec, want.tv_sec);
        assert_int_equal(rec.time_created.tv_nsec, want.tv_nsec);
        assert_true(rec.chunk >= 0);
        assert_true(rec.offset >= 4096);
        assert_int_equal(strlen(rec.line), rec.len);
        assert_null(memchr(rec.line, '\n', rec.len));

        j = json_loadb(rec.line, rec.len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
            fail_msg("%s record %zu: not JSON (%s): %s", path, n, je.text,
                     rec.line);
        assert_int_equal(
            json_integer_value(json_object_get(
                json_object_get(json_object_get(j, "Event"), "System"),
                "EventRecordID")),
            (json_int_t)t.record_id);
        ed = json_object_get(json_object_get(j, "Event"), "EventData");
        for (size_t d = 0; d < t.ndata; d++) {
            const char *got;
            char *esc;
            json_t *str;

            if (!*t.dname[d])
                k++;
            got = json_data(ed, t.dname[d], k);
            if (!got || strcmp(got, t.dval[d]) != 0)
                fail_msg("%s record %zu: EventData %s = \"%s\", want \"%s\"",
                         path, n, t.dname[d], got ? got : "(none)", t.dval[d]);
            /* As JSON writes it, inside the line (backslashes doubled). */
            str = json_string(t.dval[d]);
            esc = str ? json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            json_decref(str);
            if (esc && !strpbrk(t.dval[d], "\x01\x02\x03\x04\x05\x06\x07"
                                           "\x08\x0b\x0c\x0e\x0f\x10\x11"
                                           "\x12\x13\x14\x15\x16\x17\x18"
                                           "\x19\x1a\x1b\x1c\x1d\x1e\x1f"))
                assert_non_null(strstr(rec.line, esc));
            free(esc);
        }
        json_decref(j);
        truth_fini(&t);
        ev = strstr(ev + 1, "<Event ");
    }
    assert_true(rc >= 0);
    if (ev)
        fail_msg("%s: evtxexport shows more records than the %zu read", path,
                 n);
    iocs_evtx_free(r);
    free(xml);
    (*nfiles)++;
    *nrecords += n;
}

/* Every corpus file: the record count and, per record, EventRecordID,
 * EventID, Channel, Computer, Provider, TimeCreated as evtxexport shows
 * them; every line is JSON holding every EventData value. */
static void test_evtx_corpus_matches_evtxexport(void **state)
{
    size_t nfiles = 0, nrecords = 0;
    struct dirent *de;
    DIR *d;

    (void)state;
    if (!have_corpus || system("command -v evtxexport >/dev/null") != 0)
        skip();
    d = opendir(corpus);
    assert_non_null(d);
    while ((de = readdir(d))) {
        char path[PATH_MAX + 256];
        size_t l = strlen(de->d_name);

        if (l < 5 || strcmp(de->d_name + l - 5, ".evtx"))
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", corpus, de->d_name) >=
            sizeof(path))
            fail_msg("path too long: %s/%s", corpus, de->d_name);
        check_file(path, &nfiles, &nrecords);
    }
    closedir(d);
    print_message("%zu files, %zu records agree with evtxexport\n", nfiles,
                  nrecords);
    assert_true(nfiles > 0);
}

/* A Windows path inside EventData is in the line with its backslashes
 * doubled, as iocstream matches Windows paths in JSON logs. */
static void test_evtx_windows_path_escaped(void **state)
{
    struct iocs_evtx *r;
    struct iocs_evtx_record rec;
    char path[PATH_MAX];
    int found = 0;

    (void)state;
    if (!have_corpus)
        skip();
    snprintf(path, sizeof(path), "%s/%s", corpus,
             "evtxattack_lm_LM_NewShare_Added_Sysmon_12_13.evtx");
    assert_int_equal(iocs_evtx_open(&r, path, NULL, NULL, NULL, 0), 0);
    while (iocs_evtx_next(r, &rec) == 1)
        if (strstr(rec.line,
                   "\"Image\":\"C:\\\\Windows\\\\system32\\\\svchost.exe\""))
            found++;
    assert_true(found > 0);
    iocs_evtx_free(r);
}

/* ---- damaged files ------------------------------------------------------ */

struct warns {
    int n;
    int64_t chunk[64];
    char msg[64][512];
};

static void on_warn(void *ctx, int64_t chunk, const char *msg)
{
    struct warns *w = ctx;

    if (w->n < 64) {
        w->chunk[w->n] = chunk;
        snprintf(w->msg[w->n], sizeof(w->msg[0]), "%s", msg);
    }
    w->n++;
}

/* Records read from path (recovered ones too), with the warnings. */
static size_t read_all(const char *path, struct warns *w)
{
    struct iocs_evtx *r;
    struct iocs_evtx_record rec;
    char errbuf[256];
    size_t n = 0;
    int rc;

    memset(w, 0, sizeof(*w));
    rc = iocs_evtx_open(&r, path, on_warn, w, errbuf, sizeof(errbuf));
    if (rc)
        fail_msg("open %s: %d %s", path, rc, errbuf);
    while ((rc = iocs_evtx_next(r, &rec)) == 1) {
        json_t *j = json_loadb(rec.line, rec.len, 0, NULL);

        assert_non_null(j);
        json_decref(j);
        n++;
    }
    assert_int_equal(rc, 0);
    iocs_evtx_free(r);
    return n;
}

static int warned_chunk(const struct warns *w, int64_t chunk, const char *what)
{
    for (int i = 0; i < w->n && i < 64; i++)
        if (w->chunk[i] == chunk && strstr(w->msg[i], what))
            return 1;
    return 0;
}

/* The two-chunk corpus file used for damage. */
#define TWO_CHUNKS "evtxattack_lm_LM_5145_Remote_FileCopy.evtx"

/* A file cut inside its second chunk: the first chunk's records come out
 * and chunk 1 is named as cut short. */
static void test_evtx_truncated_file(void **state)
{
    char src[PATH_MAX], dst[PATH_MAX];
    struct warns w, w0;
    size_t len = 0, n, n0;
    char *buf;

    (void)state;
    if (!have_corpus)
        skip();
    snprintf(src, sizeof(src), "%s/%s", corpus, TWO_CHUNKS);
    buf = t_read_file(src, &len);
    assert_non_null(buf);
    assert_true(len > 4096 + 65536 + 20000);
    n0 = read_all(src, &w0);
    t_path(dst, sizeof(dst), "cut.evtx");
    t_write_file(dst, buf, 4096 + 65536 + 20000);
    n = read_all(dst, &w);
    print_message("cut: %zu of %zu records, %d warnings (first: chunk "
                  "%" PRId64 ": %s)\n",
                  n, n0, w.n, w.chunk[0], w.msg[0]);
    assert_true(n > 0);
    assert_true(n < n0);
    assert_true(warned_chunk(&w, 1, "cut short"));
    free(buf);
}

/* Bytes flipped inside a chunk's record data: no crash, the chunk is named
 * with its checksum mismatch, and the records libevtx can still read come
 * out (those of the other chunk at least). */
static void test_evtx_flipped_bytes_in_chunk(void **state)
{
    char src[PATH_MAX], dst[PATH_MAX];
    struct warns w;
    size_t len = 0, n;
    char *buf;

    (void)state;
    if (!have_corpus)
        skip();
    snprintf(src, sizeof(src), "%s/%s", corpus, TWO_CHUNKS);
    buf = t_read_file(src, &len);
    assert_non_null(buf);
    for (size_t i = 4096 + 20000; i < 4096 + 20064; i++)
        buf[i] ^= 0x5a;
    t_path(dst, sizeof(dst), "flipped.evtx");
    t_write_file(dst, buf, len);
    n = read_all(dst, &w);
    print_message("flipped: %zu records, %d warnings (first: chunk "
                  "%" PRId64 ": %s)\n",
                  n, w.n, w.chunk[0], w.msg[0]);
    assert_true(n > 0);
    assert_true(warned_chunk(&w, 0, "record data checksum mismatch"));
    free(buf);
}

/* Not an .evtx file: -EINVAL, with a reason. */
static void test_evtx_rejects_other_files(void **state)
{
    struct iocs_evtx *r = NULL;
    char path[PATH_MAX], errbuf[128];

    (void)state;
    t_tmp_text(path, sizeof(path), "plain.log", "ElfFilx not evtx\n");
    assert_int_equal(
        iocs_evtx_open(&r, path, NULL, NULL, errbuf, sizeof(errbuf)), -EINVAL);
    assert_null(r);
    assert_true(errbuf[0] != '\0');
    assert_true(iocs_evtx_is_evtx((const unsigned char *)"ElfFile\0", 8));
    assert_false(iocs_evtx_is_evtx((const unsigned char *)"ElfFile", 7));
}

static int group_setup(void **state)
{
    char shared[PATH_MAX - 128];
    struct stat st;

    (void)state;
    if (t_tmpdir_init() != 0)
        return -1;
    if (t_shared_dir(shared, sizeof(shared)) == 0) {
        snprintf(corpus, sizeof(corpus), "%s/%s", shared, CORPUS_SUB);
        have_corpus = stat(corpus, &st) == 0 && S_ISDIR(st.st_mode);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    t_tmpdir_fini();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evtx_render_table),
        cmocka_unit_test(test_evtx_render_depth_capped),
        cmocka_unit_test(test_evtx_rejects_other_files),
        cmocka_unit_test(test_evtx_corpus_matches_evtxexport),
        cmocka_unit_test(test_evtx_windows_path_escaped),
        cmocka_unit_test(test_evtx_truncated_file),
        cmocka_unit_test(test_evtx_flipped_bytes_in_chunk),
    };
    char shared[PATH_MAX - 128];

    /* No corpus: nothing here but the renderer is worth a run, and CTest
     * is told so (77) rather than shown a pass. */
    if (t_shared_dir(shared, sizeof(shared)) != 0) {
        fprintf(stderr, "corpus absent: skipped\n");
        return T_SKIP;
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
