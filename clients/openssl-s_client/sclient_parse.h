/* pgtls-adapter-openssl-s_client: the command line for a case and the parsing
 * of what `openssl s_client` prints, kept apart from process handling so the
 * unit tests can drive them. */
#ifndef PGTLS_SCLIENT_PARSE_H
#define PGTLS_SCLIENT_PARSE_H

#include <stddef.h>

#include "clients/adapter-kit/cl_adapter.h"

/* The argv for a case (NULL-terminated, every string on the heap; free with
 * sclient_argv_free). `home` is the case's home directory (for libpq's
 * default ~/.postgresql/root.crt) and may be NULL. *out_verify is set to 1
 * when the command verifies the chain (and fails the handshake on a
 * verification error). Returns NULL with a reason in *out_unsupported (heap)
 * for a case s_client cannot express, or NULL with *out_unsupported NULL
 * when out of memory. */
char **sclient_build_argv(const char *openssl, const cl_case *c, const char *home, int *out_verify,
                          char **out_unsupported);
void sclient_argv_free(char **argv);

/* What s_client printed. */
typedef struct sclient_output {
    char *tls_version;     /* "TLSv1.3" from "New, TLSv1.3, Cipher is ..."; NULL if none */
    char *cipher;          /* NULL when "(NONE)" or absent */
    int verify_code;       /* from "Verify return code: N (text)"; -1 if absent */
    char *verify_text;     /* the text in parentheses */
    json_t *verify_errors; /* array of "num=N:text" from "verify error:" lines */
} sclient_output;

/* Parses s_client's stdout and stderr. */
void sclient_parse_output(const char *out, const char *err, sclient_output *o);
void sclient_output_cleanup(sclient_output *o);

/* From `openssl version` ("OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19
 * 27 Jan 2026)"): *out_version "3.0.19" and *out_library the library part
 * ("OpenSSL 3.0.19 27 Jan 2026"; the whole first part when the line has no
 * "(Library: ...)"). Heap strings, NULL when the text is not like that. */
void sclient_parse_version(const char *text, char **out_version, char **out_library);

#endif
