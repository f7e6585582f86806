/*
 * test_scan_clam_proto — the scanner IPC wire format: every message type
 * round-trips, every broken rule is refused with -EBADMSG, and every
 * truncation (and extension) of a valid datagram is refused too — the
 * datagram form of "split at every byte".
 */
#include <errno.h>

#include "scan_clam_proto.h"
#include "scan_test.h"

static const struct scan_clam_msg good[] = {
    {.type = SCAN_CLAM_REQ_SCAN,
     .seq = 1,
     .msg_id = 0xabc,
     .off = 4096,
     .len = 100,
     .text_len = 16,
     .text = "/var/q/seg-00001"},
    {.type = SCAN_CLAM_RSP_VERDICT,
     .seq = 1,
     .code = SCAN_V_INFECTED,
     .text_len = 9,
     .text = "Eicar-Sig"},
    {.type = SCAN_CLAM_RSP_VERDICT, .seq = 2, .code = SCAN_V_CLEAN},
    {.type = SCAN_CLAM_RSP_READY, .code = 5, .text_len = 4, .text = "1.4."},
    {.type = SCAN_CLAM_RSP_LOADFAIL, .text_len = 3, .text = "bad"},
};

static void roundtrip(void)
{
	uint8_t buf[SCAN_CLAM_MSG_MAX];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct scan_clam_msg m;
		ssize_t n = scan_clam_msg_encode(&good[i], buf, sizeof(buf));
		CHECK(n == (ssize_t)(SCAN_CLAM_HDR_LEN + good[i].text_len));
		CHECKF(scan_clam_msg_decode(buf, (size_t)n, &m) == 0,
		       "case %zu", i);
		CHECK(m.type == good[i].type && m.seq == good[i].seq &&
		      m.msg_id == good[i].msg_id && m.off == good[i].off &&
		      m.len == good[i].len && m.code == good[i].code &&
		      m.text_len == good[i].text_len &&
		      memcmp(m.text, good[i].text ? good[i].text : "",
			     m.text_len) == 0);
		/* Every other length of the same bytes is refused. */
		for (size_t k = 0; k <= (size_t)n + 8; k++)
			if (k != (size_t)n)
				CHECKF(scan_clam_msg_decode(buf, k, &m) ==
					   -EBADMSG,
				       "case %zu length %zu", i, k);
	}
}

/* Encodes good[0], applies a corruption, expects -EBADMSG. */
static void corrupt(const char *what, size_t at, const void *val, size_t n,
		    const struct scan_clam_msg *base)
{
	uint8_t buf[SCAN_CLAM_MSG_MAX];
	struct scan_clam_msg m;
	ssize_t len = scan_clam_msg_encode(base, buf, sizeof(buf));

	memcpy(buf + at, val, n);
	CHECKF(scan_clam_msg_decode(buf, (size_t)len, &m) == -EBADMSG, "%s",
	       what);
}

int main(void)
{
	uint32_t u32 = 0;
	uint16_t u16;
	uint64_t u64;

	roundtrip();
	corrupt("magic", 0, &u32, 4, &good[0]);
	u16 = 2;
	corrupt("version", 4, &u16, 2, &good[0]);
	u16 = 99;
	corrupt("type", 6, &u16, 2, &good[0]);
	u16 = 1;
	corrupt("zero field", 46, &u16, 2, &good[0]);
	u64 = 0;
	corrupt("zero length", 32, &u64, 8, &good[0]);
	u64 = UINT64_MAX;
	corrupt("offset overflow", 24, &u64, 8, &good[0]);
	corrupt("NUL in path", SCAN_CLAM_HDR_LEN + 3, "\0", 1, &good[0]);
	u32 = 3;
	corrupt("verdict code", 40, &u32, 4, &good[1]);

	struct scan_clam_msg empty = good[0];
	empty.text_len = 0;
	uint8_t buf[SCAN_CLAM_MSG_MAX];
	struct scan_clam_msg m;
	ssize_t n = scan_clam_msg_encode(&empty, buf, sizeof(buf));
	CHECK(scan_clam_msg_decode(buf, (size_t)n, &m) == -EBADMSG);

	struct scan_clam_msg big = good[3];
	big.text_len = SCAN_CLAM_TEXT_MAX + 1;
	CHECK(scan_clam_msg_encode(&big, buf, sizeof(buf)) == -EMSGSIZE);
	CHECK(scan_clam_msg_encode(&good[0], buf, 20) == -EMSGSIZE);

	CHECK(strcmp(scan_verdict_name(SCAN_V_FAILED), "scan_failed") == 0);
	return TEST_EXIT();
}
