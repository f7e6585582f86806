/*
 * mgmt_conf — mxgate's configuration as plain C values, loaded from a UCL
 * file (with includes) plus `-o key=value` overrides, and validated in full
 * against one schema table (mgmt_conf_schema.c) before anything is
 * returned.  docs/config.md describes every key.
 *
 * Reload: load the new file into a fresh struct with mgmt_conf_load(); it
 * either succeeds completely or fails with nothing changed, so the daemon
 * swaps structs only on success.  mgmt_conf_check() is the same load
 * followed by a free (for --check-config).
 *
 * Threading: no shared state; a loaded struct is read-only and may be read
 * by any thread that the owner lets see it.  The struct owns its strings
 * and arrays; mgmt_conf_free() releases them.
 *
 * Paths (queue.dir, control.socket, maps, ...) are stored as written;
 * relative ones are relative to the daemon's working directory.
 *
 * Errors: -1 and one line "FILE:LINE: KEY: REASON" in err; for an override
 * FILE:LINE is "-o[N]" (N counts from 1); a key that is required but absent
 * is reported against the top-level file without a line number.
 */
#ifndef MGMT_CONF_H
#define MGMT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "mgmt_dlv_route.h"

struct mgmt_conf_addr {
	char text[80];		    /* as written: "127.0.0.1:2525" */
	struct sockaddr_storage sa; /* AF_INET or AF_INET6, port set */
	socklen_t sa_len;
};

enum mgmt_conf_backend {
	MGMT_CONF_BACKEND_SOCKET,
	MGMT_CONF_BACKEND_DPDK,
};

enum mgmt_conf_durability {
	MGMT_CONF_DURABILITY_SYNC,
	MGMT_CONF_DURABILITY_NONE,
};

enum mgmt_conf_sync_method {
	MGMT_CONF_SYNC_FDATASYNC,
	MGMT_CONF_SYNC_ODIRECT,
};

enum mgmt_conf_queue_io {
	MGMT_CONF_QIO_THREAD,	/* a commit thread per shard */
	MGMT_CONF_QIO_URING,	/* the core's io_uring (io-wq) */
};

enum mgmt_conf_scan_action {
	MGMT_CONF_SCAN_ACTION_SCAN,
	MGMT_CONF_SCAN_ACTION_PASS,
};

enum mgmt_conf_no_scanner {
	MGMT_CONF_NO_SCANNER_HOLD,
	MGMT_CONF_NO_SCANNER_TEMPFAIL,
	MGMT_CONF_NO_SCANNER_PASS,
};

struct mgmt_conf_domain {
	char *name;	   /* lower case, no trailing dot */
	bool catch_all;	   /* recipients = "catch-all" */
	char **recipients; /* recipients = ["alice", "bob@..."] */
	unsigned recipient_count;
	char *map; /* LMDB map of valid recipients, or NULL */
};

struct mgmt_conf_route {
	char *domain; /* lower case */
	char *text;   /* as written */
	struct mgmt_dlv_route route;
};

struct mgmt_conf {
	char *source; /* the file it was loaded from */

	struct {
		enum mgmt_conf_backend backend;
		unsigned cores;
		struct {
			char **eal_args;
			unsigned eal_arg_count;
			char *port;	  /* a --vdev spec or PCI address */
			char *address;	  /* "10.77.0.1/24" */
			uint32_t addr_be; /* parsed address, network order */
			unsigned prefix_len;
			char *gateway;	     /* "" or an IPv4 address */
			uint32_t gateway_be; /* 0 when none */
			unsigned mbufs;
			unsigned synq_entries;	     /* per core, 0 = off */
			unsigned synq_resends_per_s; /* per core */
		} dpdk;
	} dataplane;

	struct {
		struct mgmt_conf_addr *listen;
		unsigned listen_count;
		char *hostname;
		bool proxy_protocol;
		uint64_t max_message_size; /* bytes */
		unsigned max_recipients;
		unsigned max_errors;
		unsigned max_junk_commands;
		unsigned command_line_max;
		unsigned text_line_max;
		uint64_t command_timeout_ms;
		uint64_t data_timeout_ms;
		uint64_t pregreet_delay_ms;
		unsigned max_connections;
		unsigned max_connections_per_ip;
		unsigned max_messages_per_ip_per_minute; /* 0 = unlimited */
	} smtp;

	struct mgmt_conf_domain *domains;
	unsigned domain_count;

	struct {
		char *dir;
		uint64_t segment_size;
		enum mgmt_conf_durability durability;
		enum mgmt_conf_sync_method sync_method;
		enum mgmt_conf_queue_io io;
		uint64_t quota;	     /* bytes */
		unsigned high_water; /* percent of quota */
		unsigned low_water;
		unsigned batches_max;		/* group commits in flight */
		unsigned copy_forward_pct;
		uint64_t state_compact_size;	/* bytes, 0 = segment_size */
		uint64_t max_lifetime_ms;
	} queue;

	struct {
		bool enabled;
		char *prefilter_rules;
		enum mgmt_conf_scan_action default_action;
		bool inline_prefilter;
		unsigned workers;
		enum mgmt_conf_no_scanner on_no_scanner;
		struct {
			bool enabled;
			char *database;
			unsigned processes;
			uint64_t max_scan_time_ms;
			uint64_t max_scan_size;
			unsigned max_recursion;
			unsigned max_files;
		} clamav;
	} scan;

	struct {
		struct mgmt_conf_route default_route; /* domain = NULL */
		struct mgmt_conf_route *routes;
		unsigned route_count;
		unsigned concurrency_per_destination;
		uint64_t *retry_schedule_ms;
		unsigned retry_count;
		uint64_t connect_timeout_ms;
		uint64_t delay_warning_ms; /* 0 = never */
	} delivery;

	struct {
		char *socket;
		char *group; /* "" = root and the daemon's user only */
	} control;

	struct {
		int level;    /* enum mx_log_level */
		char *target; /* "stderr", "syslog" or a file path */
	} log;

	char *pid_file;

	struct {
		char *http_listen; /* "" = off */
		bool http_enabled;
		struct mgmt_conf_addr http;
	} metrics;
};

/* Default path of the config file and of the control socket. */
#define MGMT_CONF_DEFAULT_PATH "configs/mxgate.conf"
#define MGMT_CONF_DEFAULT_SOCKET "./var/run/mxgate.sock"

/*
 * Loads `path` (NULL: defaults only, no file) and applies `overrides`
 * ("key=value" strings, in order) into *out, which is overwritten.
 * Returns 0, or -1 with *out zeroed and the reason in err.
 */
int mgmt_conf_load(const char *path, const char *const *overrides,
		   unsigned n_overrides, struct mgmt_conf *out, char *err,
		   size_t errlen);

/* Validates without keeping the result. 0 or -1 with err. */
int mgmt_conf_check(const char *path, const char *const *overrides,
		    unsigned n_overrides, char *err, size_t errlen);

/* Releases what *conf owns and zeroes it; NULL and zeroed structs are ok. */
void mgmt_conf_free(struct mgmt_conf *conf);

/*
 * The effective configuration as a JSON object (a jansson json_t *, new
 * reference; NULL on allocation failure), keyed like the file.
 */
struct json_t;
struct json_t *mgmt_conf_dump_json(const struct mgmt_conf *conf);

/* Writes the help text of every key (path, type, default, help) to a
 * stdio stream, one key per line — for `mxgate --help-config`. */
void mgmt_conf_print_keys(FILE *out);

#endif
