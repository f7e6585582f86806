/*
 * ml_opts — mxload's command line: what to send, where, how fast.
 *
 * Parsed once by the main thread before any worker starts; the workers only
 * read the struct.  ml_opts_parse() prints the reason and returns -EINVAL on
 * a bad option (the caller exits 2).
 */
#ifndef ML_OPTS_H
#define ML_OPTS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>

enum ml_size_kind {
	ML_SIZE_FIXED,
	ML_SIZE_LOGNORMAL,
	ML_SIZE_FILE,
};

enum ml_content {
	ML_CONTENT_TEXT,
	ML_CONTENT_HTML,
	ML_CONTENT_ATTACH,
	ML_CONTENT_EML,
};

/* --depth's limit: transactions a connection keeps in one write. */
#define ML_DEPTH_MAX 256

struct ml_opts {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char target[128];
	const char *netns;

	unsigned conns;		/* concurrent connections, all threads */
	unsigned threads;	/* worker threads, one ring each */
	uint64_t msgs;		/* messages in total */
	unsigned msgs_per_conn; /* 0: as many as the run has */
	unsigned rcpts;		/* recipients per message */
	unsigned rcpt_users;	/* distinct %d values cycled through */
	const char *rcpt_tmpl;	/* printf template with one %d */
	const char *from;
	const char *helo;

	enum ml_size_kind size_kind;
	uint64_t size; /* fixed size, or lognormal median */
	double sigma;  /* lognormal spread (of ln size) */
	const char *size_file;
	enum ml_content content;
	const char *eml_dir;
	double eicar_rate; /* fraction of messages carrying EICAR */
	unsigned pool_max; /* distinct prebuilt messages */
	uint64_t seed;

	bool pipelining;     /* use PIPELINING if offered */
	bool chunking;	     /* use BDAT if offered */
	bool pipeline_next;  /* next envelope right behind the dot */
	unsigned depth;	     /* whole transactions per write (BDAT only) */
	double rate;	     /* target msg/s; 0 = closed loop */
	double duration_s;   /* stop dispatching after this; 0 = none */
	uint64_t timeout_ns; /* per reply / connect */
	const char *json_path;
	bool quickack; /* TCP_QUICKACK after every read */
	bool quiet;
};

int ml_opts_parse(struct ml_opts *o, int argc, char **argv);
void ml_opts_usage(FILE *f);

#endif
