/* pgtls mock: the passphrase of an encrypted server key (ms_passphrase.c). */
#ifndef PGTLS_MS_PASSPHRASE_H
#define PGTLS_MS_PASSPHRASE_H

#include <stddef.h>

#include "err.h"

typedef struct ms_passphrase_source {
    const char *command;  /* ssl_passphrase_command: argv split on blanks, %p = prompt */
    const char *file;     /* ssl_passphrase_file: first line is the passphrase */
    const char *key_path; /* named in prompts and messages */
    int asked;            /* set when OpenSSL asked (the key is encrypted) */
    pgtls_err err;        /* why the passphrase could not be had */
} ms_passphrase_source;

/* Writes the passphrase into out (NUL-terminated). Returns 0, or -1 with a
 * message in err naming the setting to use; never reads a terminal. */
int ms_passphrase_get(const ms_passphrase_source *src, char *out, size_t cap, pgtls_err *err);

/* OpenSSL pem_password_cb over an ms_passphrase_source (userdata); errors
 * land in src->err. */
int ms_passphrase_cb(char *buf, int size, int rwflag, void *userdata);

#endif
