/*
 * test_dlv_maildir — the Maildir writer in a private temporary tree: the
 * layout (<root>/<domain>/<user>/{tmp,new,cur}, created with the root),
 * names folded to lower case, CRLF stored as LF after Return-Path and
 * Delivered-To, unique names, an empty tmp/ afterwards, and the table of
 * recipients refused permanently because they could escape the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt_dlv_maildir.h"
#include "mx_test.h"

static char root[256];

static unsigned count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static size_t read_only_file(const char *dir, char *buf, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1024];
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (f) {
			n = fread(buf, 1, size - 1, f);
			fclose(f);
		}
		break;
	}
	closedir(d);
	buf[n] = '\0';
	return n;
}

static void rm_tree(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", path);
}

static const char body[] = "Subject: hi\r\n\r\n.dot\r\nline two\r\nno end";

static void test_layout(void)
{
	struct mgmt_dlv_maildir_result res;
	char path[512], buf[4096];

	/* The root does not exist yet: it is created. */
	snprintf(path, sizeof(path), "%s/deep/er", root);
	CHECK(mgmt_dlv_maildir_deliver(path, "Bob.Smith+tag@Example.ORG",
				       "s@x.test", (const uint8_t *)body,
				       sizeof(body) - 1, &res) == 0);
	snprintf(path, sizeof(path), "%s/deep/er/example.org/bob.smith+tag/new",
		 root);
	CHECK_EQ_U64(count_dir(path), 1);
	read_only_file(path, buf, sizeof(buf));
	CHECK(strcmp(buf, "Return-Path: <s@x.test>\n"
			  "Delivered-To: Bob.Smith+tag@Example.ORG\n"
			  "Subject: hi\n\n.dot\nline two\nno end") == 0);
	snprintf(path, sizeof(path), "%s/deep/er/example.org/bob.smith+tag/tmp",
		 root);
	CHECK_EQ_U64(count_dir(path), 0);
	snprintf(path, sizeof(path), "%s/deep/er/example.org/bob.smith+tag/cur",
		 root);
	struct stat st;
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK((st.st_mode & 0777) == 0700);
}

static void test_unique(void)
{
	struct mgmt_dlv_maildir_result res;
	char path[512];

	for (int i = 0; i < 200; i++)
		CHECK(mgmt_dlv_maildir_deliver(root, "many@x.test", "",
					       (const uint8_t *)body,
					       sizeof(body) - 1, &res) == 0);
	snprintf(path, sizeof(path), "%s/x.test/many/new", root);
	CHECK_EQ_U64(count_dir(path), 200);
}

static const char *const refused[] = {
    "../x@d.test", "a/b@d.test", ".x@d.test",	"x@../d",     "x@d/e",
    "noat",	   "x@",	 "@d.test",	"x y@d.test", "x\n@d.test",
    "..@d.test",   "x@.",	 "x\\y@d.test",
};

static void test_refused(void)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct mgmt_dlv_maildir_result res;
		int rc = mgmt_dlv_maildir_deliver(root, refused[i], "s@x",
						  (const uint8_t *)body,
						  sizeof(body) - 1, &res);

		if (rc == 0)
			fprintf(stderr, "accepted \"%s\"\n", refused[i]);
		CHECK(rc < 0);
		CHECK(res.permanent);
		CHECK(strcmp(res.status, "5.1.3") == 0);
	}
	/* Nothing was created for them: the tree still holds only the
	 * two domains of the earlier tests. */
	CHECK_EQ_U64(count_dir(root), 2);
}

static void test_transient(void)
{
	struct mgmt_dlv_maildir_result res;
	char path[512];

	/* A file where the domain directory should be: a transient error
	 * (the operator can fix it), not a bounce. */
	snprintf(path, sizeof(path), "%s/blocked.test", root);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK(mgmt_dlv_maildir_deliver(root, "u@blocked.test", "s@x",
				       (const uint8_t *)body, sizeof(body) - 1,
				       &res) < 0);
	CHECK(!res.permanent);
	CHECK(res.status[0] == '4');
	CHECK(strstr(res.diag, "maildir:") != NULL);
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/test_dlv_maildir.XXXXXX");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_layout();
	test_unique();
	test_refused();
	test_transient();
	rm_tree(root);
	return TEST_EXIT();
}
