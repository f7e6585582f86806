/*
 * mgmt_dlv_reply — SMTP reply parser for the delivery client.  See the
 * header for the contract; the line rules are RFC 5321 §4.2 and §4.2.1.
 */
#include "mgmt_dlv_reply.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

void mgmt_dlv_reply_init(struct mgmt_dlv_reply_parser *p)
{
	p->line_len = 0;
	p->code = 0;
	p->line_count = 0;
	memset(&p->cur, 0, sizeof(p->cur));
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * RFC 3463 §2: class "." subject "." detail, class 2, 4 or 5, subject and
 * detail 1-3 digits, followed by a space or the end of the text.  Only
 * taken when the class agrees with the reply code (RFC 2034 §4).
 */
static void parse_enh(struct mgmt_dlv_reply *r, const char *t, size_t len)
{
	size_t i = 0, digits;

	if (len < 5 || t[0] != (char)('0' + r->code / 100) || t[1] != '.')
		return;
	i = 2;
	for (int part = 0; part < 2; part++) {
		digits = 0;
		while (i < len && is_digit(t[i]) && digits < 4) {
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return;
		if (part == 0) {
			if (i >= len || t[i] != '.')
				return;
			i++;
		}
	}
	if (i < len && t[i] != ' ')
		return;
	if (i >= sizeof(r->enh))
		return;
	memcpy(r->enh, t, i);
	r->enh[i] = '\0';
}

static void append_text(struct mgmt_dlv_reply *r, const char *t, size_t len)
{
	size_t room = sizeof(r->text) - 1 - r->text_len;

	if (r->line_count > 0 && room > 0) {
		r->text[r->text_len++] = '\n';
		room--;
	}
	if (len > room)
		len = room;
	memcpy(r->text + r->text_len, t, len);
	r->text_len += len;
	r->text[r->text_len] = '\0';
}

/* One complete line (without CR LF): 1 if it ended the reply. */
static int take_line(struct mgmt_dlv_reply_parser *p)
{
	const char *l = p->line;
	size_t len = p->line_len;
	int code;
	bool last;

	if (len < 3 || !is_digit(l[0]) || !is_digit(l[1]) || !is_digit(l[2]))
		return -EPROTO;
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	/* RFC 5321 §4.2: the first digit is 2-5 for every reply we expect. */
	if (code < 200 || code > 599)
		return -EPROTO;
	if (len == 3 || l[3] == ' ')
		last = true;
	else if (l[3] == '-')
		last = false;
	else
		return -EPROTO;
	/* RFC 5321 §4.2.1: every line of a multiline reply has the code. */
	if (p->line_count > 0 && code != p->code)
		return -EPROTO;
	if (p->line_count == 0) {
		memset(&p->cur, 0, sizeof(p->cur));
		p->cur.code = code;
		p->code = code;
		if (len > 4)
			parse_enh(&p->cur, l + 4, len - 4);
	}
	if (++p->line_count > MGMT_DLV_REPLY_LINES_MAX)
		return -EPROTO;
	append_text(&p->cur, len > 4 ? l + 4 : "", len > 4 ? len - 4 : 0);
	p->cur.line_count = p->line_count;
	return last ? 1 : 0;
}

int mgmt_dlv_reply_parse(struct mgmt_dlv_reply_parser *p, const uint8_t *in,
			 size_t len, size_t *used, struct mgmt_dlv_reply *out)
{
	for (size_t i = 0; i < len; i++) {
		char c = (char)in[i];
		int rc;

		if (c != '\n') {
			/* Overlong lines keep their start (RFC 5321 §4.5.3.1.5
			 * allows 512; we are lenient, then truncate). */
			if (p->line_len < sizeof(p->line))
				p->line[p->line_len++] = c;
			continue;
		}
		/* Tolerate a bare LF as well as CR LF. */
		if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
			p->line_len--;
		rc = take_line(p);
		p->line_len = 0;
		if (rc < 0) {
			*used = i + 1;
			mgmt_dlv_reply_init(p);
			return rc;
		}
		if (rc == 1) {
			*out = p->cur;
			*used = i + 1;
			p->code = 0;
			p->line_count = 0;
			return 1;
		}
	}
	*used = len;
	return 0;
}

size_t mgmt_dlv_reply_format(const struct mgmt_dlv_reply *r, char *buf,
			     size_t size)
{
	size_t n = 0;

	if (size < 4) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	buf[n++] = (char)('0' + r->code / 100 % 10);
	buf[n++] = (char)('0' + r->code / 10 % 10);
	buf[n++] = (char)('0' + r->code % 10);
	if (r->text_len > 0 && n < size)
		buf[n++] = ' ';
	for (size_t i = 0; i < r->text_len && n < size; i++) {
		unsigned char c = (unsigned char)r->text[i];

		if (c == '\n')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		buf[n++] = (char)c;
	}
	if (n >= size)
		n = size - 1;
	buf[n] = '\0';
	return n;
}
