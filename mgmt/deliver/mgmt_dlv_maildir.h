/*
 * mgmt_dlv_maildir — local delivery into a Maildir tree:
 * <root>/<domain>/<user>/{tmp,new,cur}, created on first use (mode 0700).
 *
 * The Maildir rules: a unique name (time, microseconds, pid, a counter,
 * host name), the message written to tmp/ and fsync()ed, then link()ed
 * into new/ (link, unlike rename, never replaces an existing file), tmp/
 * unlinked, and new/ fsync()ed so the entry itself is durable before the
 * recipient is recorded as delivered.  Lines are stored with LF endings,
 * as Maildir readers expect, after a Return-Path and a Delivered-To line.
 *
 * Blocking file I/O: runs on the management thread, one message at a time.
 * Domain and local part are folded to lower case for the directory names;
 * a local part that could escape the tree ("..", "/", control bytes) is
 * refused permanently.
 */
#ifndef MGMT_DLV_MAILDIR_H
#define MGMT_DLV_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mgmt_dlv_maildir_result {
	bool permanent;	 /* on failure: bounce rather than defer */
	char status[16]; /* RFC 3463 code of the failure */
	char diag[256];	 /* human reason */
};

/*
 * Delivers body (CRLF lines) for rcpt.  0 when the message is durable in
 * new/, else -errno with *res filled.
 */
int mgmt_dlv_maildir_deliver(const char *root, const char *rcpt,
			     const char *mail_from, const uint8_t *body,
			     size_t body_len,
			     struct mgmt_dlv_maildir_result *res);
/* The same with one more header line (no line end; NULL for none) after
 * Return-Path and Delivered-To: the scan trace (mgmt_dlv_trace). */
int mgmt_dlv_maildir_deliver_hdr(const char *root, const char *rcpt,
				 const char *mail_from, const char *extra_hdr,
				 const uint8_t *body, size_t body_len,
				 struct mgmt_dlv_maildir_result *res);

#endif
