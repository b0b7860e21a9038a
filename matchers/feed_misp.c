/*
 * feed_misp.c - JSON feeds: tells MISP from STIX, reads MISP events, and
 * maps MISP's attribute types (shared with CSV and Zeek files).
 *
 * MISP shapes accepted: a single event ({"Event": {...}}), a REST response
 * ({"response": [{"Event": ...}, ...]} or {"response": {"Attribute":
 * [...]}}), an array of events, and a bare event object. Attributes come
 * from Event.Attribute[] and Event.Object[].Attribute[]; to_ids is honoured
 * unless opts->all_attributes. The event's Orgc (or Org) name becomes the
 * provider, the attribute's comment (else the event's info) the
 * description, and the event's and attribute's tags the tags.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "matchers/feed_misp.h"
#include "matchers/feed_stix.h"

/* How a feed's type name is read. */
enum how {
    HOW_TYPED,  /* the type below */
    HOW_DETECT, /* detect from the value */
    HOW_SKIP,   /* not an indicator */
    HOW_PORT,   /* a part of a composite to drop (a port, a value) */
};

static const struct {
    const char *name;
    enum how how;
    enum iocs_type type;
} vocab[] = {
    /* MISP attribute types that are context, not indicators. */
    {"text", HOW_SKIP, 0},
    {"comment", HOW_SKIP, 0},
    {"other", HOW_SKIP, 0},
    {"link", HOW_SKIP, 0},
    {"datetime", HOW_SKIP, 0},
    {"attachment", HOW_SKIP, 0},
    {"yara", HOW_SKIP, 0},
    {"snort", HOW_SKIP, 0},
    {"sigma", HOW_SKIP, 0},
    {"vulnerability", HOW_SKIP, 0},
    {"AS", HOW_SKIP, 0},
    {"counter", HOW_SKIP, 0},
    {"filename-pattern", HOW_SKIP, 0},
    {"pattern-in-file", HOW_SKIP, 0},
    {"pattern-in-traffic", HOW_SKIP, 0},
    {"pattern-in-memory", HOW_SKIP, 0},
    {"port", HOW_PORT, 0},
    {"value", HOW_PORT, 0},
    {"data", HOW_PORT, 0},
    /* MISP, Volexity and Zeek names that iocs_type_parse() does not know. */
    {"whois-registrant-email", HOW_TYPED, IOCS_EMAIL},
    {"email-reply-to", HOW_TYPED, IOCS_EMAIL},
    {"emailwhois", HOW_TYPED, IOCS_EMAIL},
    {"emailsender", HOW_TYPED, IOCS_EMAIL},
    {"user-agent", HOW_TYPED, IOCS_STRING},
    {"mutex", HOW_TYPED, IOCS_STRING},
    {"regkey", HOW_TYPED, IOCS_STRING},
    {"named pipe", HOW_TYPED, IOCS_STRING},
    {"windows-service-name", HOW_TYPED, IOCS_STRING},
    {"x509-fingerprint-md5", HOW_TYPED, IOCS_MD5},
    {"x509-fingerprint-sha1", HOW_TYPED, IOCS_SHA1},
    {"x509-fingerprint-sha256", HOW_TYPED, IOCS_SHA256},
    {"ja3-fingerprint-md5", HOW_TYPED, IOCS_MD5},
    {"hassh-md5", HOW_TYPED, IOCS_MD5},
    {"Intel::FILE_HASH", HOW_DETECT, 0},
    {"Intel::CERT_HASH", HOW_DETECT, 0},
    {"Intel::PUBKEY_HASH", HOW_DETECT, 0},
    {"Intel::SOFTWARE", HOW_TYPED, IOCS_STRING},
    {"Intel::USER_NAME", HOW_TYPED, IOCS_STRING},
};

/* Map one (non-composite) type name of n bytes. */
static enum how read_type(const char *s, size_t n, bool detect_unknown,
                          enum iocs_type *t)
{
    for (size_t i = 0; i < sizeof(vocab) / sizeof(vocab[0]); i++) {
        if (strlen(vocab[i].name) == n &&
            strncasecmp(s, vocab[i].name, n) == 0) {
            *t = vocab[i].type;
            return vocab[i].how;
        }
    }
    if (iocs_type_parse(s, n, t) == 0)
        return HOW_TYPED;
    return detect_unknown ? HOW_DETECT : HOW_SKIP;
}

static bool is_hash(enum how h, enum iocs_type t)
{
    return h == HOW_TYPED && (t == IOCS_MD5 || t == IOCS_SHA1 ||
                              t == IOCS_SHA256 || t == IOCS_SHA512);
}

int iocs__feed_misp_value(struct iocs__loader *ld, struct iocs__entry *base,
                          const char *type, const char *value, size_t vlen,
                          bool detect_unknown)
{
    const char *bar = strchr(type, '|'), *vbar;
    enum iocs_type t[2];
    enum how how[2];
    char why[128];
    size_t tl[2], vl[2];
    const char *tp[2], *vp[2];
    int parts = 1, err;

    base->type_name = type;
    if (strcasecmp(type, "malware-sample") == 0) {
        type = "filename|md5";
        bar = type + 8;
    }
    tp[0] = type;
    tl[0] = bar ? (size_t)(bar - type) : strlen(type);
    vp[0] = value;
    vl[0] = vlen;
    if (bar) {
        vbar = memchr(value, '|', vlen);
        if (!vbar)
            return iocs__feed_reject(ld, base->line, value, vlen,
                                     "composite type without '|' in value");
        parts = 2;
        tp[1] = bar + 1;
        tl[1] = strlen(bar + 1);
        vl[0] = (size_t)(vbar - value);
        vp[1] = vbar + 1;
        vl[1] = vlen - vl[0] - 1;
    }
    for (int i = 0; i < parts; i++)
        how[i] = read_type(tp[i], tl[i], detect_unknown, &t[i]);
    /* "filename|sha256": the hash is the indicator, the name context. */
    if (parts == 2) {
        for (int i = 0; i < 2; i++)
            if (how[i] == HOW_TYPED && t[i] == IOCS_FILENAME &&
                is_hash(how[1 - i], t[1 - i]))
                how[i] = HOW_PORT;
    }
    for (int i = 0; i < parts; i++) {
        if (how[i] == HOW_PORT)
            continue;
        if (how[i] == HOW_SKIP) {
            snprintf(why, sizeof(why), "type %.*s is not an indicator",
                     (int)tl[i], tp[i]);
            iocs__feed_skip(ld, base->line, vp[i], vl[i], type, why);
            continue;
        }
        base->value = vp[i];
        base->len = vl[i];
        base->typed = how[i] == HOW_TYPED;
        base->type = t[i];
        err = iocs__feed_take(ld, base);
        if (err)
            return err;
    }
    return 0;
}

/* A growable string for joined tags. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static int sbuf_add(struct sbuf *b, const char *s)
{
    size_t n = strlen(s), need = b->len + n + 2;

    if (need > b->cap) {
        size_t cap = need * 2;
        char *p = realloc(b->p, cap);

        if (!p)
            return -ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (b->len)
        b->p[b->len++] = ',';
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* Append the names of a MISP "Tag" array to b. */
static int add_tags(struct sbuf *b, json_t *tags)
{
    size_t i;
    int err;

    if (!json_is_array(tags))
        return 0;
    for (i = 0; i < json_array_size(tags); i++) {
        json_t *t = json_array_get(tags, i);
        const char *name = json_string_value(json_object_get(t, "name"));

        if (!name || !*name)
            continue;
        err = sbuf_add(b, name);
        if (err)
            return err;
    }
    return 0;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s && *s ? s : NULL;
}

/* Whether an attribute is meant for detection: to_ids true, "1", 1. */
static bool to_ids(json_t *a)
{
    json_t *v = json_object_get(a, "to_ids");

    if (!v || json_is_true(v))
        return true;
    if (json_is_string(v))
        return iocs__feed_truthy(json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    return false;
}

struct event {
    const char *info;
    const char *provider;
    const char *tags; /* the event's, joined; or NULL */
    size_t *index;    /* running 1-based attribute index in the file */
};

static int attribute(struct iocs__loader *ld, const struct event *ev, json_t *a)
{
    struct iocs__entry e = {.confidence = -1};
    struct sbuf tags = {0};
    json_t *value, *type;
    size_t idx = ++*ev->index;
    int err;

    ld->rep.lines++;
    if (!json_is_object(a))
        return iocs__feed_reject(ld, idx, "", 0, "attribute is not an object");
    value = json_object_get(a, "value");
    type = json_object_get(a, "type");
    if (!json_is_string(type))
        return iocs__feed_reject(ld, idx, "", 0,
                                 "attribute type is not a string");
    if (!json_is_string(value))
        return iocs__feed_reject(ld, idx, "", 0,
                                 "attribute value is not a string");
    if (json_is_true(json_object_get(a, "deleted"))) {
        iocs__feed_skip(ld, idx, json_string_value(value),
                        json_string_length(value), json_string_value(type),
                        "deleted");
        return 0;
    }
    if (!ld->opts->all_attributes && !to_ids(a)) {
        ld->rep.not_ids++;
        iocs__feed_skip(ld, idx, json_string_value(value),
                        json_string_length(value), json_string_value(type),
                        "to_ids is false");
        return 0;
    }
    e.line = idx;
    e.provider = ev->provider;
    e.description = str(a, "comment");
    if (!e.description)
        e.description = ev->info;
    err = ev->tags ? sbuf_add(&tags, ev->tags) : 0;
    if (!err)
        err = add_tags(&tags, json_object_get(a, "Tag"));
    if (err)
        goto out;
    e.tags = tags.p;
    err = iocs__feed_misp_value(ld, &e, json_string_value(type),
                                json_string_value(value),
                                json_string_length(value), false);
out:
    free(tags.p);
    return err;
}

/* Read the attributes of an array; a missing array is fine. */
static int attributes(struct iocs__loader *ld, const struct event *ev,
                      json_t *list)
{
    size_t i;
    int err;

    if (!list)
        return 0;
    if (!json_is_array(list))
        return iocs__feed_fatal(ld, 0, "MISP Attribute is not an array");
    for (i = 0; i < json_array_size(list); i++) {
        json_t *a = json_array_get(list, i);

        err = attribute(ld, ev, a);
        if (err)
            return err;
    }
    return 0;
}

static int event(struct iocs__loader *ld, json_t *evj, size_t *index)
{
    struct event ev = {.index = index};
    struct sbuf tags = {0};
    json_t *objects, *org;
    size_t i;
    int err;

    if (json_is_object(json_object_get(evj, "Event")))
        evj = json_object_get(evj, "Event");
    if (!json_is_object(evj))
        return iocs__feed_fatal(ld, 0, "MISP event is not an object");
    ev.info = str(evj, "info");
    org = json_object_get(evj, "Orgc");
    if (!org)
        org = json_object_get(evj, "Org");
    ev.provider = str(org, "name");
    err = add_tags(&tags, json_object_get(evj, "Tag"));
    if (err)
        goto out;
    ev.tags = tags.p;
    err = attributes(ld, &ev, json_object_get(evj, "Attribute"));
    if (err)
        goto out;
    objects = json_object_get(evj, "Object");
    if (objects && !json_is_array(objects)) {
        err = iocs__feed_fatal(ld, 0, "MISP Object is not an array");
        goto out;
    }
    for (i = 0; i < json_array_size(objects); i++) {
        json_t *o = json_array_get(objects, i);

        if (!json_is_object(o)) {
            err = iocs__feed_fatal(ld, 0, "MISP Object is not an object");
            goto out;
        }
        err = attributes(ld, &ev, json_object_get(o, "Attribute"));
        if (err)
            goto out;
    }

out:
    free(tags.p);
    return err;
}

/* Whether o looks like a MISP event, wrapped or bare. */
static bool is_event(json_t *o)
{
    return json_is_object(o) &&
           (json_object_get(o, "Event") || json_object_get(o, "Attribute") ||
            json_object_get(o, "Object"));
}

/* Whether o looks like a STIX 2 object. */
static bool is_stix_object(json_t *o)
{
    const char *id = json_string_value(json_object_get(o, "id"));

    return json_is_object(o) && json_is_string(json_object_get(o, "type")) &&
           id && strstr(id, "--");
}

int iocs__feed_misp(struct iocs__loader *ld, json_t *root)
{
    json_t *list = root;
    size_t index = 0, i;
    int err;

    if (json_is_object(root)) {
        list = json_object_get(root, "response");
        if (!list)
            return event(ld, root, &index);
        if (json_is_object(list))
            return event(ld, list, &index);
    }
    if (!json_is_array(list))
        return iocs__feed_fatal(ld, 0, "MISP response is not an array");
    for (i = 0; i < json_array_size(list); i++) {
        json_t *ev = json_array_get(list, i);

        err = event(ld, ev, &index);
        if (err)
            return err;
    }
    return 0;
}

int iocs__feed_json(struct iocs__loader *ld, const char *buf, size_t n)
{
    json_error_t jerr;
    json_t *root, *first;
    char why[256];
    const char *type, *version;
    int err;

    root = json_loadb(buf, n, 0, &jerr);
    if (!root) {
        snprintf(why, sizeof(why), "invalid JSON at line %d column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        return iocs__feed_fatal(ld, jerr.line > 0 ? (size_t)jerr.line : 0, why);
    }
    if (json_is_array(root)) {
        first = json_array_get(root, 0);
        if (!first)
            err = 0; /* an empty array holds nothing */
        else if (is_event(first))
            err = iocs__feed_misp(ld, root);
        else if (is_stix_object(first))
            err = iocs__feed_stix(ld, root);
        else
            err = iocs__feed_fatal(ld, 0,
                                   "JSON array of neither MISP events nor "
                                   "STIX objects");
        goto out;
    }
    if (!json_is_object(root)) {
        err = iocs__feed_fatal(ld, 0, "JSON feed is not an object or array");
        goto out;
    }
    type = json_string_value(json_object_get(root, "type"));
    version = json_string_value(json_object_get(root, "version"));
    if (type && strcmp(type, "bundle") == 0) {
        json_t *objects = json_object_get(root, "objects");

        if (!objects)
            err = 0; /* an empty bundle */
        else if (!json_is_array(objects))
            err = iocs__feed_fatal(ld, 0,
                                   "STIX bundle objects is not an "
                                   "array");
        else
            err = iocs__feed_stix(ld, objects);
    } else if (json_object_get(root, "stix_header") ||
               (version && version[0] == '1' && version[1] == '.')) {
        err = iocs__feed_fatal(ld, 0, "STIX 1.x is not supported");
    } else if (json_object_get(root, "response") || is_event(root)) {
        err = iocs__feed_misp(ld, root);
    } else if (is_stix_object(root)) {
        json_t *one = json_array();

        err = one && json_array_append(one, root) == 0 ? 0 : -ENOMEM;
        if (!err)
            err = iocs__feed_stix(ld, one);
        json_decref(one);
    } else {
        err = iocs__feed_fatal(ld, 0,
                               "JSON is neither a MISP event nor a STIX 2 "
                               "bundle");
    }

out:
    json_decref(root);
    return err;
}
