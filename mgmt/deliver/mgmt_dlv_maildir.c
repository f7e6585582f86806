/*
 * mgmt_dlv_maildir — Maildir delivery (see the header for the rules).
 */
#include "mgmt_dlv_maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static unsigned long maildir_seq;

static void set_fail(struct mgmt_dlv_maildir_result *res, bool permanent,
		     const char *status, const char *what, int err)
{
	res->permanent = permanent;
	snprintf(res->status, sizeof(res->status), "%s", status);
	if (err)
		snprintf(res->diag, sizeof(res->diag), "maildir: %s: %s", what,
			 strerror(err));
	else
		snprintf(res->diag, sizeof(res->diag), "maildir: %s", what);
}

/* Transient unless the error says the mailbox itself can never work. */
static int io_fail(struct mgmt_dlv_maildir_result *res, const char *what,
		   int err)
{
	const char *status = "4.3.0";

	if (err == ENOSPC)
		status = "4.3.1"; /* RFC 3463: mail system full */
	else if (err == EDQUOT)
		status = "4.2.2"; /* mailbox full */
	set_fail(res, false, status, what, err);
	return -err;
}

static int name_part(const char *s, size_t len, char *out, size_t size)
{
	if (len == 0 || len >= size || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.') || s[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c == 0x7f || c == '/' || c == '\\')
			return -EINVAL;
		out[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	out[len] = '\0';
	return 0;
}

static int mkdir_one(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

/* mkdir -p for the root: the configured tree may not exist yet. */
static int mkdir_parents(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	int rc;

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = mkdir_one(tmp);
		*p = '/';
		if (rc < 0)
			return rc;
	}
	return mkdir_one(tmp);
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies body with CR LF turned into LF, through a bounded buffer. */
static int write_body(int fd, const uint8_t *body, size_t len)
{
	char buf[65536];
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < len; i++) {
		if (body[i] == '\r' && i + 1 < len && body[i + 1] == '\n')
			continue;
		buf[n++] = (char)body[i];
		if (n == sizeof(buf)) {
			rc = write_all(fd, buf, n);
			if (rc < 0)
				return rc;
			n = 0;
		}
	}
	return write_all(fd, buf, n);
}

int mgmt_dlv_maildir_deliver(const char *root, const char *rcpt,
			     const char *mail_from, const uint8_t *body,
			     size_t body_len,
			     struct mgmt_dlv_maildir_result *res)
{
	return mgmt_dlv_maildir_deliver_hdr(root, rcpt, mail_from, NULL, body,
					    body_len, res);
}

int mgmt_dlv_maildir_deliver_hdr(const char *root, const char *rcpt,
				 const char *mail_from, const char *extra_hdr,
				 const uint8_t *body, size_t body_len,
				 struct mgmt_dlv_maildir_result *res)
{
	char user[256], domain[256], box[PATH_MAX], tmp[PATH_MAX],
	    fresh[PATH_MAX], host[64], head[1024];
	const char *at = strrchr(rcpt, '@');
	struct timeval tv;
	int fd, rc, n;

	memset(res, 0, sizeof(*res));
	if (at == NULL ||
	    name_part(rcpt, (size_t)(at - rcpt), user, sizeof(user)) < 0 ||
	    name_part(at + 1, strlen(at + 1), domain, sizeof(domain)) < 0) {
		set_fail(res, true, "5.1.3", "recipient unusable as a mailbox",
			 0);
		return -EINVAL;
	}
	if (strlen(root) > 3500) {
		set_fail(res, true, "5.1.3", "maildir root path too long", 0);
		return -ENAMETOOLONG;
	}
	snprintf(box, sizeof(box), "%.3500s/%s", root, domain);
	rc = mkdir_one(box);
	if (rc == -ENOENT && (rc = mkdir_parents(root)) == 0)
		rc = mkdir_one(box);
	if (rc < 0)
		return io_fail(res, "mkdir domain", -rc);
	snprintf(box, sizeof(box), "%.3500s/%s/%s", root, domain, user);
	if ((rc = mkdir_one(box)) < 0)
		return io_fail(res, "mkdir mailbox", -rc);
	static const char *const subs[] = {"tmp", "new", "cur"};
	for (unsigned i = 0; i < 3; i++) {
		snprintf(tmp, sizeof(tmp), "%.4000s/%s", box, subs[i]);
		if ((rc = mkdir_one(tmp)) < 0)
			return io_fail(res, "mkdir subdir", -rc);
	}

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++) /* the name must not hold '/' or ':' */
		if (*p == '/' || *p == ':')
			*p = '_';
	gettimeofday(&tv, NULL);
	snprintf(tmp, sizeof(tmp), "%.3900s/tmp/%lld.M%06ldP%dQ%lu.%s", box,
		 (long long)tv.tv_sec, (long)tv.tv_usec, (int)getpid(),
		 ++maildir_seq, host);
	snprintf(fresh, sizeof(fresh), "%.3900s/new/%.150s", box,
		 strrchr(tmp, '/') + 1);

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_fail(res, "create in tmp", errno);
	n = snprintf(head, sizeof(head),
		     "Return-Path: <%.400s>\nDelivered-To: %.400s\n%.300s%s",
		     mail_from, rcpt, extra_hdr ? extra_hdr : "",
		     extra_hdr ? "\n" : "");
	rc = write_all(fd, head, (size_t)n);
	if (rc == 0)
		rc = write_body(fd, body, body_len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return io_fail(res, "write", -rc);
	}
	if (link(tmp, fresh) < 0) {
		rc = errno;
		unlink(tmp);
		return io_fail(res, "link into new", rc);
	}
	unlink(tmp);
	snprintf(tmp, sizeof(tmp), "%.4000s/new", box);
	if ((rc = fsync_dir(tmp)) < 0)
		return io_fail(res, "fsync new", -rc);
	return 0;
}
