/*
 * rules.h - regex rule files: each rule becomes one IOCS_REGEX entry of an
 * iocs_iocset, validated with Hyperscan when it is loaded.
 *
 * The format, one rule per line:
 *
 *     # a comment; blank lines are skipped too
 *     ID SEVERITY /EXPRESSION/FLAGS DESCRIPTION...
 *
 *   ID          1 to 64 bytes of letters, digits and . _ : -
 *               ("bt-cve-2024-12356-ws"); it names the rule in events.
 *   SEVERITY    an integer 0..100 (ECS event.severity), or one of low (21),
 *               medium (47), high (73), critical (99).
 *   EXPRESSION  a Hyperscan (PCRE-subset) expression between slashes. A
 *               '/' inside it is written "\/"; a backslash escapes the byte
 *               after it, so the first unescaped '/' ends the expression.
 *               No lookaround and no back-references (Hyperscan has none).
 *   FLAGS       any of: i caseless, s dot matches every byte (dotall),
 *               m accepted for familiarity and ignored (see below). Any
 *               other letter is an error.
 *   DESCRIPTION the rest of the line, trimmed; may be empty.
 *
 * Fields are separated by spaces or tabs; CRLF line ends and a UTF-8 BOM
 * are accepted. Semantics (DESIGN.md, regex row): a rule matches inside one
 * line. ^ and $ are always line anchors (Hyperscan's multiline flag is
 * always set); a match that would cross a '\n' is dropped by the scanner;
 * the match start reported is the leftmost one. A rule must not match the
 * empty string. The stored value is the expression as written; the
 * reference is "file:line".
 *
 * Each rule is compiled on its own when loaded, with the flags the database
 * uses, so a bad rule is rejected as (file, line, Hyperscan's message)
 * before anything is scanned. Config-time only; nothing is printed here.
 */
#ifndef IOCS_RULES_H
#define IOCS_RULES_H

#include <stddef.h>

#include "matchers/feed.h"
#include "matchers/ioc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest rule id, in bytes. */
#define IOCS_RULE_ID_MAX 64

/*
 * Parse the FLAGS letters s[0..n) into Hyperscan flags (HS_FLAG_CASELESS,
 * HS_FLAG_DOTALL). Returns 0 and sets *out, or -EINVAL for an unknown or
 * repeated letter.
 */
int iocs_rules_flags(const char *s, size_t n, unsigned *out);

/*
 * Compile one expression alone with the flags the database will add
 * (leftmost start of match, multiline) to see whether Hyperscan takes it.
 * Returns 0, -EINVAL with Hyperscan's message in errbuf, or -ENOMEM.
 */
int iocs_rules_check(const char *expr, unsigned hs_flags, char *errbuf,
                     size_t errlen);

/*
 * Load buf[0..n) as the rule file named name (in messages, references
 * "name:line", and, without its directories, as iocs_ioc.feed). Each good
 * rule is added to set as an IOCS_REGEX IOC; each bad line is passed to
 * reject as (file, line, why), where why carries Hyperscan's message for an
 * expression it refused. Counts go to *rep (rep and reject may be NULL).
 * Returns 0 when the buffer was read (even with rejected lines), -ENOMEM, or
 * -EINVAL when the buffer holds a NUL byte (nothing is added then).
 */
int iocs_rules_load_mem(struct iocs_iocset *set, const char *name,
                        const char *buf, size_t n, iocs_reject_fn reject,
                        void *ctx, struct iocs_feed_report *rep);

/*
 * Read the file at path and load it as above. Returns 0, a negative errno
 * from open/read, or what iocs_rules_load_mem() returns.
 */
int iocs_rules_load_file(struct iocs_iocset *set, const char *path,
                         iocs_reject_fn reject, void *ctx,
                         struct iocs_feed_report *rep);

#ifdef __cplusplus
}
#endif

#endif /* IOCS_RULES_H */
