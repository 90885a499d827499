/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld: the control daemon (docs/cli.md, docs/daemon.md). This file:
 * options, state directory, daemon mode, control socket, event loop
 * (zwd__main(); main.c is the production entry point, the tests' daemon
 * registers its test engine first). The operations are in zonewalld_ops.c. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <zonewall/telemetry.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "state.h"
#include "usage.h"
#include "zonewalld.h"

#define DEFAULT_SOCKET "/run/zonewall/zonewalld.sock"

struct opts {
	const char *state;
	const char *socket;
	const char *socket_group;
	const char **backends;
	size_t n_backends;
	const char *syslog;
	bool syslog_tls;
	const char *syslog_ca, *syslog_cert, *syslog_key, *syslog_name;
	const char **ipfix;
	size_t n_ipfix;
	uint32_t ipfix_domain, ipfix_pen, active_timeout_s;
	bool log_all_flows;
	const char *log;
	const char *metrics;
	long usage_interval;
	bool foreground;
	char **cfg_args; /* --config FILE's settings (config.h) */
	char **argv;	 /* argv with them inserted after argv[0] */
	enum zwd_on_drift on_drift;
	const char *inspector;
};

static const char *inspector_default; /* zwd__set_inspector_default() */

void zwd__set_inspector_default(const char *path)
{
	inspector_default = path;
}

/* Where zw-inspect is: --inspector, else the test build's, else next to
 * this program or in the bin/ beside its sbin/ (a tree installed
 * elsewhere than its prefix), else where it is installed. Returns @buf
 * or the option. */
static const char *find_inspector(const char *opt, char *buf, size_t len)
{
	static const char *const rel[] = {"zw-inspect", "../bin/zw-inspect"};
	ssize_t n;

	if (opt)
		return opt;
	if (inspector_default)
		return inspector_default;
	n = readlink("/proc/self/exe", buf, len - 32);
	if (n > 0 && memchr(buf, '/', (size_t)n)) {
		char *slash;

		buf[n] = '\0';
		slash = strrchr(buf, '/') + 1;
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			strcpy(slash, rel[i]);
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	snprintf(buf, len, "%s", ZW_INSPECTOR_INSTALLED);
	return buf;
}

static void usage(FILE *out)
{
	fputs("usage: zonewalld [--config FILE] --state DIR [--socket PATH]\n"
	      "                 [--backend SPEC]...\n"
	      "                 [--syslog HOST:PORT [--syslog-tls --syslog-ca FILE\n"
	      "                 [--syslog-cert FILE --syslog-key FILE]\n"
	      "                 [--syslog-name NAME]]] [--ipfix URL]...\n"
	      "                 [--ipfix-domain N] [--ipfix-pen N]\n"
	      "                 [--flow-active-timeout S] [--log-all-flows]\n"
	      "                 [--socket-group GROUP] [--metrics ADDR:PORT]\n"
	      "                 [--log FILE] [--foreground]\n"
	      "                 [--usage-interval SECONDS]\n"
	      "                 [--on-drift repair|alert] [--inspector PATH]\n"
	      "\n"
	      "zonewall's control daemon: the only writer of the matrix versions\n"
	      "and of the change journal; programs every backend with the active\n"
	      "version and keeps them on it across its own restarts.\n"
	      "\n"
	      "  --config FILE      read settings from FILE first: one 'key = value'\n"
	      "                     a line, keys are these long options (e.g.\n"
	      "                     /etc/zonewall/zonewalld.conf); options given\n"
	      "                     here override it (--backend: all of them)\n"
	      "  --state DIR        state directory (created 0750): zonewall.db\n"
	      "                     (versions, journal), archive/, lock, log, pid\n"
	      "  --socket PATH      control socket, mode 0660 (default\n"
	      "                     " DEFAULT_SOCKET ")\n"
	      "  --socket-group G   group owning the socket (its members may\n"
	      "                     use zonectl)\n"
	      "  --backend SPEC     engine to program, repeatable: nft,\n"
	      "                     xdp:IFACE[,IFACE...], dpdk:CONTROL_SOCKET, or\n"
	      "                     file:PATH (test builds only: writes the image to\n"
	      "                     PATH, enforces nothing)\n"
	      "  --syslog HOST:PORT forward every journal entry as RFC 5424 over\n"
	      "                     TCP (octet counting); queued on disk while the\n"
	      "                     server is down\n"
	      "  --syslog-tls       use TLS (RFC 5425); needs --syslog-ca\n"
	      "  --syslog-ca FILE   CA certificate(s) that sign the server's\n"
	      "  --syslog-cert FILE, --syslog-key FILE  client certificate\n"
	      "  --syslog-name NAME name to verify in the server's certificate\n"
	      "                     (default: HOST)\n"
	      "  --ipfix URL        export flow records to a collector, repeatable:\n"
	      "                     udp://HOST:PORT or HOST:PORT (IPFIX over UDP),\n"
	      "                     tcp://HOST:PORT (IPFIX over TCP),\n"
	      "                     nsel+udp://HOST:PORT (NetFlow v9 with NSEL)\n"
	      "  --ipfix-domain N   observation domain id (default 0): one per\n"
	      "                     appliance\n"
	      "  --ipfix-pen N      enterprise number of zonewall's IEs (default\n"
	      "                     32473, the documentation PEN of RFC 5612)\n"
	      "  --flow-active-timeout S  update records of long-lived\n"
	      "                     connections every S seconds (default 300;\n"
	      "                     engines that emit updates)\n"
	      "  --log-all-flows    records of every flow, not only 'log: true'\n"
	      "                     (denials are always recorded)\n"
	      "  --metrics ADDR:PORT  serve Prometheus metrics at\n"
	      "                     http://ADDR:PORT/metrics (off by default;\n"
	      "                     '*:PORT' for every address)\n"
	      "  --log FILE         log of the daemon's own operation (default:\n"
	      "                     stderr with --foreground, else DIR/zonewalld.log)\n"
	      "  --foreground       do not detach\n"
	      "  --usage-interval S sample every engine's per-flow counters into\n"
	      "                     the state database every S seconds (default\n"
	      "                     3600; 1 to 86400): the last-hit times of\n"
	      "                     'zonectl audit'\n"
	      "  --on-drift MODE    when an engine is changed behind the daemon's\n"
	      "                     back (seen within a second): repair (default:\n"
	      "                     journal, alert, re-apply the active version)\n"
	      "                     or alert (journal and alert only)\n"
	      "  --inspector PATH   the L7 inspector zw-inspect, run and restarted\n"
	      "                     by the daemon when an engine inspects (nft):\n"
	      "                     default zw-inspect next to zonewalld or in\n"
	      "                     ../bin from it, else " ZW_INSPECTOR_INSTALLED "\n"
	      "\n"
	      "SIGTERM/SIGINT stop it cleanly; enforcement stays in place. SIGHUP\n"
	      "is ignored: nothing is reloaded by surprise, changes go through\n"
	      "'zonectl commit'. Exit codes: 0 ok, 2 usage, 3 environment.\n",
	      out);
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

enum { O_SYSLOG_TLS = 256, O_SYSLOG_CA, O_SYSLOG_CERT, O_SYSLOG_KEY,
       O_SYSLOG_NAME, O_IPFIX, O_LOG, O_GROUP, O_CONFIG, O_METRICS,
       O_USAGE, O_IPFIX_DOMAIN, O_IPFIX_PEN, O_ACTIVE_TIMEOUT, O_LOG_ALL, O_ON_DRIFT,
       O_INSPECTOR };
/* Also the keys of the configuration file (config.h). */
static const struct option lo[] = {
		{"state", required_argument, NULL, 's'},
		{"socket", required_argument, NULL, 'S'},
		{"backend", required_argument, NULL, 'b'},
		{"syslog", required_argument, NULL, 'l'},
		{"syslog-tls", no_argument, NULL, O_SYSLOG_TLS},
		{"syslog-ca", required_argument, NULL, O_SYSLOG_CA},
		{"syslog-cert", required_argument, NULL, O_SYSLOG_CERT},
		{"syslog-key", required_argument, NULL, O_SYSLOG_KEY},
		{"syslog-name", required_argument, NULL, O_SYSLOG_NAME},
		{"ipfix", required_argument, NULL, O_IPFIX},
		{"ipfix-domain", required_argument, NULL, O_IPFIX_DOMAIN},
		{"ipfix-pen", required_argument, NULL, O_IPFIX_PEN},
		{"flow-active-timeout", required_argument, NULL,
		 O_ACTIVE_TIMEOUT},
		{"log-all-flows", no_argument, NULL, O_LOG_ALL},
		{"log", required_argument, NULL, O_LOG},
		{"socket-group", required_argument, NULL, O_GROUP},
		{"metrics", required_argument, NULL, O_METRICS},
		{"config", required_argument, NULL, O_CONFIG},
		{"foreground", no_argument, NULL, 'f'},
		{"usage-interval", required_argument, NULL, O_USAGE},
		{"on-drift", required_argument, NULL, O_ON_DRIFT},
		{"inspector", required_argument, NULL, O_INSPECTOR},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
};

/* --config FILE: its settings go before the command line's arguments
 * (o->argv), so that the command line overrides them. Returns 0 or the
 * exit code. */
static int read_config(int *argc, char ***argv, struct opts *o, int *n_cfg)
{
	static const char *const refused[] = {"config", "help", "version",
					      NULL};
	const char *path = NULL;
	char err[1024];
	int n = 0, r;

	for (int i = 1; i < *argc && strcmp((*argv)[i], "--"); i++) {
		if (!strcmp((*argv)[i], "--config") && i + 1 < *argc)
			path = (*argv)[++i];
		else if (!strncmp((*argv)[i], "--config=", 9))
			path = (*argv)[i] + 9;
	}
	*n_cfg = 0;
	if (!path)
		return 0;
	r = zwd_config__read(path, lo, refused, &o->cfg_args, &n, err,
			     sizeof(err));
	if (r < 0) {
		fprintf(stderr, "zonewalld: %s\n", err);
		return r == -EINVAL ? 2 : 3;
	}
	o->argv = calloc((size_t)(*argc + n + 1), sizeof(char *));
	if (!o->argv)
		return 3;
	o->argv[0] = (*argv)[0];
	memcpy(o->argv + 1, o->cfg_args, (size_t)n * sizeof(char *));
	memcpy(o->argv + 1 + n, *argv + 1, (size_t)(*argc - 1) * sizeof(char *));
	*argc += n;
	*argv = o->argv;
	*n_cfg = n;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	bool cfg_backends = false;
	int c, n_cfg, r;

	r = read_config(&argc, &argv, o, &n_cfg);
	if (r)
		return r;
	o->socket = DEFAULT_SOCKET;
	o->usage_interval = ZW_USAGE_INTERVAL_S;
	o->active_timeout_s = 300;
	o->backends = calloc((size_t)argc + 1, sizeof(char *));
	o->ipfix = calloc((size_t)argc + 1, sizeof(char *));
	if (!o->backends || !o->ipfix)
		return 3;
	while ((c = getopt_long(argc, argv, "fh", lo, NULL)) != -1) {
		switch (c) {
		case 's': o->state = optarg; break;
		case 'S': o->socket = optarg; break;
		case 'b':
			/* The configuration's arguments come first, one
			 * element each: --backend on the command line
			 * replaces the file's list instead of adding to it. */
			if (optind <= 1 + n_cfg) {
				cfg_backends = true;
			} else if (cfg_backends) {
				cfg_backends = false;
				o->n_backends = 0;
			}
			o->backends[o->n_backends++] = optarg;
			break;
		case 'l': o->syslog = optarg; break;
		case O_SYSLOG_TLS: o->syslog_tls = true; break;
		case O_SYSLOG_CA: o->syslog_ca = optarg; break;
		case O_SYSLOG_CERT: o->syslog_cert = optarg; break;
		case O_SYSLOG_KEY: o->syslog_key = optarg; break;
		case O_SYSLOG_NAME: o->syslog_name = optarg; break;
		case O_IPFIX:
			if (zw_tm_exporter__check_url(optarg) < 0) {
				fprintf(stderr,
					"zonewalld: --ipfix %s: expected "
					"udp://HOST:PORT, tcp://HOST:PORT, "
					"nsel+udp://HOST:PORT or HOST:PORT\n",
					optarg);
				return 2;
			}
			o->ipfix[o->n_ipfix++] = optarg;
			break;
		case O_IPFIX_DOMAIN:
		case O_IPFIX_PEN:
		case O_ACTIVE_TIMEOUT:
			if (parse_u32(optarg, c == O_ACTIVE_TIMEOUT ? 1 : 0,
				      c == O_ACTIVE_TIMEOUT ? 86400 : UINT32_MAX,
				      c == O_IPFIX_DOMAIN ? &o->ipfix_domain
				      : c == O_IPFIX_PEN  ? &o->ipfix_pen
							  : &o->active_timeout_s)) {
				fprintf(stderr, "zonewalld: bad number '%s' "
						"(see zonewalld --help)\n",
					optarg);
				return 2;
			}
			break;
		case O_LOG_ALL: o->log_all_flows = true; break;
		case O_LOG: o->log = optarg; break;
		case O_GROUP: o->socket_group = optarg; break;
		case O_METRICS: o->metrics = optarg; break;
		case O_CONFIG: break; /* read by read_config() */
		case 'f': o->foreground = true; break;
		case O_USAGE: {
			char *end;

			errno = 0;
			o->usage_interval = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg ||
			    o->usage_interval < 1 || o->usage_interval > 86400) {
				fprintf(stderr, "zonewalld: --usage-interval "
						"takes 1 to 86400 seconds, not "
						"'%s'\n",
					optarg);
				return 2;
			}
			break;
		}
		case O_ON_DRIFT:
			if (zwd_on_drift__parse(optarg, &o->on_drift) < 0) {
				fprintf(stderr, "zonewalld: --on-drift takes "
						"repair or alert, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case O_INSPECTOR: o->inspector = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': puts("zonewalld " ZW_VERSION); exit(0);
		default:
			fputs("zonewalld: bad option (see zonewalld --help)\n",
			      stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "zonewalld: unexpected argument '%s' (see "
				"zonewalld --help)\n",
			argv[optind]);
		return 2;
	}
	if (!o->state) {
		fputs("zonewalld: --state DIR is required (see zonewalld "
		      "--help)\n",
		      stderr);
		return 2;
	}
	if (o->syslog_tls && !o->syslog) {
		fputs("zonewalld: --syslog-tls needs --syslog HOST:PORT\n",
		      stderr);
		return 2;
	}
	return 0;
}

/* "host:port", "[v6]:port" -> host, port (malloc'd host). */
static int split_hostport(const char *s, char **host, const char **port)
{
	const char *colon;

	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || !end[2])
			return -EINVAL;
		*host = strndup(s + 1, (size_t)(end - s - 1));
		*port = end + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s || !colon[1])
			return -EINVAL;
		*host = strndup(s, (size_t)(colon - s));
		*port = colon + 1;
	}
	return *host ? 0 : -ENOMEM;
}

/* ---- start-up failure reporting to the parent in daemon mode ---- */

static int ready_fd = -1;
/* a daemon that does not start stops the inspector it started */
static struct zwd *inspector_owner;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	{
		char q[1100];

		zw_log(ZW_LOG_ERR, "start-failed", "error=%s",
		       zw_log__q(msg, q, sizeof(q)));
	}
	if (inspector_owner)
		zwd_inspector__stop(inspector_owner);
	if (ready_fd >= 0) {
		if (write(ready_fd, msg, strlen(msg)) < 0)
			(void)0;
		close(ready_fd);
	} else {
		fprintf(stderr, "zonewalld: %s\n", msg);
	}
	exit(3);
}

/* Detach; the parent exits when the child says it is ready (or why not). */
static void daemonize(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("zonewalld: pipe");
		exit(3);
	}
	pid = fork();
	if (pid < 0) {
		perror("zonewalld: fork");
		exit(3);
	}
	if (pid > 0) {
		char msg[1100];
		ssize_t n;

		close(p[1]);
		n = read(p[0], msg, sizeof(msg) - 1);
		if (n > 0 && !(n == 2 && !memcmp(msg, "OK", 2))) {
			msg[n] = '\0';
			fprintf(stderr, "zonewalld: %s\n", msg);
			exit(3);
		}
		if (n <= 0) {
			fputs("zonewalld: the daemon died during start-up (see "
			      "its log)\n",
			      stderr);
			exit(3);
		}
		exit(0);
	}
	close(p[0]);
	setsid();
	pid = fork();
	if (pid < 0)
		exit(3);
	if (pid > 0)
		_exit(0);
	ready_fd = p[1];
	{
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			if (fd > 1)
				close(fd);
		}
	}
}

static void mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
	mkdir(buf, mode);
}

/* ---- the state directory ----
 * It holds the evidence (versions, journal) and files the daemon writes as
 * its user (root, usually): it must belong to that user (or root) and be
 * writable by nobody else, or anyone could plant a symbolic link named
 * zonewalld.pid or zonewalld.log there and make the daemon overwrite or
 * append to a file of their choosing. The files in it are opened with
 * O_NOFOLLOW, relative to the directory opened once. */

/* Open and check @path: its fd, or -1 with the reason in @err. */
static int state_dir_open(const char *path, char *err, size_t len)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat sb;

	if (fd < 0 || fstat(fd, &sb) < 0) {
		snprintf(err, len, "cannot open the state directory %s: %s",
			 path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (sb.st_uid != geteuid() && sb.st_uid != 0)
		snprintf(err, len,
			 "the state directory %s belongs to uid %u, not to "
			 "zonewalld's user (uid %u) or root: refusing it",
			 path, (unsigned)sb.st_uid, (unsigned)geteuid());
	else if (sb.st_mode & (S_IWGRP | S_IWOTH))
		snprintf(err, len,
			 "the state directory %s is writable by %s (mode %04o): "
			 "refusing it (chmod go-w %s)",
			 path, sb.st_mode & S_IWOTH ? "every user" : "its group",
			 (unsigned)(sb.st_mode & 07777), path);
	else
		return fd;
	close(fd);
	return -1;
}

/* Open @name in the state directory @dfd for appending, never through a
 * symbolic link nor into a file that is not a plain file of ours. */
static FILE *state_file_append(int dfd, const char *name, char *err,
			       size_t len)
{
	int fd = openat(dfd, name,
			O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			0640);
	struct stat sb;
	FILE *f;

	if (fd < 0) {
		snprintf(err, len, "%s", errno == ELOOP
			 ? "it is a symbolic link (refused)"
			 : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
	    sb.st_uid != geteuid()) {
		snprintf(err, len, "it is not a plain file of zonewalld's user "
				   "with one link (refused)");
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "a");
	if (!f) {
		snprintf(err, len, "%s", strerror(errno));
		close(fd);
	}
	return f;
}

/* Write our pid to @name in @dfd: a new file (O_EXCL) renamed over the
 * old one, so a symbolic link there is replaced, never followed. */
static void state_write_pid(int dfd, const char *name)
{
	char tmp[64], buf[32];
	int fd, n;

	snprintf(tmp, sizeof(tmp), ".%s.%d", name, (int)getpid());
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		zw_log(ZW_LOG_WARN, "pid-file", "error=\"%s\"", strerror(errno));
		return;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n || renameat(dfd, tmp, dfd, name) < 0) {
		zw_log(ZW_LOG_WARN, "pid-file", "error=\"%s\"", strerror(errno));
		unlinkat(dfd, tmp, 0);
	}
	close(fd);
}

static int listen_socket(const struct opts *o)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)];
	mode_t old;
	int fd;

	if (strlen(o->socket) >= sizeof(sa.sun_path))
		fail("socket path %s is too long", o->socket);
	strcpy(sa.sun_path, o->socket);
	snprintf(dir, sizeof(dir), "%s", o->socket);
	if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		mkdir_p(dir, 0755);
	}
	/* Only ever replace a stale socket, never another kind of file (a
	 * mistyped --socket must not delete the database or anything else). */
	{
		struct stat sb;

		if (lstat(o->socket, &sb) == 0 && !S_ISSOCK(sb.st_mode))
			fail("%s exists and is not a socket: choose another "
			     "--socket path",
			     o->socket);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("cannot create the control socket: %s", strerror(errno));
	/* A live daemon on this path? Then refuse; else the file is stale. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		fail("another zonewalld answers on %s", o->socket);
	close(fd);
	unlink(o->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old);
		fail("cannot bind %s: %s", o->socket, strerror(errno));
	}
	umask(old);
	chmod(o->socket, 0660);
	if (o->socket_group) {
		struct group *g = getgrnam(o->socket_group);

		if (!g || chown(o->socket, (uid_t)-1, g->gr_gid) < 0)
			fail("cannot give %s to group %s", o->socket,
			     o->socket_group);
	}
	if (listen(fd, 16) < 0)
		fail("cannot listen on %s: %s", o->socket, strerror(errno));
	return fd;
}

/* ---- control connections ----
 * Requests are served one at a time (commits are serialised), but reading
 * a request and writing its response never block, and a commit's compile
 * runs on a worker thread: its connection waits (no deadline, never
 * evicted) until the loop finishes the commit. Each connection has its
 * own buffers and deadline, so a client that connects and sends nothing,
 * sends slowly, or does not read its response holds up nobody. When every
 * slot is taken, a new client takes the slot of the connection still
 * reading its request that has been quiet the longest (idle clients
 * cannot fill the table and lock the others out until their deadline). */

#define MAX_CONNS 64
#define REQUEST_MS 10000  /* to send the whole request, from connect */
#define RESPONSE_MS 30000 /* to read the whole response */

struct conn {
	int fd; /* -1: free slot */
	struct ucred cred;
	int64_t deadline; /* CLOCK_MONOTONIC ms */
	int64_t active;	  /* last byte received (or accept), same clock */
	uint8_t hdr[4];
	size_t hdr_got;
	char *req; /* payload being read */
	size_t req_len, req_got, req_cap;
	char *out; /* response frame being written (NULL: reading) */
	size_t out_len, out_off;
	bool waiting; /* its commit is compiling (commit_conn) */
};

/* the connection whose commit is compiling, NULL if none */
static struct conn *commit_conn;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct conn *c)
{
	if (c == commit_conn)
		commit_conn = NULL;
	if (c->fd >= 0)
		close(c->fd);
	free(c->req);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Write what the client can take now; close once everything is sent. */
static void conn_write(struct conn *c)
{
	if (zw_proto__send_some(c->fd, c->out, c->out_len, &c->out_off))
		conn_close(c); /* all sent, or the client is gone */
}

/* Answer @c with @resp (consumed; NULL = out of memory). */
static void conn_respond(struct conn *c, json_t *resp)
{
	int r;

	free(c->req);
	c->req = NULL;
	if (!resp)
		resp = zw_proto__error(3, "out of memory");
	r = resp ? zw_proto__encode(resp, &c->out, &c->out_len) : -ENOMEM;
	json_decref(resp);
	if (r == -EMSGSIZE) {
		resp = zw_proto__error(3, "the response is larger than a "
					  "frame may be; narrow the request");
		r = resp ? zw_proto__encode(resp, &c->out, &c->out_len)
			 : -ENOMEM;
		json_decref(resp);
	}
	if (r < 0) {
		conn_close(c);
		return;
	}
	c->out_off = 0;
	c->deadline = mono_ms() + RESPONSE_MS;
	conn_write(c);
}

static void conn_serve(struct zwd *d, struct conn *c)
{
	struct zwd_author who = {.uid = c->cred.uid};
	json_t *req = NULL, *resp;
	int r = zw_proto__decode(c->req ? c->req : "", c->req_len, &req);
	bool pending = false;

	{
		struct passwd pw, *res = NULL;
		char buf[4096];

		if (getpwuid_r(c->cred.uid, &pw, buf, sizeof(buf), &res) == 0 &&
		    res)
			snprintf(who.name, sizeof(who.name), "%s", res->pw_name);
		else
			snprintf(who.name, sizeof(who.name), "uid%u", c->cred.uid);
	}
	if (r < 0) {
		resp = zw_proto__error(2, "bad request: %s", strerror(-r));
	} else {
		const char *op = json_string_value(json_object_get(req, "op"));
		char *clean = zw_secret__scrub(op ? op : "?"), q[128];

		/* op is the client's text: quoted (one line) and scrubbed */
		zw_log(ZW_LOG_DEBUG, "request", "op=%s uid=%u pid=%d",
		       zw_log__q(clean ? clean : "?", q, sizeof(q)),
		       c->cred.uid, (int)c->cred.pid);
		free(clean);
		resp = zwd__serve(d, req, &who, &pending);
	}
	json_decref(req);
	if (pending) {
		/* answered by zwd__commit_done() */
		free(c->req);
		c->req = NULL;
		c->waiting = true;
		commit_conn = c;
		return;
	}
	conn_respond(c, resp);
}

/* Read what the client sent so far; serve the request once complete. */
static void conn_read(struct zwd *d, struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->hdr_got == 4 && c->req_got == c->req_len) {
			conn_serve(d, c);
			return;
		}
		if (c->hdr_got < 4) {
			n = recv(c->fd, c->hdr + c->hdr_got, 4 - c->hdr_got,
				 MSG_DONTWAIT);
		} else {
			if (c->req_got == c->req_cap) {
				/* grow with what arrives, not with what the
				 * header announces */
				size_t cap = c->req_cap ? c->req_cap * 2 : 65536;
				char *x;

				if (cap > c->req_len)
					cap = c->req_len;
				x = realloc(c->req, cap + 1);
				if (!x) {
					conn_respond(c, zw_proto__error(
							3, "out of memory"));
					return;
				}
				c->req = x;
				c->req_cap = cap;
			}
			n = recv(c->fd, c->req + c->req_got,
				 c->req_cap - c->req_got, MSG_DONTWAIT);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(c);
			return;
		}
		if (n == 0) {
			if (c->hdr_got == 0)
				conn_close(c); /* connected, sent nothing */
			else
				conn_respond(c, zw_proto__error(
						2, "bad request: %s",
						strerror(EPROTO)));
			return;
		}
		c->active = mono_ms();
		if (c->hdr_got < 4) {
			c->hdr_got += (size_t)n;
			if (c->hdr_got == 4) {
				c->req_len = (size_t)c->hdr[0] << 24 |
					     (size_t)c->hdr[1] << 16 |
					     (size_t)c->hdr[2] << 8 | c->hdr[3];
				if (c->req_len > ZW_PROTO_MAX_FRAME) {
					conn_respond(c, zw_proto__error(
							2, "bad request: %s",
							strerror(EMSGSIZE)));
					return;
				}
			}
		} else {
			c->req_got += (size_t)n;
		}
	}
}

static void conn_accept(int lfd, struct conn *c)
{
	socklen_t cl = sizeof(c->cred);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	conn_close(c);
	c->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &cl) < 0) {
		conn_close(c);
		return;
	}
	c->deadline = mono_ms() + REQUEST_MS;
	c->active = mono_ms();
}

/* Every slot is taken and a client waits: free the slot of the
 * connection still reading its request that has been quiet the longest
 * (a connection writing its response finishes on its own). Returns the
 * slot, or NULL if every connection is writing. */
static struct conn *conn_evict(struct conn *conns, size_t n)
{
	struct conn *victim = NULL;

	for (size_t i = 0; i < n; i++) {
		struct conn *c = &conns[i];

		if (c->fd < 0)
			return c;
		if (c->out || c->waiting)
			continue;
		if (!victim || c->active < victim->active)
			victim = c;
	}
	if (victim) {
		zw_log(ZW_LOG_DEBUG, "connection-evicted",
		       "uid=%u pid=%d idle_ms=%lld", victim->cred.uid,
		       (int)victim->cred.pid,
		       (long long)(mono_ms() - victim->active));
		conn_close(victim);
	}
	return victim;
}

/* Past its deadline: a request still incomplete gets an error (if the
 * client can take it now) and the connection is closed. */
static void conn_expire(struct zwd *d, struct conn *c)
{
	if (!c->out) {
		conn_read(d, c); /* it may have arrived while we were busy */
		if (c->fd < 0 || c->out)
			return;
		conn_respond(c, zw_proto__error(
				2, "bad request: not received within %d s",
				REQUEST_MS / 1000));
		if (c->fd < 0)
			return;
	}
	conn_close(c);
}

int zwd__main(int argc, char **argv)
{
	static struct conn conns[MAX_CONNS];
	/* static: the option arrays live as long as the process, whichever
	 * of the many early exits below is taken */
	static struct opts o;
	struct zwd d = {0};
	struct zwd_metrics *metrics = NULL;
	char err[1024], lockpath[4200];
	sigset_t mask;
	int r, lockfd, lfd, sfd, tfd, dfd, ufd;
	FILE *logf = NULL;

	r = parse_opts(argc, argv, &o);
	if (r)
		return r;
	signal(SIGPIPE, SIG_IGN);
	mkdir_p(o.state, 0750);
	if (access(o.state, W_OK) < 0) {
		fprintf(stderr, "zonewalld: cannot write in %s: %s\n", o.state,
			strerror(errno));
		return 3;
	}
	dfd = state_dir_open(o.state, err, sizeof(err));
	if (dfd < 0) {
		fprintf(stderr, "zonewalld: %s\n", err);
		return 3;
	}
	if (!o.foreground)
		daemonize();
	if (o.log) {
		logf = fopen(o.log, "ae");
		if (!logf)
			fail("cannot open the log %s: %s", o.log, strerror(errno));
		zw_log__set_file(logf);
	} else if (!o.foreground) {
		logf = state_file_append(dfd, "zonewalld.log", err, sizeof(err));
		if (!logf)
			fail("cannot open the log %s/zonewalld.log: %s", o.state,
			     err);
		zw_log__set_file(logf);
	}
	if (getenv("ZONEWALL_DEBUG"))
		zw_log__set_level(ZW_LOG_DEBUG);
	d.state_dir = o.state;
	d.on_drift = o.on_drift;
	d.started_us = zw_time__now_us();
	d.usage_interval_s = o.usage_interval;

	/* One daemon per state directory. */
	snprintf(lockpath, sizeof(lockpath), "%s/lock", o.state);
	lockfd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			0640);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0)
		fail("another zonewalld uses %s (lock %s held)", o.state,
		     lockpath);

	snprintf(d.db_path, sizeof(d.db_path), "%s/" ZW_STATE_DB, o.state);
	d.j = zw_journal__open(d.db_path, 0, err, sizeof(err));
	if (!d.j)
		fail("%s", err);
	if (zw_state__init(zw_journal__sqlite(d.j)) < 0)
		fail("cannot initialise the state in %s", d.db_path);

	d.bes = calloc(o.n_backends + 1, sizeof(*d.bes));
	if (!d.bes)
		fail("out of memory");
	for (size_t i = 0; i < o.n_backends; i++) {
		struct zwd_backend *b = &d.bes[i];

		err[0] = '\0';
		r = zw_backend__open_spec(o.backends[i], &b->be, err,
					  sizeof(err));
		if (r < 0)
			fail("backend %s: %s", o.backends[i],
			     *err ? err : strerror(-r));
		b->be->rec.log_all = o.log_all_flows;
		b->be->rec.active_timeout_s = o.active_timeout_s;
		b->spec = strdup(o.backends[i]);
		d.n_bes++;
		zw_log(ZW_LOG_INFO, "backend-open", "backend=%s engine=%s",
		       o.backends[i], b->be->ops->name);
	}
	{
		char path[4096];

		r = zwd_inspector__start(&d, find_inspector(o.inspector, path,
							    sizeof(path)),
					 logf ? fileno(logf) : -1, err,
					 sizeof(err));
		if (r < 0)
			fail("%s", err);
		inspector_owner = &d;
	}
	if (!o.n_backends)
		zw_log(ZW_LOG_WARN, "no-backend",
		       "msg=\"no --backend: versions are stored and journalled "
		       "but nothing is enforced\"");
	{
		struct zwd_tm_opts to = {
			.urls = o.ipfix,
			.n_urls = o.n_ipfix,
			.domain = o.ipfix_domain,
			.pen = o.ipfix_pen,
			.active_timeout_s = o.active_timeout_s,
			.log_all = o.log_all_flows,
		};

		if (zwd_tm__start(&d, &to, err, sizeof(err)) < 0)
			fail("flow export: %s", err);
	}

	r = zwd__recover(&d);
	if (r < 0)
		fail("cannot restore the active version from %s (%s)",
		     d.db_path,
		     r == -EBADMSG && *d.journal_problem ? d.journal_problem
							 : strerror(-r));
	zwd_watch__init(&d);

	if (o.syslog) {
		struct zw_fwd_opts fo = {
			.db_path = d.db_path,
			.tls = o.syslog_tls,
			.ca_file = o.syslog_ca,
			.cert_file = o.syslog_cert,
			.key_file = o.syslog_key,
			.server_name = o.syslog_name,
		};
		char *host = NULL;

		if (split_hostport(o.syslog, &host, &fo.port) < 0)
			fail("--syslog %s: expected HOST:PORT", o.syslog);
		fo.host = host;
		d.fwd = zw_fwd__start(&fo, err, sizeof(err));
		free(host);
		if (!d.fwd)
			fail("syslog forwarding: %s", err);
		d.syslog_target = strdup(o.syslog);
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD); /* the inspector */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	{
		/* Checks for a new UTC day every 30 s (ZONEWALL_TICK_MS, a
		 * test hook, shortens it). */
		const char *tick = getenv("ZONEWALL_TICK_MS");
		long ms = tick ? strtol(tick, NULL, 10) : 30000;
		struct itimerspec its;

		if (ms < 10)
			ms = 30000;
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000;
		its.it_interval = its.it_value;

		timerfd_settime(tfd, 0, &its, NULL);
	}
	/* Flow usage: sampled now (counters read since the last run count
	 * from here), then every --usage-interval seconds. */
	ufd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	{
		struct itimerspec its = {
			.it_value.tv_sec = o.usage_interval,
			.it_interval.tv_sec = o.usage_interval,
		};

		timerfd_settime(ufd, 0, &its, NULL);
		r = zwd_usage__sample(&d, zw_time__now_us());
		if (r < 0)
			zw_log(ZW_LOG_WARN, "usage-sample", "error=\"%s\"",
			       strerror(-r));
	}
	lfd = listen_socket(&o);
	if (o.metrics) {
		metrics = zwd_metrics__new(o.metrics, err, sizeof(err));
		if (!metrics)
			fail("%s", err);
	}
	state_write_pid(dfd, "zonewalld.pid");
	inspector_owner = NULL; /* started: from now on it outlives a kill */
	zw_log(ZW_LOG_INFO, "ready",
	       "pid=%d state=%s socket=%s backends=%zu active_version=%lld "
	       "syslog=%s metrics=%s",
	       (int)getpid(), o.state, o.socket, d.n_bes, (long long)d.active,
	       o.syslog ? o.syslog : "none", o.metrics ? o.metrics : "none");
	if (ready_fd >= 0) {
		if (write(ready_fd, "OK", 2) < 0)
			(void)0;
		close(ready_fd);
		ready_fd = -1;
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
	}

	for (size_t i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	for (;;) {
		struct pollfd p[5 + MAX_CONNS + ZWD_METRICS_MAX_FDS + 16];
		int64_t now = mono_ms(), next = -1;
		size_t n_writing = 0, n_m = 0, n_watch;
		int timeout, wt;

		p[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = tfd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = lfd, .events = POLLIN};
		p[3 + MAX_CONNS] = (struct pollfd){.fd = ufd, .events = POLLIN};
		for (size_t i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &conns[i];

			p[3 + i] = (struct pollfd){
				.fd = c->waiting ? -1 : c->fd,
				.events = c->out ? POLLOUT : POLLIN,
			};
			if (c->fd < 0)
				continue;
			n_writing += c->out != NULL || c->waiting;
			if (c->waiting)
				continue;
			if (next < 0 || c->deadline < next)
				next = c->deadline;
		}
		if (n_writing == MAX_CONNS)
			p[2].fd = -1; /* every slot answering: wait */
		if (metrics)
			n_m = zwd_metrics__pollfds(metrics, p + 4 + MAX_CONNS,
						   &next);
		timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
		{
			int tm = zwd_tm__timeout_ms(&d);

			if (tm >= 0 && (timeout < 0 || tm < timeout))
				timeout = tm;
		}
		/* the engines' notifications, and the watch's period */
		n_watch = zwd_watch__pollfds(&d, p + 4 + MAX_CONNS + n_m, 16);
		wt = zwd_watch__timeout(&d);
		if (timeout < 0 || wt < timeout)
			timeout = wt;
		wt = zwd_inspector__timeout(&d);
		if (wt >= 0 && (timeout < 0 || wt < timeout))
			timeout = wt;
		/* the compile worker's completion, last */
		p[4 + MAX_CONNS + n_m + n_watch] = (struct pollfd){
			.fd = zwd__commit_fd(&d), .events = POLLIN};
		if (poll(p, 5 + MAX_CONNS + n_m + n_watch, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					zwd_inspector__reap(&d);
				} else if (si.ssi_signo == SIGHUP) {
					zw_log(ZW_LOG_INFO, "sighup-ignored",
					       "msg=\"nothing is reloaded; use "
					       "zonectl commit\"");
				} else {
					zw_log(ZW_LOG_INFO, "stopping",
					       "signal=%u", si.ssi_signo);
					break;
				}
			}
		}
		if (p[1].revents & POLLIN) {
			uint64_t n;

			if (read(tfd, &n, sizeof(n)) < 0)
				(void)0;
			zwd__day_tick(&d);
		}
		if (p[3 + MAX_CONNS].revents & POLLIN) {
			uint64_t n;

			if (read(ufd, &n, sizeof(n)) < 0)
				(void)0;
			r = zwd_usage__sample(&d, zw_time__now_us());
			if (r < 0)
				zw_log(ZW_LOG_WARN, "usage-sample",
				       "error=\"%s\"", strerror(-r));
		}
		zwd_watch__run(&d, p + 4 + MAX_CONNS + n_m, n_watch);
		if (p[4 + MAX_CONNS + n_m + n_watch].revents & POLLIN) {
			json_t *resp = zwd__commit_done(&d);
			struct conn *c = commit_conn;

			commit_conn = NULL;
			if (c) {
				c->waiting = false;
				conn_respond(c, resp);
			} else {
				json_decref(resp); /* the client left */
			}
		}
		for (size_t i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &conns[i];

			if (c->fd < 0 || c->fd != p[3 + i].fd || !p[3 + i].revents)
				continue;
			if (c->out)
				conn_write(c);
			else
				conn_read(&d, c);
		}
		zwd_tm__tick(&d);
		/* also without SIGCHLD: a thread started before the mask was
		 * set may have taken it (the watch wakes us every 250 ms) */
		zwd_inspector__reap(&d);
		zwd_inspector__tick(&d);
		now = mono_ms();
		for (size_t i = 0; i < MAX_CONNS; i++)
			if (conns[i].fd >= 0 && !conns[i].waiting &&
			    conns[i].deadline <= now)
				conn_expire(&d, &conns[i]);
		if (p[2].revents & POLLIN) {
			struct conn *c = conn_evict(conns, MAX_CONNS);

			if (c)
				conn_accept(lfd, c);
		}
		if (metrics)
			zwd_metrics__serve(metrics, &d, p + 4 + MAX_CONNS, n_m);
	}
	zwd_inspector__stop(&d);
	zwd_metrics__free(metrics);
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			conn_close(&conns[i]);
	close(lfd);
	close(ufd);
	unlink(o.socket);
	zwd__fini(&d);
	unlinkat(dfd, "zonewalld.pid", 0);
	zw_log(ZW_LOG_INFO, "stopped", "msg=\"enforcement stays in place\"");
	close(lockfd);
	close(dfd);
	free(o.backends);
	free(o.argv);
	zwd_config__free(o.cfg_args);
	free(o.ipfix);
	if (logf)
		fclose(logf);
	return 0;
}
