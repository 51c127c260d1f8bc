/*
 * palisade-test-app: the application container of the pod tests (tests/src/kubelet.rs). A
 * small HTTP/1.1 server, compiled statically by the test and packed into its own image.
 *
 *   /test-app PORT...      listens on every PORT (0.0.0.0), one process per connection
 *
 * Every request is logged on stdout as one line, `app port=P method=M target=T body=N/L`
 * (N body bytes received of the L that Content-Length announced), so a test can tell from
 * the container's log which requests, and which bodies, reached the app. The answer is 200 with
 * the body `app port=P target=T`; `/slow` waits 3 s before answering (an in-flight request
 * for the drain test). Each response closes its connection.
 *
 * SIGTERM (what kubelet's StopContainer sends): stop accepting, let the connections in
 * flight finish, log `app stopped`, exit 0. As PID 1 of its container it reaps its children.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PORTS 8
#define HEAD_MAX 16384

static volatile sig_atomic_t stopping = 0;
static void on_term(int sig) { (void)sig; stopping = 1; }

static void say(const char *line) {
    size_t n = strlen(line);
    while (n > 0) {
        ssize_t w = write(1, line, n);
        if (w <= 0) return;
        line += w;
        n -= (size_t)w;
    }
}

static void serve(int fd, int port) {
    char head[HEAD_MAX + 1];
    size_t len = 0;
    char *end = NULL;
    while (len < HEAD_MAX) {
        ssize_t r = read(fd, head + len, HEAD_MAX - len);
        if (r <= 0) return;
        len += (size_t)r;
        head[len] = 0;
        if ((end = strstr(head, "\r\n\r\n")) != NULL) break;
    }
    if (end == NULL) return;
    char method[16] = "", target[2048] = "";
    if (sscanf(head, "%15s %2047s", method, target) != 2) return;
    /* Read the body the head announces, so the client never sees a reset. */
    long body = 0;
    for (char *p = head; p < end; p++) {
        if ((p == head || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
            body = strtol(p + 15, NULL, 10);
        }
    }
    long have = (long)(len - (size_t)(end + 4 - head));
    char sink[4096];
    while (have < body) {
        ssize_t r = read(fd, sink, sizeof sink);
        if (r <= 0) break;
        have += r;
    }
    if (have > body) have = body;
    char line[2300];
    snprintf(line, sizeof line, "app port=%d method=%s target=%s body=%ld/%ld\n", port, method,
             target, have, body);
    say(line);
    if (have < body) return; /* the client (the engine) gave up before the body ended */
    if (strcmp(target, "/slow") == 0) sleep(3);
    char text[2200], resp[2400];
    int n = snprintf(text, sizeof text, "app port=%d target=%s\n", port, target);
    int m = snprintf(resp, sizeof resp,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n\r\n%s",
                     n, text);
    if (write(fd, resp, (size_t)m) < 0) return;
}

int main(int argc, char **argv) {
    struct pollfd fds[MAX_PORTS];
    int ports[MAX_PORTS];
    int count = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc && count < MAX_PORTS; i++) {
        int port = atoi(argv[i]);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)port);
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 128) != 0) {
            perror("test-app: bind/listen");
            return 1;
        }
        fds[count].fd = s;
        fds[count].events = POLLIN;
        ports[count++] = port;
    }
    if (count == 0) {
        fprintf(stderr, "usage: test-app PORT...\n");
        return 2;
    }
    say("app listening\n");
    while (!stopping) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        int r = poll(fds, (nfds_t)count, 1000);
        if (r < 0) {
            if (errno == EINTR) continue;
            perror("test-app: poll");
            return 1;
        }
        for (int i = 0; i < count; i++) {
            if (!(fds[i].revents & POLLIN)) continue;
            int c = accept(fds[i].fd, NULL, NULL);
            if (c < 0) continue;
            pid_t pid = fork();
            if (pid == 0) {
                for (int j = 0; j < count; j++) close(fds[j].fd);
                serve(c, ports[i]);
                close(c);
                _exit(0);
            }
            close(c);
        }
    }
    for (int i = 0; i < count; i++) close(fds[i].fd);
    say("app draining\n");
    while (wait(NULL) > 0 || errno == EINTR) {}
    say("app stopped\n");
    return 0;
}
