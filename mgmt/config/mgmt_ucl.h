/*
 * mgmt_ucl — a parser for the UCL configuration syntax (the nginx-like
 * language of libucl) that keeps the file and line of every key, so that
 * configuration errors can name them.
 *
 * Why our own: Debian 12's "libucl-dev" is the UCL *compression* library,
 * not the configuration language, and libucl proper is not packaged.  The
 * subset accepted here is documented in docs/config.md: objects, arrays,
 * double/single quoted strings, bare words, numbers with the libucl
 * multipliers (k/m/g = 10^3.., kb/mb/gb = 2^10..) and time suffixes
 * (ms, s, min, h, d, w, y), booleans, null, `#` and nested C comments,
 * `key "name" { }` sections, and `.include "path"` (relative to the
 * including file; wildcards glob; `.include(try=true)` tolerates absence).
 * Repeating a key merges objects; repeating a scalar key is an error.
 *
 * Threading: no shared state; any thread may call.  A document owns every
 * node and string below it; mgmt_ucl_free() releases all of it.
 * Failure: parse functions return NULL and write "file:line: reason" into
 * err.
 */
#ifndef MGMT_UCL_H
#define MGMT_UCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mgmt_ucl_type {
	MGMT_UCL_OBJECT,
	MGMT_UCL_ARRAY,
	MGMT_UCL_STRING, /* quoted string or bare word */
	MGMT_UCL_INT,	 /* integer, maybe with a size multiplier */
	MGMT_UCL_FLOAT,
	MGMT_UCL_TIME, /* number with a time suffix, in seconds */
	MGMT_UCL_BOOL,
	MGMT_UCL_NULL,
};

enum mgmt_ucl_mult {
	MGMT_UCL_MULT_NONE,
	MGMT_UCL_MULT_DEC, /* k, m, g: powers of 1000 */
	MGMT_UCL_MULT_BIN, /* kb, mb, gb: powers of 1024 */
};

struct mgmt_ucl_node {
	enum mgmt_ucl_type type;
	char *key;	  /* NULL for array elements and the root */
	const char *file; /* owned by the document */
	unsigned line;
	char *text;  /* STRING: the value; numbers: the source token */
	bool quoted; /* STRING came from quotes */
	enum mgmt_ucl_mult mult;		   /* INT */
	int64_t i;				   /* INT, BOOL */
	double d;				   /* FLOAT, TIME (seconds) */
	struct mgmt_ucl_node *child, *last, *next; /* OBJECT, ARRAY */
	unsigned child_count;
};

struct mgmt_ucl_doc;

/* Parses a file (and its includes) into a document. */
struct mgmt_ucl_doc *mgmt_ucl_parse_file(const char *path, char *err,
					 size_t errlen);

/* Parses text; `name` stands for the file in errors and node->file, and
 * relative includes resolve against its directory. */
struct mgmt_ucl_doc *mgmt_ucl_parse_text(const char *name, const char *text,
					 size_t len, char *err, size_t errlen);

/* Parses a single value (scalar, [array] or {object}) — the right-hand side
 * of a `-o key=value` override.  A bare word is a string. */
struct mgmt_ucl_doc *mgmt_ucl_parse_value(const char *name, const char *text,
					  char *err, size_t errlen);

struct mgmt_ucl_node *mgmt_ucl_root(struct mgmt_ucl_doc *doc);

/* First child of an object with this key, or NULL. */
struct mgmt_ucl_node *mgmt_ucl_lookup(const struct mgmt_ucl_node *obj,
				      const char *key);

/* Moves everything `src` owns into `doc` (nodes of `src` stay valid for
 * as long as `doc` lives); `src` is freed. */
void mgmt_ucl_doc_adopt(struct mgmt_ucl_doc *doc, struct mgmt_ucl_doc *src);
/* The child object `key` of `obj`, created empty if absent; NULL if it
 * exists but is not an object, or on allocation failure. */
struct mgmt_ucl_node *mgmt_ucl_obj_child(struct mgmt_ucl_doc *doc,
					 struct mgmt_ucl_node *obj,
					 const char *key, const char *file,
					 unsigned line);
/* Puts `value` under `key` in `obj`, dropping any child with that key.
 * Returns 0 or -ENOMEM. */
int mgmt_ucl_obj_replace(struct mgmt_ucl_doc *doc, struct mgmt_ucl_node *obj,
			 const char *key, struct mgmt_ucl_node *value);

/* A file name interned in the document (for nodes made by the caller). */
const char *mgmt_ucl_doc_file(struct mgmt_ucl_doc *doc, const char *name);

const char *mgmt_ucl_type_name(enum mgmt_ucl_type type);

void mgmt_ucl_free(struct mgmt_ucl_doc *doc);

#endif
