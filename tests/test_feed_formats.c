/*
 * test_feed_formats.c - every feed format into a set: plain lists with
 * descriptions, CSV/TSV, Zeek intel, MISP JSON, STIX 2 bundles, LOKI
 * files; options (strict, all attributes, expiry, allowlist, explain); the
 * `also` chain across feeds; malformed input of every kind; and the whole
 * shared corpus.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "matchers/allow.h"
#include "matchers/feed.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* What the reject and explain callbacks saw. */
struct seen {
    size_t n;
    size_t line[32];
    char why[32][128];
    size_t explained, explained_taken;
    char last_why[128];
};

static void on_reject(void *ctx, const char *file, size_t line, const char *why)
{
    struct seen *r = ctx;

    (void)file;
    if (r->n < ARRAY_LEN(r->line)) {
        r->line[r->n] = line;
        snprintf(r->why[r->n], sizeof(r->why[0]), "%s", why);
    }
    r->n++;
}

static void on_explain(void *ctx, const char *file, size_t line,
                       const char *raw, const char *type, const char *value,
                       const char *why)
{
    struct seen *r = ctx;

    (void)file;
    (void)line;
    (void)type;
    assert_non_null(raw);
    assert_true((value == NULL) != (why == NULL));
    r->explained++;
    if (value)
        r->explained_taken++;
    else
        snprintf(r->last_why, sizeof(r->last_why), "%s", why);
}

static int setup(void **state)
{
    struct iocs_iocset *s;

    if (iocs_iocset_new(&s) < 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    iocs_iocset_free(*state);
    return 0;
}

static int load_opts(struct iocs_iocset *s, const char *name, const char *text,
                     const struct iocs_feed_opts *o, struct seen *r,
                     struct iocs_feed_report *rep)
{
    return iocs_feed_load_mem_opts(s, name, text, strlen(text), o, on_reject, r,
                                   rep);
}

static int load(struct iocs_iocset *s, const char *text, struct seen *r,
                struct iocs_feed_report *rep)
{
    return load_opts(s, "feeds/t", text, NULL, r, rep);
}

/* The IOC of that type and value, or NULL. */
static const struct iocs_ioc *find(const struct iocs_iocset *s,
                                   enum iocs_type t, const char *v)
{
    for (size_t i = 0; i < iocs_iocset_count(s); i++) {
        const struct iocs_ioc *x = iocs_iocset_get(s, i);

        if (x->type == t && strcmp(x->value, v) == 0)
            return x;
    }
    return NULL;
}

/* Plain lists: "value;description", "value,description", "value # c", and
 * a header-less "value,type,description". */
static void test_feed_plain_descriptions(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct seen r = {0};
    const struct iocs_ioc *x;

    assert_int_equal(
        load(s,
             "d41d8cd98f00b204e9800998ecf8427e;Dark Caracal - PE32\n"
             "evil[.]example,C2 server\n"
             "1.2.3.4\t# scanner.example\n"
             "5.6.7.8,ipaddress,Resolution for UTA0304\n"
             "http://a.example/x?a=1,2\n",
             &r, &rep),
        0);
    assert_int_equal(r.n, 0);
    assert_int_equal(rep.loaded, 5);
    x = find(s, IOCS_MD5, "d41d8cd98f00b204e9800998ecf8427e");
    assert_non_null(x);
    assert_string_equal(x->description, "Dark Caracal - PE32");
    x = find(s, IOCS_DOMAIN, "evil.example");
    assert_non_null(x);
    assert_string_equal(x->description, "C2 server");
    x = find(s, IOCS_IPV4, "1.2.3.4");
    assert_non_null(x);
    assert_string_equal(x->description, "scanner.example");
    x = find(s, IOCS_IPV4, "5.6.7.8");
    assert_non_null(x);
    assert_string_equal(x->description, "Resolution for UTA0304");
    /* A URL keeps its commas. */
    assert_non_null(find(s, IOCS_URL, "http://a.example/x?a=1,2"));
}

/* CSV with a BOM, CRLF, quotes, metadata columns, expiry and a Volexity
 * "md5,sha1,sha256" cell. */
static void test_feed_csv(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct iocs_feed_opts o = {.now = 1700000000};
    struct seen r = {0};
    const struct iocs_ioc *x;

    assert_int_equal(
        load_opts(
            s, "feeds/v.csv",
            "\xef\xbb\xbfValue,Entity_Type,Description,Source,Severity,"
            "Confidence,Tags,Expires\r\n"
            "www.azuredeploystore.com,hostname,\"3CX, supply chain\",vx,high,"
            "90,\"a,b\",2030-01-01T00:00:00Z\r\n"
            "\"d41d8cd98f00b204e9800998ecf8427e,"
            "da39a3ee5e6b4b0d3255bfef95601890afd80709\",file,ffmpeg.dll,,,,,"
            "\r\n"
            "old.example,hostname,gone,,,,,2020-01-01\r\n"
            "206.189.208.156,ipaddress,\"DigitalOcean \"\"IP\"\"\"\r\n"
            "\"unterminated,hostname,x\r\n"
            "2604:a880::1,ipaddress,v6 in an ip column\r\n",
            &o, &r, &rep),
        0);
    assert_int_equal(rep.loaded, 5);
    assert_int_equal(rep.expired, 1);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(r.line[0], 6);
    assert_string_equal(r.why[0], "unterminated quoted field");
    x = find(s, IOCS_DOMAIN, "www.azuredeploystore.com");
    assert_non_null(x);
    assert_string_equal(x->description, "3CX, supply chain");
    assert_string_equal(x->source, "vx");
    assert_string_equal(x->tags, "a,b");
    assert_int_equal(x->severity, IOCS_SEV_HIGH); /* "high": 75 */
    assert_int_equal(x->confidence, 90);
    assert_int_equal(x->expires, 1893456000);
    assert_string_equal(x->feed, "v.csv");
    assert_string_equal(x->reference, "feeds/v.csv:2");
    assert_non_null(find(s, IOCS_MD5, "d41d8cd98f00b204e9800998ecf8427e"));
    assert_non_null(
        find(s, IOCS_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    x = find(s, IOCS_IPV4, "206.189.208.156");
    assert_non_null(x);
    assert_string_equal(x->description, "DigitalOcean \"IP\"");
    assert_non_null(find(s, IOCS_IPV6, "2604:a880::1"));
    assert_int_equal(rep.by_type[IOCS_IPV4], 1);
}

/* MISP's CSV export: composite types and to_ids; TSV the same. */
static void test_feed_csv_misp_export(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct iocs_feed_opts all = {.all_attributes = true};
    struct seen r = {0};
    const char *csv = "uuid,event_id,category,type,value,comment,to_ids,date\n"
                      "u1,1,Network activity,ip-dst|port,\"9.9.9.9|443\",c2,1,"
                      "20190920\n"
                      "u2,1,Network activity,url,\"http://x.example/a\",,0,"
                      "20190909\n"
                      "u3,1,Other,text,\"some words\",,1,20190909\n";
    const char *tsv = "indicator\ttype\tdescription\n"
                      "evil.example\tdomain\tx, y\n";

    assert_int_equal(load(s, csv, &r, &rep), 0);
    assert_int_equal(rep.loaded, 1);
    assert_int_equal(rep.skipped, 2);
    assert_non_null(find(s, IOCS_IPV4, "9.9.9.9"));
    assert_string_equal(find(s, IOCS_IPV4, "9.9.9.9")->description, "c2");
    assert_int_equal(load_opts(s, "feeds/t2", csv, &all, &r, &rep), 0);
    assert_non_null(find(s, IOCS_URL, "http://x.example/a"));
    assert_int_equal(load(s, tsv, &r, &rep), 0);
    assert_string_equal(find(s, IOCS_DOMAIN, "evil.example")->description,
                        "x, y");
    assert_int_equal(r.n, 0);
}

/* Zeek intel: #fields, TABs, "-" unset, Intel:: types. */
static void test_feed_zeek(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct seen r = {0};
    const struct iocs_ioc *x;

    assert_int_equal(
        load(s,
             "#separator \\x09\n"
             "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\t"
             "meta.url\n"
             "1.2.3.4\tIntel::ADDR\tcert-x\tscanner\t-\n"
             "evil.example\tIntel::DOMAIN\tcert-x\t-\thttps://r.example/1\n"
             "d41d8cd98f00b204e9800998ecf8427e\tIntel::FILE_HASH\t-\t-\t-\n"
             "10.0.0.0/8\tIntel::SUBNET\t-\t-\t-\n"
             "evil.example/x.php\tIntel::URL\t-\t-\t-\n"
             "\tIntel::ADDR\t-\t-\t-\n",
             &r, &rep),
        0);
    assert_int_equal(rep.loaded, 5);
    assert_int_equal(rep.rejected, 1);
    x = find(s, IOCS_IPV4, "1.2.3.4");
    assert_non_null(x);
    assert_string_equal(x->source, "cert-x");
    assert_string_equal(x->description, "scanner");
    x = find(s, IOCS_DOMAIN, "evil.example");
    assert_non_null(x);
    assert_null(x->description);
    assert_string_equal(x->reference, "https://r.example/1");
    assert_non_null(find(s, IOCS_MD5, "d41d8cd98f00b204e9800998ecf8427e"));
    assert_non_null(find(s, IOCS_CIDR4, "10.0.0.0/8"));
    assert_non_null(find(s, IOCS_URL, "evil.example/x.php"));
}

static const char misp_event[] =
    "{\"Event\": {\"info\": \"Op X\", \"Orgc\": {\"name\": \"ESET\"},"
    " \"Tag\": [{\"name\": \"tlp:white\"}],"
    " \"Attribute\": ["
    "  {\"type\": \"domain\", \"value\": \"evil[.]example\", \"to_ids\": true,"
    "   \"comment\": \"C2\", \"Tag\": [{\"name\": \"apt\"}]},"
    "  {\"type\": \"sha1\", \"value\": "
    "\"da39a3ee5e6b4b0d3255bfef95601890afd80709\", \"to_ids\": false},"
    "  {\"type\": \"text\", \"value\": \"Win32/Agent\", \"to_ids\": true},"
    "  {\"type\": \"filename|sha256\", \"value\": \"a.exe|"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
    "   \"to_ids\": \"1\"},"
    "  {\"type\": \"domain\", \"value\": 7, \"to_ids\": true}],"
    " \"Object\": [{\"name\": \"ip-port\", \"Attribute\": ["
    "  {\"type\": \"ip-dst\", \"value\": \"203.0.113.9\", \"to_ids\": 1}]}]}}";

/* A MISP event: to_ids, composites, objects, wrong types, metadata. */
static void test_feed_misp_event(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct seen r = {0};
    struct iocs_feed_opts o = {.explain = on_explain, .explain_ctx = &r};
    const struct iocs_ioc *x;

    assert_int_equal(load_opts(s, "feeds/e.json", misp_event, &o, &r, &rep), 0);
    assert_int_equal(rep.lines, 6);
    assert_int_equal(rep.loaded, 3);
    assert_int_equal(rep.skipped, 2);
    assert_int_equal(rep.rejected, 1);
    assert_string_equal(r.why[0], "attribute value is not a string");
    assert_int_equal(r.line[0], 5);
    assert_int_equal(r.explained, 6);
    assert_int_equal(r.explained_taken, 3);
    x = find(s, IOCS_DOMAIN, "evil.example");
    assert_non_null(x);
    assert_string_equal(x->provider, "ESET");
    assert_string_equal(x->description, "C2");
    assert_string_equal(x->tags, "tlp:white,apt");
    assert_null(find(s, IOCS_FILENAME, "a.exe"));
    x = find(
        s, IOCS_SHA256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_non_null(x);
    assert_string_equal(x->description, "Op X");
    assert_non_null(find(s, IOCS_IPV4, "203.0.113.9"));
}

/* {"response": [...]}, arrays of events and all_attributes. */
static void test_feed_misp_shapes(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct iocs_feed_opts all = {.all_attributes = true};
    struct seen r = {0};
    char *resp = malloc(sizeof(misp_event) + 32);

    assert_non_null(resp);
    snprintf(resp, sizeof(misp_event) + 32, "{\"response\": [%s]}", misp_event);
    assert_int_equal(load_opts(s, "r.json", resp, &all, &r, &rep), 0);
    assert_int_equal(rep.loaded, 4);
    assert_non_null(
        find(s, IOCS_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    snprintf(resp, sizeof(misp_event) + 32, "[%s]", misp_event);
    memset(&rep, 0, sizeof(rep));
    assert_int_equal(load(s, resp, &r, &rep), 0);
    assert_int_equal(rep.duplicates, 3);
    free(resp);
}

static const char stix_bundle[] =
    "{\"type\": \"bundle\", \"id\": \"bundle--1\", \"objects\": ["
    " {\"type\": \"identity\", \"id\": \"identity--1\", \"name\": \"Talos\"},"
    " {\"type\": \"indicator\", \"id\": \"indicator--1\","
    "  \"created_by_ref\": \"identity--1\", \"labels\": [\"malicious\"],"
    "  \"pattern\": \"[network-traffic:dst_ref.type = 'ipv4-addr' AND "
    "network-traffic:dst_ref.value = '192.0.2.1']\"},"
    " {\"type\": \"indicator\", \"id\": \"indicator--2\", \"name\": \"n\","
    "  \"pattern_type\": \"stix\", \"spec_version\": \"2.1\","
    "  \"confidence\": 80,"
    "  \"pattern\": \"[domain-name:value = 'a.example' OR "
    "domain-name:value = 'b.example'] OR [file:hashes.'SHA-256' = "
    "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']\"},"
    " {\"type\": \"indicator\", \"id\": \"indicator--3\","
    "  \"valid_until\": \"2021-01-01T00:00:00Z\","
    "  \"pattern\": \"[url:value = 'http://old.example/']\"},"
    " {\"type\": \"indicator\", \"id\": \"indicator--4\","
    "  \"pattern\": \"[file:size > 100]\"},"
    " {\"type\": \"indicator\", \"id\": \"indicator--5\","
    "  \"pattern\": \"[ipv4-addr:value = '1.2.3.4' AND domain-name:value = "
    "'c.example']\"},"
    " {\"type\": \"indicator\", \"id\": \"indicator--6\","
    "  \"pattern\": \"[ipv4-addr:value = '5.6.7.8'] FOLLOWEDBY "
    "[ipv4-addr:value = '5.6.7.9']\"},"
    " {\"type\": \"indicator\", \"id\": \"indicator--7\","
    "  \"pattern\": \"[email-addr:value = 'x\\\\'y@evil.example' OR "
    "autonomous-system:number = 64500]\"},"
    " {\"type\": \"indicator\", \"id\": \"indicator--8\","
    "  \"pattern_type\": \"sigma\", \"pattern\": \"title: x\"},"
    " {\"type\": \"indicator\", \"id\": \"indicator--9\", \"pattern\": 5},"
    " {\"type\": \"report\", \"id\": \"report--1\"}]}";

/* STIX 2: =, OR, the dst_ref idiom, expiry, and what is skipped. */
static void test_feed_stix(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct seen r = {0};
    struct iocs_feed_opts o = {
        .now = 1700000000, .explain = on_explain, .explain_ctx = &r};
    const struct iocs_ioc *x;

    assert_int_equal(load_opts(s, "feeds/b.json", stix_bundle, &o, &r, &rep),
                     0);
    assert_int_equal(rep.lines, 11);
    assert_int_equal(rep.loaded, 5);
    assert_int_equal(rep.expired, 1);
    /* file:size, AND, FOLLOWEDBY, the AS number, the sigma pattern. */
    assert_int_equal(rep.skipped, 5);
    assert_int_equal(rep.rejected, 1);
    assert_string_equal(r.why[0], "indicator pattern is not a string");
    x = find(s, IOCS_IPV4, "192.0.2.1");
    assert_non_null(x);
    assert_string_equal(x->provider, "Talos");
    assert_string_equal(x->tags, "malicious");
    x = find(s, IOCS_DOMAIN, "b.example");
    assert_non_null(x);
    assert_string_equal(x->description, "n");
    assert_int_equal(x->confidence, 80);
    assert_non_null(find(s, IOCS_DOMAIN, "a.example"));
    assert_non_null(find(
        s, IOCS_SHA256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_non_null(find(s, IOCS_EMAIL, "x'y@evil.example"));
    assert_null(find(s, IOCS_URL, "http://old.example/"));
    assert_null(find(s, IOCS_IPV4, "1.2.3.4"));
}

/* The same value in two feeds: one IOC whose `also` names the second. */
static void test_feed_also_chain(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    const struct iocs_ioc *x;

    assert_int_equal(
        load_opts(s, "a/one.txt", "evil.example;first\n", NULL, NULL, &rep), 0);
    assert_int_equal(load_opts(s, "b/two.csv",
                               "value,description\nEVIL.example,second\n"
                               "evil.example,second\n",
                               NULL, NULL, &rep),
                     0);
    assert_int_equal(iocs_iocset_count(s), 1);
    assert_int_equal(rep.loaded, 1);
    assert_int_equal(rep.duplicates, 2);
    x = iocs_iocset_get(s, 0);
    assert_string_equal(x->feed, "one.txt");
    assert_string_equal(x->description, "first");
    assert_non_null(x->also);
    assert_string_equal(x->also->feed, "two.csv");
    assert_string_equal(x->also->description, "second");
    assert_string_equal(x->also->reference, "b/two.csv:2");
    assert_string_equal(x->also->value, "evil.example");
    /* The identical record on line 3 was not added again. */
    assert_null(x->also->also);
}

/* --strict: the first rejected entry fails the file, nothing is added. A
 * value that is no indicator ("abc") is skipped, not an error. */
static void test_feed_strict(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    struct iocs_feed_opts o = {.strict = true};
    struct seen r = {0};

    assert_int_equal(load_opts(s, "f",
                               "good.example\nabc\n10.0.0.0/33\n"
                               "also.example\n",
                               &o, &r, &rep),
                     -EINVAL);
    assert_int_equal(iocs_iocset_count(s), 0);
    assert_int_equal(rep.loaded, 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.line[0], 2);
    assert_int_equal(r.line[1], 3);
    assert_string_equal(r.why[1], "prefix length over 32");
    memset(&rep, 0, sizeof(rep));
    assert_int_equal(
        load_opts(s, "f", "good.example\nabc\nalso.example\n", &o, &r, &rep),
        0);
    assert_int_equal(iocs_iocset_count(s), 2);
    assert_int_equal(rep.skipped, 1);
    assert_int_equal(load(s, "good.example\n10.0.0.0/33\n", &r, &rep), 0);
    assert_int_equal(iocs_iocset_count(s), 2);
}

/* The allowlist drops values at load time and counts them. */
static void test_feed_allowlisted(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    char path[PATH_MAX];
    struct iocs_allow *a;
    struct iocs_feed_opts o = {0};

    t_tmp_text(path, sizeof(path), "allow.txt", "microsoft.com\n10.0.0.0/8\n");
    assert_int_equal(iocs_allow_new(&a), 0);
    assert_int_equal(iocs_allow_load_file(a, path, NULL, NULL, NULL), 0);
    o.allow = a;
    assert_int_equal(load_opts(s, "f",
                               "login.microsoft.com\n10.1.2.3\n"
                               "evil.example\n10.0.0.0/16\n",
                               &o, NULL, &rep),
                     0);
    assert_int_equal(rep.loaded, 1);
    assert_int_equal(rep.allowed, 3);
    iocs_allow_free(a);
}

/* LOKI filename IOCs are regex rules with their score. */
static void test_feed_loki(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};

    assert_int_equal(load(s,
                          "# LOKI\n\\\\usbclass\\.sys;80\n"
                          "\\\\Temp\\\\[a-z]{5}\\.exe;65;\\\\Temp\\\\setup\n",
                          NULL, &rep),
                     0);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(iocs_iocset_get(s, 0)->type, IOCS_REGEX);
    assert_string_equal(iocs_iocset_get(s, 0)->value, "\\\\usbclass\\.sys");
    assert_int_equal(iocs_iocset_get(s, 1)->severity, 65);
}

static const struct {
    const char *name;
    const char *text;
} malformed[] = {
    {"truncated JSON", "{\"type\": \"bundle\", \"objects\": [{\"type\": \"ind"},
    {"trailing garbage", "{\"Event\": {}} xx"},
    {"objects not an array", "{\"type\": \"bundle\", \"objects\": 3}"},
    {"Attribute not an array", "{\"Event\": {\"Attribute\": {}}}"},
    {"Object not an array", "{\"Event\": {\"Object\": \"x\"}}"},
    {"event not an object", "{\"response\": [3]}"},
    {"unknown JSON", "{\"hello\": 1}"},
    {"array of numbers", "[1, 2]"},
    {"STIX 1 JSON", "{\"id\": \"x:STIXPackage-1\", \"version\": \"1.1.1\"}"},
    {"STIX 1 XML", "<?xml version=\"1.0\"?>\n<stix:STIX_Package "
                   "xmlns:stix=\"http://stix.mitre.org/stix-1\">"},
    {"OpenIOC", "<?xml version=\"1.0\"?>\n<ioc xmlns=\"http://schemas."
                "mandiant.com/2010/ioc\">"},
    {"Zeek without indicator", "#fields\ta\tb\n1.2.3.4\tx\n"},
};

/* Malformed files: a clear error, nothing from the file added. */
static void test_feed_malformed(void **state)
{
    struct iocs_iocset *s = *state;

    assert_int_equal(load(s, "keep.example\n", NULL, NULL), 0);
    for (size_t i = 0; i < ARRAY_LEN(malformed); i++) {
        struct iocs_feed_report rep = {0};
        struct seen r = {0};

        print_message("%s\n", malformed[i].name);
        assert_int_equal(load(s, malformed[i].text, &r, &rep), -EINVAL);
        assert_int_equal(r.n, 1);
        assert_true(strlen(r.why[0]) > 0);
        assert_int_equal(rep.loaded + rep.lines, 0);
        assert_int_equal(iocs_iocset_count(s), 1);
    }
}

/* A fatal error after good entries still leaves the set untouched. */
static void test_feed_no_partial_load(void **state)
{
    struct iocs_iocset *s = *state;
    struct seen r = {0};

    assert_int_equal(load(s,
                          "{\"Event\": {\"Attribute\": [{\"type\": \"domain\","
                          " \"value\": \"a.example\", \"to_ids\": true}],"
                          " \"Object\": 5}}",
                          &r, NULL),
                     -EINVAL);
    assert_int_equal(iocs_iocset_count(s), 0);
    assert_string_equal(r.why[0], "MISP Object is not an array");
}

/* Random bytes never crash a parser; any outcome is fine. */
static void test_feed_garbage(void **state)
{
    struct iocs_iocset *s = *state;
    static const char *prefixes[] = {"", "{", "[", "#fields\t", "value,type\n",
                                     "<"};
    char buf[4096];
    unsigned seed = 12345;

    for (int round = 0; round < 600; round++) {
        const char *p = prefixes[round % ARRAY_LEN(prefixes)];
        size_t n = strlen(p), len = 1 + (size_t)round * 7 % (sizeof(buf) - 8);

        memcpy(buf, p, n);
        for (size_t i = n; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (char)(seed >> 16);
            if (round % 2 && buf[i] == 0)
                buf[i] = '\n';
        }
        (void)iocs_feed_load_mem(s, "g", buf, len, NULL, NULL, NULL);
    }
    for (size_t i = 0; i < iocs_iocset_count(s); i++)
        assert_true(iocs_iocset_get(s, i)->len > 0);
}

/* A 10 MB single-line STIX bundle loads whole. */
static void test_feed_stix_10mb(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    size_t cap = 11u << 20, n = 0, count = 0;
    char *buf = malloc(cap);

    assert_non_null(buf);
    n += (size_t)sprintf(buf, "{\"type\":\"bundle\",\"objects\":[");
    while (n < (10u << 20)) {
        n += (size_t)sprintf(
            buf + n,
            "%s{\"type\":\"indicator\",\"id\":\"indicator--%zu\","
            "\"description\":\"a long description to fill the line with "
            "text\",\"pattern\":\"[network-traffic:dst_ref.type = "
            "'ipv4-addr' AND network-traffic:dst_ref.value = "
            "'10.%zu.%zu.%zu']\"}",
            count ? "," : "", count, (count >> 16) & 255, (count >> 8) & 255,
            count & 255);
        count++;
    }
    n += (size_t)sprintf(buf + n, "]}");
    assert_int_equal(iocs_feed_load_mem(s, "big", buf, n, NULL, NULL, &rep), 0);
    assert_int_equal(rep.loaded, count);
    /* Cut anywhere, it is a clear error and nothing is added. */
    iocs_iocset_free(s);
    assert_int_equal(iocs_iocset_new(&s), 0);
    *state = s;
    assert_int_equal(iocs_feed_load_mem(s, "big", buf, n / 2, NULL, NULL, NULL),
                     -EINVAL);
    assert_int_equal(iocs_iocset_count(s), 0);
    free(buf);
}

/* The corpus's IOC feeds (helpers.h finds the corpus), or -ENOENT. */
static int corpus_dir(char *out, size_t cap)
{
    char shared[PATH_MAX - 64];
    struct stat st;

    if (t_shared_dir(shared, sizeof(shared)))
        return -ENOENT;
    snprintf(out, cap, "%s/corpus/iocs", shared);
    return stat(out, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -ENOENT;
}

/* Files the corpus holds in formats we reject on purpose. */
static bool unsupported(const char *name)
{
    static const char *const v[] = {".xml", ".ioc", ".stix1.json"};
    size_t l = strlen(name);

    for (size_t i = 0; i < ARRAY_LEN(v); i++)
        if (l > strlen(v[i]) && strcmp(name + l - strlen(v[i]), v[i]) == 0)
            return true;
    return false;
}

/* Values taken from the corpus feeds, found with their type. */
static const struct {
    const char *file;
    enum iocs_type type;
    const char *value;
} corpus_values[] = {
    {"stix2/talos_2024-04_vpn-ssh-bruteforce.stix2.json", IOCS_IPV4,
     "23.155.24.6"},
    {"stix2/talos_2024-04_arcanedoor.stix2.json", IOCS_IPV4, "192.36.57.181"},
    {"stix2/unit42-playbook_f5-big-ip-cve-2022-1388.json", IOCS_IPV4,
     "20.187.67.224"},
    {"stix2/unit42-playbook_cloaked-ursa.json", IOCS_DOMAIN,
     "staff.shasta.com"},
    {"misp/talos_2023-07_reddriver.misp.json", IOCS_SHA256,
     "0201c2999e723d9bbb8b4df8c41030dd25a12ea39671dce2fe4b084b77c4a0d4"},
    {"misp/eset_turla-crutch.misp.json", IOCS_SHA1,
     "a010d5449d29a1916827fdb443e3c84c405cb2a5"},
    {"misp/eset_sshdoor-endor.misp.json", IOCS_SHA1,
     "ebb450393809f657f1ab77b4582e0c4758f7b50d"},
    {"misp/eset_dukes-operation-ghost.misp.json", IOCS_SHA1,
     "4ba559c403ff3f5cc2571ae0961eaff6cf0a50f6"},
    {"volexity/2024-01-10_Ivanti_Connect_Secure.csv", IOCS_IPV4,
     "206.189.208.156"},
    {"volexity/2023-03-30_3CX.csv", IOCS_DOMAIN, "www.azuredeploystore.com"},
    {"volexity/2024-11-15_BrazenBamboo.csv", IOCS_IPV4, "103.43.18.95"},
    {"citizenlab/201909_MissingLink_misp.json", IOCS_IPV4, "144.202.59.23"},
    {"citizenlab/201909_MissingLink_iocs.csv", IOCS_DOMAIN, "msap.services"},
    {"signature-base/hash-iocs.txt", IOCS_SHA256,
     "ce583821191345274cd954b2db7da9742c239fe413fc17dcb97ffdd7b51cb072"},
    {"signature-base/keywords.txt", IOCS_STRING, "WCESERVICE"},
    {"maltrail/mass_scanner.txt", IOCS_IPV4, "185.216.140.249"},
    {"talos/talos_2024-04_arcanedoor.txt", IOCS_IPV4, "185.167.60.85"},
};

static void load_corpus_file(struct iocs_iocset *s, const char *path,
                             const char *name, struct iocs_feed_report *rep)
{
    /* LOKI's keywords are free text: a --strings file, not a feed. */
    bool text = strcmp(name, "keywords.txt") == 0;
    struct iocs_feed_opts all = {.all_attributes = true, .strings = text};
    struct seen r = {0};
    int err = iocs_feed_load_file_opts(s, path, &all, on_reject, &r, rep);

    if (strcmp(name, "README.txt") == 0) {
        /* Prose is no feed: every line is skipped, none loaded. */
        assert_int_equal(err, 0);
        assert_int_equal(rep->loaded + rep->duplicates, 0);
        assert_true(rep->untyped > 0);
        return;
    }
    if (unsupported(name)) {
        assert_int_equal(err, -EINVAL);
        assert_int_equal(r.n, 1);
        print_message("%s: rejected: %s\n", name, r.why[0]);
        return;
    }
    if (err)
        fail_msg("%s: %d", path, err);
    assert_true(rep->loaded + rep->duplicates > 0);
    print_message("%s: %zu entries, %zu loaded, %zu duplicates, %zu rejected, "
                  "%zu skipped\n",
                  name, rep->lines, rep->loaded, rep->duplicates, rep->rejected,
                  rep->skipped);
}

/* Every file of the corpus loads (or is rejected whole when its format is
 * one we do not read), and values from each are found by type. */
static void test_feed_corpus_all(void **state)
{
    struct iocs_iocset *s = *state;
    char dir[4096], sub[4096 + 256], path[4096 + 512];
    struct dirent *de, *fe;
    size_t files = 0;
    DIR *d, *f;

    if (corpus_dir(dir, sizeof(dir)))
        skip();
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
        f = opendir(sub);
        if (!f)
            continue;
        while ((fe = readdir(f))) {
            struct iocs_feed_report rep = {0};

            if (fe->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", sub, fe->d_name);
            load_corpus_file(s, path, fe->d_name, &rep);
            files++;
        }
        closedir(f);
    }
    closedir(d);
    assert_true(files >= 75);
    for (size_t i = 0; i < ARRAY_LEN(corpus_values); i++) {
        const struct iocs_ioc *x =
            find(s, corpus_values[i].type, corpus_values[i].value);

        if (!x)
            fail_msg("%s: %s not found", corpus_values[i].file,
                     corpus_values[i].value);
    }
}

/* All 3,926 indicators of the Talos brute-force bundle load. */
static void test_feed_corpus_talos_stix(void **state)
{
    struct iocs_iocset *s = *state;
    struct iocs_feed_report rep = {0};
    char dir[4096], path[4096 + 128];

    if (corpus_dir(dir, sizeof(dir)))
        skip();
    snprintf(path, sizeof(path),
             "%s/stix2/talos_2024-04_vpn-ssh-bruteforce.stix2.json", dir);
    assert_int_equal(iocs_feed_load_file(s, path, NULL, NULL, &rep), 0);
    assert_int_equal(rep.loaded, 3926);
    assert_int_equal(rep.by_type[IOCS_IPV4], 3926);
    assert_int_equal(rep.skipped + rep.rejected, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_feed_plain_descriptions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_csv_misp_export, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_zeek, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_misp_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_misp_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_stix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_also_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_allowlisted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_loki, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_no_partial_load, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_stix_10mb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_corpus_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_corpus_talos_stix, setup,
                                        teardown),
    };
    return t_run_in_tmpdir(tests);
}
