/*
 * scan_clam_proto — wire format of the scanner IPC.
 *
 * Transport: one AF_UNIX SOCK_SEQPACKET socketpair per scanner process, so
 * each message is exactly one datagram (no framing, EOF = peer gone).  Both
 * ends are the same build on the same host: integers are in host byte
 * order.  Every message is a 48-byte header followed by text_len bytes:
 *
 *   off size field
 *     0    4 magic      0x5343584d
 *     4    2 version    1
 *     6    2 type       1 REQ_SCAN, 16 RSP_READY, 17 RSP_LOADFAIL,
 *                       18 RSP_VERDICT
 *     8    8 seq        REQ_SCAN: request number; VERDICT: the same number
 *    16    8 msg_id     queue message id, for logs
 *    24    8 off        REQ_SCAN: first byte of the message body in the file
 *    32    8 len        REQ_SCAN: body length in bytes
 *    40    4 code       VERDICT: 0 clean, 1 infected, 2 error;
 *                       READY: number of signatures loaded
 *    44    2 text_len   bytes of text after the header (<= 4000)
 *    46    2 zero
 *    48    … text       REQ_SCAN: segment file path (absolute, no NUL);
 *                       VERDICT: signature name (infected) or reason
 *                       (error); READY: engine description;
 *                       LOADFAIL: why the engine did not load or self-test
 *
 * Validity: datagram length == 48 + text_len, magic and version match,
 * type is known, the zero field is zero; REQ_SCAN needs a non-empty path
 * without NUL, len > 0 and off + len not overflowing; VERDICT needs code
 * <= 2.  Anything else is -EBADMSG: the pool counts it and restarts the
 * scanner, a scanner exits.
 *
 * Conversation: the scanner sends READY (or LOADFAIL and exits) once its
 * engine is compiled and self-tested; then, one at a time, the pool sends
 * REQ_SCAN and the scanner answers VERDICT with the same seq.
 */
#include "scan_clam_proto.h"

#include <errno.h>
#include <string.h>

const char *scan_verdict_name(enum scan_verdict v)
{
	switch (v) {
	case SCAN_V_CLEAN:
		return "clean";
	case SCAN_V_INFECTED:
		return "infected";
	case SCAN_V_ERROR:
		return "error";
	case SCAN_V_FAILED:
		return "scan_failed";
	}
	return "?";
}

static void put(uint8_t *b, size_t off, const void *v, size_t n)
{
	memcpy(b + off, v, n);
}

static void get(const uint8_t *b, size_t off, void *v, size_t n)
{
	memcpy(v, b + off, n);
}

ssize_t scan_clam_msg_encode(const struct scan_clam_msg *m, uint8_t *buf,
			     size_t size)
{
	uint32_t magic = SCAN_CLAM_MAGIC;
	uint16_t ver = SCAN_CLAM_VERSION, zero = 0;
	size_t n = SCAN_CLAM_HDR_LEN + m->text_len;

	if (m->text_len > SCAN_CLAM_TEXT_MAX || n > size)
		return -EMSGSIZE;
	put(buf, 0, &magic, 4);
	put(buf, 4, &ver, 2);
	put(buf, 6, &m->type, 2);
	put(buf, 8, &m->seq, 8);
	put(buf, 16, &m->msg_id, 8);
	put(buf, 24, &m->off, 8);
	put(buf, 32, &m->len, 8);
	put(buf, 40, &m->code, 4);
	put(buf, 44, &m->text_len, 2);
	put(buf, 46, &zero, 2);
	if (m->text_len)
		memcpy(buf + SCAN_CLAM_HDR_LEN, m->text, m->text_len);
	return (ssize_t)n;
}

int scan_clam_msg_decode(const uint8_t *buf, size_t len,
			 struct scan_clam_msg *m)
{
	uint32_t magic;
	uint16_t ver, zero;

	if (len < SCAN_CLAM_HDR_LEN)
		return -EBADMSG;
	get(buf, 0, &magic, 4);
	get(buf, 4, &ver, 2);
	get(buf, 6, &m->type, 2);
	get(buf, 8, &m->seq, 8);
	get(buf, 16, &m->msg_id, 8);
	get(buf, 24, &m->off, 8);
	get(buf, 32, &m->len, 8);
	get(buf, 40, &m->code, 4);
	get(buf, 44, &m->text_len, 2);
	get(buf, 46, &zero, 2);
	if (magic != SCAN_CLAM_MAGIC || ver != SCAN_CLAM_VERSION || zero ||
	    m->text_len > SCAN_CLAM_TEXT_MAX ||
	    len != SCAN_CLAM_HDR_LEN + (size_t)m->text_len)
		return -EBADMSG;
	m->text = (const char *)buf + SCAN_CLAM_HDR_LEN;
	switch (m->type) {
	case SCAN_CLAM_REQ_SCAN:
		if (m->text_len == 0 || memchr(m->text, 0, m->text_len) ||
		    m->len == 0 || m->off + m->len < m->off)
			return -EBADMSG;
		return 0;
	case SCAN_CLAM_RSP_VERDICT:
		return m->code <= SCAN_V_ERROR ? 0 : -EBADMSG;
	case SCAN_CLAM_RSP_READY:
	case SCAN_CLAM_RSP_LOADFAIL:
		return 0;
	default:
		return -EBADMSG;
	}
}
