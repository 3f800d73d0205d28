/* benchtool: the timed inner loops of the benchmark suite, in C so that
 * the figures measure the file system, not an interpreter.
 *
 *   benchtool seqread FILE BS [CAP_S]          read to EOF (or CAP_S seconds)
 *   benchtool randread FILE BS COUNT SEED      COUNT preads at random BS-aligned offsets
 *   benchtool statlist ROOT LIST [CHUNK]       lstat every path of LIST (one per line,
 *                                              relative); with CHUNK, drop the dentry and
 *                                              inode caches (untimed) after every CHUNK paths
 *   benchtool arrive FILE FIRST BS CAP_S       wait until FILE opens, time the first
 *                                              FIRST bytes, then read on to EOF
 *   benchtool pread FILE OFF LEN               time one open + pread of LEN bytes at OFF
 *   benchtool tail FILE LEN                    wait until FILE opens, time a pread of its
 *                                              last LEN bytes (a player looking for moov)
 *   benchtool write DIR N SYNC                 create N prompt files; fsync each if SYNC=1
 *
 * Each prints one line of key=value pairs; times are seconds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "benchtool: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static char *alloc_buf(size_t size)
{
	void *p;

	/* Page-aligned, so the kernel copies whole pages. */
	if (posix_memalign(&p, 4096, size ? size : 1) != 0) {
		fprintf(stderr, "benchtool: out of memory\n");
		exit(1);
	}
	memset(p, 0, size);
	return p;
}

static int seqread(const char *path, size_t bs, double cap)
{
	char *buf = alloc_buf(bs);
	double t0 = now(), t;
	int64_t total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die("open", path);
	while ((n = read(fd, buf, bs)) > 0) {
		total += n;
		if (cap > 0 && now() - t0 > cap)
			break;
	}
	if (n < 0)
		die("read", path);
	t = now() - t0;
	close(fd);
	free(buf);
	printf("seconds=%.6f bytes=%lld\n", t, (long long)total);
	return 0;
}

/* xorshift64: the same offsets for every file system given one seed. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int randread(const char *path, size_t bs, long count, uint64_t seed)
{
	char *buf = alloc_buf(bs);
	struct stat st;
	uint64_t s = seed ? seed : 88172645463325252ULL;
	int fd = open(path, O_RDONLY);
	double t0;

	if (fd < 0)
		die("open", path);
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)bs)
		die("stat", path);
	uint64_t blocks = (uint64_t)st.st_size / bs;
	t0 = now();
	for (long i = 0; i < count; i++) {
		off_t off = (off_t)(next_rand(&s) % blocks) * (off_t)bs;
		if (pread(fd, buf, bs, off) != (ssize_t)bs)
			die("pread", path);
	}
	double t = now() - t0;
	close(fd);
	free(buf);
	printf("seconds=%.6f reads=%ld\n", t, count);
	return 0;
}

/* passthrough_ll holds an fd per inode the kernel knows, and a container
 * may not raise the fd limit: dropping the caches makes the kernel forget
 * them. The pause lets the FORGET messages reach the file systems. */
static void forget_all(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd < 0 || write(fd, "2\n", 2) != 2)
		die("write", "/proc/sys/vm/drop_caches");
	close(fd);
	usleep(300000);
}

static int statlist(const char *root, const char *list, long chunk)
{
	FILE *f = fopen(list, "r");
	char line[4096];
	struct stat st;
	long n = 0, missing = 0;
	double t0;

	if (!f)
		die("open", list);
	if (chdir(root) < 0)
		die("chdir", root);
	/* Read the list first: only the stats are timed. */
	size_t cap = 1024, len = 0;
	char **paths = malloc(cap * sizeof(*paths));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		if (len == cap)
			paths = realloc(paths, (cap *= 2) * sizeof(*paths));
		paths[len++] = strdup(line);
	}
	fclose(f);
	double t = 0;
	t0 = now();
	for (size_t i = 0; i < len; i++) {
		if (chunk > 0 && i > 0 && i % chunk == 0) {
			t += now() - t0;
			forget_all();
			t0 = now();
		}
		if (lstat(paths[i], &st) < 0)
			missing++;
		n++;
	}
	t += now() - t0;
	for (size_t i = 0; i < len; i++)
		free(paths[i]);
	free(paths);
	printf("seconds=%.6f stats=%ld missing=%ld\n", t, n, missing);
	return 0;
}

static int arrive(const char *path, size_t first, size_t bs, double cap)
{
	char *buf = alloc_buf(bs > first ? bs : first);
	double t0 = now(), t_open, t_first;
	int64_t total = 0;
	ssize_t n;
	int fd;

	while ((fd = open(path, O_RDONLY)) < 0) {
		if (errno != ENOENT)
			die("open", path);
		if (now() - t0 > 120) {
			fprintf(stderr, "benchtool: %s never appeared\n", path);
			exit(1);
		}
		usleep(1000);
	}
	t_open = now();
	while (total < (int64_t)first) {
		n = read(fd, buf + total, first - total);
		if (n <= 0)
			die("read", path);
		total += n;
	}
	t_first = now();
	while ((n = read(fd, buf, bs)) > 0) {
		total += n;
		if (cap > 0 && now() - t_open > cap)
			break;
	}
	if (n < 0)
		die("read", path);
	double t_end = now();
	close(fd);
	free(buf);
	printf("wait=%.6f first=%.6f seconds=%.6f bytes=%lld\n", t_open - t0,
	       t_first - t_open, t_end - t_open, (long long)total);
	return 0;
}

static int one_pread(const char *path, off_t off, size_t len)
{
	char *buf = alloc_buf(len);
	double t0 = now();
	size_t got = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die("open", path);
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n <= 0)
			die("pread", path);
		got += (size_t)n;
	}
	double t = now() - t0;
	close(fd);
	free(buf);
	printf("seconds=%.6f bytes=%zu\n", t, got);
	return 0;
}

static int tail(const char *path, size_t len)
{
	char *buf = alloc_buf(len);
	double t0 = now(), t_open;
	struct stat st;
	size_t got = 0;
	int fd;

	while ((fd = open(path, O_RDONLY)) < 0) {
		if (errno != ENOENT || now() - t0 > 120)
			die("open", path);
		usleep(1000);
	}
	t_open = now();
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)len)
		die("stat", path);
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, st.st_size - (off_t)len + (off_t)got);
		if (n <= 0)
			die("pread", path);
		got += (size_t)n;
	}
	printf("wait=%.6f seconds=%.6f bytes=%zu\n", t_open - t0, now() - t_open, got);
	close(fd);
	free(buf);
	return 0;
}

static int write_files(const char *dir, long n, int sync)
{
	char path[4096], text[128];
	double t0 = now();

	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/b%ld.prompt", dir, i);
		int len = snprintf(text, sizeof(text), "a batch prompt number %ld\n", i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die("open", path);
		if (write(fd, text, (size_t)len) != len)
			die("write", path);
		if (sync && fsync(fd) < 0)
			die("fsync", path);
		if (close(fd) < 0)
			die("close", path);
	}
	printf("seconds=%.6f files=%ld\n", now() - t0, n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "seqread") && argc >= 4)
		return seqread(argv[2], strtoull(argv[3], NULL, 0), argc > 4 ? atof(argv[4]) : 0);
	if (!strcmp(cmd, "randread") && argc == 6)
		return randread(argv[2], strtoull(argv[3], NULL, 0), atol(argv[4]),
				strtoull(argv[5], NULL, 0));
	if (!strcmp(cmd, "statlist") && (argc == 4 || argc == 5))
		return statlist(argv[2], argv[3], argc == 5 ? atol(argv[4]) : 0);
	if (!strcmp(cmd, "arrive") && argc == 6)
		return arrive(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0),
			      atof(argv[5]));
	if (!strcmp(cmd, "pread") && argc == 5)
		return one_pread(argv[2], strtoll(argv[3], NULL, 0), strtoull(argv[4], NULL, 0));
	if (!strcmp(cmd, "tail") && argc == 4)
		return tail(argv[2], strtoull(argv[3], NULL, 0));
	if (!strcmp(cmd, "write") && argc == 5)
		return write_files(argv[2], atol(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: see the top of tests/bench/benchtool.c\n");
	return 2;
}
