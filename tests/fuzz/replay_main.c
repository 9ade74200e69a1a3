/*
 * replay_main.c - run a fuzz target's LLVMFuzzerTestOneInput over files,
 * without libFuzzer.
 *
 *   replay_<name> DIR|FILE ...
 *
 * Linked with each tests/fuzz/fuzz_<name>.c in the normal build (gcc, plain
 * or -DWB_SANITIZE=ON), so that ctest replays every committed corpus file
 * on every run, under ASan/UBSan in build-asan/: an input that once crashed
 * stays a regression test even where clang and libFuzzer are not in use.
 * Each input is copied into a buffer of exactly its size, as libFuzzer
 * does, so a read past its end is caught by ASan.  Directories are read in
 * name order, so a failure names the same file every time.
 *
 * Exits 0 after running every input; a failing input aborts (the harness's
 * own checks, or a sanitizer).  An argument with no input files in it is an
 * error: a missing corpus must not pass as an empty one.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a harness, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (!f) {
        perror(path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        fclose(f);
        return -1;
    }
    /* malloc(0) may return NULL: keep one byte, pass the true size. */
    buf = malloc(n ? (size_t)n : 1);
    if (!buf || (n && fread(buf, (size_t)n, 1, f) != 1)) {
        fprintf(stderr, "%s: could not read\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    fprintf(stderr, "replay: %s (%ld bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Number of inputs run, or -1. */
static int run_path(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int total = 0;

    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    if (!(d = opendir(path))) {
        perror(path);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof(*names));
        }
        if (!names || !(names[n] = strdup(de->d_name))) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(names[i]) + 2;
        char *p = malloc(len);
        int r;
        if (!p) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        snprintf(p, len, "%s/%s", path, names[i]);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            if ((r = run_file(p)) < 0)
                total = -1;
            else if (total >= 0)
                total += r;
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return total;
}

int main(int argc, char **argv)
{
    int failed = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE ...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        int n = run_path(argv[i]);
        if (n <= 0) {
            fprintf(stderr, "%s: %s\n", argv[i],
                    n == 0 ? "no input files" : "could not be replayed");
            failed = 1;
        } else {
            printf("%s: %d inputs replayed\n", argv[i], n);
        }
    }
    return failed;
}
