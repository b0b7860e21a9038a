#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* cmocka 1.x wants stdarg, stddef, stdint, setjmp first */

#include <zlib.h>

#include "helpers.h"
#include "matchers/db.h"
#include "matchers/ioc.h"
#include "pipeline/live.h"

/* A sink that keeps every byte and the last batch's position. */
struct capsink {
    struct iocs_sink base;
    char data[1 << 16];
    size_t len;
    uint64_t seq, events;
    struct iocs_sink_pos pos;
};

static int cap_write(struct iocs_sink *s, const struct iocs_sink_batch *b)
{
    struct capsink *c = (struct capsink *)s;

    if (b->seq != c->seq + 1 || c->len + b->len >= sizeof(c->data))
        return -EINVAL;
    memcpy(c->data + c->len, b->data, b->len);
    c->len += b->len;
    c->data[c->len] = '\0';
    c->seq = b->seq;
    c->events += b->n;
    c->pos = b->pos;
    return 0;
}

static int cap_flush(struct iocs_sink *s, int timeout_ms)
{
    (void)s;
    (void)timeout_ms;
    return 0;
}

static uint64_t cap_acked(const struct iocs_sink *s, struct iocs_sink_pos *pos)
{
    const struct capsink *c = (const struct capsink *)s;

    if (pos)
        *pos = c->pos;
    return c->seq;
}

static void cap_close(struct iocs_sink *s)
{
    (void)s;
}

static const struct iocs_sink_ops cap_ops = {
    .name = "capture",
    .write = cap_write,
    .flush = cap_flush,
    .acked = cap_acked,
    .close = cap_close,
};

struct fix {
    struct iocs_iocset *set1, *set2;
    struct iocs_db *db1, *db2; /* 192.81.209.168; and 203.0.113.77 */
    struct capsink sink;
    struct iocs_live *live;
};

static int make_db(struct iocs_iocset **set, struct iocs_db **db,
                   const char *const *vals, size_t n)
{
    char errbuf[256];

    if (iocs_iocset_new(set) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char norm[IOCS_IOC_MAX + 1];
        enum iocs_type t = IOCS_IPV4;
        const char *why;
        size_t len;
        bool dup;

        if (iocs_ioc_normalise(&t, vals[i], strlen(vals[i]), norm, sizeof(norm),
                               &len, &why) < 0)
            return -1;
        struct iocs_ioc ioc = {
            .type = t, .value = norm, .len = len, .feed = "test"};
        if (iocs_iocset_add(*set, &ioc, &dup) < 0)
            return -1;
    }
    return iocs_db_compile(db, *set, errbuf, sizeof(errbuf)) < 0 ? -1 : 0;
}

static int setup_slab(void **state, size_t slab)
{
    static const char *const one[] = {"192.81.209.168"};
    static const char *const two[] = {"192.81.209.168", "203.0.113.77"};
    struct fix *f = calloc(1, sizeof(*f));
    struct iocs_live_opts lo = {.slab_size = slab, .max_line = 4096};

    if (!f || make_db(&f->set1, &f->db1, one, 1) ||
        make_db(&f->set2, &f->db2, two, 2))
        return -1;
    f->sink.base.ops = &cap_ops;
    f->sink.base.format = IOCS_FORMAT_JSON;
    if (iocs_live_new(&f->live, f->db1, &f->sink.base, &lo) < 0)
        return -1;
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_slab(state, 1 << 16);
}

static int setup_small(void **state)
{
    return setup_slab(state, 64);
}

static int teardown(void **state)
{
    struct fix *f = *state;

    iocs_live_free(f->live);
    iocs_db_free(f->db1);
    iocs_db_free(f->db2);
    iocs_iocset_free(f->set1);
    iocs_iocset_free(f->set2);
    free(f);
    return 0;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static int open_text(const char *name, const char *text)
{
    char path[PATH_MAX];
    int fd;

    t_tmp_text(path, sizeof(path), name, text);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static struct iocs_follow_item item(int fd, uint64_t off, uint64_t line,
                                    uint64_t end, bool final)
{
    return (struct iocs_follow_item){.kind = IOCS_FOLLOW_GROWN,
                                     .handle = 1,
                                     .fd = fd,
                                     .path = "app.log",
                                     .offset = off,
                                     .line = line,
                                     .end = end,
                                     .final = final};
}

/* A non-final item is scanned up to its last '\n': the partial line is
 * left for later, and scanned once, whole, when it is complete. */
static void test_live_partial_line_waits(void **state)
{
    struct fix *f = *state;
    const char *text = "a 192.81.209.168\nb 192.81.209.168 par";
    struct iocs_live_res res;
    struct iocs_follow_item it;
    int fd = open_text("partial.log", text);

    it = item(fd, 0, 1, strlen(text), false);
    assert_int_equal(iocs_live_scan(f->live, &it, &res), 0);
    assert_int_equal(res.end, 17);
    assert_int_equal(res.line, 2);
    assert_int_equal(iocs_live_write(f->live), 0);
    assert_int_equal(f->sink.events, 1);

    /* The same bytes again: nothing new until the line ends. */
    it = item(fd, 17, 2, strlen(text), false);
    assert_int_equal(iocs_live_scan(f->live, &it, &res), 0);
    assert_int_equal(res.end, 17);
    assert_int_equal(iocs_live_write(f->live), 0);
    assert_int_equal(f->sink.events, 1);

    /* Final: the last line counts without its '\n'. */
    it = item(fd, 17, 2, strlen(text), true);
    assert_int_equal(iocs_live_scan(f->live, &it, &res), 0);
    assert_int_equal(res.end, strlen(text));
    assert_int_equal(res.line, 3);
    assert_int_equal(iocs_live_write(f->live), 0);
    assert_int_equal(f->sink.events, 2);
    assert_int_equal(count(f->sink.data, "\"line\":2"), 1);
    close(fd);
}

/* A line longer than the slab is scanned once, whole, even when the item
 * that holds it ends with another partial line. */
static void test_live_long_line(void **state)
{
    struct fix *f = *state;
    char text[1200];
    struct iocs_live_res res;
    struct iocs_follow_item it;
    int fd;

    memset(text, 'x', 500);
    strcpy(text + 500, " 192.81.209.168\nshort 192.81.209.168\ntail 192.81");
    fd = open_text("long.log", text);
    it = item(fd, 0, 1, strlen(text), false);
    assert_int_equal(iocs_live_scan(f->live, &it, &res), 0);
    assert_int_equal(res.end, strlen(text) - strlen("tail 192.81"));
    assert_int_equal(res.line, 3);
    assert_int_equal(iocs_live_write(f->live), 0);
    assert_int_equal(f->sink.events, 2);
    close(fd);
}

/* A compressed item is inflated from its start and scanned from its
 * offset (a line start in the decompressed bytes). */
static void test_live_compressed_from_offset(void **state)
{
    struct fix *f = *state;
    const char *text = "one 192.81.209.168\ntwo 192.81.209.168\n"
                       "three 192.81.209.168\n";
    struct iocs_live_res res;
    struct iocs_follow_item it;
    char path[PATH_MAX];
    gzFile g;
    int fd;

    t_path(path, sizeof(path), "rot.log.1.gz");
    g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, text, (unsigned)strlen(text)), strlen(text));
    assert_int_equal(gzclose(g), Z_OK);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    it = item(fd, 19, 2, UINT64_MAX, true);
    it.compressed = true;
    assert_int_equal(iocs_live_scan(f->live, &it, &res), 0);
    assert_int_equal(res.damaged, 0);
    assert_int_equal(res.end, strlen(text));
    assert_int_equal(res.line, 4);
    assert_int_equal(iocs_live_write(f->live), 0);
    assert_int_equal(f->sink.events, 2);
    assert_int_equal(count(f->sink.data, "one 192"), 0);
    assert_int_equal(count(f->sink.data, "\"offset\":19"), 1);

    /* The prefix hook inflates it; a plain file is left to the follower. */
    {
        unsigned char buf[64];
        size_t len = 0;
        int plain = open_text("plain.log", "plain\n");

        assert_int_equal(iocs_live_prefix(f->live, fd, buf, 8, &len), 1);
        assert_int_equal(len, 8);
        assert_memory_equal(buf, "one 192.", 8);
        assert_int_equal(iocs_live_prefix(f->live, plain, buf, 8, &len), 0);
        close(plain);
    }
    close(fd);
}

/* A batch carries the position set before it; one with no events is
 * written when the position moved, and none when nothing changed. */
static void test_live_batches_carry_pos(void **state)
{
    struct fix *f = *state;
    struct iocs_sink_pos pos = {.source = 7, .offset = 40, .line = 3};

    iocs_live_set_pos(f->live, &pos);
    assert_int_equal(iocs_live_write(f->live), 0);
    assert_int_equal(f->sink.seq, 1);
    assert_int_equal(f->sink.pos.source, 7);
    assert_int_equal(f->sink.pos.offset, 40);
    assert_int_equal(iocs_live_write(f->live), 0);
    assert_int_equal(f->sink.seq, 1);
    assert_int_equal(iocs_live_written(f->live, NULL), 1);
}

/* A reload between items: the old set's events leave first, the new set
 * finds its IOCs from the next item on, and events name the new db. */
static void test_live_set_db_between_items(void **state)
{
    struct fix *f = *state;
    const char *text = "a 192.81.209.168 203.0.113.77\n";
    struct iocs_live_res res;
    struct iocs_follow_item it;
    int fd = open_text("swap.log", text);

    it = item(fd, 0, 1, strlen(text), false);
    assert_int_equal(iocs_live_scan(f->live, &it, &res), 0);
    assert_int_equal(iocs_live_set_db(f->live, f->db2, NULL), 0);
    assert_int_equal(f->sink.events, 1); /* written by the swap */
    assert_int_equal(iocs_live_scan(f->live, &it, &res), 0);
    assert_int_equal(iocs_live_write(f->live), 0);
    assert_int_equal(f->sink.events, 3);
    assert_int_equal(count(f->sink.data, iocs_db_id(f->db1)), 1);
    assert_int_equal(count(f->sink.data, iocs_db_id(f->db2)), 2);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live_partial_line_waits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_live_long_line, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_live_compressed_from_offset, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_live_batches_carry_pos, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_live_set_db_between_items, setup,
                                        teardown),
    };
    return t_run_in_tmpdir(tests);
}
