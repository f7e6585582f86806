/*
 * test_scan_clam — the ClamAV scanner pool with real libclamav in real
 * scanner processes (the test-hook build, mxgate-scanner-test).
 *
 *   test_scan_clam SCANNER DB_DIR [CLAMAV_TESTFILES_DIR]
 *
 * Detection: EICAR as a plain body, as a base64 attachment, inside a zip
 * built here; the clamav-testfiles zip; GTUBE; a clean message passes; an
 * unreadable file is an error.  Reload: a custom .hdb/.ndb/.ldb made here
 * is loaded and hits; a corrupt database and one that fails the self-test
 * are refused with the old engine still serving.  Faults: scanners killed
 * with SIGKILL mid-scan are restarted and the message scanned again; a
 * hanging scanner is killed at its time limit; a message that takes down a
 * scanner twice is SCAN_FAILED; with every scanner down healthy() is false
 * and queued scans complete once they are back.  Exits 77 if the database
 * cannot be loaded here.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan_clam_pool.h"
#include "scan_counters.h"
#include "scan_test.h"

#define NRES 64

static struct {
	bool done;
	enum scan_verdict v;
	char sig[256];
} res[NRES];
static bool reload_done, reload_ok;
static char reload_text[600];
static char tmpdir[] = "/tmp/scan_clam_testXXXXXX";
static char seg[300];
static int seg_fd;

static void on_done(void *arg, void *cookie, enum scan_verdict v,
		    const char *sig)
{
	int i = (int)(intptr_t)cookie;

	CHECK(!res[i].done); /* exactly one callback per request */
	res[i].done = true;
	res[i].v = v;
	snprintf(res[i].sig, sizeof(res[i].sig), "%s", sig);
}

static void on_reload(void *arg, bool ok, const char *text)
{
	reload_done = true;
	reload_ok = ok;
	snprintf(reload_text, sizeof(reload_text), "%s", text);
}

static const char *eicar(void)
{
	static char e[69];
	snprintf(e, sizeof(e), "%s%s", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
		 "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
	return e;
}

/* Appends a message to the segment file after some filler, as the queue
 * does; returns its offset. */
static uint64_t seg_add(const void *msg, size_t len)
{
	char fill[777];
	memset(fill, '#', sizeof(fill));
	off_t off = lseek(seg_fd, 0, SEEK_END) + (off_t)sizeof(fill);
	CHECK(write(seg_fd, fill, sizeof(fill)) == (ssize_t)sizeof(fill));
	CHECK(write(seg_fd, msg, len) == (ssize_t)len);
	return (uint64_t)off;
}

static void b64(const uint8_t *in, size_t len, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = i + 1 < len ? a[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? a[v & 63] : '=';
		if ((i / 3 + 1) % 19 == 0) {
			out[o++] = '\r';
			out[o++] = '\n';
		}
	}
	out[o] = 0;
}

static char *mail_with_attachment(const char *name, const uint8_t *data,
				  size_t len)
{
	char *enc = malloc(len * 2 + 16), *m = malloc(len * 2 + 1024);
	b64(data, len, enc);
	snprintf(m, len * 2 + 1024,
		 "From: a@example.org\r\nTo: b@example.org\r\n"
		 "Subject: attachment\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n"
		 "--b0\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
		 "--b0\r\nContent-Type: application/octet-stream\r\n"
		 "Content-Disposition: attachment; filename=\"%s\"\r\n"
		 "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b0--\r\n",
		 name, enc);
	free(enc);
	return m;
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static size_t le(uint8_t *p, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return (size_t)n;
}

/* A one-file zip, stored (no compression): local header, data, central
 * directory, end record (PKWARE APPNOTE 4.3). */
static size_t zip_stored(const char *name, const uint8_t *d, size_t len,
			 uint8_t *z)
{
	size_t o = 0, nl = strlen(name), cd;
	uint32_t crc = crc32_ieee(d, len);

	o += le(z + o, 0x04034b50, 4);
	o += le(z + o, 10, 2);
	o += le(z + o, 0, 2);
	o += le(z + o, 0, 2);
	o += le(z + o, 0, 4);
	o += le(z + o, crc, 4);
	o += le(z + o, (uint32_t)len, 4);
	o += le(z + o, (uint32_t)len, 4);
	o += le(z + o, (uint32_t)nl, 2);
	o += le(z + o, 0, 2);
	memcpy(z + o, name, nl);
	o += nl;
	memcpy(z + o, d, len);
	o += len;
	cd = o;
	o += le(z + o, 0x02014b50, 4);
	o += le(z + o, 20, 2);
	o += le(z + o, 10, 2);
	o += le(z + o, 0, 2);
	o += le(z + o, 0, 2);
	o += le(z + o, 0, 4);
	o += le(z + o, crc, 4);
	o += le(z + o, (uint32_t)len, 4);
	o += le(z + o, (uint32_t)len, 4);
	o += le(z + o, (uint32_t)nl, 2);
	o += le(z + o, 0, 2);
	o += le(z + o, 0, 2);
	o += le(z + o, 0, 2);
	o += le(z + o, 0, 2);
	o += le(z + o, 0, 4);
	o += le(z + o, 0, 4);
	memcpy(z + o, name, nl);
	o += nl;
	size_t cdlen = o - cd;
	o += le(z + o, 0x06054b50, 4);
	o += le(z + o, 0, 2);
	o += le(z + o, 0, 2);
	o += le(z + o, 1, 2);
	o += le(z + o, 1, 2);
	o += le(z + o, (uint32_t)cdlen, 4);
	o += le(z + o, (uint32_t)cd, 4);
	o += le(z + o, 0, 2);
	return o;
}

static struct scan_clam_pool *pool;
static int next_id;

static int submit(const void *msg, size_t len)
{
	int id = next_id++;
	uint64_t off = seg_add(msg, len);
	CHECK(scan_clam_pool_submit(pool, (uint64_t)id, seg, off, len,
				    (void *)(intptr_t)id) == 0);
	return id;
}

static int submit_str(const char *s)
{
	return submit(s, strlen(s));
}

static void drain(unsigned ms)
{
	CHECKF(scan_clam_pool_drain(pool, ms) == 0, "pending %u",
	       scan_clam_pool_pending(pool));
}

#define EXPECT(id, verdict, sigpart)                                           \
	CHECKF(res[id].done &&res[id].v == (verdict) &&                        \
		   strstr(res[id].sig, (sigpart)) != NULL,                     \
	       "request %d: done=%d verdict=%s sig=\"%s\"", id, res[id].done,  \
	       scan_verdict_name(res[id].v), res[id].sig)

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void hex(const char *s, char *out)
{
	for (; *s; s++, out += 2)
		sprintf(out, "%02x", (unsigned char)*s);
}

static void check_detection(const char *testfiles)
{
	char *m;
	int a, b, c, d, e, f, g, h = -1;

	char plain[512];
	snprintf(plain, sizeof(plain),
		 "From: a@example.org\r\n"
		 "Subject: test\r\n\r\n%s\r\n",
		 eicar());
	a = submit_str(plain);
	m = mail_with_attachment("eicar.com", (const uint8_t *)eicar(), 68);
	b = submit_str(m);
	free(m);
	uint8_t zip[512];
	size_t zl = zip_stored("eicar.com", (const uint8_t *)eicar(), 68, zip);
	m = mail_with_attachment("eicar.zip", zip, zl);
	c = submit_str(m);
	free(m);
	d = submit_str("From: a@example.org\r\nSubject: hello\r\n\r\n"
		       "Just a clean message.\r\n");
	e = submit_str("From: a@example.org\r\nSubject: spam\r\n\r\n"
		       "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-"
		       "TEST-EMAIL*C.34X\r\n");
	/* An unreadable file is an error, not a crash. */
	f = next_id++;
	CHECK(scan_clam_pool_submit(pool, 99, "/nonexistent/segment", 0, 10,
				    (void *)(intptr_t)f) == 0);
	g = submit_str("clean again\r\n");
	/* A range past the end of the file is an error, not a SIGBUS. */
	int past = next_id++;
	CHECK(scan_clam_pool_submit(pool, 98, seg, 1u << 30, 10,
				    (void *)(intptr_t)past) == 0);
	if (testfiles) {
		char p[512];
		snprintf(p, sizeof(p), "%s/clam.zip", testfiles);
		FILE *zf = fopen(p, "rb");
		if (zf) {
			uint8_t buf[8192];
			size_t n = fread(buf, 1, sizeof(buf), zf);
			fclose(zf);
			m = mail_with_attachment("clam.zip", buf, n);
			h = submit_str(m);
			free(m);
		}
	}
	drain(20000);
	EXPECT(a, SCAN_V_INFECTED, "EICAR");
	EXPECT(b, SCAN_V_INFECTED, "EICAR");
	EXPECT(c, SCAN_V_INFECTED, "EICAR");
	EXPECT(d, SCAN_V_CLEAN, "");
	EXPECT(e, SCAN_V_INFECTED, "GTUBE");
	EXPECT(f, SCAN_V_ERROR, "open");
	EXPECT(g, SCAN_V_CLEAN, "");
	EXPECT(past, SCAN_V_ERROR, "beyond end");
	if (h >= 0)
		EXPECT(h, SCAN_V_INFECTED, "ClamTestFile");
}

static void check_reload(void)
{
	char good[600], corrupt[600], nosig[600], hx[256], hx2[256], t[800];

	snprintf(good, sizeof(good), "%s/db-custom", tmpdir);
	snprintf(corrupt, sizeof(corrupt), "%s/db-corrupt", tmpdir);
	snprintf(nosig, sizeof(nosig), "%s/db-noeicar", tmpdir);
	mkdir(good, 0755);
	mkdir(corrupt, 0755);
	mkdir(nosig, 0755);
	write_file(good, "eicar.hdb",
		   "44d88612fea8a8f36de82e1278abb02f:68:Custom.EICAR.HDB\n");
	hex("mxgate-custom-marker-1234", hx);
	snprintf(t, sizeof(t), "Custom.Marker.NDB:0:*:%s\n", hx);
	write_file(good, "custom.ndb", t);
	hex("alpha-part-one", hx);
	hex("beta-part-two", hx2);
	snprintf(t, sizeof(t),
		 "Custom.Pair.LDB;Engine:51-255,Target:0;0&1;%s;%s\n", hx, hx2);
	write_file(good, "custom.ldb", t);
	write_file(corrupt, "broken.ndb", "this is : not a : signature\n");
	write_file(corrupt, "eicar.hdb",
		   "44d88612fea8a8f36de82e1278abb02f:68:Custom.EICAR.HDB\n");
	hex("only-a-marker", hx);
	snprintf(t, sizeof(t), "Only.Marker:0:*:%s\n", hx);
	write_file(nosig, "only.ndb", t);

	/* The custom database loads, passes its self-test, is swapped in,
	 * while a slow scan holds one scanner: that one is replaced only
	 * after its verdict (from the old engine). */
	char slow[256];
	snprintf(slow, sizeof(slow), "MXGATE-TEST-SLOW 400\r\n\r\n%s\r\n",
		 eicar());
	int s0 = submit_str(slow);
	for (int i = 0; i < 10; i++) {
		scan_clam_pool_poll(pool);
		usleep(5000);
	}
	reload_done = false;
	CHECK(scan_clam_pool_reload(pool, good) == 0);
	CHECK(scan_clam_pool_reload(pool, good) == -EBUSY);
	CHECK(scan_clam_pool_drain(pool, 30000) == 0);
	CHECKF(reload_done && reload_ok, "%s", reload_text);
	CHECK(strstr(scan_clam_pool_reload_status(pool), "ok") != NULL);
	EXPECT(s0, SCAN_V_INFECTED, "Mxgate.Test.EICAR");
	int a = submit_str("Subject: x\r\n\r\nmxgate-custom-marker-1234\r\n");
	int b = submit_str("Subject: x\r\n\r\nalpha-part-one and then "
			   "beta-part-two\r\n");
	int c = submit_str("Subject: x\r\n\r\nonly alpha-part-one\r\n");
	drain(20000);
	EXPECT(a, SCAN_V_INFECTED, "Custom.Marker.NDB");
	EXPECT(b, SCAN_V_INFECTED, "Custom.Pair.LDB");
	EXPECT(c, SCAN_V_CLEAN, "");

	/* A corrupt database is refused; the custom engine keeps going. */
	uint64_t fails =
	    mx_counter_local(&scan_counters, scan_clam_reload_failures);
	reload_done = false;
	CHECK(scan_clam_pool_reload(pool, corrupt) == 0);
	drain(30000);
	CHECKF(reload_done && !reload_ok, "%s", reload_text);
	CHECKF(strstr(reload_text, "refused") && strstr(reload_text, corrupt) &&
		   strstr(reload_text, "Malformed database"),
	       "%s", reload_text);
	CHECK(mx_counter_local(&scan_counters, scan_clam_reload_failures) ==
	      fails + 1);
	fprintf(stderr, "corrupt reload reported: %s\n", reload_text);
	/* One that loads but cannot find EICAR fails the self-test. */
	reload_done = false;
	CHECK(scan_clam_pool_reload(pool, nosig) == 0);
	drain(30000);
	CHECKF(reload_done && !reload_ok && strstr(reload_text, "self-test"),
	       "%s", reload_text);
	a = submit_str("Subject: x\r\n\r\nmxgate-custom-marker-1234\r\n");
	drain(20000);
	EXPECT(a, SCAN_V_INFECTED, "Custom.Marker.NDB");
	CHECK(scan_clam_pool_healthy(pool));
}

static void kill_all(void)
{
	for (unsigned i = 0; i < 2; i++) {
		pid_t p = scan_clam_pool_pid(pool, i);
		if (p > 0)
			kill(p, SIGKILL);
	}
}

static void check_faults(void)
{
	uint64_t retries = mx_counter_local(&scan_counters, scan_clam_retries);
	uint64_t tmo = mx_counter_local(&scan_counters, scan_clam_timeouts);
	/* Killed mid-scan: restarted, scanned again, verdict delivered. */
	/* (The custom database is loaded now: its marker is the sample.) */
	int a = submit_str("MXGATE-TEST-SLOW 600\r\n\r\n"
			   "mxgate-custom-marker-1234\r\n");
	for (int i = 0; i < 20; i++) { /* let it reach a scanner */
		scan_clam_pool_poll(pool);
		usleep(10000);
	}
	kill_all();
	drain(20000);
	EXPECT(a, SCAN_V_INFECTED, "Custom.Marker");
	CHECK(mx_counter_local(&scan_counters, scan_clam_retries) >=
	      retries + 1);

	/* Hangs: killed at the time limit, twice, then SCAN_FAILED. */
	int b = submit_str("MXGATE-TEST-HANG\r\n");
	int c = submit_str("MXGATE-TEST-CRASH\r\n");
	int d = submit_str("an innocent bystander\r\n");
	drain(30000);
	EXPECT(b, SCAN_V_FAILED, "");
	EXPECT(c, SCAN_V_FAILED, "");
	EXPECT(d, SCAN_V_CLEAN, "");
	CHECK(mx_counter_local(&scan_counters, scan_clam_timeouts) == tmo + 2);

	/* Every scanner down: not healthy; queued scans finish later. */
	CHECK(scan_clam_pool_wait_ready(pool, 20000) == 0);
	kill_all();
	usleep(50000);
	scan_clam_pool_poll(pool);
	CHECK(!scan_clam_pool_healthy(pool));
	int e = submit_str("queued while down\r\n");
	int f = submit_str("queued: mxgate-custom-marker-1234\r\n");
	CHECK(!res[e].done && !res[f].done);
	drain(20000);
	EXPECT(e, SCAN_V_CLEAN, "");
	EXPECT(f, SCAN_V_INFECTED, "Custom.Marker");
	CHECK(scan_clam_pool_healthy(pool));
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s SCANNER DB_DIR [TESTFILES]\n",
			argv[0]);
		return 2;
	}
	CHECK(mkdtemp(tmpdir) != NULL);
	snprintf(seg, sizeof(seg), "%s/segment-000001", tmpdir);
	seg_fd = open(seg, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(seg_fd >= 0);

	struct scan_clam_conf conf = {
	    .scanner_path = argv[1],
	    .db_dir = argv[2],
	    .procs = 2,
	    .scan_timeout_ms = 1500,
	    .load_timeout_ms = 60000,
	    .restart_backoff_min_ms = 50,
	    .restart_backoff_max_ms = 400,
	    .done = on_done,
	    .reload_done = on_reload,
	};
	CHECK(scan_clam_pool_create(&conf, &pool) == 0);
	struct scan_clam_conf bad = conf;
	bad.scanner_path = "/nonexistent/mxgate-scanner";
	struct scan_clam_pool *none;
	CHECK(scan_clam_pool_create(&bad, &none) == -ENOENT);
	if (scan_clam_pool_wait_ready(pool, 60000) != 0) {
		fprintf(stderr,
			"skip: the ClamAV database in %s does not "
			"load here\n",
			argv[2]);
		scan_clam_pool_destroy(pool);
		return 77;
	}
	fprintf(stderr, "engine: %s\n", scan_clam_pool_engine(pool));
	check_detection(argc > 3 ? argv[3] : NULL);
	check_reload();
	check_faults();
	scan_clam_pool_destroy(pool);

	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	close(seg_fd);
	CHECK(system(cmd) == 0);
	return TEST_EXIT();
}
