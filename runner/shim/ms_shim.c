/* SHIM (delete when the mock server lands): every call fails with a message
 * saying so, so `pgtls run` exits 2 with a clear reason instead of linking
 * against nothing. */
#include "ms.h"

ms_server *ms_server_new(const ms_options *opts, pgtls_err *err)
{
    (void)opts;
    err_set(err, PGTLS_ERR_INTERNAL, "the mock server is not built in this version yet");
    return NULL;
}

int ms_server_listen(ms_server *s, const char *scenario, int port, int *out_port, pgtls_err *err)
{
    (void)s, (void)scenario, (void)port, (void)out_port;
    return err_set(err, PGTLS_ERR_INTERNAL, "the mock server is not built in this version yet");
}

int ms_server_start(ms_server *s, pgtls_err *err)
{
    (void)s;
    return err_set(err, PGTLS_ERR_INTERNAL, "the mock server is not built in this version yet");
}

int ms_server_wait_idle(ms_server *s, int listener_id, int timeout_ms)
{
    (void)s, (void)listener_id, (void)timeout_ms;
    return -1;
}

int ms_server_reload(ms_server *s, pgtls_err *err)
{
    (void)s;
    return err_set(err, PGTLS_ERR_INTERNAL, "the mock server is not built in this version yet");
}

void ms_server_stop(ms_server *s)
{
    (void)s;
}

void ms_server_free(ms_server *s)
{
    (void)s;
}
