/*
 * notify_listener.c - the consumer side of the trigger + NOTIFY baseline
 * (tests/bench/run.sh).  LISTENs on a channel and consumes notifications
 * as fast as they arrive, so that the server's notification queue never
 * fills, until it receives the payload "__end__" (sent by the benchmark
 * after the workload), SIGTERM/SIGINT, or a deadline.
 *
 *   notify_listener CONNINFO CHANNEL READY_FILE [TIMEOUT_SECONDS]
 *
 * READY_FILE is written once LISTEN is active.  On exit it prints one line
 * to stdout:  received=N bytes=B end=0|1
 * Exit status: 0 when "__end__" arrived, 1 on an error, 3 on the deadline or
 * a signal (the counts are still printed).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <libpq-fe.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr,
                "usage: %s CONNINFO CHANNEL READY_FILE [TIMEOUT_SECONDS]\n",
                argv[0]);
        return 2;
    }
    double timeout = argc == 5 ? atof(argv[4]) : 3600.0;
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "notify_listener: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    char *chan = PQescapeIdentifier(conn, argv[2], strlen(argv[2]));
    if (!chan) {
        fprintf(stderr, "notify_listener: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    char sql[512];
    snprintf(sql, sizeof(sql), "LISTEN %s", chan);
    PQfreemem(chan);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "notify_listener: LISTEN failed: %s",
                PQerrorMessage(conn));
        PQclear(res);
        PQfinish(conn);
        return 1;
    }
    PQclear(res);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: select() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    FILE *ready = fopen(argv[3], "w");
    if (!ready || fputs("ready\n", ready) < 0 || fclose(ready) != 0) {
        fprintf(stderr, "notify_listener: cannot write %s\n", argv[3]);
        PQfinish(conn);
        return 1;
    }

    unsigned long long received = 0, bytes = 0;
    int got_end = 0, rc = 3;
    double deadline = mono_s() + timeout;
    int sock = PQsocket(conn);
    while (!stop_requested && !got_end && mono_s() < deadline) {
        fd_set rfds;
        FD_ZERO(&rfds);
        FD_SET(sock, &rfds);
        struct timeval tv = {0, 200 * 1000};
        int n = select(sock + 1, &rfds, NULL, NULL, &tv);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("notify_listener: select");
            rc = 1;
            break;
        }
        if (n == 0)
            continue;
        if (!PQconsumeInput(conn)) {
            fprintf(stderr, "notify_listener: %s", PQerrorMessage(conn));
            rc = 1;
            break;
        }
        PGnotify *nt;
        while ((nt = PQnotifies(conn)) != NULL) {
            if (strcmp(nt->extra, "__end__") == 0) {
                got_end = 1;
            } else {
                received++;
                bytes += strlen(nt->extra);
            }
            PQfreemem(nt);
        }
    }
    if (got_end)
        rc = 0;
    printf("received=%llu bytes=%llu end=%d\n", received, bytes, got_end);
    fflush(stdout);
    PQfinish(conn);
    return rc;
}
