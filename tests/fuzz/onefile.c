/* onefile.c: replay fuzz inputs through LLVMFuzzerTestOneInput without libFuzzer.
 *
 * Linked with one fuzz target (any compiler), it makes a plain program that
 * runs the target over files and folders given as arguments, or, with no
 * arguments, over the committed seed corpus and the kept findings of that
 * target: $PI_SRCDIR/tests/fuzz/corpus/<name>/ and tests/fuzz/regress/<name>/
 * (name: FUZZ_TARGET if defined, else the program's own name). So every
 * target runs in `make check` (and again under ASan+UBSan and valgrind),
 * the way libpcap's testprogs/fuzz/onefile.c runs its targets.
 *
 * Exit status: 0 when every input ran (a crash ends the program as it
 * would under libFuzzer), 1 when an argument cannot be read, 77 (skip) when
 * run without arguments and the corpus folder is missing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* A target may define it; onefile.c then calls it once. */
#pragma weak LLVMFuzzerInitialize

static unsigned long long nrun;
static int verbose;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	if (!f) {
		fprintf(stderr, "onefile: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				fprintf(stderr, "onefile: %s: out of memory\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "onefile: %s: read error\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (verbose)
		fprintf(stderr, "onefile: %s (%zu bytes)\n", path, n);
	/* an exact-size copy, so that ASan sees reads past the input's end */
	uint8_t *exact = malloc(n ? n : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	if (n)
		memcpy(exact, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	nrun++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Files of a folder in name order (README files and dot files skipped). */
static int run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "onefile: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "onefile: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t nn = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, "README", 6) == 0)
			continue;
		if (nn == cap) {
			cap = cap ? cap * 2 : 64;
			char **nv = realloc(names, cap * sizeof(*names));
			if (!nv) {
				rc = -1;
				break;
			}
			names = nv;
		}
		size_t len = strlen(path) + strlen(de->d_name) + 2;
		names[nn] = malloc(len);
		if (!names[nn]) {
			rc = -1;
			break;
		}
		snprintf(names[nn], len, "%s/%s", path, de->d_name);
		nn++;
	}
	closedir(d);
	if (nn)
		qsort(names, nn, sizeof(*names), cmp_str);
	for (size_t i = 0; i < nn; i++) {
		if (rc == 0 && run_path(names[i]) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

static const char *target_name(const char *argv0)
{
#ifdef FUZZ_TARGET
	(void)argv0;
	return FUZZ_TARGET;
#else
	const char *s = strrchr(argv0, '/');
	return s ? s + 1 : argv0;
#endif
}

int main(int argc, char **argv)
{
	int rc = 0;
	verbose = getenv("PI_FUZZ_VERBOSE") != NULL;
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (run_path(argv[i]) != 0)
				rc = 1;
	} else {
#ifdef PI_SRCDIR
		const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : PI_SRCDIR;
#else
		const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
#endif
		const char *name = target_name(argv[0]);
		char dir[4096];
		struct stat st;
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top, name);
		if (stat(dir, &st) != 0) {
			fprintf(stderr, "%s: no corpus at %s: skipped\n", name, dir);
			return 77;
		}
		if (run_path(dir) != 0)
			rc = 1;
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/regress/%s", top, name);
		if (stat(dir, &st) == 0 && run_path(dir) != 0)
			rc = 1;
		printf("%s: %llu inputs ran clean\n", name, nrun);
	}
	return rc;
}
