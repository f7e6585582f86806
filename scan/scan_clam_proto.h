/*
 * scan_clam_proto — the messages between the daemon's scanner pool and a
 * scanner process (byte layout and validity rules in scan_clam_proto.c).
 * Pure encode/decode, no I/O; any thread.
 */
#ifndef SCAN_CLAM_PROTO_H
#define SCAN_CLAM_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SCAN_CLAM_MAGIC 0x5343584du /* "MXCS" read as bytes */
#define SCAN_CLAM_VERSION 1
#define SCAN_CLAM_HDR_LEN 48
#define SCAN_CLAM_TEXT_MAX 4000
#define SCAN_CLAM_MSG_MAX (SCAN_CLAM_HDR_LEN + SCAN_CLAM_TEXT_MAX)

enum scan_clam_type {
	SCAN_CLAM_REQ_SCAN = 1,	  /* daemon -> scanner */
	SCAN_CLAM_RSP_READY = 16, /* scanner -> daemon */
	SCAN_CLAM_RSP_LOADFAIL = 17,
	SCAN_CLAM_RSP_VERDICT = 18,
};

/* What a scan found; also the pool's verdict to its caller. */
enum scan_verdict {
	SCAN_V_CLEAN = 0,
	SCAN_V_INFECTED = 1,
	SCAN_V_ERROR = 2,  /* the scanner could not scan it */
	SCAN_V_FAILED = 3, /* pool only: it took down a scanner twice */
};

const char *scan_verdict_name(enum scan_verdict v);

struct scan_clam_msg {
	uint16_t type;	 /* enum scan_clam_type */
	uint64_t seq;	 /* request number, echoed in the verdict */
	uint64_t msg_id; /* queue message id (logs only) */
	uint64_t off;	 /* body range in the segment file */
	uint64_t len;
	uint32_t code; /* verdict, or signature count for READY */
	uint16_t text_len;
	const char *text; /* path / signature / reason; not NUL-ended */
};

/* Bytes written into buf (size >= SCAN_CLAM_MSG_MAX), or -EMSGSIZE. */
ssize_t scan_clam_msg_encode(const struct scan_clam_msg *m, uint8_t *buf,
			     size_t size);
/* 0, or -EBADMSG for anything that breaks the rules; m->text points into
 * buf. */
int scan_clam_msg_decode(const uint8_t *buf, size_t len,
			 struct scan_clam_msg *m);

#endif
