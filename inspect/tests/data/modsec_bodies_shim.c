/* Runs request bodies through libmodsecurity3 (Debian's 3.0.9) for
 * inspect/tests/modsec_bodies.rs: argv[1] is a SecLang file, then pairs of
 * (Content-Type file, body file). For each pair it prints one line,
 * "CASE <index> <log line>", for every rule that logs. */
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int current = -1;

static void on_log(void *data, const void *msg) {
    (void)data;
    printf("CASE %d %s\n", current, (const char *)msg);
}

static unsigned char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = calloc((size_t)*len + 1, 1);
    if (buf == NULL || fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        perror(path);
        exit(2);
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc % 2 != 0) {
        fprintf(stderr, "usage: %s RULES [CT BODY]...\n", argv[0]);
        return 2;
    }
    ModSecurity *ms = msc_init();
    msc_set_log_cb(ms, on_log);
    RulesSet *rules = msc_create_rules_set();
    const char *err = NULL;
    if (msc_rules_add_file(rules, argv[1], &err) < 0) {
        fprintf(stderr, "rules: %s\n", err);
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        long ct_len = 0, body_len = 0;
        unsigned char *ct = slurp(argv[i], &ct_len);
        unsigned char *body = slurp(argv[i + 1], &body_len);
        char len[32];
        snprintf(len, sizeof len, "%ld", body_len);
        current = (i - 2) / 2;
        Transaction *t = msc_new_transaction(ms, rules, NULL);
        msc_process_connection(t, "127.0.0.1", 40000, "127.0.0.1", 80);
        msc_process_uri(t, "/body", "POST", "1.1");
        msc_add_request_header(t, (const unsigned char *)"Host", (const unsigned char *)"localhost");
        msc_add_request_header(t, (const unsigned char *)"Content-Type", ct);
        msc_add_request_header(t, (const unsigned char *)"Content-Length", (const unsigned char *)len);
        msc_process_request_headers(t);
        msc_append_request_body(t, body, (size_t)body_len);
        msc_process_request_body(t);
        msc_transaction_cleanup(t);
        free(ct);
        free(body);
        fflush(stdout);
    }
    msc_rules_cleanup(rules);
    msc_cleanup(ms);
    return 0;
}
