/*
 * scan_rules — the pre-filter rule file: parsed into a list of rules,
 * nothing compiled here (scan_pf compiles them with Hyperscan).
 *
 * Format (one rule per line; '#' starts a comment line; blank lines ok):
 *
 *   <id>  <part>  /<pattern>/<flags>  <action>  "<description>"
 *
 *   id       decimal 1..4294967295, unique in the file; verdicts name it
 *   part     what the pattern is run over:
 *              header    the message header section and every MIME part's
 *                        header section, raw (folded lines as sent)
 *              body      the decoded content of every leaf part (base64
 *                        and quoted-printable undone), each part on its
 *                        own, so ^ and \A mean "start of the part"
 *              filename  each attachment name (Content-Disposition
 *                        filename, Content-Type name), decoded
 *              raw       the whole message exactly as received
 *   pattern  Hyperscan (PCRE-like) syntax; a '/' inside is written "\/"
 *   flags    any of: i (caseless), s (dot matches newline),
 *            m (^ and $ match at line ends)
 *   action   reject | scan | tag | pass   (precedence in that order)
 *   description  double-quoted; \" and \\ are the escapes
 *
 * Example:
 *   1001 filename /\.(exe|scr|js)$/i reject "executable attachment"
 *
 * Errors name the file, the line and the reason: "rules.conf:12: unknown
 * action 'drop'".  Parsing is pure (no I/O except scan_rules_load) and
 * callable from any thread; the result is owned by the caller.
 */
#ifndef SCAN_RULES_H
#define SCAN_RULES_H

#include <stddef.h>
#include <stdint.h>

/* Ordered by precedence: the highest matched action wins. */
enum scan_action {
	SCAN_ACT_PASS = 0,
	SCAN_ACT_TAG,
	SCAN_ACT_SCAN,
	SCAN_ACT_REJECT,
};

enum scan_part {
	SCAN_PART_HEADER = 0,
	SCAN_PART_BODY,
	SCAN_PART_FILENAME,
	SCAN_PART_RAW,
	SCAN_PART__COUNT,
};

#define SCAN_RULE_F_CASELESS 0x1u
#define SCAN_RULE_F_DOTALL 0x2u
#define SCAN_RULE_F_MULTILINE 0x4u

#define SCAN_RULES_MAX 65536
#define SCAN_RULE_PATTERN_MAX 4096
#define SCAN_RULE_DESC_MAX 256

struct scan_rule {
	uint32_t id;
	enum scan_part part;
	enum scan_action action;
	unsigned flags; /* SCAN_RULE_F_* */
	unsigned line;	/* in the file, for compile errors */
	char *pattern;
	char *desc;
};

struct scan_rules {
	char *file; /* name used in messages */
	struct scan_rule *v;
	size_t count;
};

const char *scan_action_name(enum scan_action a);
/* 0, or -EINVAL for an unknown name. */
int scan_action_parse(const char *name, enum scan_action *out);
const char *scan_part_name(enum scan_part p);

/*
 * Parses text (len bytes, need not be NUL-terminated).  0 and *out set, or
 * -EINVAL with "file:line: reason" in err, or -ENOMEM.
 */
int scan_rules_parse(const char *file, const char *text, size_t len,
		     struct scan_rules **out, char *err, size_t errlen);
/* Reads and parses a file: also -errno from open/read with "path: reason". */
int scan_rules_load(const char *path, struct scan_rules **out, char *err,
		    size_t errlen);
void scan_rules_free(struct scan_rules *r);

#endif
