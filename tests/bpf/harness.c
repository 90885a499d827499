/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "harness.h"
#include "xdp.h"

#define BPF_FS_MAGIC_ 0xcafe4a11

/* The bpffs of this run: tests/with_bpffs.sh mounts one for each test
 * (meson runs the bpf suite through it) and names it here. */
static const char *bpffs(void)
{
	return getenv("ZONEWALL_TEST_BPFFS");
}

void zwt_require_bpf(const char *test)
{
	struct statfs st;
	const char *fs = bpffs();

	if (geteuid() != 0) {
		printf("%s: SKIP: needs root (BPF_PROG_TEST_RUN, bpffs pins)\n", test);
		exit(77);
	}
	if (!fs) {
		printf("%s: SKIP: ZONEWALL_TEST_BPFFS is not set: run it through "
		       "tests/with_bpffs.sh (meson test does)\n", test);
		exit(77);
	}
	if (statfs(fs, &st) || (unsigned long)st.f_type != BPF_FS_MAGIC_) {
		printf("%s: SKIP: %s is not a bpf filesystem\n", test, fs);
		exit(77);
	}
}

struct zw_xdp *zwt_instance_new(char *dir, size_t len)
{
	struct zw_xdp *x;
	char err[512];
	int rc;

	rc = snprintf(dir, len, "%s/zwtest-%d-%ld", bpffs(), (int)getpid(),
		      (long)(rand() ^ time(NULL)));
	if (rc < 0 || (size_t)rc >= len) {
		fprintf(stderr, "instance directory name too long under %s\n", bpffs());
		exit(1);
	}
	rc = zw_xdp__open(dir, NULL, &x, err, sizeof(err));
	if (rc == -EPERM || rc == -ENOTSUP) {
		printf("SKIP: cannot load the XDP program here: %s\n", err);
		exit(77);
	}
	if (rc) {
		fprintf(stderr, "cannot create the instance: %s\n", err);
		exit(1);
	}
	if (zw_xdp__set_records(x, 1, 1)) {
		fprintf(stderr, "cannot enable records\n");
		exit(1);
	}
	return x;
}

void zwt_instance_free(struct zw_xdp *x)
{
	char err[256];

	if (!x)
		return;
	zw_xdp__destroy(x, err, sizeof(err));
	zw_xdp__close(x);
}

static int take(const struct zw_flow_record *rec, void *arg)
{
	struct zwt_result *r = arg;

	if (rec->event == ZW_EV_END) {
		r->n_ended++;
		return 0;
	}
	if (!r->n_records++)
		r->rec = *rec;
	return 0;
}

void zwt_run(struct zw_xdp *x, const uint8_t *frame, size_t len,
	     struct zwt_result *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
		    .data_size_in = (__u32)len, .repeat = 1);

	memset(r, 0, sizeof(*r));
	if (bpf_prog_test_run_opts(zw_xdp__prog_fd(x), &o))
		r->action = -errno;
	else
		r->action = (int)o.retval;
	zw_xdp__poll_records(x, take, r, 0);
}

static struct zw_image *compile(struct zw_matrix *m, struct zw_diags *d,
				const char *name)
{
	struct zw_image *img;
	uint8_t *bytes = NULL;
	size_t n = 0;
	char err[256];

	if (!m || zw_matrix__validate(m, zw_date__today(), d)) {
		zw_diags__print_text(d, stderr);
		fprintf(stderr, "%s does not validate\n", name);
		exit(1);
	}
	if (zw_policy__compile(m, &bytes, &n)) {
		fprintf(stderr, "%s does not compile\n", name);
		exit(1);
	}
	img = zw_image__open(bytes, n, err, sizeof(err));
	free(bytes);
	if (!img) {
		fprintf(stderr, "%s: %s\n", name, err);
		exit(1);
	}
	return img;
}

struct zw_image *zwt_image_of_text(const char *yaml, const char *name,
				   struct zw_matrix **m_out)
{
	struct zw_diags d;
	struct zw_matrix *m;
	struct zw_image *img;

	zw_diags__init(&d, name);
	m = zw_matrix__parse(yaml, strlen(yaml), name, &d);
	img = compile(m, &d, name);
	zw_diags__fini(&d);
	if (m_out)
		*m_out = m;
	else
		zw_matrix__free(m);
	return img;
}

struct zw_image *zwt_image_of_file(const char *path, struct zw_matrix **m_out)
{
	struct zw_diags d;
	struct zw_matrix *m;
	struct zw_image *img;

	zw_diags__init(&d, path);
	m = zw_matrix__load(path, &d);
	img = compile(m, &d, path);
	zw_diags__fini(&d);
	if (m_out)
		*m_out = m;
	else
		zw_matrix__free(m);
	return img;
}
